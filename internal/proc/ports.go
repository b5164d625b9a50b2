package proc

import (
	"fmt"
	"net"
)

// FreeAddrs returns n distinct loopback addresses (127.0.0.1:port) that
// were free when it returned: it keeps each port's listener open until all
// n are chosen, so that they differ. Another program may still take one
// before the caller binds it.
func FreeAddrs(n int) ([]string, error) {
	addrs := make([]string, 0, n)
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("picking a free loopback port: %w", err)
		}
		defer ln.Close()
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs, nil
}
