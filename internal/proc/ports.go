package proc

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// FreeAddrs returns n distinct loopback addresses (127.0.0.1:port) that
// were free when it returned and that no earlier call in this process
// returned, so that addresses picked by separate calls differ too.
//
// The ports are picked at random below the kernel's ephemeral range (see
// portRange). A port in that range, which binding port 0 would give, can be
// taken as the local end of any outgoing connection (a test's gRPC client,
// a database driver) before the caller binds it; below it, only another
// program that binds ports by number can take it first, which is unlikely
// among the range's thousands of ports.
func FreeAddrs(n int) ([]string, error) {
	lo, hi := portRange()
	handedOut.Lock()
	defer handedOut.Unlock()
	addrs := make([]string, 0, n)
	for try := 0; len(addrs) < n; try++ {
		if try == 100*n {
			return nil, fmt.Errorf("picking %d free loopback ports in %d-%d: %d found in %d tries", n, lo, hi-1, len(addrs), try)
		}
		port := lo + rand.IntN(hi-lo)
		if handedOut.ports[port] {
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue // in use
		}
		defer ln.Close()
		handedOut.ports[port] = true
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs, nil
}

// handedOut holds the ports FreeAddrs has returned in this process (at most
// the few thousand of portRange).
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

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
