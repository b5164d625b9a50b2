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
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

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
		wantErr string
	}{
		{id: "raceway", want: createDefaultConfig().(*Config)},
		{id: "raceway/custom", want: &Config{
			WaitDuration: 5 * time.Second, RaceWindow: 2 * time.Minute, MaxTraces: 500,
			MaxSpansPerTrace: 200, MaxVariables: 10000, MaxHistory: 4, MaxThreads: 4096, MaxPending: 20000,
		}},
		{id: "raceway/invalid", wantErr: "wait_duration must be at least 10ms"},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			cfg := NewFactory().CreateDefaultConfig()
			sub, err := cm.Sub(tt.id)
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			err = confmap.Validate(cfg)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.ErrorContains(t, err, "max_traces must be positive")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, cfg)
		})
	}
}

func TestConfigValidate(t *testing.T) {
	for name, mutate := range map[string]func(*Config){
		"wait_duration":       func(c *Config) { c.WaitDuration = 0 },
		"race_window":         func(c *Config) { c.RaceWindow = -time.Second },
		"max_traces":          func(c *Config) { c.MaxTraces = 0 },
		"max_spans_per_trace": func(c *Config) { c.MaxSpansPerTrace = -5 },
		"max_variables":       func(c *Config) { c.MaxVariables = 0 },
		"max_history":         func(c *Config) { c.MaxHistory = -1 },
		"max_threads":         func(c *Config) { c.MaxThreads = 0 },
		"max_pending":         func(c *Config) { c.MaxPending = 0 },
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
	assert.Equal(t, 8*time.Second, cfg.detectorConfig().Wait)
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
// the whole output (annotated spans and findings) with a golden file.
func TestGoldenLostUpdate(t *testing.T) {
	h := newHarness(t, nil)
	sp := lostUpdateSpans()
	// Shuffled: later records before earlier ones, traces interleaved.
	h.consume(batch(sp[5], sp[1]))
	h.advance(time.Second)
	h.consume(batch(sp[2], sp[3]))
	h.advance(time.Second)
	h.consume(batch(sp[0], sp[4]))
	h.advance(time.Second)
	require.Zero(t, nonFindingSpans(h.sink), "spans with records are held for the wait")
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
	ev := raceEvents(got)
	assert.Equal(t, 4, ev["write balance"], "each write is in one read/write and the write/write pair")
	assert.Equal(t, 2, ev["read balance"], "every occurrence is annotated, not only the first of a group")
	assert.Zero(t, ev["POST /transfer"])

	metadatatest.AssertEqualProcessorRacewayEventsAnalysed(t, h.tt, []metricdata.DataPoint[int64]{{Value: 6}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorRacewayDistinctRaces(t, h.tt, []metricdata.DataPoint[int64]{{Value: 2}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorRacewayRacesFound(t, h.tt, []metricdata.DataPoint[int64]{{Value: 3}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorRacewayTracesHeld(t, h.tt, []metricdata.DataPoint[int64]{{Value: 0}}, metricdatatest.IgnoreTimestamp())
}

// TestFinding checks the finding span's shape in detail.
func TestFinding(t *testing.T) {
	h := newHarness(t, nil)
	h.consume(batch(lostUpdateSpans()...))
	h.finish()
	got := h.output()
	var ww ptrace.Span
	found := false
	rss := got.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		spans := rss.At(i).ScopeSpans().At(0).Spans()
		for k := 0; k < spans.Len(); k++ {
			if spans.At(k).Name() == "race accounts.alice.balance write/write" {
				ww, found = spans.At(k), true
				svc, _ := rss.At(i).Resource().Attributes().Get("service.name")
				assert.Equal(t, "raceway", svc.Str())
				assert.Equal(t, metadata.ScopeName, rss.At(i).ScopeSpans().At(0).Scope().Name())
			}
		}
	}
	require.True(t, found)
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

// TestShuffledArrival: whatever the arrival order of the spans, the same
// distinct races are found (DESIGN scenario 8).
func TestShuffledArrival(t *testing.T) {
	type key struct{ name, spans string }
	// norm lists the distinct races (finding names) and every racing pair
	// (from the raceway.race annotations).
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

func TestPassthroughUntouched(t *testing.T) {
	h := newHarness(t, nil)
	td := batch(
		spanSpec{service: "web", instance: "w1", trace: 1, span: 1, name: "GET /"},
		spanSpec{service: "web", instance: "w1", trace: 2, span: 2, name: "GET /x"},
	)
	// A span event that is not a record, and one the processor itself writes.
	sp := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	sp.Events().AppendEmpty().SetName("exception")
	sp.Events().AppendEmpty().SetName(convention.RaceEvent)
	sp.Events().AppendEmpty().SetName("racewayish")
	want := ptrace.NewTraces()
	td.CopyTo(want)
	h.consume(td)
	require.Len(t, h.sink.AllTraces(), 1, "passed through at once")
	require.NoError(t, ptracetest.CompareTraces(want, h.sink.AllTraces()[0]))
	h.finish()
	assert.Len(t, h.sink.AllTraces(), 1, "nothing else emitted")
}

// TestMixedBatch: in one batch, spans with records are held and the others
// pass at once; a resource keeps its other spans.
func TestMixedBatch(t *testing.T) {
	h := newHarness(t, nil)
	sp := lostUpdateSpans()
	td := batch(sp[0])
	plain := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().AppendEmpty()
	plain.SetName("plain")
	plain.SetTraceID(traceID(0xa0))
	plain.SetSpanID(spanID(0x77))
	h.consume(td)
	require.Equal(t, 1, h.sink.SpanCount())
	out := h.sink.AllTraces()[0]
	assert.Equal(t, "plain", out.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Name())
	svc, _ := out.ResourceSpans().At(0).Resource().Attributes().Get("service.name")
	assert.Equal(t, "bank", svc.Str())
	h.advance(5 * time.Second)
	assert.Equal(t, 1, h.sink.SpanCount(), "held for the wait")
	h.advance(6 * time.Second)
	assert.Equal(t, 2, h.sink.SpanCount(), "released after the wait")
	require.NoError(t, h.p.Shutdown(context.Background()))
}

// TestRaceAfterRelease: a trace released before its racing partner arrives
// still yields a finding span; only the annotation on it is missed.
func TestRaceAfterRelease(t *testing.T) {
	h := newHarness(t, nil)
	sp := lostUpdateSpans()
	h.consume(batch(sp[0], sp[1], sp[2]))
	h.advance(11 * time.Second)
	require.Equal(t, 3, nonFindingSpans(h.sink), "trace A released")
	require.Empty(t, raceEvents(h.output()))
	h.consume(batch(sp[3], sp[4], sp[5]))
	h.finish()
	got := h.output()
	fs := findings(got)
	require.Len(t, fs, 2)
	ev := raceEvents(got)
	assert.Positive(t, ev["write balance"], "trace B's spans are annotated")
}

func TestMaxTracesEvictsOldest(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxTraces = 2 })
	for i := byte(1); i <= 3; i++ {
		h.consume(batch(spanSpec{service: "s", instance: "i", trace: i, span: i, name: "t", recs: []rec{
			{kind: "thread.start", thread: uint64(i), seq: 1, origin: "root"},
		}}))
	}
	require.Equal(t, 1, h.sink.SpanCount(), "the oldest trace was released early")
	assert.Equal(t, traceID(1), h.sink.AllTraces()[0].ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).TraceID())
	h.advance(time.Second)
	metadatatest.AssertEqualProcessorRacewayEvictions(t, h.tt, evictionPoints(map[string]int64{"traces": 1}), metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorRacewayTracesHeld(t, h.tt, []metricdata.DataPoint[int64]{{Value: 2}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorRacewaySpansHeld(t, h.tt, []metricdata.DataPoint[int64]{{Value: 2}}, metricdatatest.IgnoreTimestamp())
	h.finish()
	assert.Equal(t, 3, h.sink.SpanCount())
}

func TestMaxSpansPerTrace(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxSpansPerTrace = 2 })
	var specs []spanSpec
	for i := 1; i <= 3; i++ {
		specs = append(specs, spanSpec{service: "s", instance: "i", trace: 9, span: byte(i), name: "t", recs: []rec{
			{kind: "call", thread: 0x99, seq: int64(i), fn: "f"},
		}})
	}
	h.consume(batch(specs[0]))
	assert.Zero(t, h.sink.SpanCount())
	h.consume(batch(specs[1]))
	assert.Equal(t, 2, h.sink.SpanCount(), "released at the limit")
	h.consume(batch(specs[2]))
	h.finish()
	assert.Equal(t, 3, h.sink.SpanCount())
	metadatatest.AssertEqualProcessorRacewayEvictions(t, h.tt, evictionPoints(map[string]int64{"spans": 1}), metricdatatest.IgnoreTimestamp())
}

// TestLifecycleWithTicker runs the real ticker: held spans are released by
// it and Shutdown leaves no goroutine behind (goleak in TestMain).
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
	require.NoError(t, p.ConsumeTraces(context.Background(), batch(sp...)))
	require.Eventually(t, func() bool { return sink.SpanCount() >= 6+2 }, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, p.Shutdown(context.Background()))
	require.NoError(t, p.Shutdown(context.Background()), "idempotent")
	// Shutdown without Start.
	p2, err := NewFactory().CreateTraces(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, sink)
	require.NoError(t, err)
	require.NoError(t, p2.Shutdown(context.Background()))
}

func TestShutdownFlushes(t *testing.T) {
	h := newHarness(t, nil)
	h.consume(batch(lostUpdateSpans()...))
	require.Zero(t, nonFindingSpans(h.sink))
	require.NoError(t, h.p.Shutdown(context.Background()))
	got := h.output()
	assert.Equal(t, 6+2, got.SpanCount())
	assert.Len(t, findings(got), 2)
	// After shutdown, data passes through.
	h.consume(batch(lostUpdateSpans()[0]))
	assert.Equal(t, 9, h.sink.SpanCount())
}

// A record whose predecessor never arrives is analysed once the detector's
// wait is over, and counted as forced.
func TestForcedEventsCounted(t *testing.T) {
	h := newHarness(t, nil)
	sp := lostUpdateSpans()
	// Only the second transfer's write (seq 3): its seq 1 and 2 never come.
	h.consume(batch(sp[5]))
	h.advance(time.Second)
	// Nothing forced before the detector's wait is over.
	metadatatest.AssertEqualProcessorRacewayForcedEvents(t, h.tt, []metricdata.DataPoint[int64]{{Value: 0}}, metricdatatest.IgnoreTimestamp())
	h.advance(h.p.cfg.WaitDuration) // past the detector's wait (80% of it)
	metadatatest.AssertEqualProcessorRacewayForcedEvents(t, h.tt, []metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp())
	h.finish()
}

// TestRepeatedRacesOnASpanAreCounted: a span whose access races with many
// others in one group (a hot counter) carries one raceway.race event per
// group and role, counting the occurrences, instead of one per partner.
func TestRepeatedRacesOnASpanAreCounted(t *testing.T) {
	h := newHarness(t, nil)
	const writers = 6
	var specs []spanSpec
	for i := range writers {
		tr := byte(0x10 * (i + 1))
		specs = append(specs, spanSpec{service: "shop", instance: "shop-1", trace: tr, span: tr | 1, name: fmt.Sprintf("write %d", i),
			recs: []rec{{kind: "write", thread: uint64(0x100 + i), seq: 1, v: "stats.orders", val: str(fmt.Sprint(i)),
				file: "stats.go", line: 9, fn: "main.count", at: time.Duration(i) * time.Millisecond}}})
	}
	h.consume(batch(specs...))
	h.finish()
	got := h.output()
	require.Len(t, findings(got), 1, "one distinct race: write/write at stats.go:9")
	occurrences := map[string]map[string]int64{} // span name -> role -> count
	total := int64(0)
	rss := got.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		for j := 0; j < rss.At(i).ScopeSpans().Len(); j++ {
			spans := rss.At(i).ScopeSpans().At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				evs := spans.At(k).Events()
				for e := 0; e < evs.Len(); e++ {
					if evs.At(e).Name() != convention.RaceEvent {
						continue
					}
					a := evs.At(e).Attributes()
					role, _ := a.Get(attrRaceRole)
					n, ok := a.Get(attrRaceOccurrences)
					require.True(t, ok, "every raceway.race event counts its occurrences")
					name := spans.At(k).Name()
					if occurrences[name] == nil {
						occurrences[name] = map[string]int64{}
					}
					_, dup := occurrences[name][role.Str()]
					require.False(t, dup, "span %s has two events for role %s of one group", name, role.Str())
					occurrences[name][role.Str()] = n.Int()
					total += n.Int()
				}
			}
		}
	}
	// Every pair of the 6 writes races: 15 races, each counted on both of
	// its spans; the i-th write is current in i races and previous in 5-i.
	assert.Equal(t, int64(2*writers*(writers-1)/2), total)
	for i := range writers {
		name := fmt.Sprintf("write %d", i)
		want := map[string]int64{}
		if i > 0 {
			want[roleCurrent] = int64(i)
		}
		if i < writers-1 {
			want[rolePrevious] = int64(writers - 1 - i)
		}
		assert.Equal(t, want, occurrences[name], name)
	}
}
