package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/raceway-otel/raceway/analysis"
	"github.com/raceway-otel/raceway/racewayotel/convention"
)

// Collector CPU per span, with and without the raceway processor: the same
// binary, the demo configuration, and an overlay that only changes the
// pipeline's processors. Opt-in (RACEWAY_E2E_BENCH=1): it sends tens of
// thousands of spans.
//
//	cd collector/e2e && RACEWAY_E2E_BENCH=1 go test -run CPUPerSpan -v .
func TestCollectorCPUPerSpan(t *testing.T) {
	if os.Getenv("RACEWAY_E2E_BENCH") == "" {
		t.Skip("set RACEWAY_E2E_BENCH=1 to measure collector CPU per span")
	}
	bin := collectorBinary(t)
	traces := 20_000
	if n, err := strconv.Atoi(os.Getenv("RACEWAY_E2E_BENCH_TRACES")); err == nil && n > 0 {
		traces = n
	}
	racyEvery := 100 // one trace in racyEvery touches the shared counter; 0: none
	if n, err := strconv.Atoi(os.Getenv("RACEWAY_E2E_BENCH_RACY_EVERY")); err == nil && n >= 0 {
		racyEvery = n
	}
	batches := workload(traces, 100, racyEvery)
	spans := 0
	for _, b := range batches {
		spans += b.SpanCount()
	}
	rounds := 3
	var with, without []float64
	findings := 0
	for r := range rounds {
		ns, _ := cpuPerSpan(t, bin, batches, spans, false)
		without = append(without, ns)
		ns, findings = cpuPerSpan(t, bin, batches, spans, true)
		with = append(with, ns)
		t.Logf("round %d: without raceway %.0f ns CPU/span, with raceway %.0f ns CPU/span, ratio %.2f (%d finding spans)",
			r+1, without[r], with[r], with[r]/without[r], findings)
	}
	t.Logf("RESULT traces=%d spans=%d records=%d racy_every=%d findings=%d: without %s ns/span, with %s ns/span, ratio of medians %.2f",
		traces, spans, traces*3, racyEvery, findings, fmtList(without), fmtList(with), median(with)/median(without))
}

func fmtList(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprintf("%.0f", x)
	}
	return strings.Join(s, "/")
}

func median(v []float64) float64 {
	c := append([]float64(nil), v...)
	for i := range c {
		for j := i + 1; j < len(c); j++ {
			if c[j] < c[i] {
				c[i], c[j] = c[j], c[i]
			}
		}
	}
	return c[len(c)/2]
}

// workload builds n request traces in batches of per: each trace has a
// server span (thread.start), a span that reads and writes the request's
// own variable (no race) and a plain span without Raceway records; one trace
// in racyEvery (if not 0) touches a shared counter instead, which races.
func workload(n, per, racyEvery int) []ptrace.Traces {
	t0 := time.Now()
	var out []ptrace.Traces
	var td ptrace.Traces
	for i := range n {
		if i%per == 0 {
			td = ptrace.NewTraces()
			out = append(out, td)
		}
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", "shop")
		rs.Resource().Attributes().PutStr("service.instance.id", "shop-1")
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName("github.com/raceway-otel/raceway/racewayotel")
		tid := randomTrace()
		th := analysis.ThreadID(uint64(i) + 1)
		at := t0.Add(time.Duration(i) * 10 * time.Microsecond)
		server := randomSpan()
		mk := func(id, parent pcommon.SpanID, name string) ptrace.Span {
			sp := ss.Spans().AppendEmpty()
			sp.SetTraceID(tid)
			sp.SetSpanID(id)
			sp.SetParentSpanID(parent)
			sp.SetName(name)
			sp.SetStartTimestamp(pcommon.NewTimestampFromTime(at))
			sp.SetEndTimestamp(pcommon.NewTimestampFromTime(at.Add(5 * time.Millisecond)))
			sp.Attributes().PutStr("http.request.method", "POST")
			return sp
		}
		s := mk(server, pcommon.SpanID{}, "POST /cart")
		record(s, "thread.start", th, 1, at, 10, func(a pcommon.Map) {
			a.PutStr(convention.Origin, analysis.OriginRequest.String())
			a.PutStr(convention.ThreadName, "POST /cart")
		})
		c := mk(randomSpan(), server, "update cart")
		v := fmt.Sprintf("carts.%d.items", i)
		if racyEvery > 0 && i%racyEvery == 0 {
			v = "stats.orders"
		}
		record(c, "read", th, 2, at.Add(time.Millisecond), 20, func(a pcommon.Map) {
			a.PutStr(convention.VarName, v)
			a.PutStr(convention.ValueNew, "1")
		})
		record(c, "write", th, 3, at.Add(2*time.Millisecond), 21, func(a pcommon.Map) {
			a.PutStr(convention.VarName, v)
			a.PutStr(convention.ValueOld, "1")
			a.PutStr(convention.ValueNew, "2")
		})
		mk(randomSpan(), server, "SELECT products")
	}
	return out
}

// procCPU returns the user+system CPU time of a process from /proc.
func procCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	// fields after the command: state(0) ... utime(11) stime(12), in clock ticks
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / ticks, nil
}

// cpuPerSpan runs one collector over the batches and returns its CPU time per
// span and the number of finding spans that reached the sink.
func cpuPerSpan(t *testing.T, bin string, batches []ptrace.Traces, spans int, raceway bool) (float64, int) {
	t.Helper()
	s := startSink(t)
	env := baseEnv(t, s)
	processors := "[memory_limiter, batch]"
	if raceway {
		processors = "[memory_limiter, raceway, batch]"
	}
	overlay := filepath.Join(t.TempDir(), "bench.yaml")
	if err := os.WriteFile(overlay, []byte(`service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: `+processors+`
      exporters: [otlp_grpc/jaeger, raceway]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	col := startCollector(t, bin, env, demoConfig(t, "otelcol-raceway.yaml"), overlay)
	defer col.stop()
	client := dial(t, env["RACEWAY_OTLP_GRPC"])
	time.Sleep(500 * time.Millisecond) // let start-up work settle
	before, err := procCPU(col.pid())
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for i, td := range batches {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := client.Export(ctx, ptraceotlp.NewExportRequestFromTraces(td))
		cancel()
		if err != nil {
			col.fatalf("batch %d: %v", i, err)
		}
	}
	deadline := time.Now().Add(2 * time.Minute)
	findings := 0
	for {
		got := 0
		findings = 0
		tds, _, _ := s.snapshot()
		eachSpan(tds, func(svc string, _ ptrace.Span) {
			switch svc {
			case "shop":
				got++
			case convention.FindingService:
				findings++
			}
		})
		if got >= spans {
			break
		}
		if time.Now().After(deadline) {
			col.fatalf("the sink has %d of %d spans after 2 minutes", got, spans)
		}
		time.Sleep(50 * time.Millisecond)
	}
	after, err := procCPU(col.pid())
	if err != nil {
		t.Fatal(err)
	}
	return float64(after-before) / float64(spans), findings
}
