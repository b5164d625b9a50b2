package stack

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// BuilderVersion is the OpenTelemetry Collector Builder (ocb) release that
// builder-config.yaml is written for; `go run` fetches it through the
// module proxy, so nothing needs installing.
const BuilderVersion = "v0.161.0"

// CollectorPath is where ocb writes otelcol-raceway, relative to the
// repository root (builder-config.yaml's dist.output_path).
const CollectorPath = "collector/_build/otelcol-raceway"

// BuildCollector makes sure otelcol-raceway is built from the current
// sources, running ocb when the binary is missing or older than any of
// them. ocb's output goes to progress.
func BuildCollector(ctx context.Context, root string, progress io.Writer) (string, error) {
	bin := filepath.Join(root, CollectorPath)
	why, err := stale(root, bin, []string{"builder-config.yaml", "go.mod", "go.sum"},
		[]string{"analysis", "racewayotel", "processor/racewayprocessor", "exporter/racewayexporter"})
	if err != nil {
		return "", err
	}
	if why == "" {
		return bin, nil
	}
	fmt.Fprintf(progress, "building otelcol-raceway with ocb %s (%s); a cold build takes 2-3 minutes\n", BuilderVersion, why)
	start := time.Now()
	if err := goCmd(ctx, root, progress, "run", "go.opentelemetry.io/collector/cmd/builder@"+BuilderVersion, "--config", "builder-config.yaml"); err != nil {
		return "", err
	}
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("ocb finished but %s is missing: %w", bin, err)
	}
	fmt.Fprintf(progress, "built otelcol-raceway in %s\n", time.Since(start).Round(time.Second))
	return bin, nil
}

// BuildExample builds the example command examples/<name> into
// .bin/<name>, when missing or older than its sources.
func BuildExample(ctx context.Context, root, name string, progress io.Writer) (string, error) {
	bin := filepath.Join(root, ".bin", name)
	why, err := stale(root, bin, []string{"go.mod", "go.sum"}, []string{"examples", "racewayotel", "analysis"})
	if err != nil {
		return "", err
	}
	if why == "" {
		return bin, nil
	}
	fmt.Fprintf(progress, "building examples/%s (%s)\n", name, why)
	if err := goCmd(ctx, root, progress, "build", "-o", bin, "./examples/"+name); err != nil {
		return "", err
	}
	return bin, nil
}

func goCmd(ctx context.Context, dir string, progress io.Writer, args ...string) error {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = progress, progress
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s (in %s): %w", strings.Join(args, " "), dir, err)
	}
	return nil
}

// stale says why bin must be rebuilt ("" when it need not): it is missing,
// or one of files, or a non-test Go source or go.mod/go.sum under dirs, is
// newer. Like the go command, it skips testdata and directories whose name
// starts with "." or "_"; it skips node_modules too (examples/node).
func stale(root, bin string, files, dirs []string) (string, error) {
	st, err := os.Stat(bin)
	if err != nil {
		return "no binary yet", nil
	}
	built := st.ModTime()
	for _, f := range files {
		if fi, err := os.Stat(filepath.Join(root, f)); err == nil && fi.ModTime().After(built) {
			return f + " changed", nil
		}
	}
	for _, dir := range dirs {
		newer := ""
		err := filepath.WalkDir(filepath.Join(root, dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil || newer != "" {
				return err
			}
			n := d.Name()
			if d.IsDir() {
				if n == "testdata" || n == "node_modules" || (p != filepath.Join(root, dir) && (strings.HasPrefix(n, ".") || strings.HasPrefix(n, "_"))) {
					return filepath.SkipDir
				}
				return nil
			}
			if strings.HasSuffix(n, "_test.go") || !(strings.HasSuffix(n, ".go") || n == "go.mod" || n == "go.sum") {
				return nil
			}
			if fi, err := d.Info(); err == nil && fi.ModTime().After(built) {
				newer = p
			}
			return nil
		})
		if err != nil && !os.IsNotExist(err) {
			return "", err
		}
		if newer != "" {
			rel, _ := filepath.Rel(root, newer)
			return rel + " changed", nil
		}
	}
	return "", nil
}
