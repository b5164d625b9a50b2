package e2e

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/raceway-otel/raceway/internal/stack"
)

// floodOverlay is the configuration of the flood: the demo configuration
// with small raceway limits, an explicit memory_limiter, and the traces
// pipeline without the debug exporter (it would only log every batch).
func floodOverlay(wait string, maxTraces, maxVariables, maxThreads int) string {
	return racewayOverlay(fmt.Sprintf(`  memory_limiter:
    check_interval: 1s
    limit_percentage: 0
    spike_limit_percentage: 0
    limit_mib: %d
    spike_limit_mib: %d
`, floodLimitMiB, floodSpikeMiB), wait, maxTraces, maxVariables, maxThreads)
}

// racewayOverlay sets the raceway processor's limits, the traces pipeline
// without the debug exporter, and the processors in extra (the demo's
// memory_limiter, 80% of the machine's memory, if empty).
func racewayOverlay(extra, wait string, maxTraces, maxVariables, maxThreads int) string {
	return fmt.Sprintf(`processors:
%s  raceway:
    wait_duration: %s
    max_traces: %d
    max_variables: %d
    max_threads: %d
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [memory_limiter, raceway, batch]
      exporters: [otlp_grpc/jaeger, raceway]
`, extra, wait, maxTraces, maxVariables, maxThreads)
}

// The memory_limiter of the flood: the collector refuses data above
// limit_mib - spike_limit_mib (768 MiB). The flood must stay well under it
// through the raceway limits alone (the test checks that nothing was
// refused), so that the limiter is a backstop, not the mechanism.
const (
	floodLimitMiB = 1024
	floodSpikeMiB = 256
)

