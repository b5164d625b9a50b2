//go:build !linux

package jaegertest

import "syscall"

// sysProcAttr is the default elsewhere.
func sysProcAttr() *syscall.SysProcAttr { return nil }
