package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/raceway-otel/raceway/internal/stack"
)

// repoRoot is the repository root (this package is collector/e2e).
func repoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test's source file")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

var (
	buildOnce sync.Once
	buildBin  string
	buildErr  error
)

// collectorBinary returns the path of otelcol-raceway, building it with ocb
// from builder-config.yaml when it is missing or older than any of its
// sources. RACEWAY_E2E_COLLECTOR names a prebuilt binary to use instead.
func collectorBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("RACEWAY_E2E_COLLECTOR"); p != "" {
		return p
	}
	buildOnce.Do(func() { buildBin, buildErr = buildCollector(repoRoot(t)) })
	if buildErr != nil {
		t.Fatalf("building otelcol-raceway: %v", buildErr)
	}
	return buildBin
}

func buildCollector(root string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	return stack.BuildCollector(ctx, root, os.Stderr)
}

// freeAddr returns a free loopback address (127.0.0.1:port).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > b.max {
		b.buf = append([]byte(nil), b.buf[len(b.buf)-b.max:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// collector is a running otelcol-raceway.
type collector struct {
	t      *testing.T
	cmd    *exec.Cmd
	stderr *tailBuffer
	done   chan struct{}
	err    error // of Wait, once done is closed
}

// startCollector runs bin with the given config files and environment and
// waits until it says it is ready.
func startCollector(t *testing.T, bin string, env map[string]string, configs ...string) *collector {
	t.Helper()
	var args []string
	for _, c := range configs {
		args = append(args, "--config", c)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	c := &collector{t: t, cmd: cmd, stderr: &tailBuffer{max: 64 << 10}, done: make(chan struct{})}
	ready := make(chan struct{})
	pr, pw := io.Pipe()
	cmd.Stdout = c.stderr
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	go func() {
		c.err = cmd.Wait()
		_ = pw.Close()
		close(c.done)
	}()
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		once := sync.Once{}
		for sc.Scan() {
			line := sc.Bytes()
			_, _ = c.stderr.Write(append(bytes.Clone(line), '\n'))
			if bytes.Contains(line, []byte("Everything is ready")) {
				once.Do(func() { close(ready) })
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	t.Cleanup(c.stop)
	select {
	case <-ready:
	case <-c.done:
		t.Fatalf("otelcol-raceway exited before it was ready (%v); stderr tail:\n%s", c.err, c.stderr)
	case <-time.After(60 * time.Second):
		t.Fatalf("otelcol-raceway not ready after 60s; stderr tail:\n%s", c.stderr)
	}
	return c
}

// stop sends SIGTERM and waits (bounded) for the collector to exit.
func (c *collector) stop() {
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
		if c.err != nil {
			c.t.Logf("otelcol-raceway exited: %v", c.err)
		}
	case <-time.After(20 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
		c.t.Errorf("otelcol-raceway did not stop within 20s of SIGTERM; killed. stderr tail:\n%s", c.stderr)
	}
}

// fatalf fails the test with the collector's stderr tail.
func (c *collector) fatalf(format string, args ...any) {
	c.t.Helper()
	c.t.Fatalf("%s\n--- otelcol-raceway stderr tail:\n%s", fmt.Sprintf(format, args...), lastLines(c.stderr.String(), 60))
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// runBounded runs bin to completion (or until ctx ends) and returns its
// combined output.
func runBounded(ctx context.Context, bin string, env map[string]string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	return string(out), err
}