// TestFlood floods otelcol-raceway with many distinct variables and traces,
// far beyond its configured limits, and checks that its memory stays under
// a bound derived from those limits, that it counts the evictions in its own
// metrics, that every record is analysed and every span passed on, and that
// a race sent near the end (in the retained window) is still found, without
// any false race from the evictions.
//
// The size is the issue's: 100,000 traces carrying 1,000,000 distinct
// variables (10× the configured max_variables), sent over OTLP/gRPC in
// exports of 250 traces by two workers; it takes about 10 s on 2 cores.
// RACEWAY_E2E_FLOOD_TRACES changes the number of traces (10 variables
// each) and leaves the limits, and so the memory bound, as they are: the
// bound does not depend on the size of the flood.
//
//	cd collector/e2e && go test -run 'TestFlood$' -v .
//	cd collector/e2e && RACEWAY_E2E_FLOOD_TRACES=200000 go test -run 'TestFlood$' -v .
func TestFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("floods the collector")
	}
	traces := 100_000
	if n, err := strconv.Atoi(os.Getenv("RACEWAY_E2E_FLOOD_TRACES")); err == nil && n > 0 {
		traces = n
	}
	shape := floodShape{varsPerTrace: 10, runID: uint32(time.Now().UnixNano())}
	variables := traces * shape.varsPerTrace
	const (
		maxTraces    = 2_000
		maxVariables = 100_000
		maxThreads   = 10_000
		batchSize    = 250 // traces per export: about 0.6 MB of OTLP
	)
	// The bound on the collector's resident memory, from the limits (the
	// per-item costs are those TestLoadFigures measures, rounded up by
	// about 2×; see docs/benchmarks.md, "Load and faults"):
	//   - start-up (the binary, gRPC and HTTP servers, exporters): 46 MiB
	//     measured; allow 100 MiB;
	//   - tracked variables: max_variables × 1.5 KiB (measured: about
	//     0.6-0.8 KiB of RSS per tracked variable: its detector state, its
	//     retained access record with names, ids, location and value for
	//     reports, and the Go heap's garbage headroom);
	//   - logical threads: max_threads × 1 KiB (clocks of up to 64 entries);
	//   - held traces: max_traces × 32 KiB (measured: 7.7 KB per held trace
	//     of this shape, 2 spans and 11 records; the rest is room for the
	//     batch processor's and exporters' buffers of released spans);
	//   - in flight: the receiver decodes a few 0.6 MB exports at a time
	//     (about 10× that in pdata): 64 MiB.
	// That is 382 MiB, whatever the size of the flood (TestFlood peaks at
	// about 315 MiB with 1M and with 2M variables). With the default limits
	// (max_variables 1,000,000, max_traces 10,000) the same flood keeps
	// every variable and grows past 800 MiB.
	bound := int64(100<<20) + int64(maxVariables)*3<<9 + int64(maxThreads)<<10 + int64(maxTraces)*32<<10 + 64<<20

	bin := collectorBinary(t)
	cs := startCountSink(t, "", func(svc string) bool { return svc == "bank" })
	env := envFor(t, cs.addr)
	env["RACEWAY_LOG_LEVEL"] = "warn"
	overlay := writeOverlay(t, floodOverlay("1s", maxTraces, maxVariables, maxThreads))
	col := startCollector(t, bin, env, demoConfig(t, "otelcol-raceway.yaml"), overlay)
	client := dial(t, env["RACEWAY_OTLP_GRPC"])
	time.Sleep(500 * time.Millisecond)
	base, err := stack.ReadProcMemory(col.pid())
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	cpu0, _ := stack.ProcCPU(col.pid())

	// Sample the resident set while the flood runs.
	stopSampling := make(chan struct{})
	samples := make(chan []int64, 1)
	go func() {
		var rss []int64
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopSampling:
				samples <- rss
				return
			case <-tick.C:
				if m, err := stack.ReadProcMemory(col.pid()); err == nil {
					rss = append(rss, m.RSS)
				}
			}
		}
	}()

	pairVar := "accounts.flood.balance"
	start := time.Now()
	err = shape.send(client, traces, batchSize, 2, 0.9, func() {
		if err := exportTraces(client, racingPair(pairVar)); err != nil {
			t.Errorf("exporting the racing pair: %v", err)
		}
	})
	if err != nil {
		col.fatalf("flood: %v", err)
	}
	sent := time.Since(start)
	wantSpans := traces * shape.spansPerTrace()
	wantRecords := traces*shape.recordsPerTrace() + 6 // + the pair's 6 records
	waitFor(col, 3*time.Minute, "the sink lacks flood spans", func() (bool, string) {
		n := cs.count("flood")
		return n >= wantSpans, fmt.Sprintf("%d of %d", n, wantSpans)
	})
	wall := time.Since(start)
	cpu1, _ := stack.ProcCPU(col.pid())
	close(stopSampling)
	rss := <-samples

	ww, rw := "race "+pairVar+" write/write", "race "+pairVar+" read/write"
	waitFor(col, 30*time.Second, "the racing pair sent near the end of the flood was not reported", func() (bool, string) {
		f := cs.findings()
		return f[ww] > 0 && f[rw] > 0 && cs.raceLogs()[pairVar] >= 2, fmt.Sprintf("findings %v, race logs %v", f, cs.raceLogs())
	})
	var m stack.Metrics
	waitFor(col, 30*time.Second, "events analysed (counted every tick) do not match the records sent", func() (bool, string) {
		m = scrape(t, env)
		return int(m.Sum(metricAnalysed)) == wantRecords, fmt.Sprintf("analysed %.0f, sent %d", m.Sum(metricAnalysed), wantRecords)
	})
	mem, err := stack.ReadProcMemory(col.pid())
	if err != nil {
		t.Fatal(err)
	}

	evictedVars := m.Sum(metricEvictions, "evicted", "variables")
	t.Logf("RESULT flood traces=%d spans=%d records=%d variables=%d limits(max_variables=%d max_traces=%d max_threads=%d): sent in %s, all spans at the sink after %s",
		traces, wantSpans, wantRecords, variables, maxVariables, maxTraces, maxThreads, sent.Round(time.Millisecond), wall.Round(time.Millisecond))
	t.Logf("RESULT flood throughput: %.0f spans/s and %.0f records/s (wall), collector CPU %.2f s: %.0f spans per CPU-second, %.1f µs CPU per span",
		float64(wantSpans)/wall.Seconds(), float64(wantRecords)/wall.Seconds(), cpu1-cpu0,
		float64(wantSpans)/(cpu1-cpu0), (cpu1-cpu0)*1e6/float64(wantSpans))
	t.Logf("RESULT flood memory: RSS at start %s, peak (VmHWM) %s, after %s, bound %s; %d samples, last %s",
		mib(base.RSS), mib(mem.Peak), mib(mem.RSS), mib(bound), len(rss), func() string {
			if len(rss) == 0 {
				return "-"
			}
			return mib(rss[len(rss)-1])
		}())
	t.Logf("RESULT flood metrics: analysed %.0f, decode errors %.0f, late %.0f, races %.0f, distinct %.0f, refused spans %.0f, evictions: %s",
		m.Sum(metricAnalysed), m.Sum(metricDecodeErrors), m.Sum(metricLate), m.Sum(metricRaces), m.Sum(metricDistinct), m.Sum(metricRefused), evictionSummary(m))

	if mem.Peak > bound {
		col.fatalf("peak RSS %s exceeds the bound %s derived from the limits", mib(mem.Peak), mib(bound))
	}
	if variables > maxVariables && evictedVars < float64(variables-maxVariables)*0.9 {
		col.fatalf("evictions{evicted=variables} = %.0f, want about %d (variables %d - max_variables %d)", evictedVars, variables-maxVariables, variables, maxVariables)
	}
	if n := m.Sum(metricRefused); n != 0 {
		col.fatalf("the receiver refused %.0f spans: the memory_limiter, not the raceway limits, bounded memory", n)
	}
	if n := m.Sum(metricDecodeErrors); n != 0 {
		col.fatalf("%.0f decode errors on well-formed traffic", n)
	}
	// Evictions must not invent races: the only findings are the pair's.
	for name := range cs.findings() {
		if name != ww && name != rw {
			col.fatalf("unexpected finding %q (the flood has no race)", name)
		}
	}
	if d := m.Sum(metricDistinct); d != 2 {
		col.fatalf("distinct races %.0f, want 2 (the pair's write/write and read/write)", d)
	}
}

