package e2e

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/raceway-otel/raceway/analysis"
	"github.com/raceway-otel/raceway/internal/stack"
)

// traffic is generated load: distinct traces, batch by batch.
type traffic interface {
	// batch builds the traces first..first+n-1 as one OTLP export.
	batch(first, n int) ptrace.Traces
	spansPerTrace() int
	recordsPerTrace() int
	// service is the service.name of every span.
	service() string
}

func (f floodShape) service() string { return "flood" }

// requestShape is request traffic of service "shop": every trace is a
// server span (thread.start), a span that reads and writes the request's
// own variable and a plain database span without records; one trace in
// racyEvery (none if 0) reads and writes a shared counter instead, which
// races.
type requestShape struct {
	racyEvery int
	// runID keeps thread, trace and variable names of separate runs apart.
	runID uint32
}

func (requestShape) spansPerTrace() int   { return 3 }
func (requestShape) recordsPerTrace() int { return 3 }
func (requestShape) service() string      { return "shop" }

func (r requestShape) batch(first, n int) ptrace.Traces {
	td := ptrace.NewTraces()
	now := time.Now()
	for i := first; i < first+n; i++ {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", "shop")
		rs.Resource().Attributes().PutStr("service.instance.id", "shop-1")
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName("github.com/raceway-otel/raceway/racewayotel")
		var tid pcommon.TraceID
		binary.BigEndian.PutUint32(tid[0:4], r.runID)
		binary.BigEndian.PutUint64(tid[8:16], uint64(i)+1)
		th := analysis.ThreadID(uint64(r.runID)<<32 | uint64(i) + 1)
		at := now.Add(time.Duration(i-first) * 10 * time.Microsecond)
		span := func(id uint64, parent pcommon.SpanID, name string) ptrace.Span {
			sp := ss.Spans().AppendEmpty()
			sp.SetTraceID(tid)
			var sid pcommon.SpanID
			binary.BigEndian.PutUint64(sid[:], uint64(i)<<2|id)
			sp.SetSpanID(sid)
			sp.SetParentSpanID(parent)
			sp.SetName(name)
			sp.SetStartTimestamp(pcommon.NewTimestampFromTime(at))
			sp.SetEndTimestamp(pcommon.NewTimestampFromTime(at.Add(5 * time.Millisecond)))
			sp.Attributes().PutStr("http.request.method", "POST")
			return sp
		}
		server := span(1, pcommon.SpanID{}, "POST /cart")
		start := requestStart(th, 10, "POST /cart")
		start.Process = "shop-1"
		addRecord(server, at, start)
		cart := span(2, server.SpanID(), "update cart")
		v := fmt.Sprintf("carts.%x.%d.items", r.runID, i)
		if r.racyEvery > 0 && i%r.racyEvery == 0 {
			v = "stats.orders"
		}
		read, write := access(analysis.KindRead, th, 2, 20, v, "", "1"), access(analysis.KindWrite, th, 3, 21, v, "1", "2")
		read.Process, write.Process = "shop-1", "shop-1"
		addRecord(cart, at.Add(time.Millisecond), read)
		addRecord(cart, at.Add(2*time.Millisecond), write)
		span(3, server.SpanID(), "SELECT products")
	}
	return td
}

// benchCollector is one otelcol-raceway process of a benchmark, with its
// sink, and its CPU time and resident memory when the timed part began.
type benchCollector struct {
	sink   *sink
	env    map[string]string
	col    *collector
	client ptraceotlp.GRPCClient
	gc     *gcMeter
	cpu    float64
	gcCPU  float64
	rss    int64
}

func startBenchCollector(b *testing.B, bin string, env map[string]string, overlay string) *benchCollector {
	s := startSink(b, "", func(string) bool { return false })
	e := baseEnv(b, s.Addr())
	e["RACEWAY_LOG_LEVEL"] = "warn"
	e["GODEBUG"] = "gctrace=1" // for gcMeter
	for k, v := range env {
		e[k] = v
	}
	gc := new(gcMeter)
	col := startCollectorEcho(b, bin, e, gc, demoConfig(b, "otelcol-raceway.yaml"), writeOverlay(b, overlay))
	return &benchCollector{sink: s, env: e, col: col, client: dial(b, e["RACEWAY_OTLP_GRPC"]), gc: gc}
}

