package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/raceway-otel/raceway/internal/stack"
)

// Metrics of the raceway processor that the Node.js test reads.
const (
	metricAnalysed     = "otelcol_processor_raceway_events_analysed"
	metricDecodeErrors = "otelcol_processor_raceway_decode_errors"
)

// nodeTools returns the paths of node and npm. Without them the test is
// skipped, loudly, unless CI=true, where it fails.
func nodeTools(t *testing.T) (node, npm string) {
	t.Helper()
	node, errNode := exec.LookPath("node")
	npm, errNpm := exec.LookPath("npm")
	if errNode == nil && errNpm == nil {
		return node, npm
	}
	const msg = "node and npm (Node.js 20 or later) are not on PATH: install them (for example apt-get install nodejs npm) to run examples/node against the collector"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip("SKIPPED: " + msg)
	return "", ""
}

// npmCI copies examples/node (its package files and sources, not a local
// node_modules) to a temporary directory and installs the pinned packages
// there with npm ci; it returns the directory.
func npmCI(t *testing.T, root, npm string) string {
	t.Helper()
	src := filepath.Join(root, "examples", "node")
	dir := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--prefer-offline")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in a copy of examples/node: %v\n%s", err, out)
	}
	t.Logf("npm ci: %s", time.Since(start).Round(100*time.Millisecond))
	return dir
}

// TestNode runs examples/node, a Node.js producer of the convention written
// with the stock OpenTelemetry JS SDK, against the real collector: a ledger
// and a teller (two Node processes) read-modify-write account balances
// shared by both, driven by a Node load whose calls carry its clock.
//
//   - ordered: one load thread, transfers alternating between teller and
//     ledger; the request and response edges order them all: no race;
//   - racy: two load threads, one transfer each, at the teller and at the
//     ledger at once: a lost update between the two processes;
//   - fixed: the teller hands transfers to the ledger, which runs them under
//     one lock; four load threads: no race.
//
// Each run uses its own accounts, so that its findings are its own (a
// distinct race is reported once per variable pattern, kind and locations).
func TestNode(t *testing.T) {
	node, npm := nodeTools(t)
	s, root := startStack(t)
	dir := npmCI(t, root, npm)
	ctx := context.Background()
	on := func(accounts ...string) func(stack.Finding) bool {
		return func(f stack.Finding) bool {
			return slices.ContainsFunc(accounts, func(a string) bool { return f.Var == "ledger/bank/accounts/"+a+".balance" })
		}
	}
	servers := func(mode string, delay time.Duration) (teller, ledger string) {
		ledger, teller = freeAddr(t), freeAddr(t)
		ms := fmt.Sprint(delay.Milliseconds())
		serve(t, s, dir, node, "ledger "+mode, ledger, "bank.js", "serve", "--service", "ledger", "--listen", ledger, "--mode", mode, "--delay", ms)
		serve(t, s, dir, node, "teller "+mode, teller, "bank.js", "serve", "--service", "teller", "--listen", teller,
			"--ledger", "http://"+ledger, "--mode", mode, "--delay", ms)
		return "http://" + teller, "http://" + ledger
	}
	// load runs n transfers between two accounts and waits until the
	// collector has analysed at least their reads and writes (two of each
	// per transfer) and the findings on those accounts have settled.
	load := func(teller, ledger string, n, concurrency int, from, to string, atLeast int, settle time.Duration) []stack.Finding {
		t.Helper()
		before := scrapeNode(t, s).Sum(metricAnalysed)
		runToEnd(t, s, dir, node, "bank.js", "load", "--targets", teller+","+ledger, "-n", fmt.Sprint(n),
			"--concurrency", fmt.Sprint(concurrency), "--from", from, "--to", to)
		want := before + float64(4*n)
		deadline := time.Now().Add(time.Minute)
		for scrapeNode(t, s).Sum(metricAnalysed) < want {
			if time.Now().After(deadline) {
				t.Fatalf("the collector analysed %.0f records since the load started, want at least %d (the transfers' reads and writes)",
					scrapeNode(t, s).Sum(metricAnalysed)-before, 4*n)
			}
			time.Sleep(200 * time.Millisecond)
		}
		fs, err := stack.WaitFindings(ctx, s.Jaeger, on(from, to), atLeast, settle, 90*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			t.Logf("%s → %s: %s (trace %s)", from, to, f.Headline(), f.TraceID)
		}
		return fs
	}

	// The delay between a read and its write is long enough that two
	// transfers started together both read before either writes, even on a
	// busy machine. The ordered run goes first and warms both processes up.
	teller, ledger := servers("racy", 300*time.Millisecond)
	for _, f := range load(teller, ledger, 4, 1, "carol", "dave", 0, 5*time.Second) {
		t.Errorf("RPC-ordered transfers reported: %s", f.Headline())
	}

	racy := load(teller, ledger, 2, 2, "alice", "bob", 1, 5*time.Second)
	var lost *stack.Finding
	for i, f := range racy {
		services := []string{f.Previous.Service, f.Current.Service}
		slices.Sort(services)
		if f.Var == "ledger/bank/accounts/alice.balance" && f.Kind == "write/write" && f.LostUpdate &&
			services[0] == "ledger" && services[1] == "teller" {
			lost = &racy[i]
		}
	}
	if lost == nil {
		t.Fatalf("no write/write lost update between teller and ledger on alice's balance among %d findings", len(racy))
	}
	if lost.Previous.Process == "" || lost.Previous.Process == lost.Current.Process {
		t.Errorf("lost update between processes %q and %q: want two process identities", lost.Previous.Process, lost.Current.Process)
	}
	if lost.Read != "1000" || lost.Final != "900" || lost.Expected != "800" {
		t.Errorf("lost update read %q final %q expected %q: want both read 1000, final 900, expected 800", lost.Read, lost.Final, lost.Expected)
	}
	for _, side := range []stack.Side{lost.Previous, lost.Current} {
		if filepath.Base(side.File) != "bank.js" || side.Line == 0 || side.Function == "" {
			t.Errorf("finding side %+v: want a location in bank.js", side)
		}
	}
	if !strings.Contains(lost.Report, "Lost update: both writers read 1000") {
		t.Errorf("report lacks the lost update:\n%s", lost.Report)
	}

	teller, ledger = servers("fixed", 20*time.Millisecond)
	for _, f := range load(teller, ledger, 8, 4, "erin", "frank", 0, 5*time.Second) {
		t.Errorf("lock-ordered transfers reported: %s", f.Headline())
	}

	// Every record of the Node producer was accepted, and the collector says
	// so: its rejection counters are exported, at 0.
	m := scrapeNode(t, s)
	for _, reason := range []string{"malformed", "no_process_identity"} {
		v, found := m.Find(metricDecodeErrors, "reason", reason)
		if !found || v != 0 {
			t.Errorf("%s{reason=%q} = %v (exported: %v), want exported at 0", metricDecodeErrors, reason, v, found)
		}
	}
}

func scrapeNode(t *testing.T, s *stack.Stack) stack.Metrics {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := stack.ScrapeMetrics(ctx, s.MetricsURL)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
