package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/raceway-otel/raceway/internal/proc"
	"github.com/raceway-otel/raceway/internal/stack"
)

// demo runs the main job: the bank example under load → otelcol-raceway →
// Jaeger → the races, printed; then the fixed bank, which gives none; then
// the distributed shop on a real database (see shopDemo).
func demo(args []string) error {
	fs := flag.NewFlagSet("demo", flag.ExitOnError)
	freePorts := fs.Bool("free-ports", false, "use free loopback ports instead of the usual ones (16686, 4317, 4318, 8081, …)")
	transfers := fs.Int("n", 20, "transfers per run (1 to 1000)")
	keep := fs.Bool("keep", false, "keep Jaeger and the collector running after the demo, until Ctrl-C")
	verbose := fs.Bool("v", false, "show the collector's and Jaeger's output")
	db := fs.String("db", "", "the shop's database on loopback: a postgres:// URL or mysql: and a go-sql-driver/mysql DSN (default: a new SQLite file)")
	_ = fs.Parse(args)
	*transfers = min(max(*transfers, 1), 1000)

	root, err := os.Getwd()
	if err != nil {
		return err
	}
	if b, err := os.ReadFile("go.mod"); err != nil || !strings.HasPrefix(string(b), "module github.com/raceway-otel/raceway\n") {
		return fmt.Errorf("run the demo from the repository root (go run ./dev demo)")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	step("Building and starting Jaeger v2 and otelcol-raceway (cold builds take several minutes; later runs reuse them)")
	opts := stack.Options{Root: root, Progress: os.Stdout, FreePorts: *freePorts, Wait: 2 * time.Second}
	if *verbose {
		opts.Log = os.Stderr
	}
	s, err := stack.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer func() {
		step("Stopping the collector and Jaeger")
		if err := s.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "dev:", err)
		}
	}()
	bank, err := stack.BuildExample(ctx, root, "bank", os.Stdout)
	if err != nil {
		return err
	}
	addrs, err := listenAddrs(*freePorts, "127.0.0.1:8081")
	if err != nil {
		return err
	}
	bankAddr := addrs[0]
	query := s.Jaeger.QueryURL()
	fmt.Printf("Jaeger:          %s (API: %s/api/services)\n", query, query)
	fmt.Printf("otelcol-raceway: OTLP %s and %s, own metrics %s\n", s.OTLPGRPC, s.OTLPHTTP, s.MetricsURL)

	run := func(mode string) (time.Time, error) {
		step(fmt.Sprintf("Bank in %s mode: %d concurrent transfers from alice to bob", mode, *transfers))
		start := time.Now()
		srv, err := proc.Start("bank", root, []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + s.OTLPHTTP}, nil,
			bank, "serve", "-listen", bankAddr, "-mode", mode)
		if err != nil {
			return start, err
		}
		defer srv.Stop()
		wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		if err := srv.WaitListening(wctx, bankAddr); err != nil {
			return start, err
		}
		load, err := proc.Start("bank load", root, []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + s.OTLPHTTP}, os.Stdout,
			bank, "load", "-target", "http://"+bankAddr, "-n", strconv.Itoa(*transfers), "-concurrency", "4")
		if err != nil {
			return start, err
		}
		if err := load.Wait(wctx); err != nil {
			return start, err
		}
		balance, err := balanceOf(wctx, "http://"+bankAddr, "alice")
		if err != nil {
			return start, err
		}
		want := 1000 - 100*(*transfers/2) - 200*((*transfers+1)/2)
		fmt.Printf("alice's balance: %d (every transfer applied: %d)\n", balance, want)
		return start, srv.Stop() // flushes the bank's telemetry
	}

	racyStart, err := run("racy")
	if err != nil {
		return err
	}
	fmt.Println("waiting for the collector to analyse the traces and store the findings in Jaeger…")
	isBank := func(since time.Time) func(stack.Finding) bool {
		return func(f stack.Finding) bool { return !f.Start.Before(since) && f.Current.Service == "bank" }
	}
	racy, err := stack.WaitFindings(ctx, s.Jaeger, isBank(racyStart), 1, 4*time.Second, 90*time.Second)
	if err != nil {
		return fmt.Errorf("racy bank: %w", err)
	}
	step(fmt.Sprintf("%d distinct races found in the racy bank", len(racy)))
	if err := printFindings(s, racy, func(f stack.Finding) error { return printRaceSpans(ctx, s, f) }); err != nil {
		return fmt.Errorf("racy bank: %w", err)
	}

	fixedStart, err := run("fixed")
	if err != nil {
		return err
	}
	if err := noFindings(ctx, s, isBank(fixedStart), "the fixed bank (WithLock)"); err != nil {
		return err
	}
	step("Fixed bank (WithLock around read-modify-write): no race found")
	if err := shopDemo(ctx, s, root, *db, *freePorts, *transfers); err != nil {
		return err
	}
	printCollectorCounters(ctx, s.MetricsURL)
	fmt.Printf("\nFindings are traces of service \"raceway\" in Jaeger: %s/api/traces?service=raceway\n", query)
	fmt.Printf("As JSON lines, from the raceway exporter: %s\n", s.FindingsFile)
	if *keep {
		fmt.Println("Jaeger and the collector keep running; press Ctrl-C to stop them.")
		<-ctx.Done()
	}
	return nil
}

