package e2e

// Shared helpers of the load and fault harness (flood_test.go,
// fault_test.go, badinput_test.go, bench_test.go): collector config
// overlays, scrapes of the collector's own Prometheus metrics, polling with a
// bound, and a generator of large Raceway workloads. The OTLP sink is in
// sink_test.go.

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/raceway-otel/raceway/analysis"
	"github.com/raceway-otel/raceway/internal/stack"
	"github.com/raceway-otel/raceway/racewayotel/convention"
)

// writeOverlay writes a collector configuration overlay (merged over the
// demo configuration with a second --config) to a temporary file.
func writeOverlay(t testing.TB, yaml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "overlay.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// scrape reads the collector's own metrics (the Prometheus endpoint on
// RACEWAY_METRICS_PORT of env).
func scrape(t testing.TB, env map[string]string) stack.Metrics {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := stack.ScrapeMetrics(ctx, "http://127.0.0.1:"+env["RACEWAY_METRICS_PORT"]+"/metrics")
	if err != nil {
		t.Fatalf("scraping the collector's metrics: %v", err)
	}
	return m
}

// Names of the raceway processor's own metrics (see the processor's
// documentation.md); the Prometheus exporter adds _total to counters, which
// stack.Metrics.Sum accepts.
const (
	metricAnalysed     = "otelcol_processor_raceway_events_analysed"
	metricDecodeErrors = "otelcol_processor_raceway_decode_errors"
	metricEvictions    = "otelcol_processor_raceway_evictions"
	metricLate         = "otelcol_processor_raceway_late_events"
	metricRaces        = "otelcol_processor_raceway_races_found"
	metricDistinct     = "otelcol_processor_raceway_distinct_races"
	metricRefused      = "otelcol_receiver_refused_spans"
	metricAccepted     = "otelcol_receiver_accepted_spans"
)

// evictionSummary formats every evictions{evicted=...} counter.
func evictionSummary(m stack.Metrics) string {
	var parts []string
	for _, what := range []string{"annotations", "variables", "history", "threads", "clock_entries", "pending", "groups", "snapshots"} {
		if v := m.Sum(metricEvictions, "evicted", what); v > 0 {
			parts = append(parts, fmt.Sprintf("%s=%.0f", what, v))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

// waitFor polls cond every 100ms until it holds or timeout passes; then it
// fails the test through col with what and the state cond last described.
func waitFor(col *collector, timeout time.Duration, what string, cond func() (bool, string)) {
	col.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			col.fatalf("after %s: %s (%s)", timeout, what, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// exportTraces sends td to the collector over OTLP/gRPC, bounded in time.
func exportTraces(client ptraceotlp.GRPCClient, td ptrace.Traces) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := client.Export(ctx, ptraceotlp.NewExportRequestFromTraces(td))
	return err
}

// requestsTraces puts the spans of requests into one ptrace.Traces (one
// export).
func requestsTraces(reqs ...request) ptrace.Traces {
	td := ptrace.NewTraces()
	for _, r := range reqs {
		for _, rs := range r.spans() {
			rs.CopyTo(td.ResourceSpans().AppendEmpty())
		}
	}
	return td
}

// racingPair is the lost-update scenario (two concurrent transfers that
// read and write one balance) on variable v, as one export: the processor
// reports a write/write and a read/write race on v.
func racingPair(v string) ptrace.Traces {
	reqs := lostUpdate()
	td := requestsTraces(reqs[0], reqs[1])
	renameVar(td, v)
	return td
}

// renameVar makes every record of td that names a variable name v instead.
func renameVar(td ptrace.Traces, v string) {
	eachSpan([]ptrace.Traces{td}, func(_ string, sp ptrace.Span) {
		for i := 0; i < sp.Events().Len(); i++ {
			a := sp.Events().At(i).Attributes()
			if _, ok := a.Get(convention.VarName); ok {
				a.PutStr(convention.VarName, v)
			}
		}
	})
}

// floodShape describes generated request traffic: every trace is one
// request thread of service "flood" with a server span (thread.start) and
// one span writing varsPerTrace variables that no other trace touches, so
// the traffic itself has no race and each trace brings varsPerTrace new
// variables to the detector.
type floodShape struct {
	varsPerTrace int
	// runID keeps thread, trace and variable names of separate runs apart.
	runID uint32
}

func (f floodShape) spansPerTrace() int   { return 2 }
func (f floodShape) recordsPerTrace() int { return 1 + f.varsPerTrace }

// batch builds the traces first..first+n-1 as one OTLP export.
func (f floodShape) batch(first, n int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "flood")
	rs.Resource().Attributes().PutStr("service.instance.id", "flood-1")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("github.com/raceway-otel/raceway/racewayotel")
	spans := ss.Spans()
	spans.EnsureCapacity(n * f.spansPerTrace())
	now := time.Now()
	for i := first; i < first+n; i++ {
		var tid pcommon.TraceID
		binary.BigEndian.PutUint32(tid[0:4], f.runID)
		binary.BigEndian.PutUint64(tid[8:16], uint64(i)+1)
		th := analysis.ThreadID(uint64(f.runID)<<32 | uint64(i) + 1)
		var server, store pcommon.SpanID
		binary.BigEndian.PutUint64(server[:], uint64(i)<<1|1)
		binary.BigEndian.PutUint64(store[:], uint64(i)<<1|2)
		at := now.Add(-time.Second)
		mk := func(id, parent pcommon.SpanID, name string) ptrace.Span {
			sp := spans.AppendEmpty()
			sp.SetTraceID(tid)
			sp.SetSpanID(id)
			sp.SetParentSpanID(parent)
			sp.SetName(name)
			sp.SetStartTimestamp(pcommon.NewTimestampFromTime(at))
			sp.SetEndTimestamp(pcommon.NewTimestampFromTime(at.Add(time.Millisecond)))
			return sp
		}
		s := mk(server, pcommon.SpanID{}, "POST /flood")
		s.SetKind(ptrace.SpanKindServer)
		addRecord(s, at, requestStart(th, 10, "POST /flood"))
		w := mk(store, server, "store")
		w.Events().EnsureCapacity(f.varsPerTrace)
		for k := range f.varsPerTrace {
			v := fmt.Sprintf("flood.%x.%d.%d", f.runID, i, k)
			addRecord(w, at.Add(time.Duration(k)*time.Microsecond), access(analysis.KindWrite, th, uint64(2+k), 20, v, "", "1"))
		}
	}
	return td
}

// send exports traces [0, n) in batches of per from concurrent
// workers; once the batch that crosses at (a fraction of n) is handed out
// it calls hook once. It returns the first export error.
func (f floodShape) send(client ptraceotlp.GRPCClient, n, per, workers int, at float64, hook func()) error {
	jobs := make(chan int)
	errc := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for first := range jobs {
				if err := exportTraces(client, f.batch(first, min(per, n-first))); err != nil {
					errc <- fmt.Errorf("traces %d..: %w", first, err)
					return
				}
			}
		})
	}
	hooked := false
	var err error
feed:
	for first := 0; first < n; first += per {
		select {
		case jobs <- first:
		case err = <-errc:
			break feed
		}
		if hook != nil && !hooked && float64(first+per) >= at*float64(n) {
			hooked = true
			hook()
		}
	}
	close(jobs)
	wg.Wait()
	if err != nil {
		return err
	}
	select {
	case err = <-errc:
	default:
	}
	return err
}

// mib formats bytes in MiB.
func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
