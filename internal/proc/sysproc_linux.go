package proc

import "syscall"

// sysProcAttr puts a child in a process group of its own (so that Stop
// signals everything it started) and has the kernel kill it if this process
// dies first, so that an interrupted test or demo leaves nothing running.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