func step(s string) { fmt.Printf("\n==> %s\n", s) }

// listenAddrs returns the addresses a demo's services listen on: fixed, each
// checked to be free, or as many free ones picked at random.
func listenAddrs(free bool, fixed ...string) ([]string, error) {
	if free {
		return proc.FreeAddrs(len(fixed))
	}
	for _, a := range fixed {
		if err := stack.CheckFree(a); err != nil {
			return nil, err
		}
	}
	return fixed, nil
}

// printFindings prints each finding: its name, its finding trace in
// Jaeger, what more (if not nil) prints, and its report.
func printFindings(s *stack.Stack, fs []stack.Finding, more func(stack.Finding) error) error {
	query := s.Jaeger.QueryURL()
	for i, f := range fs {
		fmt.Printf("\nRace %d of %d: %s\n", i+1, len(fs), f.Name)
		fmt.Printf("  finding trace %s\n  %s/api/traces/%s\n", f.TraceID, query, f.TraceID)
		if more != nil {
			if err := more(f); err != nil {
				return err
			}
		}
		for line := range strings.SplitSeq(strings.TrimRight(f.Report, "\n"), "\n") {
			fmt.Println("  " + line)
		}
	}
	return nil
}

// printRaceSpans prints, for both accesses of f, the raceway.race span that
// shows the race inside the access's request trace, as Jaeger's API returns
// it: a child of the racing span.
func printRaceSpans(ctx context.Context, s *stack.Stack, f stack.Finding) error {
	for _, side := range []stack.Side{f.Previous, f.Current} {
		match := func(r stack.RaceSpan) bool { return r.Parent == side.SpanID && r.Var == f.Var && r.Kind == f.Kind }
		rs, err := stack.WaitRaceSpans(ctx, s.Jaeger, side.TraceID, match, 30*time.Second)
		if err != nil {
			return err
		}
		for _, r := range rs {
			if match(r) {
				fmt.Printf("  request trace %s: span \"raceway.race\" %s, child of %q %s\n  %s/api/traces/%s\n",
					r.TraceID, r.SpanID, r.ParentName, r.Parent, s.Jaeger.QueryURL(), r.TraceID)
				break
			}
		}
	}
	return nil
}

// noFindings waits until the collector has analysed what was sent and
// fails, printing them, if findings that keep selects were stored.
func noFindings(ctx context.Context, s *stack.Stack, keep func(stack.Finding) bool, what string) error {
	fmt.Println("waiting for the collector to analyse the traces…")
	found, err := stack.WaitFindings(ctx, s.Jaeger, keep, 0, 8*time.Second, 30*time.Second)
	if err != nil {
		return err
	}
	for _, f := range found {
		fmt.Println("  " + f.Headline())
	}
	if len(found) > 0 {
		return fmt.Errorf("%s gave %d findings, want none", what, len(found))
	}
	return nil
}

func balanceOf(ctx context.Context, base, account string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/balance?account="+account, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var m map[string]int
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		return 0, fmt.Errorf("balance: %w", err)
	}
	return m[account], nil
}

// printCollectorCounters prints the raceway processor's own counters from
// the collector's Prometheus endpoint.
func printCollectorCounters(ctx context.Context, url string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	fmt.Println("\nThe raceway processor's own metrics:")
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "otelcol_processor_raceway_") {
			fmt.Println("  " + line)
		}
	}
}
