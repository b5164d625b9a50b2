package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/raceway-otel/raceway/analysis"
	"github.com/raceway-otel/raceway/racewayotel/convention"
)

const (
	variable  = "accounts.alice.balance"
	readLine  = 37
	writeLine = 42
	file      = "/src/bank/transfer.go"
)

// request is one POST /transfer of the lost-update scenario: its own trace,
// one logical thread that reads the balance and writes it back.
type request struct {
	trace                pcommon.TraceID
	server, read, write  pcommon.SpanID
	thread               analysis.ThreadID
	newValue             string
	start, readAt, wrtAt time.Time
}

func randomTrace() (id pcommon.TraceID) { _, _ = rand.Read(id[:]); return id }
func randomSpan() (id pcommon.SpanID)   { _, _ = rand.Read(id[:]); return id }
func randomThread() analysis.ThreadID {
	var b [8]byte
	_, _ = rand.Read(b[:])
	id := analysis.ThreadID(uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
		uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7]))
	if id == 0 {
		id = 1
	}
	return id
}

// spans returns the request's three spans, each in its own ResourceSpans (as
// separate exports would deliver them).
func (r request) spans() []ptrace.ResourceSpans {
	mk := func(id, parent pcommon.SpanID, name string, kind ptrace.SpanKind, start, end time.Time) (ptrace.ResourceSpans, ptrace.Span) {
		td := ptrace.NewTraces()
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", "bank")
		rs.Resource().Attributes().PutStr("service.instance.id", "bank-1")
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName("github.com/raceway-otel/raceway/racewayotel")
		sp := ss.Spans().AppendEmpty()
		sp.SetTraceID(r.trace)
		sp.SetSpanID(id)
		sp.SetParentSpanID(parent)
		sp.SetName(name)
		sp.SetKind(kind)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(end))
		return rs, sp
	}
	server, s := mk(r.server, pcommon.SpanID{}, "POST /transfer", ptrace.SpanKindServer, r.start, r.wrtAt.Add(time.Millisecond))
	s.Attributes().PutStr("http.request.method", "POST")
	addRecord(s, r.start, requestStart(r.thread, 20, "POST /transfer"))
	read, rs := mk(r.read, r.server, "load balance", ptrace.SpanKindInternal, r.readAt.Add(-time.Microsecond), r.readAt.Add(time.Microsecond))
	addRecord(rs, r.readAt, access(analysis.KindRead, r.thread, 2, readLine, variable, "", "1000"))
	write, ws := mk(r.write, r.server, "store balance", ptrace.SpanKindInternal, r.wrtAt.Add(-time.Microsecond), r.wrtAt.Add(time.Microsecond))
	addRecord(ws, r.wrtAt, access(analysis.KindWrite, r.thread, 3, writeLine, variable, "1000", r.newValue))
	return []ptrace.ResourceSpans{server, read, write}
}

// lostUpdate builds the two concurrent transfers: both read 1000, one writes
// 900 and the other 950.
func lostUpdate() [2]request {
	t0 := time.Now().Add(-2 * time.Second)
	a := request{trace: randomTrace(), server: randomSpan(), read: randomSpan(), write: randomSpan(), thread: randomThread(),
		newValue: "900", start: t0, readAt: t0.Add(1 * time.Millisecond), wrtAt: t0.Add(3 * time.Millisecond)}
	b := request{trace: randomTrace(), server: randomSpan(), read: randomSpan(), write: randomSpan(), thread: randomThread(),
		newValue: "950", start: t0.Add(500 * time.Microsecond), readAt: t0.Add(2 * time.Millisecond), wrtAt: t0.Add(4 * time.Millisecond)}
	return [2]request{a, b}
}

// shuffledBatches spreads the spans of both requests over n OTLP requests in
// a random order.
func shuffledBatches(t *testing.T, reqs [2]request, n int) []ptrace.Traces {
	var all []ptrace.ResourceSpans
	for _, r := range reqs {
		all = append(all, r.spans()...)
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("shuffle seed %d", seed)
	rng := mrand.New(mrand.NewPCG(seed, 0))
	rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	batches := make([]ptrace.Traces, n)
	for i := range batches {
		batches[i] = ptrace.NewTraces()
	}
	for i, rs := range all {
		rs.CopyTo(batches[i%n].ResourceSpans().AppendEmpty())
	}
	return batches
}

func dial(t testing.TB, addr string) ptraceotlp.GRPCClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return ptraceotlp.NewGRPCClient(conn)
}

