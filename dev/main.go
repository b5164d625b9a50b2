// Command dev runs the project's checks across all of its Go modules:
//
//	go run ./dev demo    # the bank example under load → otelcol-raceway → Jaeger → races printed
//	go run ./dev test    # gofmt, go vet, staticcheck and every test, end to end included
//	go run ./dev bench   # the benchmarks whose figures docs/benchmarks.md publishes
//
// It needs nothing but Go: the tools it runs are pinned Go modules.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// modules lists the project's Go modules, in test order.
var modules = []string{
	".",
	"processor/racewayprocessor",
	"exporter/racewayexporter",
	"collector/e2e",
}

// staticcheck is pinned; `go run` fetches it through the module proxy.
const staticcheck = "honnef.co/go/tools/cmd/staticcheck@v0.8.2"

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "demo":
		err = demo(os.Args[2:])
	case "test":
		err = test()
	case "bench":
		err = bench()
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "dev:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: go run ./dev demo [-free-ports] [-n transfers] [-keep] [-v] | test | bench")
	os.Exit(2)
}

func present() []string {
	var out []string
	for _, m := range modules {
		if _, err := os.Stat(filepath.Join(m, "go.mod")); err == nil {
			out = append(out, m)
		}
	}
	return out
}

func test() error {
	start := time.Now()
	if err := gofmt(); err != nil {
		return err
	}
	for _, m := range present() {
		for _, args := range [][]string{
			{"go", "vet", "./..."},
			{"go", "run", staticcheck, "./..."},
			{"go", "test", "-count=1", "-timeout=30m", "./..."},
		} {
			if err := run(m, args...); err != nil {
				return err
			}
		}
	}
	fmt.Printf("dev: all checks passed in %s\n", time.Since(start).Round(time.Second))
	return nil
}

// benches are the commands whose figures docs/benchmarks.md publishes.
var benches = []struct {
	dir, env string
	args     []string
}{
	{".", "", []string{"go", "test", "-run", "^$", "-bench", ".", "-benchtime=1x", "-count=3", "./analysis/"}},
	{".", "", []string{"go", "test", "-run", "^$", "-bench", ".", "-benchmem", "-count", "6", "./racewayotel/"}},
	{"processor/racewayprocessor", "", []string{"go", "test", "-run", "XXX", "-bench", "BenchmarkProcessor", "-benchtime", "3000x", "-count", "3", "."}},
	{"collector/e2e", "RACEWAY_E2E_BENCH=1", []string{"go", "test", "-count=1", "-run", "CPUPerSpan", "-v", "."}},
}

func bench() error {
	for _, b := range benches {
		if b.env != "" {
			k, v, _ := strings.Cut(b.env, "=")
			os.Setenv(k, v)
		}
		if err := run(b.dir, b.args...); err != nil {
			return err
		}
	}
	return nil
}

// gofmt fails when a Go file of the repository is not formatted.
func gofmt() error {
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return fmt.Errorf("go env GOROOT: %w", err)
	}
	out, err := exec.Command(filepath.Join(strings.TrimSpace(string(goroot)), "bin", "gofmt"), "-l", ".").Output()
	if err != nil {
		return fmt.Errorf("gofmt: %w", err)
	}
	var bad []string
	for _, f := range strings.Fields(string(out)) {
		if !strings.HasPrefix(f, ".bin/") && !strings.Contains(f, "/testdata/") {
			bad = append(bad, f)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("not gofmt-ed: %s", strings.Join(bad, " "))
	}
	return nil
}

func run(dir string, args ...string) error {
	fmt.Printf("==> (%s) %s\n", dir, strings.Join(args, " "))
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("(%s) %s: %w", dir, strings.Join(args, " "), err)
	}
	return nil
}
