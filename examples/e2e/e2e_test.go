// Package e2e runs the examples against the real otelcol-raceway (built by
// ocb from builder-config.yaml) and a real Jaeger v2, all on loopback, and
// checks through Jaeger's HTTP API what a user would look at.
package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/raceway-otel/raceway/internal/proc"
	"github.com/raceway-otel/raceway/internal/servertest"
	"github.com/raceway-otel/raceway/internal/stack"
	"github.com/raceway-otel/raceway/racewayotel/convention"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func repoRoot(t *testing.T) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the source file")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// startStack starts Jaeger and the collector on free ports for the test.
func startStack(t *testing.T) (*stack.Stack, string) {
	if testing.Short() {
		t.Skip("builds and runs Jaeger and otelcol-raceway")
	}
	root := repoRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	s, err := stack.Start(ctx, stack.Options{Root: root, Progress: testWriter{t}, FreePorts: true, Wait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	})
	return s, root
}

// serve starts an example server and waits until it listens.
func serve(t *testing.T, s *stack.Stack, root, bin, name, addr string, args ...string) *proc.Process {
	t.Helper()
	p, err := proc.Start(name, root, []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + s.OTLPHTTP}, nil, bin, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.WaitListening(ctx, addr); err != nil {
		t.Fatal(err)
	}
	return p
}