// baseEnv points the demo configuration at free loopback ports, and every
// exporter at the OTLP/gRPC backend address.
func baseEnv(t testing.TB, backend string) map[string]string {
	return map[string]string{
		"RACEWAY_OTLP_GRPC":         freeAddr(t),
		"RACEWAY_OTLP_HTTP":         freeAddr(t),
		"RACEWAY_JAEGER_OTLP":       backend,
		"RACEWAY_FINDINGS_PROTOCOL": "grpc",
		"RACEWAY_FINDINGS_OTLP":     backend,
		"RACEWAY_WAIT":              "1s",
		"RACEWAY_METRICS_PORT":      strings.TrimPrefix(freeAddr(t), "127.0.0.1:"),
		"RACEWAY_DEBUG_VERBOSITY":   "basic",
	}
}

func demoConfig(t testing.TB, name string) string {
	return filepath.Join(repoRoot(t), "collector", name)
}

// hasPointFor reports whether the sum m has a data point of at least 1 for
// variable.
func hasPointFor(m pmetric.Metric, variable string) bool {
	dps := m.Sum().DataPoints()
	for i := 0; i < dps.Len(); i++ {
		if v, ok := dps.At(i).Attributes().Get(convention.RaceVar); ok && v.Str() == variable && dps.At(i).IntValue() >= 1 {
			return true
		}
	}
	return false
}

