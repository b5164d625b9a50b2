package e2e

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/raceway-otel/raceway/internal/proc"
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
func collectorBinary(t testing.TB) string {
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
func freeAddr(t testing.TB) string {
	t.Helper()
	a, err := proc.FreeAddrs(1)
	if err != nil {
		t.Fatal(err)
	}
	return a[0]
}

type collector struct {
	t testing.TB
	p *proc.Process
}

// startCollector runs bin with the given config files and environment and
// waits until its OTLP receivers (RACEWAY_OTLP_GRPC and RACEWAY_OTLP_HTTP
// in env) accept connections.
func startCollector(t testing.TB, bin string, env map[string]string, configs ...string) *collector {
	t.Helper()
	return startCollectorEcho(t, bin, env, nil, configs...)
}

// startCollectorEcho is startCollector with the collector's output copied
// to echo as well.
func startCollectorEcho(t testing.TB, bin string, env map[string]string, echo io.Writer, configs ...string) *collector {
	t.Helper()
	var args, vars []string
	for _, c := range configs {
		args = append(args, "--config", c)
	}
	for k, v := range env {
		vars = append(vars, k+"="+v)
	}
	p, err := proc.Start("otelcol-raceway", "", vars, echo, bin, args...)
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{t: t, p: p}
	t.Cleanup(c.stop)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, addr := range []string{env["RACEWAY_OTLP_GRPC"], env["RACEWAY_OTLP_HTTP"]} {
		if err := p.WaitListening(ctx, addr); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// pid is the collector's process id.
func (c *collector) pid() int { return c.p.Pid() }

// stop stops the collector (SIGTERM, then a kill after a bounded wait).
func (c *collector) stop() {
	if err := c.p.Stop(); err != nil {
		c.t.Errorf("%v; output tail:\n%s", err, c.p.Output())
	}
}

// fatalf fails the test with the collector's output tail.
func (c *collector) fatalf(format string, args ...any) {
	c.t.Helper()
	c.t.Fatalf("%s\n--- otelcol-raceway output tail:\n%s", fmt.Sprintf(format, args...), c.p.Output())
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
