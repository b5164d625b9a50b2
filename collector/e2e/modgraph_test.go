package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestConsumerModuleGraph: an application that imports racewayotel must not
// pull the OpenTelemetry Collector into its module graph (the collector
// components live in their own modules). A tiny consumer module with a replace
// to this repository is tidied, and `go mod graph` and `go list -deps` must
// not mention go.opentelemetry.io/collector.
func TestConsumerModuleGraph(t *testing.T) {
	root := repoRoot(t)
	if _, err := os.Stat(filepath.Join(root, "racewayotel")); err != nil {
		t.Fatalf("racewayotel package not found: %v", err)
	}
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/consumer\n\ngo 1.26\n\nrequire github.com/raceway-otel/raceway v0.0.0\n\nreplace github.com/raceway-otel/raceway => "+root+"\n")
	write("main.go", `package main

import (
	_ "github.com/raceway-otel/raceway/racewayotel"
)

func main() {}
`)
	run := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("mod", "tidy")
	graph := run("mod", "graph")
	deps := run("list", "-deps", "./...")
	if !strings.Contains(deps, "github.com/raceway-otel/raceway/racewayotel") {
		t.Fatalf("go list -deps does not list racewayotel:\n%s", deps)
	}
	for _, out := range []struct{ what, text string }{{"go mod graph", graph}, {"go list -deps", deps}} {
		for _, line := range strings.Split(out.text, "\n") {
			if strings.Contains(line, "go.opentelemetry.io/collector") {
				t.Errorf("%s of a module importing only racewayotel mentions the collector: %s", out.what, line)
			}
		}
	}
	t.Logf("go mod graph: %d edges, none to go.opentelemetry.io/collector", strings.Count(graph, "\n"))
}
