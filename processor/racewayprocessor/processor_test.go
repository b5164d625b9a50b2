package racewayprocessor

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/ptracetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/raceway-otel/raceway/analysis"
	"github.com/raceway-otel/raceway/processor/racewayprocessor/internal/metadata"
	"github.com/raceway-otel/raceway/processor/racewayprocessor/internal/metadatatest"
	"github.com/raceway-otel/raceway/racewayotel/convention"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	tests := []struct {
		id      string
		want    *Config
		wantErr []string
	}{
		{id: "raceway", want: createDefaultConfig().(*Config)},
		{id: "raceway/custom", want: &Config{
			WaitDuration: 5 * time.Second, RaceWindow: 2 * time.Minute,
			MaxVariables: 10000, MaxHistory: 4, MaxThreads: 4096, MaxPending: 20000,
		}},
		{id: "raceway/invalid", wantErr: []string{"wait_duration must be at least 10ms", "max_pending must be positive"}},
		{id: "raceway/removed", wantErr: []string{
			"max_traces is no longer supported: spans are no longer held (each passes on at once); the records waiting for the detector are bounded by max_pending",
			"max_spans_per_trace is no longer supported: spans are no longer held",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			cfg := NewFactory().CreateDefaultConfig()
			sub, err := cm.Sub(tt.id)
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			err = confmap.Validate(cfg)
			if tt.wantErr != nil {
				for _, want := range tt.wantErr {
					require.ErrorContains(t, err, want)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, cfg)
		})
	}
}

func TestConfigValidate(t *testing.T) {
	for name, mutate := range map[string]func(*Config){
		"wait_duration":                 func(c *Config) { c.WaitDuration = 0 },
		"race_window":                   func(c *Config) { c.RaceWindow = -time.Second },
		"max_variables":                 func(c *Config) { c.MaxVariables = 0 },
		"max_history":                   func(c *Config) { c.MaxHistory = -1 },
		"max_threads":                   func(c *Config) { c.MaxThreads = 0 },
		"max_pending":                   func(c *Config) { c.MaxPending = 0 },
		"max_variables must be at most": func(c *Config) { c.MaxVariables = analysis.MaxLimit + 1 },
		"max_threads must be at most":   func(c *Config) { c.MaxThreads = analysis.MaxLimit + 1 },
		"max_pending must be at most":   func(c *Config) { c.MaxPending = analysis.MaxLimit + 1 },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			require.NoError(t, cfg.Validate())
			mutate(cfg)
			require.ErrorContains(t, cfg.Validate(), name)
			_, err := NewFactory().CreateTraces(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
			require.Error(t, err)
		})
	}
	cfg := createDefaultConfig().(*Config)
	assert.Equal(t, cfg.WaitDuration, cfg.detectorConfig().Wait, "wait_duration is the detector's wait")
	assert.Equal(t, 100*time.Millisecond, cfg.tickPeriod())
	cfg.WaitDuration = minWaitDuration
	assert.Equal(t, time.Millisecond, cfg.tickPeriod())
}

// lostUpdateSpans are two concurrent transfers from alice's account in one
// bank process, each reading 1000 and writing back without a lock; each
// thread's three records are on three spans so that they can be shuffled.
func lostUpdateSpans() []spanSpec {
	mk := func(tr byte, thread uint64, t0 time.Duration, newVal string) []spanSpec {
		s := func(id, parent byte, name string, r rec) spanSpec {
			return spanSpec{service: "bank", instance: "bank-1", trace: tr, span: id, parent: parent, name: name, recs: []rec{r}}
		}
		return []spanSpec{
			s(tr|0x01, 0, "POST /transfer", rec{kind: "thread.start", thread: thread, seq: 1, origin: "request", name: "POST /transfer",
				file: "handler.go", line: 20, fn: "main.handleTransfer", at: t0}),
			s(tr|0x02, tr|0x01, "read balance", rec{kind: "read", thread: thread, seq: 2, v: "accounts.alice.balance", val: str("1000"),
				file: "transfer.go", line: 37, fn: "main.transfer", at: t0 + time.Millisecond}),
			s(tr|0x03, tr|0x01, "write balance", rec{kind: "write", thread: thread, seq: 3, v: "accounts.alice.balance", old: str("1000"), val: str(newVal),
				file: "transfer.go", line: 42, fn: "main.transfer", at: t0 + 3*time.Millisecond}),
		}
	}
	return append(mk(0xa0, 0x1111, 0, "900"), mk(0xb0, 0x2222, time.Millisecond, "800")...)
}