// TestLoadFigures measures the figures of docs/benchmarks.md, "Load and
// faults": collector memory per tracked variable and per held trace, the
// flood with the default limits (for comparison with TestFlood's bound),
// and throughput and CPU per span with and without the raceway processor
// on the flood's record-heavy traffic. Opt-in (about 2 minutes):
//
//	cd collector/e2e && RACEWAY_E2E_BENCH=1 go test -run TestLoadFigures -v .
func TestLoadFigures(t *testing.T) {
	if os.Getenv("RACEWAY_E2E_BENCH") == "" {
		t.Skip("set RACEWAY_E2E_BENCH=1 to measure the load figures")
	}
	bin := collectorBinary(t)

	// Memory per tracked variable: 100 variables per trace (few threads),
	// 5 steps of 200,000 variables, all below max_variables; RSS after
	// each step once every record is analysed and every span released.
	for _, gogc := range []string{"100", "10"} {
		shape := floodShape{varsPerTrace: 100, runID: uint32(time.Now().UnixNano())}
		r := newFloodRig(t, bin, gogc, floodOverlay("1s", 1000, 2_000_000, 65536))
		var rss []int64
		const step = 2000 // traces per step: 200,000 variables
		rss = append(rss, r.settle(0, 0).RSS)
		for i := 1; i <= 5; i++ {
			if err := shape.send(r.client, step, 50, 2, 0, nil); err != nil {
				r.col.fatalf("%v", err)
			}
			shape.runID++ // next step: new variables and threads
			rss = append(rss, r.settle(i*step*shape.recordsPerTrace(), 0).RSS)
		}
		perVar := float64(rss[5]-rss[0]) / float64(5*step*shape.varsPerTrace)
		t.Logf("RESULT memory per tracked variable (GOGC=%s): RSS %s -> %s over 1,000,000 variables: %.0f B per variable (steps: %s)",
			gogc, mib(rss[0]), mib(rss[5]), perVar, func() string {
				var s []string
				for _, b := range rss {
					s = append(s, mib(b))
				}
				return fmt.Sprint(s)
			}())
		r.col.stop()
	}

	// Memory per held trace: the flood's traces (2 spans, 11 records), held
	// (wait_duration 10m) or released at once (1s), GOGC=10.
	const heldTraces = 20_000
	var delta [2]int64
	for k, wait := range []string{"10m", "1s"} {
		shape := floodShape{varsPerTrace: 10, runID: uint32(time.Now().UnixNano())}
		r := newFloodRig(t, bin, "10", floodOverlay(wait, 100_000, 2_000_000, 65536))
		before := r.settle(0, 0).RSS
		if err := shape.send(r.client, heldTraces, 250, 2, 0, nil); err != nil {
			r.col.fatalf("%v", err)
		}
		held := 0
		if k == 0 {
			held = heldTraces * shape.spansPerTrace()
		}
		after := r.settle(heldTraces*shape.recordsPerTrace(), held).RSS
		delta[k] = after - before
		r.col.stop()
	}
	t.Logf("RESULT memory per held trace (2 spans, 11 records; GOGC=10): RSS growth held %s, released %s: %.0f B per held trace",
		mib(delta[0]), mib(delta[1]), float64(delta[0]-delta[1])/heldTraces)

	// The flood of TestFlood with the default limits, and throughput with
	// and without the processor.
	for _, c := range []struct{ name, overlay string }{
		{"default raceway limits, demo memory_limiter", racewayOverlay("", "1s", 10_000, 1_000_000, 65536)},
		{"without raceway", `service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [memory_limiter, batch]
      exporters: [otlp_grpc/jaeger, raceway]
`},
	} {
		shape := floodShape{varsPerTrace: 10, runID: uint32(time.Now().UnixNano())}
		r := newFloodRig(t, bin, "", c.overlay)
		r.settle(0, 0)
		cpu0, _ := stack.ProcCPU(r.col.pid())
		start := time.Now()
		const traces = 100_000
		if err := shape.send(r.client, traces, 250, 2, 0, nil); err != nil {
			r.col.fatalf("%v", err)
		}
		spans := traces * shape.spansPerTrace()
		waitFor(r.col, 3*time.Minute, "flood spans missing", func() (bool, string) {
			return r.sink.count("flood") >= spans, fmt.Sprint(r.sink.count("flood"))
		})
		wall := time.Since(start)
		cpu1, _ := stack.ProcCPU(r.col.pid())
		mem, _ := stack.ReadProcMemory(r.col.pid())
		m := scrape(t, r.env)
		t.Logf("RESULT flood 100,000 traces / 1,000,000 variables, %s: %.0f spans/s wall, %.0f spans per CPU-second, %.1f µs CPU per span, peak RSS %s, refused %.0f, evictions %s",
			c.name, float64(spans)/wall.Seconds(), float64(spans)/(cpu1-cpu0), (cpu1-cpu0)*1e6/float64(spans), mib(mem.Peak), m.Sum(metricRefused), evictionSummary(m))
		r.col.stop()
	}
}

