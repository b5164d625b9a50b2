package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/raceway-otel/raceway/internal/proc"
	"github.com/raceway-otel/raceway/internal/stack"
)

// plainSpans builds n spans of service "plain" without Raceway records:
// the processor passes them on at once.
func plainSpans(n int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "plain")
	ss := rs.ScopeSpans().AppendEmpty()
	now := time.Now()
	for range n {
		sp := ss.Spans().AppendEmpty()
		sp.SetTraceID(randomTrace())
		sp.SetSpanID(randomSpan())
		sp.SetName("GET /health")
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(now))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Millisecond)))
	}
	return td
}

// kill sends SIGKILL to the collector's process group and waits for it to
// exit: no shutdown, no flush.
func (c *collector) kill() {
	c.t.Helper()
	if err := syscall.Kill(-c.pid(), syscall.SIGKILL); err != nil {
		c.t.Fatalf("SIGKILL: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = c.p.Wait(ctx) // "signal: killed"
	if !c.p.Exited() {
		c.t.Fatal("the collector did not exit after SIGKILL")
	}
}

// checkNoPanic fails the test if the collector's output shows a panic.
func (c *collector) checkNoPanic() {
	c.t.Helper()
	if out := c.p.Output(); strings.Contains(out, "panic:") || strings.Contains(out, "fatal error:") {
		c.fatalf("the collector panicked")
	}
}

// TestCollectorKillRestart kills otelcol-raceway (SIGKILL) in the middle of
// the traffic and restarts it on the same ports. Spans are not held: every
// span sent before the last export reaches the backend before the kill, well
// within wait_duration (30s here), records or not. What a kill loses, by
// design, is what the stock batch processor and exporter queue had in memory
// at that moment (the test counts it: the spans of the last export, sent just
// before the kill, against what the collector's own metrics said it had
// accepted and not yet exported), the detector's state (so a racing pair
// whose first half came before the kill is missed) and its counters (they
// restart from zero); and, on the client side, every export sent while it is
// down (the client sees the errors and counts them). The restarted collector
// works: a race sent after the restart is found.
func TestCollectorKillRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the collector")
	}
	bin := collectorBinary(t)
	cs := startSink(t, "", nil)
	env := baseEnv(t, cs.Addr())
	const wait = 30 * time.Second
	env["RACEWAY_WAIT"] = wait.String()
	configs := []string{demoConfig(t, "otelcol-raceway.yaml")}
	col := startCollector(t, bin, env, configs...)
	client := dial(t, env["RACEWAY_OTLP_GRPC"])

	// Before the kill: 50 request traces with records, 20 plain spans, and
	// the first request of a pair that races across the restart.
	shape := floodShape{varsPerTrace: 2, runID: uint32(time.Now().UnixNano())}
	straddle := lostUpdate()
	first, second := requestsTraces(straddle[0]), requestsTraces(straddle[1])
	renameVar(first, "accounts.carol.balance")
	renameVar(second, "accounts.carol.balance")
	sentAt := time.Now()
	for _, td := range []ptrace.Traces{shape.batch(0, 50), plainSpans(20), first} {
		if err := exportTraces(client, td); err != nil {
			col.fatalf("export before the kill: %v", err)
		}
	}
	flood := 50 * shape.spansPerTrace()
	waitFor(col, wait/3, "spans sent before the kill did not all pass through", func() (bool, string) {
		return cs.SpanCount("flood") == flood && cs.SpanCount("plain") == 20 && cs.SpanCount("bank") == 3,
			fmt.Sprintf("flood %d of %d, plain %d of 20, bank %d of 3", cs.SpanCount("flood"), flood, cs.SpanCount("plain"), cs.SpanCount("bank"))
	})
	passed := time.Since(sentAt)

	// The last export, then at once the collector's own count of the spans
	// it accepted and has not exported yet, and the kill: those spans are
	// in the batch processor or the exporter's queue.
	last := shape.batch(50, 50)
	if err := exportTraces(client, last); err != nil {
		col.fatalf("last export before the kill: %v", err)
	}
	m := scrape(t, env)
	col.kill()
	killedAt := time.Now()
	inMemory := int(m.Sum(metricAccepted) - m.Sum("otelcol_exporter_sent_spans", "exporter", "otlp_grpc/jaeger"))
	time.Sleep(200 * time.Millisecond) // exports already on the wire land
	lost := flood + last.SpanCount() - cs.SpanCount("flood")
	if cs.SpanCount("plain") != 20 || cs.SpanCount("bank") != 3 || cs.SpanCount("flood") < flood {
		col.fatalf("spans that reached the backend before the kill are missing: flood %d of %d, plain %d of 20, bank %d of 3",
			cs.SpanCount("flood"), flood, cs.SpanCount("plain"), cs.SpanCount("bank"))
	}
	if lost > inMemory {
		col.fatalf("lost %d spans of the last export, more than the %d the collector had accepted and not exported just before the kill", lost, inMemory)
	}

	// While it is down: the client's exports fail (the OTel SDK would
	// drop and count them the same way).
	failed, failedSpans := 0, 0
	for i := range 5 {
		td := shape.batch(1000+10*i, 10)
		if err := exportTraces(client, td); err != nil {
			failed++
			failedSpans += td.SpanCount()
		}
	}
	if failed != 5 {
		t.Fatalf("%d of 5 exports failed while the collector was down, want 5", failed)
	}

	col2 := startCollector(t, bin, env, configs...)
	t.Logf("restarted on the same ports %.1fs after the kill", time.Since(killedAt).Seconds())
	// After the restart: the second request of the straddling pair, a
	// whole racing pair and 50 more request traces, in one export.
	before := cs.SpanCount("flood")
	after := shape.batch(2000, 50)
	second.ResourceSpans().MoveAndAppendTo(after.ResourceSpans())
	racingPair("accounts.dave.balance").ResourceSpans().MoveAndAppendTo(after.ResourceSpans())
	waitFor(col2, 30*time.Second, "export after the restart keeps failing", func() (bool, string) {
		err := exportTraces(client, after)
		return err == nil, fmt.Sprint(err)
	})
	ww, rw := "race accounts.dave.balance write/write", "race accounts.dave.balance read/write"
	waitFor(col2, 30*time.Second, "the race sent after the restart was not found", func() (bool, string) {
		f := cs.findings()
		return f[ww] > 0 && f[rw] > 0, fmt.Sprintf("findings %v", f)
	})
	waitFor(col2, 30*time.Second, "spans sent after the restart are missing", func() (bool, string) {
		return cs.SpanCount("flood") == before+50*shape.spansPerTrace() && cs.SpanCount("bank") == 3+9,
			fmt.Sprintf("flood %d of %d, bank %d of 12", cs.SpanCount("flood")-before, 50*shape.spansPerTrace(), cs.SpanCount("bank"))
	})
	m = scrape(t, env)
	for name := range cs.findings() {
		if strings.Contains(name, "carol") {
			col2.fatalf("a race across the restart was found (%q): the killed process's state should be gone", name)
		}
	}
	t.Logf("RESULT kill/restart (wait_duration %s): before the kill, 123 spans (50 traces with records, 20 plain spans, 1 request of the carol pair) all reached the backend %.2fs after they were sent; "+
		"lost at the kill: %d of the %d spans of an export made just before it (the collector had accepted and not exported %d: in the batch processor and the exporter's queue); "+
		"client exports failed while down %d (%d spans); after the restart: analysed %.0f records, races found %.0f, findings %v; carol pair (straddling) not reported",
		wait, passed.Seconds(), lost, last.SpanCount(), inMemory, failed, failedSpans, m.Sum(metricAnalysed), m.Sum(metricRaces), cs.findings())
	col2.checkNoPanic()
}