// mark reads the process's CPU time, its garbage collector's CPU time and
// its resident set now.
func (c *benchCollector) mark(b *testing.B) {
	mem, err := stack.ReadProcMemory(c.col.pid())
	if err != nil {
		b.Skipf("no /proc: %v", err)
	}
	c.rss = mem.RSS
	if c.cpu, err = stack.ProcCPU(c.col.pid()); err != nil {
		b.Fatal(err)
	}
	gc, _ := c.gc.read()
	c.gcCPU = gc.Seconds()
}

// BenchmarkCollectorCPUPerSpan drives the real otelcol-raceway, built by ocb
// from builder-config.yaml, with and without the raceway processor under the
// same load in one run: two processes of the same binary and the demo
// configuration (wait_duration 10s), whose traces pipelines differ only in
// their processors, [memory_limiter, batch] ("without") and
// [memory_limiter, raceway, batch] ("with"), both exporting to
// otlp_grpc/jaeger and the raceway exporter, here a local OTLP/gRPC sink.
// Every iteration sends one batch of 100 traces to each over OTLP/gRPC, in
// turn (the order alternates), so that load on the machine falls on both
// alike; the timed part ends when both sinks have every span. It reports
// each process's CPU time (user + system, /proc) per span and their ratio
// (goal: at most 1.2); the CPU the processor adds per Raceway record; and
// each process's peak resident set's growth (VmHWM, less the resident set
// when the timed part began) per trace in flight: the traces sent within
// the last wait_duration, at most, which a processor that held spans for
// wait_duration would hold at once.
//
// Workloads: requests (3 spans per trace, 2 of them with 3 Raceway records
// in all; one trace in 100 races on a shared counter) and records (2 spans
// per trace, 11 records).
//
// 200 iterations end while the detector's state is still small; 3000 (the
// thread table full, 300,000 variables: the variable table still below
// max_variables, so still growing) show a collector that has run for a
// while.
//
//	cd collector/e2e && go test -run '^$' -bench CollectorCPUPerSpan -benchtime 200x -count 3 .
//	cd collector/e2e && go test -run '^$' -bench CollectorCPUPerSpan/requests -benchtime 3000x -count 3 .
func BenchmarkCollectorCPUPerSpan(b *testing.B) {
	bin := collectorBinary(b)
	for _, w := range []struct {
		name  string
		shape func(runID uint32) traffic
	}{
		{"requests", func(id uint32) traffic { return requestShape{racyEvery: 100, runID: id} }},
		{"records", func(id uint32) traffic { return floodShape{varsPerTrace: 10, runID: id} }},
	} {
		b.Run(w.name, func(b *testing.B) {
			const (
				perBatch = 100
				wait     = 10 * time.Second
			)
			env := map[string]string{"RACEWAY_WAIT": wait.String()}
			without := startBenchCollector(b, bin, env, pipelineOverlay("[memory_limiter, batch]"))
			with := startBenchCollector(b, bin, env, pipelineOverlay("[memory_limiter, raceway, batch]"))
			shape := w.shape(uint32(time.Now().UnixNano()))
			next := 0
			send := func(cs ...*benchCollector) {
				td := shape.batch(next, perBatch)
				next += perBatch
				for _, c := range cs {
					if err := exportTraces(c.client, td); err != nil {
						c.col.fatalf("export: %v", err)
					}
				}
			}
			drained := func(cs ...*benchCollector) {
				want := next * shape.spansPerTrace()
				for _, c := range cs {
					waitFor(c.col, 5*time.Minute, "spans missing at the sink", func() (bool, string) {
						n := c.sink.SpanCount(shape.service())
						return n >= want, fmt.Sprintf("%d of %d", n, want)
					})
				}
			}
			// Warm-up: gRPC connections, the exporters' queues, the heaps'
			// first growth.
			for range 10 {
				send(without, with)
			}
			drained(without, with)
			first := next
			without.mark(b)
			with.mark(b)
			sent := make([]time.Time, 0, b.N)

			b.ResetTimer()
			for i := range b.N {
				if i%2 == 0 {
					send(without, with)
				} else {
					send(with, without)
				}
				sent = append(sent, time.Now())
			}
			drained(without, with)
			b.StopTimer()

			spans := float64((next - first) * shape.spansPerTrace())
			inFlight := float64(perBatch * maxWithin(sent, wait))
			for _, c := range []struct {
				name string
				c    *benchCollector
			}{{"without", without}, {"with", with}} {
				cpu, err := stack.ProcCPU(c.c.col.pid())
				if err != nil {
					b.Fatal(err)
				}
				mem, err := stack.ReadProcMemory(c.c.col.pid())
				if err != nil {
					b.Fatal(err)
				}
				gc, _ := c.c.gc.read()
				c.c.cpu = (cpu - c.c.cpu) * 1e9 / spans
				c.c.gcCPU = (gc.Seconds() - c.c.gcCPU) * 1e9 / spans
				c.c.rss = max(mem.Peak-c.c.rss, 0)
				b.ReportMetric(c.c.cpu, "cpu-ns/span-"+c.name)
				b.ReportMetric(c.c.gcCPU, "gc-cpu-ns/span-"+c.name)
				b.ReportMetric(float64(c.c.rss)/inFlight, "peak-RSS-B/trace-"+c.name)
			}
			b.ReportMetric(with.cpu/without.cpu, "cpu-ratio")
			b.ReportMetric((with.cpu-with.gcCPU)/(without.cpu-without.gcCPU), "cpu-ratio-besides-gc")
			// What the processor adds per record it reads: the ratio is
			// 1 + this × records per span ÷ the pipeline's own CPU per span.
			b.ReportMetric((with.cpu-without.cpu)*float64(shape.spansPerTrace())/float64(shape.recordsPerTrace()), "extra-cpu-ns/record")
			b.ReportMetric(inFlight, "traces-in-flight")
		})
	}
}