// runToEnd runs an example command to completion.
func runToEnd(t *testing.T, s *stack.Stack, root, bin string, args ...string) {
	t.Helper()
	p, err := proc.Start(filepath.Base(bin)+" "+args[0], root, []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + s.OTLPHTTP}, nil, bin, args...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

func freeAddr(t *testing.T) string {
	a, err := proc.FreeAddrs(1)
	if err != nil {
		t.Fatal(err)
	}
	return a[0]
}

func build(t *testing.T, root, name string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, err := stack.BuildExample(ctx, root, name, testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

func TestBank(t *testing.T) {
	s, root := startStack(t)
	bank := build(t, root, "bank")
	ctx := context.Background()
	since := func(start time.Time) func(stack.Finding) bool {
		return func(f stack.Finding) bool { return !f.Start.Before(start) && f.Current.Service == "bank" }
	}

	// Racy: a finding trace for the balance, with both locations and a
	// lost update.
	start := time.Now()
	addr := freeAddr(t)
	srv := serve(t, s, root, bank, "bank racy", addr, "serve", "-listen", addr, "-mode", "racy")
	runToEnd(t, s, root, bank, "load", "-target", "http://"+addr, "-n", "12", "-concurrency", "4")
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	racy, err := stack.WaitFindings(ctx, s.Jaeger, since(start), 1, 4*time.Second, 90*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var lost *stack.Finding
	for i, f := range racy {
		t.Logf("racy: %s (trace %s)", f.Headline(), f.TraceID)
		if f.Var == "accounts.alice.balance" && f.Kind == "write/write" && f.LostUpdate {
			lost = &racy[i]
		}
	}
	if lost == nil {
		t.Fatalf("no write/write lost update on accounts.alice.balance among %d findings", len(racy))
	}
	server := filepath.Join(root, "examples", "bank", "server.go")
	for _, side := range []stack.Side{lost.Previous, lost.Current} {
		if side.File != server || side.Line == 0 || side.Service != "bank" {
			t.Errorf("finding side %+v: want bank at %s:<line>", side, server)
		}
	}
	if lost.Read != "1000" || lost.Final == "" || lost.Expected == "" {
		t.Errorf("lost update read %q final %q expected %q: want both read 1000 and the numbers", lost.Read, lost.Final, lost.Expected)
	}
	if lost.Previous.TraceID == lost.Current.TraceID {
		t.Errorf("the two transfers share trace %s, want two concurrent requests", lost.Current.TraceID)
	}
	if len(lost.Links) < 2 {
		t.Errorf("finding span has %d references, want links to both access spans", len(lost.Links))
	}
	for _, want := range []string{"WARNING: RACE on accounts.alice.balance", "Previous write by bank", "server.go:", "Lost update: both writers read 1000"} {
		if !strings.Contains(lost.Report, want) {
			t.Errorf("report lacks %q:\n%s", want, lost.Report)
		}
	}
	// Each request trace that took part has a raceway.race span for the
	// race, a child of its racing span, linked to the finding
	// (GET /api/traces/{id}).
	for _, side := range []stack.Side{lost.Previous, lost.Current} {
		match := func(r stack.RaceSpan) bool {
			return r.Parent == side.SpanID && r.Var == lost.Var && r.Kind == lost.Kind
		}
		rs, err := stack.WaitRaceSpans(ctx, s.Jaeger, side.TraceID, match, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, r := range rs {
			if !match(r) {
				continue
			}
			found = true
			t.Logf("request trace %s: raceway.race span %s, child of %q (%s), %s %s, linked to finding trace %s",
				r.TraceID, r.SpanID, r.ParentName, r.Parent, r.Var, r.Kind, r.Finding.TraceID)
			if r.Service != "bank" || r.ParentName == "" || r.Finding.TraceID != lost.TraceID {
				t.Errorf("raceway.race span %+v: want service bank, a parent in the trace and a link to finding trace %s", r, lost.TraceID)
			}
		}
		if !found {
			t.Errorf("request trace %s has no raceway.race span for the %s race on %s under span %s: %+v", side.TraceID, lost.Kind, lost.Var, side.SpanID, rs)
		}
	}

	// Fixed: no finding.
	start = time.Now()
	addr = freeAddr(t)
	srv = serve(t, s, root, bank, "bank fixed", addr, "serve", "-listen", addr, "-mode", "fixed")
	runToEnd(t, s, root, bank, "load", "-target", "http://"+addr, "-n", "12", "-concurrency", "4")
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	fixed, err := stack.WaitFindings(ctx, s.Jaeger, since(start), 0, 6*time.Second, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fixed {
		t.Errorf("fixed bank: %s", f.Headline())
	}
	// A race in the fixed run on the racy run's code locations would only
	// count as a repeat of an existing finding, but it would still put a
	// raceway.race span in the fixed run's request traces: there must be
	// none. And those traces did reach Jaeger (the absence of races is not
	// an absence of data).
	traces, err := s.Jaeger.Traces(ctx, "bank")
	if err != nil {
		t.Fatal(err)
	}
	fixedTraces := 0
	for _, tr := range traces {
		inFixedRun := false
		for _, sp := range tr.Spans {
			if sp.StartTime < start.UnixMicro() {
				continue
			}
			inFixedRun = true
			if sp.OperationName == convention.RaceEvent {
				t.Errorf("fixed bank: trace %s has a raceway.race span %s", tr.TraceID, sp.SpanID)
			}
		}
		if inFixedRun {
			fixedTraces++
		}
	}
	if fixedTraces < 12 {
		t.Errorf("Jaeger has %d bank traces of the fixed run, want its 12 transfers", fixedTraces)
	}
}

// TestDistributed runs the distributed example's three services on a real
// database, SQLite, PostgreSQL and MariaDB in turn, through racewaysql: the stock
// scenarios of docs/design.md ("Data stores") end to end, with no tracking
// call written for the rows, and the example's other scenarios.
func TestDistributed(t *testing.T) {
	s, root := startStack(t)
	bin := build(t, root, "distributed")
	t.Run("sqlite", func(t *testing.T) {
		// The services agree to call the file "shop" (racewaysql.WithDatabase).
		distributed(t, s, root, bin, "sqlite:"+filepath.Join(t.TempDir(), "shop.db"), "sqlite/shop", true)
	})
	t.Run("postgres", func(t *testing.T) {
		name, dsn := servertest.Postgres(t)
		distributed(t, s, root, bin, dsn, "postgres/"+name, false)
	})
	t.Run("mariadb", func(t *testing.T) {
		name, dsn := servertest.MySQL(t)
		distributed(t, s, root, bin, "mysql:"+dsn, "mysql/"+name, false)
	})
}

// stockPhases are the checkouts of the stock scenarios, each on a product
// of its own, with what Raceway must find on that product's stock.
var stockPhases = []struct {
	scenario          string
	product           int
	orders, inventory string // how each service takes stock
	race, lostUpdate  bool
}{
	{"13: both SELECT, then UPDATE … SET stock = ?", 42, "racy", "racy", true, true},
	{"14: both in a transaction that locks the row (FOR UPDATE; SQLite: BEGIN IMMEDIATE)", 43, "locked", "locked", false, false},
	{"14: inventory forgets the lock", 44, "locked", "racy", true, false},
	{"15: both UPDATE … SET stock = stock - 1", 45, "atomic", "atomic", false, false},
}

// distributed runs the example on db, whose rows' names begin with prefix;
// with others, also its scenarios that do not involve the database (whose
// races a second run would only count in the first run's finding groups).
func distributed(t *testing.T, s *stack.Stack, root, bin, db, prefix string, others bool) {
	ctx := context.Background()
	inv, ord, gw := freeAddr(t), freeAddr(t), freeAddr(t)
	services := []*proc.Process{
		serve(t, s, root, bin, "inventory", inv, "serve", "-service", "inventory", "-listen", inv, "-db", db),
		serve(t, s, root, bin, "orders", ord, "serve", "-service", "orders", "-listen", ord, "-next", "http://"+inv, "-db", db),
		serve(t, s, root, bin, "gateway", gw, "serve", "-service", "gateway", "-listen", gw, "-next", "http://"+ord, "-db", db),
	}
	start := time.Now()
	checkouts := 0
	for i, p := range stockPhases {
		// One wave of concurrent checkouts: the racy ones all read the same
		// stock.
		args := []string{"load", "-gateway", "http://" + gw, "-n", "4", "-concurrency", "4",
			"-product", strconv.Itoa(p.product), "-orders", p.orders, "-inventory", p.inventory}
		if i == 0 && others {
			args = append(args, "-audits", "3")
		} else {
			args = append(args, "-audits", "0", "-notify=false")
		}
		runToEnd(t, s, root, bin, args...)
		checkouts += 4
	}
	for _, p := range services { // flush their telemetry
		if err := p.Stop(); err != nil {
			t.Fatal(err)
		}
	}
	keep := func(f stack.Finding) bool { return !f.Start.Before(start) }
	all, err := stack.WaitFindings(ctx, s.Jaeger, keep, 2, 6*time.Second, 90*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	byVar := map[string][]stack.Finding{}
	for _, f := range all {
		t.Logf("distributed: %s (trace %s)", f.Headline(), f.TraceID)
		byVar[f.Var] = append(byVar[f.Var], f)
	}

	for _, p := range stockPhases {
		v := fmt.Sprintf("%s/products/%d.stock", prefix, p.product)
		found := byVar[v]
		cross, lost := false, false
		for _, f := range found {
			services := []string{f.Previous.Service, f.Current.Service}
			slices.Sort(services)
			cross = cross || services[0] == "inventory" && services[1] == "orders"
			lost = lost || f.LostUpdate && f.Read != "" && f.Final != "" && f.Expected != ""
		}
		switch {
		case p.race && !cross:
			t.Errorf("scenario %s: no race between orders and inventory on %s: %v", p.scenario, v, found)
		case !p.race && len(found) > 0:
			for _, f := range found {
				t.Errorf("scenario %s: %s", p.scenario, f.Headline())
			}
		case p.lostUpdate && !lost:
			t.Errorf("scenario %s: no lost update with its numbers on %s: %v", p.scenario, v, found)
		}
	}
	// Scenario 12: per-process counters never race across processes (and
	// each process guards its own).
	for _, v := range []string{"request_count", "cache.size"} {
		for _, f := range byVar[v] {
			t.Errorf("per-process %s reported: %s", v, f.Headline())
		}
	}
	// Scenario 6: the sequential audit path is ordered by the RPC edges.
	for _, f := range byVar[prefix+"/audit/1.last"] {
		t.Errorf("sequential audit path reported: %s", f.Headline())
	}
	// Scenario 7: the detached job races with its handler, in one trace.
	detached := false
	for _, f := range byVar["orders.notifications.pending"] {
		origins := []string{f.Previous.Origin, f.Current.Origin}
		if f.Previous.TraceID == f.Current.TraceID && slices.Contains(origins, "detach") {
			detached = true
		}
	}
	if others && !detached {
		t.Errorf("no same-trace race between the detached job and its handler: %v", byVar["orders.notifications.pending"])
	}
	// The phases without findings did reach Jaeger.
	if traces, err := s.Jaeger.Traces(ctx, "inventory"); err != nil || len(traces) < checkouts {
		t.Errorf("Jaeger has %d inventory traces (err %v), want at least the %d checkouts", len(traces), err, checkouts)
	}

	// Jaeger derives the service graph from our spans.
	deps, err := s.Jaeger.Dependencies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	edges := map[string]bool{}
	for _, d := range deps {
		edges[d.Parent+"→"+d.Child] = true
	}
	for _, want := range []string{"gateway→orders", "orders→inventory"} {
		if !edges[want] {
			t.Errorf("Jaeger's /api/dependencies lacks %s: %v", want, deps)
		}
	}
}

// testWriter sends build progress to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	for line := range strings.SplitSeq(strings.TrimRight(string(b), "\n"), "\n") {
		w.t.Log(line)
	}
	return len(b), nil
}