// TestLostUpdateEndToEnd sends the lost-update scenario (two traces, shuffled
// batches) to otelcol-raceway and checks what reaches the OTLP sink: the
// finding spans, the raceway.race spans under the racing request spans, the
// race log records and the race metrics (sent again each metrics_interval);
// and the JSON-lines file.
func TestLostUpdateEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the collector")
	}
	bin := collectorBinary(t)
	s := startSink(t, "", nil)
	env := baseEnv(t, s.Addr())
	findingsFile := filepath.Join(t.TempDir(), "findings.jsonl")
	env["RACEWAY_FINDINGS_FILE"] = findingsFile
	// The race counters are sent again every 200ms rather than every 15s,
	// so that the test sees them re-sent.
	resend := writeOverlay(t, "exporters:\n  raceway:\n    metrics_interval: 200ms\n")
	col := startCollector(t, bin, env, demoConfig(t, "otelcol-raceway.yaml"), resend)
	col.checkLoopbackOnly()

	reqs := lostUpdate()
	client := dial(t, env["RACEWAY_OTLP_GRPC"])
	for i, td := range shuffledBatches(t, reqs, 3) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := client.Export(ctx, ptraceotlp.NewExportRequestFromTraces(td))
		cancel()
		if err != nil {
			col.fatalf("exporting batch %d: %v", i, err)
		}
		time.Sleep(300 * time.Millisecond) // batches arrive apart, as from separate exports
	}

	type result struct {
		wwFinding, rwFinding ptrace.Span
		annotated            map[pcommon.SpanID]bool
		wwLog, rwLog         plog.LogRecord
		races                pmetric.Metric
		racesSent            int // metric requests with a raceway.races point for the variable
	}
	check := func() (result, []string) {
		traces, logs, metrics := s.Snapshot()
		r := result{annotated: map[pcommon.SpanID]bool{}}
		eachSpan(traces, func(svc string, sp ptrace.Span) {
			switch {
			case svc == convention.FindingService && sp.Name() == "race "+variable+" write/write":
				r.wwFinding = sp
			case svc == convention.FindingService && sp.Name() == "race "+variable+" read/write":
				r.rwFinding = sp
			case svc == "bank" && sp.Name() == convention.RaceEvent:
				r.annotated[sp.ParentSpanID()] = true
			}
		})
		eachLogRecord(logs, func(lr plog.LogRecord) {
			kind, _ := lr.Attributes().Get(convention.RaceKind)
			switch kind.Str() {
			case "write/write":
				r.wwLog = lr
			case "read/write":
				r.rwLog = lr
			}
		})
		eachMetric(metrics, func(m pmetric.Metric) {
			if m.Name() == "raceway.races" && hasPointFor(m, variable) {
				r.races = m
				r.racesSent++
			}
		})
		var missing []string
		if r.wwFinding == (ptrace.Span{}) {
			missing = append(missing, "write/write finding span")
		}
		if r.rwFinding == (ptrace.Span{}) {
			missing = append(missing, "read/write finding span")
		}
		for _, req := range reqs {
			if !r.annotated[req.write] {
				missing = append(missing, fmt.Sprintf("raceway.race span under write span %s", req.write))
			}
		}
		if r.wwLog == (plog.LogRecord{}) {
			missing = append(missing, "write/write log record")
		}
		if r.rwLog == (plog.LogRecord{}) {
			missing = append(missing, "read/write log record")
		}
		if r.racesSent < 3 {
			missing = append(missing, fmt.Sprintf("raceway.races metric for %s sent again each metrics_interval (sent %d times)", variable, r.racesSent))
		}
		return r, missing
	}
	var (
		r       result
		missing []string
	)
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, missing = check()
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			traces, logs, metrics := s.Snapshot()
			col.fatalf("after 30s the sink still lacks %s (it has %d trace, %d log and %d metric requests)",
				strings.Join(missing, ", "), len(traces), len(logs), len(metrics))
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The write/write finding links to both writes and is a lost update.
	links := map[pcommon.SpanID]pcommon.TraceID{}
	for i := 0; i < r.wwFinding.Links().Len(); i++ {
		l := r.wwFinding.Links().At(i)
		links[l.SpanID()] = l.TraceID()
	}
	for _, req := range reqs {
		if links[req.write] != req.trace {
			t.Errorf("write/write finding does not link to write span %s of trace %s; links %v", req.write, req.trace, links)
		}
	}
	if v, ok := r.wwFinding.Attributes().Get(convention.RaceLostUpdate); !ok || !v.Bool() {
		t.Errorf("write/write finding is not classified as a lost update: %v", r.wwFinding.Attributes().AsRaw())
	}

	// Log records: Go-race-report bodies, trace context of the finding.
	wantLoc := func(line int) string { return fmt.Sprintf("transfer.go:%d", line) }
	if body := r.wwLog.Body().Str(); !strings.Contains(body, "RACE") || !strings.Contains(body, wantLoc(writeLine)) {
		t.Errorf("write/write log body lacks RACE or %s:\n%s", wantLoc(writeLine), body)
	}
	if body := r.rwLog.Body().Str(); !strings.Contains(body, "RACE") || !strings.Contains(body, wantLoc(readLine)) || !strings.Contains(body, wantLoc(writeLine)) {
		t.Errorf("read/write log body lacks RACE, %s or %s:\n%s", wantLoc(readLine), wantLoc(writeLine), body)
	}
	if r.wwLog.TraceID() != r.wwFinding.TraceID() || r.wwLog.SpanID() != r.wwFinding.SpanID() {
		t.Errorf("log record's trace context %s/%s is not the finding span's %s/%s",
			r.wwLog.TraceID(), r.wwLog.SpanID(), r.wwFinding.TraceID(), r.wwFinding.SpanID())
	}
	if r.wwLog.SeverityNumber() < plog.SeverityNumberError {
		t.Errorf("write/write log severity %v, want ERROR or above", r.wwLog.SeverityNumber())
	}
	t.Logf("write/write log record body:\n%s", r.wwLog.Body().Str())

	// The metric: monotonic cumulative counter for the variable.
	sum := r.races.Sum()
	if !sum.IsMonotonic() || sum.AggregationTemporality() != pmetric.AggregationTemporalityCumulative {
		t.Errorf("raceway.races is not a monotonic cumulative sum")
	}

	// The JSON-lines file for CI.
	col.stop() // flushes and closes the file
	f, err := os.Open(findingsFile)
	if err != nil {
		t.Fatalf("findings file: %v", err)
	}
	defer f.Close()
	kinds := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var rec struct{ Var, Kind string }
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("findings file line %q: %v", sc.Text(), err)
		}
		if rec.Var == variable {
			kinds[rec.Kind]++
		}
	}
	if kinds["write/write"] == 0 || kinds["read/write"] == 0 {
		t.Errorf("findings file has %v findings on %s, want write/write and read/write", kinds, variable)
	}
}

