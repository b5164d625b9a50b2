package e2e

import (
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// listeningAddrs returns the TCP addresses a process listens on, read from
// /proc (Linux). It returns an error where /proc is not available.
func listeningAddrs(pid int) ([]string, error) {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return nil, err
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join(fmt.Sprintf("/proc/%d/fd", pid), fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	var addrs []string
	for _, table := range []string{"tcp", "tcp6"} {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			f := strings.Fields(line)
			// sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
			if len(f) < 10 || f[3] != "0A" || !inodes[f[9]] {
				continue
			}
			addr, err := parseProcAddr(f[1])
			if err != nil {
				return nil, err
			}
			addrs = append(addrs, addr)
		}
	}
	return addrs, nil
}

// parseProcAddr decodes /proc/net/tcp's "0100007F:10E1" (little-endian
// 32-bit words) into "127.0.0.1:4321".
func parseProcAddr(s string) (string, error) {
	hostHex, portHex, ok := strings.Cut(s, ":")
	if !ok {
		return "", fmt.Errorf("bad address %q", s)
	}
	raw, err := hex.DecodeString(hostHex)
	if err != nil {
		return "", err
	}
	port, err := strconv.ParseUint(portHex, 16, 16)
	if err != nil {
		return "", err
	}
	ip := make(net.IP, len(raw))
	for i := 0; i+4 <= len(raw); i += 4 {
		ip[i], ip[i+1], ip[i+2], ip[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	return net.JoinHostPort(ip.String(), strconv.FormatUint(port, 10)), nil
}

// checkLoopbackOnly fails the test if the collector listens on anything but
// loopback.
func (c *collector) checkLoopbackOnly() {
	c.t.Helper()
	addrs, err := listeningAddrs(c.pid())
	if err != nil {
		c.t.Logf("cannot check listening addresses: %v", err)
		return
	}
	if len(addrs) == 0 {
		c.fatalf("found no listening socket of the collector (pid %d)", c.pid())
	}
	for _, a := range addrs {
		host, _, _ := net.SplitHostPort(a)
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			c.fatalf("the collector listens on %s, which is not loopback (all: %v)", a, addrs)
		}
	}
	c.t.Logf("collector listens on %v (loopback only)", addrs)
}