// TestBackendDown starts the collector with its trace backend (Jaeger's
// OTLP) and its findings backend (logs and metrics) on an address where
// nothing listens yet, sends a race, and only then starts the backend: the
// stock exporters' sending queue and retry_on_failure (the raceway
// exporter's too) deliver the finding traces, the race log records, the
// request spans and their raceway.race spans once it is up.
func TestBackendDown(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the collector; waits for exporter retries")
	}
	bin := collectorBinary(t)
	backend := freeAddr(t) // reserved: nothing listens there until the sink starts
	env := baseEnv(t, backend)
	col := startCollector(t, bin, env, demoConfig(t, "otelcol-raceway.yaml"))
	client := dial(t, env["RACEWAY_OTLP_GRPC"])
	const v = "accounts.erin.balance"
	if err := exportTraces(client, racingPair(v)); err != nil {
		col.fatalf("export: %v", err)
	}
	// The race is found at once; the exporters fail and retry while the
	// backend is down.
	waitFor(col, 20*time.Second, "the race was not found", func() (bool, string) {
		m := scrape(t, env)
		return m.Sum(metricDistinct) == 2, fmt.Sprintf("distinct races %.0f", m.Sum(metricDistinct))
	})
	down := 5 * time.Second
	time.Sleep(down)
	m := scrape(t, env)
	retrying := strings.Count(col.p.Output(), "Will retry")
	t.Logf("backend down for %s: exporter send failures so far: spans %.0f, log records %.0f; %d retry messages in the collector's log tail",
		down, m.Sum("otelcol_exporter_send_failed_spans"), m.Sum("otelcol_exporter_send_failed_log_records"), retrying)
	if retrying == 0 {
		col.fatalf("the collector's log shows no exporter retry while the backend is down")
	}

	upAt := time.Now()
	cs := startSink(t, backend, nil)
	ww, rw := "race "+v+" write/write", "race "+v+" read/write"
	waitFor(col, 90*time.Second, "findings did not arrive after the backend came back", func() (bool, string) {
		f, logs := cs.findings(), cs.raceLogs()
		return f[ww] > 0 && f[rw] > 0 && logs[v] >= 2 && cs.SpanCount("bank") == 6 && cs.RaceSpanCount() == 6,
			fmt.Sprintf("findings %v, race logs %v, bank spans %d of 6, raceway.race spans %d of 6", f, logs, cs.SpanCount("bank"), cs.RaceSpanCount())
	})
	m = scrape(t, env)
	t.Logf("RESULT backend down: findings, race logs, the 6 request spans and their 6 raceway.race spans arrived %.1fs after the backend came back; send failures (retries exhausted) spans %.0f, log records %.0f",
		time.Since(upAt).Seconds(), m.Sum("otelcol_exporter_send_failed_spans"), m.Sum("otelcol_exporter_send_failed_log_records"))
	col.checkNoPanic()
}