// TestBearerTokenAuth runs the demo configuration with the auth overlay:
// the collector's own bearertokenauth extension refuses OTLP without the API
// key, over gRPC and HTTP, and accepts it with the key.
func TestBearerTokenAuth(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the collector")
	}
	bin := collectorBinary(t)
	s := startSink(t, "", nil)
	env := baseEnv(t, s.Addr())
	const token = "e2e-secret-key"
	env["RACEWAY_API_KEY"] = token
	env["RACEWAY_WAIT"] = "100ms"
	col := startCollector(t, bin, env, demoConfig(t, "otelcol-raceway.yaml"), demoConfig(t, "auth.yaml"))
	col.checkLoopbackOnly()

	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "auth-check")
	sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetTraceID(randomTrace())
	sp.SetSpanID(randomSpan())
	sp.SetName("GET /health")
	now := time.Now()
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(now))
	sp.SetEndTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Millisecond)))
	req := ptraceotlp.NewExportRequestFromTraces(td)

	client := dial(t, env["RACEWAY_OTLP_GRPC"])
	export := func(md metadata.MD) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if md != nil {
			ctx = metadata.NewOutgoingContext(ctx, md)
		}
		_, err := client.Export(ctx, req)
		return err
	}
	if err := export(nil); status.Code(err) != codes.Unauthenticated {
		col.fatalf("gRPC export without a token: got %v, want code Unauthenticated", err)
	}
	if err := export(metadata.Pairs("authorization", "Bearer wrong")); status.Code(err) != codes.Unauthenticated {
		col.fatalf("gRPC export with a wrong token: got %v, want code Unauthenticated", err)
	}
	if err := export(metadata.Pairs("authorization", "Bearer "+token)); err != nil {
		col.fatalf("gRPC export with the token: %v", err)
	}

	body, err := req.MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	post := func(auth string) int {
		hreq, err := http.NewRequest(http.MethodPost, "http://"+env["RACEWAY_OTLP_HTTP"]+"/v1/traces", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		hreq.Header.Set("Content-Type", "application/x-protobuf")
		if auth != "" {
			hreq.Header.Set("Authorization", auth)
		}
		hc := &http.Client{Timeout: 10 * time.Second}
		resp, err := hc.Do(hreq)
		if err != nil {
			col.fatalf("OTLP/HTTP POST: %v", err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(""); code != http.StatusUnauthorized {
		col.fatalf("OTLP/HTTP without a token: status %d, want 401", code)
	}
	if code := post("Bearer " + token); code != http.StatusOK {
		col.fatalf("OTLP/HTTP with the token: status %d, want 200", code)
	}

	// Both accepted exports reach the backend; the refused ones do not.
	deadline := time.Now().Add(20 * time.Second)
	for {
		n := s.SpanCount("auth-check")
		if n == 2 {
			break
		}
		if n > 2 || time.Now().After(deadline) {
			col.fatalf("the sink has %d auth-check spans, want 2 (the two accepted exports)", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestAuthOverlayNeedsKey: without RACEWAY_API_KEY the auth overlay must not
// start an open receiver.
func TestAuthOverlayNeedsKey(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the collector")
	}
	bin := collectorBinary(t)
	env := baseEnv(t, freeAddr(t))
	env["RACEWAY_API_KEY"] = ""
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := runBounded(ctx, bin, env, "--config", demoConfig(t, "otelcol-raceway.yaml"), "--config", demoConfig(t, "auth.yaml"))
	if err == nil || ctx.Err() != nil {
		t.Fatalf("collector with the auth overlay and no RACEWAY_API_KEY: err %v (ctx %v), want a failed start; output:\n%s", err, ctx.Err(), lastLines(out, 40))
	}
	t.Logf("refused as expected: %s", lastLines(out, 3))
}