// floodRig is a collector with a counting sink, for the figures.
type floodRig struct {
	t      *testing.T
	col    *collector
	sink   *countSink
	env    map[string]string
	client ptraceotlp.GRPCClient
}

// newFloodRig starts otelcol-raceway with overlay and GOGC (if not empty).
func newFloodRig(t *testing.T, bin, gogc, overlay string) *floodRig {
	cs := startCountSink(t, "", func(string) bool { return false })
	env := envFor(t, cs.addr)
	env["RACEWAY_LOG_LEVEL"] = "warn"
	if gogc != "" {
		env["GOGC"] = gogc
	}
	col := startCollector(t, bin, env, demoConfig(t, "otelcol-raceway.yaml"), writeOverlay(t, overlay))
	return &floodRig{t: t, col: col, sink: cs, env: env, client: dial(t, env["RACEWAY_OTLP_GRPC"])}
}

// settle waits until the processor has analysed records events and holds
// held spans, then 3 seconds more, and returns the collector's memory.
func (r *floodRig) settle(records, held int) stack.ProcMemory {
	waitFor(r.col, 2*time.Minute, "the collector did not settle", func() (bool, string) {
		m := scrape(r.t, r.env)
		return int(m.Sum(metricAnalysed)) >= records && int(m.Sum(metricSpansHeld)) == held,
			fmt.Sprintf("analysed %.0f of %d, spans held %.0f (want %d)", m.Sum(metricAnalysed), records, m.Sum(metricSpansHeld), held)
	})
	time.Sleep(3 * time.Second)
	mem, err := stack.ReadProcMemory(r.col.pid())
	if err != nil {
		r.t.Fatal(err)
	}
	return mem
}
