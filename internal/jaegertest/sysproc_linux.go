package jaegertest

import "syscall"

// sysProcAttr has the kernel kill Jaeger if the process that started it
// dies first, so that an interrupted test leaves nothing running.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