// maxWithin returns the largest number of times in ts (in increasing order)
// that fall within one window of length d.
func maxWithin(ts []time.Time, d time.Duration) int {
	best, lo := 0, 0
	for hi := range ts {
		for ts[hi].Sub(ts[lo]) > d {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return best
}

// BenchmarkCollectorMemoryPerVariable measures the real otelcol-raceway's
// resident memory per variable its detector tracks: each iteration sends
// 2,000 traces of 100 writes to new variables (200,000 variables, few
// threads) and waits until every record is analysed, then 3 seconds more;
// it reports the growth of the resident set per variable over the
// iterations, with the Go runtime's default GOGC=100 (the resident set
// includes the heap's garbage headroom) and with GOGC=10 (close to the live
// heap). max_variables is above what the benchmark sends, so nothing is
// evicted.
//
//	cd collector/e2e && go test -run '^$' -bench CollectorMemoryPerVariable -benchtime 5x .
func BenchmarkCollectorMemoryPerVariable(b *testing.B) {
	bin := collectorBinary(b)
	for _, gogc := range []string{"100", "10"} {
		b.Run("GOGC="+gogc, func(b *testing.B) {
			const traces = 2000
			shape := floodShape{varsPerTrace: 100, runID: uint32(time.Now().UnixNano())}
			c := startBenchCollector(b, bin, map[string]string{"GOGC": gogc, "RACEWAY_WAIT": "1s"}, fmt.Sprintf(`processors:
  raceway:
    max_variables: %d
`, (b.N+1)*traces*shape.varsPerTrace)+pipelineOverlay("[memory_limiter, raceway, batch]"))
			records := 0
			settle := func() int64 {
				waitFor(c.col, 2*time.Minute, "the collector did not analyse every record", func() (bool, string) {
					m := scrape(b, c.env)
					return int(m.Sum(metricAnalysed)) >= records, fmt.Sprintf("analysed %.0f of %d", m.Sum(metricAnalysed), records)
				})
				time.Sleep(3 * time.Second)
				mem, err := stack.ReadProcMemory(c.col.pid())
				if err != nil {
					b.Skipf("no /proc: %v", err)
				}
				return mem.RSS
			}
			rss := []int64{settle()}
			b.ResetTimer()
			for range b.N {
				if err := shape.send(c.client, traces, 50, 2, 0, nil); err != nil {
					c.col.fatalf("%v", err)
				}
				shape.runID++ // the next step brings new variables and threads
				records += traces * shape.recordsPerTrace()
				rss = append(rss, settle())
			}
			b.StopTimer()
			variables := float64(b.N * traces * shape.varsPerTrace)
			b.ReportMetric(float64(rss[len(rss)-1]-rss[0])/variables, "RSS-B/variable")
			b.ReportMetric(float64(rss[len(rss)-1])/(1<<20), "RSS-MiB")
		})
	}
}