// TestGoldenLostUpdate feeds the lost update in shuffled batches and compares
// the whole output (the spans passed on, the raceway.race spans and the
// findings) with a golden file.
func TestGoldenLostUpdate(t *testing.T) {
	h := newHarness(t, nil)
	sp := lostUpdateSpans()
	// Shuffled: later records before earlier ones, traces interleaved.
	h.consume(batch(sp[5], sp[1]))
	require.Equal(t, 2, requestSpans(h.sink), "spans pass on at once, even those whose records wait")
	h.advance(time.Second)
	h.consume(batch(sp[2], sp[3]))
	h.advance(time.Second)
	h.consume(batch(sp[0], sp[4]))
	require.Equal(t, 6, requestSpans(h.sink))
	require.Len(t, findings(h.output()), 2, "the races are found as soon as the missing records arrive")
	h.finish()
	got := h.output()

	file := filepath.Join("testdata", "lost_update_expected.yaml")
	if os.Getenv("UPDATE_GOLDEN") != "" {
		require.NoError(t, golden.WriteTraces(t, file, got))
	}
	want, err := golden.ReadTraces(file)
	require.NoError(t, err)
	require.NoError(t, ptracetest.CompareTraces(want, got,
		ptracetest.IgnoreResourceSpansOrder(), ptracetest.IgnoreScopeSpansOrder(), ptracetest.IgnoreSpansOrder()))

	// Three racing pairs (two read/write, one write/write) in two distinct
	// races: both read/write pairs are between transfer.go:37 and :42.
	fs := findings(got)
	require.Len(t, fs, 2, "one finding per distinct race: %+v", fs)
	names := []string{fs[0].name, fs[1].name}
	assert.ElementsMatch(t, []string{
		"race accounts.alice.balance read/write", "race accounts.alice.balance write/write",
	}, names)
	var lost int
	for _, f := range fs {
		if f.severity == "critical" {
			lost++
			assert.Equal(t, "1000", f.lostRead)
		}
	}
	assert.Equal(t, 1, lost, "the write/write pair is a lost update")
	rs := raceSpans(got)
	assert.Equal(t, 4, rs["write balance"], "each write is in one read/write and the write/write pair")
	assert.Equal(t, 2, rs["read balance"], "every occurrence is shown, not only the first of a group")
	assert.Zero(t, rs["POST /transfer"])

	metadatatest.AssertEqualProcessorRacewayEventsAnalysed(t, h.tt, []metricdata.DataPoint[int64]{{Value: 6}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorRacewayDistinctRaces(t, h.tt, []metricdata.DataPoint[int64]{{Value: 2}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorRacewayRacesFound(t, h.tt, []metricdata.DataPoint[int64]{{Value: 3}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorRacewayRaceSpans(t, h.tt, []metricdata.DataPoint[int64]{{Value: 6}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorRacewayRecordsPending(t, h.tt, []metricdata.DataPoint[int64]{{Value: 0}}, metricdatatest.IgnoreTimestamp())
}

// spanNamed returns the span of td named name, with its resource.
func spanNamed(t *testing.T, td ptrace.Traces, name string) (ptrace.ResourceSpans, ptrace.ScopeSpans, ptrace.Span) {
	t.Helper()
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		for j := 0; j < rss.At(i).ScopeSpans().Len(); j++ {
			ss := rss.At(i).ScopeSpans().At(j)
			for k := 0; k < ss.Spans().Len(); k++ {
				if ss.Spans().At(k).Name() == name {
					return rss.At(i), ss, ss.Spans().At(k)
				}
			}
		}
	}
	t.Fatalf("no span named %q", name)
	return ptrace.ResourceSpans{}, ptrace.ScopeSpans{}, ptrace.Span{}
}

// TestFinding checks the finding span's shape in detail.
func TestFinding(t *testing.T) {
	h := newHarness(t, nil)
	h.consume(batch(lostUpdateSpans()...))
	h.finish()
	rs, ss, ww := spanNamed(t, h.output(), "race accounts.alice.balance write/write")
	svc, _ := rs.Resource().Attributes().Get("service.name")
	assert.Equal(t, "raceway", svc.Str())
	assert.Equal(t, metadata.ScopeName, ss.Scope().Name())
	assert.Equal(t, ptrace.StatusCodeError, ww.Status().Code())
	assert.Equal(t, "lost update on accounts.alice.balance", ww.Status().Message())
	require.Equal(t, 2, ww.Links().Len())
	linked := []string{ww.Links().At(0).SpanID().String(), ww.Links().At(1).SpanID().String()}
	assert.ElementsMatch(t, []string{spanID(0xa3).String(), spanID(0xb3).String()}, linked)
	a := ww.Attributes()
	get := func(k string) string { v, ok := a.Get(k); require.True(t, ok, k); return v.AsString() }
	assert.Equal(t, "accounts.alice.balance", get(convention.RaceVar))
	assert.Equal(t, "write/write", get(convention.RaceKind))
	assert.Equal(t, "critical", get(convention.RaceSeverity))
	assert.Equal(t, "true", get(convention.RaceLostUpdate))
	assert.Equal(t, "800", get(convention.RaceLostFinal))
	assert.Equal(t, "700", get(convention.RaceLostExpect))
	assert.Equal(t, "bank", get(convention.RaceCurrent+convention.RaceService))
	assert.Equal(t, "bank", get(convention.RacePrevious+convention.RaceService))
	assert.Equal(t, "transfer.go", get(convention.RaceCurrent+convention.RaceFile))
	assert.Equal(t, "42", get(convention.RaceCurrent+convention.RaceLine))
	assert.Equal(t, "main.transfer", get(convention.RaceCurrent+convention.RaceFunction))
	assert.Equal(t, "POST /transfer", get(convention.RaceCurrent+convention.RaceThreadName))
	assert.Equal(t, "request", get(convention.RaceCurrent+convention.RaceThreadStart))
	assert.Equal(t, "1000", get(convention.RaceCurrent+convention.RaceValueOld))
	assert.Equal(t, "write", get(convention.RacePrevious+convention.RaceAccess))
	assert.Equal(t, "1", get(convention.RaceCount))
	assert.NotEmpty(t, get(convention.RaceReason))
	assert.Contains(t, get(convention.RaceReport), "WARNING: RACE on accounts.alice.balance")
	assert.Contains(t, []string{traceID(0xa0).String(), traceID(0xb0).String()}, get(convention.RaceCurrent+convention.RaceTraceID))
	assert.False(t, ww.StartTimestamp() > ww.EndTimestamp())
}

// TestRaceSpan checks the raceway.race spans in detail: a child of each
// racing access span, in its trace, under its service and process, at the
// access's time, with status Error, the finding's attributes and a link to
// the finding trace.
func TestRaceSpan(t *testing.T) {
	h := newHarness(t, nil)
	h.consume(batch(lostUpdateSpans()...))
	h.finish()
	out := h.output()
	_, _, ww := spanNamed(t, out, "race accounts.alice.balance write/write")
	var got int
	eachSpan(out, func(_ string, span ptrace.Span) {
		if !isRaceSpan(span) {
			return
		}
		a := span.Attributes()
		kind, _ := a.Get(convention.RaceKind)
		if kind.Str() != "write/write" {
			return
		}
		got++
		role, _ := a.Get(attrRaceRole)
		prefix := convention.RacePrevious
		if role.Str() == roleCurrent {
			prefix = convention.RaceCurrent
		}
		tid, _ := a.Get(prefix + convention.RaceTraceID)
		sid, _ := a.Get(prefix + convention.RaceSpanID)
		assert.Equal(t, tid.Str(), span.TraceID().String(), "in the access's trace")
		assert.Equal(t, sid.Str(), span.ParentSpanID().String(), "a child of the access's span")
		assert.Contains(t, []pcommon.SpanID{spanID(0xa3), spanID(0xb3)}, span.ParentSpanID(), "the write spans")
		assert.NotEqual(t, span.ParentSpanID(), span.SpanID())
		assert.Equal(t, span.StartTimestamp(), span.EndTimestamp(), "starts and ends at the access")
		assert.Equal(t, ptrace.StatusCodeError, span.Status().Code())
		assert.Equal(t, "lost update on accounts.alice.balance", span.Status().Message())
		require.Equal(t, 1, span.Links().Len())
		assert.Equal(t, ww.TraceID(), span.Links().At(0).TraceID(), "linked to the finding trace")
		assert.Equal(t, ww.SpanID(), span.Links().At(0).SpanID())
		assert.Equal(t, ww.Attributes().Len(), a.Len(), "the finding's attributes, with the role instead of the report")
		_, ok := a.Get(convention.RaceReport)
		assert.False(t, ok, "the report is on the finding")
		ww.Attributes().Range(func(k string, v pcommon.Value) bool {
			if k == convention.RaceReport {
				return true
			}
			got, ok := a.Get(k)
			assert.True(t, ok && got.Equal(v), "attribute %s", k)
			return true
		})
	})
	assert.Equal(t, 2, got, "one raceway.race span per write of the write/write race")

	// Under the access's service and process, in the processor's scope.
	var resources int
	for _, td := range h.sink.AllTraces() {
		rss := td.ResourceSpans()
		for i := 0; i < rss.Len(); i++ {
			ss := rss.At(i).ScopeSpans().At(0)
			if !isRaceSpan(ss.Spans().At(0)) {
				continue
			}
			resources++
			assert.Equal(t, map[string]any{"service.name": "bank", "service.instance.id": "bank-1"}, rss.At(i).Resource().Attributes().AsRaw())
			assert.Equal(t, metadata.ScopeName, ss.Scope().Name())
		}
	}
	assert.Equal(t, 6, resources)
	// The access's time.
	_, _, write := spanNamed(t, out, "write balance")
	eachSpan(out, func(_ string, span ptrace.Span) {
		if isRaceSpan(span) && span.ParentSpanID() == write.SpanID() {
			assert.Equal(t, write.Events().At(0).Timestamp(), span.StartTimestamp())
		}
	})
}

// TestShuffledArrival: whatever the arrival order of the spans, the same
// distinct races are found (docs/design.md, "Scenarios": out of order).
func TestShuffledArrival(t *testing.T) {
	type key struct{ name, spans string }
	// norm lists the distinct races (finding names) and every racing pair
	// (from the raceway.race spans).
	norm := func(td ptrace.Traces) map[key]int {
		m := map[key]int{}
		for _, f := range findings(td) {
			m[key{name: f.name}]++
		}
		for _, pair := range racePairs(td) {
			m[key{spans: pair}]++
		}
		return m
	}
	var want map[key]int
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 20; i++ {
		sp := lostUpdateSpans()
		if i > 0 {
			rng.Shuffle(len(sp), func(a, b int) { sp[a], sp[b] = sp[b], sp[a] })
		}
		h := newHarness(t, nil)
		for len(sp) > 0 {
			n := 1 + rng.Intn(len(sp))
			h.consume(batch(sp[:n]...))
			sp = sp[n:]
			h.advance(2 * time.Second) // later than a batch interval
		}
		h.finish()
		got := norm(h.output())
		if want == nil {
			want = got
			require.Len(t, want, 2+3, "%v", want)
			continue
		}
		require.Equal(t, want, got, "shuffle %d", i)
	}
}

// TestSpansPassAtOnce: every span passes on at once and untouched, those
// with Raceway records included, whether or not their records can be
// analysed yet; nothing else is sent before a race is found.
func TestSpansPassAtOnce(t *testing.T) {
	h := newHarness(t, nil)
	sp := lostUpdateSpans()
	td := batch(sp[1], sp[4],
		spanSpec{service: "web", instance: "w1", trace: 1, span: 1, name: "GET /"},
		spanSpec{service: "web", instance: "w1", trace: 2, span: 2, name: "GET /x"},
	)
	// A span event that is not a record, and one named like the
	// processor's own spans.
	plain := td.ResourceSpans().At(2).ScopeSpans().At(0).Spans().At(0)
	plain.Events().AppendEmpty().SetName("exception")
	plain.Events().AppendEmpty().SetName(convention.RaceEvent)
	plain.Events().AppendEmpty().SetName("racewayish")
	want := ptrace.NewTraces()
	td.CopyTo(want)
	td.MarkReadOnly() // as the pipeline does when it shares td: the processor must only read it
	h.consume(td)
	require.Len(t, h.sink.AllTraces(), 1, "passed on at once, in one piece")
	assert.Equal(t, td, h.sink.AllTraces()[0], "the very batch received")
	require.NoError(t, ptracetest.CompareTraces(want, h.sink.AllTraces()[0]))
	assert.Equal(t, consumer.Capabilities{MutatesData: false}, h.p.Capabilities())
	h.advance(time.Second)
	metadatatest.AssertEqualProcessorRacewayRecordsPending(t, h.tt, []metricdata.DataPoint[int64]{{Value: 2}}, metricdatatest.IgnoreTimestamp())
	h.finish()
	assert.Len(t, h.sink.AllTraces(), 1, "nothing else emitted: two reads do not race")
	metadatatest.AssertEqualProcessorRacewayForcedEvents(t, h.tt, []metricdata.DataPoint[int64]{{Value: 2}}, metricdatatest.IgnoreTimestamp())
}

// TestLateSpanStillAnnotated: a span that arrives long after its racing
// partner (whose span passed on long ago) still yields the raceway.race
// spans of both, in both request traces, and the findings.
func TestLateSpanStillAnnotated(t *testing.T) {
	h := newHarness(t, nil)
	sp := lostUpdateSpans()
	h.consume(batch(sp[0], sp[1], sp[2]))
	h.advance(3 * h.p.cfg.WaitDuration)
	require.Equal(t, 3, requestSpans(h.sink), "trace A passed on")
	require.Empty(t, raceSpans(h.output()))
	h.consume(batch(sp[3], sp[4], sp[5]))
	require.Len(t, findings(h.output()), 2, "found at once")
	h.finish()
	got := h.output()
	require.Len(t, findings(got), 2)
	rs := raceSpans(got)
	assert.Equal(t, 4, rs["write balance"], "both traces' write spans")
	assert.Equal(t, 2, rs["read balance"])
	traces := map[pcommon.TraceID]int{}
	eachSpan(got, func(_ string, span ptrace.Span) {
		if isRaceSpan(span) {
			traces[span.TraceID()]++
		}
	})
	assert.Equal(t, map[pcommon.TraceID]int{traceID(0xa0): 3, traceID(0xb0): 3}, traces)
}

// TestLifecycleWithTicker runs the real ticker: a record whose predecessors
// never arrive is analysed by it once wait_duration is over and its races
// are emitted then; Shutdown leaves no goroutine behind (goleak in
// TestMain).
func TestLifecycleWithTicker(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.WaitDuration = 50 * time.Millisecond
	sink := new(consumertest.TracesSink)
	p, err := NewFactory().CreateTraces(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, sink)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	sp := lostUpdateSpans()
	for i := range sp {
		sp[i].recs[0].at += time.Since(base) // now-ish
	}
	// Trace A whole, and trace B's write alone: it waits for B's start and
	// read, which never come.
	require.NoError(t, p.ConsumeTraces(context.Background(), batch(sp[0], sp[1], sp[2], sp[5])))
	require.Equal(t, 4, sink.SpanCount(), "passed on at once")
	require.Eventually(t, func() bool { return len(findings(mergeAll(sink))) == 2 }, 5*time.Second, 10*time.Millisecond,
		"the ticker forces the write through after the wait, and emits its races with trace A's read and write")
	require.NoError(t, p.Shutdown(context.Background()))
	require.NoError(t, p.Shutdown(context.Background()), "idempotent")
	// Shutdown without Start.
	p2, err := NewFactory().CreateTraces(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, sink)
	require.NoError(t, err)
	require.NoError(t, p2.Shutdown(context.Background()))
}

// TestShutdownFlushes: Shutdown analyses the records still waiting and emits
// their races; batches after it pass through.
func TestShutdownFlushes(t *testing.T) {
	h := newHarness(t, nil)
	sp := lostUpdateSpans()
	h.consume(batch(sp[0], sp[1], sp[2], sp[5]))
	require.Equal(t, 4, requestSpans(h.sink))
	require.Empty(t, findings(h.output()), "trace B's write waits for its predecessors")
	require.NoError(t, h.p.Shutdown(context.Background()))
	got := h.output()
	assert.Len(t, findings(got), 2, "the races of trace B's write with trace A's read and write, found at shutdown")
	assert.Equal(t, map[string]int{"write balance": 3, "read balance": 1}, raceSpans(got))
	// After shutdown, data passes through.
	n := h.sink.SpanCount()
	h.consume(batch(lostUpdateSpans()[0]))
	assert.Equal(t, n+1, h.sink.SpanCount())
}

// A record whose predecessor never arrives is analysed once wait_duration
// is over, and counted as forced.
func TestForcedEventsCounted(t *testing.T) {
	h := newHarness(t, nil)
	sp := lostUpdateSpans()
	// Only the second transfer's write (seq 3): its seq 1 and 2 never come.
	h.consume(batch(sp[5]))
	h.advance(time.Second)
	// Nothing forced before wait_duration is over.
	zero := []metricdata.DataPoint[int64]{{Value: 0}}
	metadatatest.AssertEqualProcessorRacewayForcedEvents(t, h.tt, zero, metricdatatest.IgnoreTimestamp())
	h.advance(h.p.cfg.WaitDuration - time.Second - time.Millisecond)
	metadatatest.AssertEqualProcessorRacewayForcedEvents(t, h.tt, zero, metricdatatest.IgnoreTimestamp())
	h.advance(time.Millisecond)
	metadatatest.AssertEqualProcessorRacewayForcedEvents(t, h.tt, []metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp())
	h.finish()
}

// TestRepeatedRacesOnASpanShownOnce: a span whose access races with many
// others in one group (a hot counter) gets one raceway.race span per group
// and role, not one per partner; the repeats are counted in races_found.
func TestRepeatedRacesOnASpanShownOnce(t *testing.T) {
	h := newHarness(t, nil)
	const writers = 6
	var specs []spanSpec
	for i := range writers {
		tr := byte(0x10 * (i + 1))
		specs = append(specs, spanSpec{service: "shop", instance: "shop-1", trace: tr, span: tr | 1, name: fmt.Sprintf("write %d", i),
			recs: []rec{{kind: "write", thread: uint64(0x100 + i), seq: 1, v: "stats.orders", val: str(fmt.Sprint(i)),
				file: "stats.go", line: 9, fn: "main.count", at: time.Duration(i) * time.Millisecond}}})
	}
	// One batch, then the same group again from a later batch: a write that
	// races with every earlier one.
	h.consume(batch(specs[:writers-1]...))
	h.consume(batch(specs[writers-1]))
	h.finish()
	got := h.output()
	require.Len(t, findings(got), 1, "one distinct race: write/write at stats.go:9")
	names := map[pcommon.SpanID]string{}
	eachSpan(got, func(_ string, span ptrace.Span) { names[span.SpanID()] = span.Name() })
	roles := map[string][]string{} // span name -> roles of its raceway.race spans
	ids := map[pcommon.SpanID]bool{}
	eachSpan(got, func(_ string, span ptrace.Span) {
		if !isRaceSpan(span) {
			return
		}
		require.False(t, ids[span.SpanID()], "span ids are unique")
		ids[span.SpanID()] = true
		role, _ := span.Attributes().Get(attrRaceRole)
		name := names[span.ParentSpanID()]
		roles[name] = append(roles[name], role.Str())
	})
	// Every pair of the 6 writes races: 15 races. The i-th write is current
	// in i of them and previous in 5-i: one raceway.race span per role.
	for i := range writers {
		name := fmt.Sprintf("write %d", i)
		var want []string
		if i < writers-1 {
			want = append(want, rolePrevious)
		}
		if i > 0 {
			want = append(want, roleCurrent)
		}
		assert.ElementsMatch(t, want, roles[name], name)
	}
	metadatatest.AssertEqualProcessorRacewayRacesFound(t, h.tt, []metricdata.DataPoint[int64]{{Value: writers * (writers - 1) / 2}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorRacewayRaceSpans(t, h.tt, []metricdata.DataPoint[int64]{{Value: 2 * (writers - 1)}}, metricdatatest.IgnoreTimestamp())
}
