package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/raceway-otel/raceway/internal/stack"
)

// floodOverlay is the configuration of the flood: the demo configuration
// with small raceway limits, an explicit memory_limiter, and the traces
// pipeline without the debug exporter (it would only log every batch).
func floodOverlay(wait string, maxVariables, maxThreads int) string {
	return fmt.Sprintf(`processors:
  memory_limiter:
    check_interval: 1s
    limit_percentage: 0
    spike_limit_percentage: 0
    limit_mib: %d
    spike_limit_mib: %d
  raceway:
    wait_duration: %s
    max_variables: %d
    max_threads: %d
`, floodLimitMiB, floodSpikeMiB, wait, maxVariables, maxThreads) + pipelineOverlay("[memory_limiter, raceway, batch]")
}

// pipelineOverlay sets the traces pipeline's processors, without the debug
// exporter (it would only log every batch).
func pipelineOverlay(processors string) string {
	return `service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: ` + processors + `
      exporters: [otlp_grpc/jaeger, raceway]
`
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
// The flood: 100,000 traces carrying 1,000,000 distinct variables (10× the
// configured max_variables), sent over OTLP/gRPC in exports of 250 traces by
// two workers; it takes about 10 s on 2 cores. The memory bound depends on
// the limits only, not on the size of the flood. The collector's CPU per
// span on such traffic is BenchmarkCollectorCPUPerSpan/records's.
//
//	cd collector/e2e && go test -run 'TestFlood$' -v .
func TestFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("floods the collector")
	}
	const traces = 100_000
	shape := floodShape{varsPerTrace: 10, runID: uint32(time.Now().UnixNano())}
	variables := traces * shape.varsPerTrace
	const (
		maxVariables = 100_000
		maxThreads   = 10_000
		batchSize    = 250 // traces per export: about 0.6 MB of OTLP
	)
	// The bound on the collector's resident memory, from the limits (the
	// per-item costs are those BenchmarkCollectorMemoryPerVariable measures,
	// rounded up by about 2×; see docs/benchmarks.md, "Load and faults"):
	//   - start-up (the binary, gRPC and HTTP servers, exporters): 46 MiB
	//     measured; allow 100 MiB;
	//   - tracked variables: max_variables × 1.5 KiB (measured: about
	//     0.5-0.85 KiB of RSS per tracked variable: its detector state, its
	//     retained access record with names, ids, location and value for
	//     reports, and the Go heap's garbage headroom);
	//   - logical threads: max_threads × 1 KiB (clocks of up to 64 entries);
	//   - spans on their way out: the batch processor's and the exporters'
	//     buffers: 32 MiB (spans are not held: they pass on at once);
	//   - in flight: the receiver decodes a few 0.6 MB exports at a time
	//     (about 10× that in pdata): 64 MiB.
	// That is 352 MiB, whatever the size of the flood. With the default
	// limits (max_variables 1,000,000) the same flood keeps every variable
	// and grows past 800 MiB.
	bound := int64(100<<20) + int64(maxVariables)*3<<9 + int64(maxThreads)<<10 + 32<<20 + 64<<20

	bin := collectorBinary(t)
	cs := startSink(t, "", func(svc string) bool { return svc == "bank" })
	env := baseEnv(t, cs.Addr())
	env["RACEWAY_LOG_LEVEL"] = "warn"
	overlay := writeOverlay(t, floodOverlay("1s", maxVariables, maxThreads))
	col := startCollector(t, bin, env, demoConfig(t, "otelcol-raceway.yaml"), overlay)
	client := dial(t, env["RACEWAY_OTLP_GRPC"])
	time.Sleep(500 * time.Millisecond)
	base, err := stack.ReadProcMemory(col.pid())
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}

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
		n := cs.SpanCount("flood")
		return n >= wantSpans, fmt.Sprintf("%d of %d", n, wantSpans)
	})
	wall := time.Since(start)
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
	t.Logf("RESULT flood traces=%d spans=%d records=%d variables=%d limits(max_variables=%d max_threads=%d): sent in %s, all spans at the sink after %s",
		traces, wantSpans, wantRecords, variables, maxVariables, maxThreads, sent.Round(time.Millisecond), wall.Round(time.Millisecond))
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
