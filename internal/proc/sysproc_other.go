//go:build unix && !linux

package proc

import "syscall"

// sysProcAttr puts a child in a process group of its own, so that Stop
// signals everything it started.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
