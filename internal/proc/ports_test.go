package proc

import (
	"net"
	"strconv"
	"strings"
	"testing"
)

func TestFreeAddrs(t *testing.T) {
	addrs, err := FreeAddrs(5)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, a := range addrs {
		if !strings.HasPrefix(a, "127.0.0.1:") || seen[a] {
			t.Fatalf("addresses %v: want 5 distinct loopback ones", addrs)
		}
		seen[a] = true
		// Below the ephemeral range, where outgoing connections take no port.
		lo, hi := portRange()
		if port, _ := strconv.Atoi(strings.TrimPrefix(a, "127.0.0.1:")); port < lo || port >= hi {
			t.Fatalf("%s: want a port in %d-%d", a, lo, hi-1)
		}
		ln, err := net.Listen("tcp", a)
		if err != nil {
			t.Fatalf("%s is not free: %v", a, err)
		}
		ln.Close()
	}
	if len(addrs) != 5 {
		t.Fatalf("got %d addresses, want 5", len(addrs))
	}
}

// TestFreeAddrsApart: separate calls never return the same address (1,000
// random picks among the range's ports would repeat one almost surely).
func TestFreeAddrsApart(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		addrs, err := FreeAddrs(1)
		if err != nil {
			t.Fatal(err)
		}
		if seen[addrs[0]] {
			t.Fatalf("%s returned twice", addrs[0])
		}
		seen[addrs[0]] = true
	}
}