// TestAppWithCollectorDown runs the example bank service and its load
// driver with OTEL_EXPORTER_OTLP_ENDPOINT on a port where nothing listens:
// every transfer succeeds (telemetry never blocks a request: the load
// finishes well within its deadline) and the dropped telemetry is visible
// in the OpenTelemetry SDK's error output.
func TestAppWithCollectorDown(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the example")
	}
	root := repoRoot(t)
	bctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bank, err := stack.BuildExample(bctx, root, "bank", os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + freeAddr(t)
	listen := freeAddr(t)
	env := []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + dead}
	p, err := proc.Start("bank serve", "", env, nil, bank, "serve", "-listen", listen, "-mode", "racy")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop() })
	wctx, wcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer wcancel()
	if err := p.WaitListening(wctx, listen); err != nil {
		t.Fatal(err)
	}

	const transfers = 50
	deadline := 60 * time.Second
	lctx, lcancel := context.WithTimeout(context.Background(), deadline)
	defer lcancel()
	start := time.Now()
	out, err := runBounded(lctx, bank, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": dead},
		"load", "-target", "http://"+listen, "-n", fmt.Sprint(transfers), "-concurrency", "4")
	took := time.Since(start)
	if err != nil || lctx.Err() != nil {
		t.Fatalf("bank load with the collector down: %v (deadline %s: %v); output:\n%s", err, deadline, lctx.Err(), lastLines(out, 20))
	}
	if want := fmt.Sprintf("%d transfers sent, 0 failed", transfers); !strings.Contains(out, want) {
		t.Fatalf("bank load output lacks %q:\n%s", want, lastLines(out, 20))
	}
	// The SDK's batch span processor exports every 200ms; its export
	// errors (the dropped spans) go to the OTel error handler (stderr).
	var sdkErrors int
	deadlineLog := time.Now().Add(15 * time.Second)
	for {
		sdkErrors = strings.Count(p.Output(), "connection refused")
		if sdkErrors > 0 || time.Now().After(deadlineLog) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if sdkErrors == 0 {
		t.Fatalf("bank serve's output shows no export error while the collector is down:\n%s", p.Output())
	}
	stopStart := time.Now()
	if err := p.Stop(); err != nil {
		t.Fatalf("bank serve did not stop cleanly with the collector down: %v", err)
	}
	// The drops are counted: the example's telemetry reports, at shutdown,
	// the spans its exporter delivered and those it dropped.
	var exported, dropped int
	for _, line := range strings.Split(p.Output(), "\n") {
		if _, err := fmt.Sscanf(line, "bank telemetry: %d spans exported, %d dropped", &exported, &dropped); err == nil {
			break
		}
	}
	if exported != 0 || dropped == 0 {
		t.Errorf("bank serve reports %d spans exported and %d dropped with the collector down, want 0 and some:\n%s", exported, dropped, p.Output())
	}
	t.Logf("RESULT app with the collector down: %d/%d transfers succeeded in %s (load driver, including its own telemetry shutdown); "+
		"bank serve logged %d export errors (connection refused) and counted %d dropped spans, stopped in %s; load driver's tail:\n%s",
		transfers, transfers, took.Round(time.Millisecond), sdkErrors, dropped, time.Since(stopStart).Round(time.Millisecond), lastLines(out, 5))
}
