package stack

import (
	"errors"
	"fmt"
	"net"
	"syscall"
)

// CheckFree returns a clear error when a loopback port is taken.
func CheckFree(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("%s is taken by another program: stop it, or run with -free-ports", addr)
		}
		return fmt.Errorf("cannot listen on %s: %w", addr, err)
	}
	return ln.Close()
}
