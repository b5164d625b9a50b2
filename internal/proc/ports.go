package proc

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// FreeAddrs returns n distinct loopback addresses (127.0.0.1:port) that
// were free when it returned: it keeps each port's listener open until all
// n are chosen, so that they differ.
//
// The ports are picked at random below the kernel's ephemeral range (see
// portRange). A port in that range, which binding port 0 would give, can be
// taken as the local end of any outgoing connection (a test's gRPC client,
// a database driver) before the caller binds it; below it, only another
// program that binds ports by number can take it first, which is unlikely
// among the range's thousands of ports.
func FreeAddrs(n int) ([]string, error) {
	lo, hi := portRange()
	addrs := make([]string, 0, n)
	for try := 0; len(addrs) < n; try++ {
		if try == 100*n {
			return nil, fmt.Errorf("picking %d free loopback ports in %d-%d: %d found in %d tries", n, lo, hi-1, len(addrs), try)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(lo+rand.IntN(hi-lo)))
		if err != nil {
			continue // in use
		}
		defer ln.Close()
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs, nil
}

// portRange returns the ports FreeAddrs picks from, lo to hi-1: from 20000
// up to the start of Linux's ephemeral range (ip_local_port_range), or to
// 32768 (the usual start) where that cannot be read or starts too low.
func portRange() (lo, hi int) {
	lo, hi = 20000, 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if start, err := strconv.Atoi(f[0]); err == nil && start >= lo+1000 {
				hi = min(hi, start)
			}
		}
	}
	return lo, hi
}
