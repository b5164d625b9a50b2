package racewayprocessor

import (
	"context"
	"fmt"
	"hash/fnv"
	"path/filepath"
	"sort"
	"testing"
	"time"

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

func boolPtr(b bool) *bool { return &b }

func TestLoadShardConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	want := func(mutate func(*Config)) *Config {
		c := createDefaultConfig().(*Config)
		mutate(c)
		return c
	}
	tests := []struct {
		id      string
		want    *Config
		wantErr string
	}{
		{id: "raceway/shard1of2", want: want(func(c *Config) {
			c.Mode = ModeShard
			c.Shard = ShardConfig{Index: 1, Count: 2}
		})},
		{id: "raceway/analysis", want: want(func(c *Config) {
			c.Mode = ModeAnalyze
			c.ForwardSpans = boolPtr(false)
		})},
		{id: "raceway/bad_index", wantErr: "shard.index must be in [0, 2) (got 2)"},
		{id: "raceway/shard_in_analyze", wantErr: "shard is only valid with mode: shard"},
		{id: "raceway/forward_in_shard", wantErr: "forward_spans is only valid with mode: analyze"},
		{id: "raceway/bad_mode", wantErr: `mode must be "analyze" or "shard" (got "route")`},
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
				_, err = NewFactory().CreateTraces(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, cfg)
		})
	}
}

func TestShardDefaults(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	assert.Equal(t, ModeAnalyze, cfg.mode())
	assert.True(t, cfg.forwardSpans())
	assert.Equal(t, 1, cfg.Shard.count())

	// Shard mode with the default count: one shard owns everything.
	cfg.Mode = ModeShard
	require.NoError(t, cfg.Validate())
	p, err := NewFactory().CreateTraces(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
	require.NoError(t, err)
	require.IsType(t, &shardProcessor{}, p)
	assert.Equal(t, 1, p.(*shardProcessor).count)

	cfg.Shard.Count = -1
	require.ErrorContains(t, cfg.Validate(), "shard.count must be positive")
}

// TestShardFunctionStable pins the shard function: FNV-1a 64 of the
// analysis package's variable key, modulo the count. Changing it re-shards
// every deployed variable, so these values must not change.
func TestShardFunctionStable(t *testing.T) {
	assert.Equal(t, "bank\x00bank-1\x00accounts.alice.balance", variableKey("bank", "bank-1", "accounts.alice.balance", false))
	assert.Equal(t, stock, variableKey("orders", "orders-1", stock, true))

	for _, tc := range []struct {
		key   string
		count int
		want  int
	}{
		// FNV-1a 64 of "" is its offset basis 0xcbf29ce484222325.
		{"", 2, int(uint64(0xcbf29ce484222325) % 2)},
		{"", 7, int(uint64(0xcbf29ce484222325) % 7)},
		// FNV-1a 64("a") = 0xaf63dc4c8601ec8c.
		{"a", 1000, int(uint64(0xaf63dc4c8601ec8c) % 1000)},
		{"bank\x00bank-1\x00accounts.alice.balance", 2, 1},
		{stock, 2, 1},
		{"postgres/shop/products/43.stock", 2, 0},
		{"web\x00web-1\x00cache.size", 2, 0},
	} {
		assert.Equal(t, tc.want, keyShard(tc.key, tc.count), "%q mod %d", tc.key, tc.count)
	}

	// It is the standard FNV-1a 64.
	for i := range 100 {
		k := fmt.Sprintf("svc\x00proc-%d\x00var.%d", i, i*i)
		h := fnv.New64a()
		_, _ = h.Write([]byte(k))
		require.Equal(t, int(h.Sum64()%3), keyShard(k, 3))
	}

	// variableShard hashes the parts without building the key.
	for i := range 200 {
		svc, proc, name := fmt.Sprintf("svc-%d", i%7), fmt.Sprintf("p-%d", i%3), fmt.Sprintf("var.%d", i)
		for _, shared := range []bool{false, true} {
			for _, n := range []int{1, 2, 3, 16} {
				require.Equal(t, keyShard(variableKey(svc, proc, name, shared), n), variableShard(svc, proc, name, shared, n))
			}
		}
	}
	// A shared variable has one shard whichever service touches it.
	assert.Equal(t, variableShard("orders", "orders-1", stock, true, 5), variableShard("inventory", "inventory-7", stock, true, 5))
}

// newShard returns a shard-mode processor for shard index of count, sending
// to next.
func newShard(t *testing.T, tt *componenttest.Telemetry, index, count int, next *consumertest.TracesSink) *shardProcessor {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	cfg.Mode = ModeShard
	cfg.Shard = ShardConfig{Index: index, Count: count}
	p, err := newShardProcessor(metadatatest.NewSettings(tt), cfg, next)
	require.NoError(t, err)
	return p
}

// TestShardModeOutput checks, golden-style, what one shard pipeline sends
// on: spans without records dropped; record spans stripped to their records;
// the access of the other shard's variable turned into a placeholder.
func TestShardModeOutput(t *testing.T) {
	const own, other = "postgres/shop/products/43.stock", stock // shards 0 and 1 of 2
	require.Equal(t, 0, variableShard("orders", "orders-1", own, true, 2))
	require.Equal(t, 1, variableShard("orders", "orders-1", other, true, 2))

	in := batch(spanSpec{service: "orders", instance: "orders-1", trace: 0x10, span: 0x11, name: "POST /order", recs: []rec{
		{kind: "thread.start", thread: 0x77, seq: 1, origin: "request", name: "POST /order", at: 0},
		{kind: "read", thread: 0x77, seq: 2, v: own, shared: true, val: str("10"), file: "o.go", line: 10, fn: "main.order", at: time.Millisecond},
		{kind: "write", thread: 0x77, seq: 3, v: other, shared: true, old: str("1000"), val: str("900"), locks: []string{"mu"}, file: "o.go", line: 12, fn: "main.order", at: 2 * time.Millisecond},
		{kind: "rpc.send", thread: 0x77, seq: 4, at: 3 * time.Millisecond},
	}}, spanSpec{service: "orders", instance: "orders-1", trace: 0x10, span: 0x12, parent: 0x11, name: "SELECT"})
	rs := in.ResourceSpans().At(0)
	rs.Resource().Attributes().PutStr("host.name", "box")
	rs.ScopeSpans().At(0).Scope().Attributes().PutStr("scope.attr", "x")
	sp := rs.ScopeSpans().At(0).Spans().At(0)
	sp.Events().AppendEmpty().SetName("exception")
	sp.Links().AppendEmpty().SetTraceID(traceID(0x99))

	// The expected output: the same records, the other shard's write as a
	// raceway.call with thread, seq and process only.
	want := batch(spanSpec{service: "orders", instance: "orders-1", trace: 0x10, span: 0x11, name: "POST /order", recs: []rec{
		{kind: "thread.start", thread: 0x77, seq: 1, origin: "request", name: "POST /order", at: 0},
		{kind: "read", thread: 0x77, seq: 2, v: own, shared: true, val: str("10"), file: "o.go", line: 10, fn: "main.order", at: time.Millisecond},
		{kind: "call", thread: 0x77, seq: 3, at: 2 * time.Millisecond}, // the write; raceway.process.id is the instance (batch)
		{kind: "rpc.send", thread: 0x77, seq: 4, at: 3 * time.Millisecond},
	}})
	wsp := want.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	wsp.Attributes().Clear()

	tt := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tt.Shutdown(context.Background())) })
	sink := new(consumertest.TracesSink)
	p := newShard(t, tt, 0, 2, sink)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, p.ConsumeTraces(context.Background(), in))
	require.Len(t, sink.AllTraces(), 1)
	require.NoError(t, ptracetest.CompareTraces(want, sink.AllTraces()[0]))

	// A batch without records is dropped whole.
	require.NoError(t, p.ConsumeTraces(context.Background(), batch(spanSpec{service: "orders", trace: 0x20, span: 0x21, name: "GET /health"})))
	require.Len(t, sink.AllTraces(), 1)
	require.NoError(t, p.Shutdown(context.Background()))

	metadatatest.AssertEqualProcessorRacewayShardPlaceholders(t, tt, []metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorRacewayShardDroppedSpans(t, tt, []metricdata.DataPoint[int64]{{Value: 2}}, metricdatatest.IgnoreTimestamp())

	// Shard 1 of the same input keeps the write and turns the read into a
	// placeholder.
	sink1 := new(consumertest.TracesSink)
	in1 := batch(spanSpec{service: "orders", instance: "orders-1", trace: 0x10, span: 0x11, name: "POST /order", recs: []rec{
		{kind: "read", thread: 0x77, seq: 2, v: own, shared: true, val: str("10"), at: time.Millisecond},
		{kind: "write", thread: 0x77, seq: 3, v: other, shared: true, old: str("1000"), val: str("900"), at: 2 * time.Millisecond},
	}})
	require.NoError(t, newShard(t, tt, 1, 2, sink1).ConsumeTraces(context.Background(), in1))
	evs := sink1.AllTraces()[0].ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Events()
	require.Equal(t, 2, evs.Len())
	assert.Equal(t, "raceway.call", evs.At(0).Name())
	assert.Equal(t, "raceway.write", evs.At(1).Name())
	_, hasVar := evs.At(0).Attributes().Get(convention.VarName)
	assert.False(t, hasVar)
}

// TestForwardSpansFalse: the analysis tier's processor sends only what it
// finds (raceway.race spans and finding traces), and none of the spans it
// received.
func TestForwardSpansFalse(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.ForwardSpans = boolPtr(false) })
	for _, s := range lostUpdateSpans() {
		h.consume(batch(s))
	}
	h.consume(batch(spanSpec{service: "bank", trace: 0x20, span: 0x21, name: "GET /health"}))
	h.finish()
	assert.Zero(t, requestSpans(h.sink), "no request span is forwarded")
	out := h.output()
	fs := findings(out)
	require.Len(t, fs, 2, "%+v", fs) // read/write and write/write
	assert.Len(t, racePairs(out), 6, "the raceway.race spans of the three racing pairs, for the request traces")

	// Batches after shutdown are dropped too.
	require.NoError(t, h.p.ConsumeTraces(context.Background(), batch(lostUpdateSpans()[0])))
	assert.Zero(t, requestSpans(h.sink))
}

// scaleInput is a mix of traces: the cross-trace lost update, a
// cross-service race on a shared row, unlocked read-modify-writes of
// several variables (per thread, two variables that fall in different
// shards, so that every thread's stream mixes real accesses and
// placeholders), and accesses ordered by RPC edges and by a lock, which
// must not race.
func scaleInput() [][]spanSpec {
	var in [][]spanSpec
	lu := lostUpdateSpans()
	in = append(in, lu[:3], lu[3:])
	in = append(in,
		[]spanSpec{rmw("orders", "orders-1", 0x51, 0x5001, stock, true, 0, "10", "9")},
		[]spanSpec{rmw("inventory", "inventory-7", 0x52, 0x5002, stock, true, time.Millisecond, "10", "8")})
	pairs := [][2]string{{"sessions.count", "cache.size"}, {"config.version", "queue.depth"}}
	for i, vs := range pairs {
		for j := range 2 {
			th := uint64(0x7000 + 16*i + j)
			at := time.Duration(j) * time.Millisecond
			recs := []rec{{kind: "thread.start", thread: th, seq: 1, origin: "request", name: "GET /web", at: at}}
			seq := int64(2)
			for k, v := range vs {
				line := int64(30 + 10*k)
				recs = append(recs,
					rec{kind: "read", thread: th, seq: seq, v: v, val: str("1"), file: "web.go", line: line, at: at + time.Duration(seq)*time.Millisecond},
					rec{kind: "write", thread: th, seq: seq + 1, v: v, old: str("1"), val: str(fmt.Sprint(2 + j)), file: "web.go", line: line + 2, at: at + time.Duration(seq+1)*time.Millisecond})
				seq += 2
			}
			in = append(in, []spanSpec{{service: "web", instance: "web-1", trace: byte(0x70 + 2*i + j), span: byte(0x70 + 2*i + j), name: "GET /web", recs: recs}})
		}
	}
	// RPC: A writes x, calls B which writes x and its own counter, A writes
	// x after B returns: ordered.
	const x = "postgres/app/settings/1.x"
	const a, b = 0x6a, 0x6b
	in = append(in, []spanSpec{
		{service: "svc-a", instance: "a-1", trace: 0x60, span: 0x61, name: "GET /a", recs: []rec{
			{kind: "thread.start", thread: a, seq: 1, origin: "request", name: "GET /a", at: 0},
			{kind: "write", thread: a, seq: 2, v: x, shared: true, old: str("0"), val: str("1"), file: "a.go", line: 10, at: time.Millisecond},
			{kind: "rpc.send", thread: a, seq: 3, at: 2 * time.Millisecond},
			{kind: "rpc.response", thread: a, seq: 4, after: []string{epoch(b, 4)}, at: 6 * time.Millisecond},
			{kind: "write", thread: a, seq: 5, v: x, shared: true, old: str("2"), val: str("3"), file: "a.go", line: 14, at: 7 * time.Millisecond},
		}},
		{service: "svc-b", instance: "b-1", trace: 0x60, span: 0x62, parent: 0x61, name: "GET /b", recs: []rec{
			{kind: "thread.start", thread: b, seq: 1, origin: "request", name: "GET /b", after: []string{epoch(a, 3)}, at: 3 * time.Millisecond},
			{kind: "write", thread: b, seq: 2, v: "requests", old: str("0"), val: str("1"), file: "b.go", line: 19, at: 4 * time.Millisecond},
			{kind: "write", thread: b, seq: 3, v: x, shared: true, old: str("1"), val: str("2"), file: "b.go", line: 20, at: 4 * time.Millisecond},
			{kind: "rpc.respond", thread: b, seq: 4, at: 5 * time.Millisecond},
		}},
	})
	// Lock: two threads of one process read-modify-write under mu.
	const l1, l2, strand = 0x8001, 0x8002, 0x80ff
	locked := func(tr byte, th uint64, after []string, sync uint64, t0 time.Duration) spanSpec {
		return spanSpec{service: "stock", instance: "stock-1", trace: tr, span: tr, name: "POST /reserve", recs: []rec{
			{kind: "thread.start", thread: th, seq: 1, origin: "request", name: "POST /reserve", at: t0},
			{kind: "lock.acquire", thread: th, seq: 2, lock: "mu", after: after, at: t0 + time.Millisecond},
			{kind: "read", thread: th, seq: 3, v: "reserved", val: str("1"), locks: []string{"mu"}, file: "s.go", line: 5, at: t0 + 2*time.Millisecond},
			{kind: "write", thread: th, seq: 4, v: "reserved", old: str("1"), val: str("2"), locks: []string{"mu"}, file: "s.go", line: 6, at: t0 + 3*time.Millisecond},
			{kind: "write", thread: th, seq: 5, v: "audit.size", old: str("1"), val: str("2"), locks: []string{"mu"}, file: "s.go", line: 7, at: t0 + 3*time.Millisecond},
			{kind: "lock.release", thread: th, seq: 6, lock: "mu", sync: epoch(strand, sync), at: t0 + 4*time.Millisecond},
		}}
	}
	in = append(in, []spanSpec{locked(0x81, l1, nil, 1, 0)}, []spanSpec{locked(0x82, l2, []string{epoch(strand, 1)}, 2, 10*time.Millisecond)})
	return in
}

// emittedIDSet lists the finding spans and the raceway.race spans of td as
// "traceid/spanid name": their ids are derived from the race, so equal sets
// are equal findings and raceway.race spans.
func emittedIDSet(td ptrace.Traces) (findings, raceSpans []string) {
	eachSpan(td, func(svc string, sp ptrace.Span) {
		id := sp.TraceID().String() + "/" + sp.SpanID().String() + " " + sp.Name()
		switch {
		case svc == convention.FindingService:
			findings = append(findings, id)
		case isRaceSpan(sp):
			raceSpans = append(raceSpans, id)
		}
	})
	sort.Strings(findings)
	sort.Strings(raceSpans)
	return findings, raceSpans
}

// TestShardedEqualsSingle runs the same input through one analysis
// processor, and through two shard stages each feeding its own analysis
// processor (forward_spans false): the findings and the raceway.race spans
// are the same.
func TestShardedEqualsSingle(t *testing.T) {
	in := scaleInput()

	single := newHarness(t, nil)
	for _, specs := range in {
		single.consume(batch(specs...))
		single.advance(100 * time.Millisecond)
	}
	single.finish()
	want, wantSpans := emittedIDSet(single.output())

	const n = 2
	var analysis [n]*harness
	var shards [n]*shardProcessor
	owned := map[int]bool{}
	for i := range n {
		analysis[i] = newHarness(t, func(c *Config) { c.ForwardSpans = boolPtr(false) })
		tt := componenttest.NewTelemetry()
		t.Cleanup(func() { require.NoError(t, tt.Shutdown(context.Background())) })
		s := newShard(t, tt, i, n, nil)
		s.next = analysis[i].p
		shards[i] = s
	}
	for _, specs := range in {
		for _, s := range specs {
			for _, r := range s.recs {
				if r.v != "" {
					owned[variableShard(s.service, s.instance, r.v, r.shared, n)] = true
				}
			}
		}
		td := batch(specs...)
		for i := range n {
			c := ptrace.NewTraces()
			td.CopyTo(c)
			require.NoError(t, shards[i].ConsumeTraces(context.Background(), c))
			analysis[i].advance(100 * time.Millisecond)
		}
	}
	require.Len(t, owned, n, "the input has variables of every shard")
	var got, gotSpans []string
	for i := range n {
		analysis[i].finish()
		assert.Zero(t, requestSpans(analysis[i].sink))
		fs, rs := emittedIDSet(analysis[i].output())
		assert.NotEmpty(t, fs, "shard %d found races", i)
		t.Logf("shard %d: %v", i, fs)
		got = append(got, fs...)
		gotSpans = append(gotSpans, rs...)
	}
	sort.Strings(got)
	sort.Strings(gotSpans)
	require.NotEmpty(t, want)
	assert.Equal(t, want, got, "the shards together find exactly the single instance's races, each once")
	require.NotEmpty(t, wantSpans)
	assert.Equal(t, wantSpans, gotSpans, "and emit exactly its raceway.race spans, each once")

	// The races expected, by variable; nothing on the ordered variables.
	vars := map[string]bool{}
	for _, f := range want {
		var id, race, v, kind string
		_, err := fmt.Sscan(f, &id, &race, &v, &kind)
		require.NoError(t, err)
		vars[v] = true
	}
	assert.Equal(t, map[string]bool{"accounts.alice.balance": true, stock: true, "sessions.count": true, "cache.size": true,
		"config.version": true, "queue.depth": true}, vars)
}

// TestPlaceholdersKeepProgramOrder: without placeholders (accesses of other
// shards simply dropped), a shard's threads would have gaps and the records
// after a gap would wait for the detector's wait; with them, everything is
// analysed as it arrives.
func TestPlaceholdersKeepProgramOrder(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.ForwardSpans = boolPtr(false) })
	sink := new(consumertest.TracesSink)
	tt := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tt.Shutdown(context.Background())) })
	s := newShard(t, tt, 0, 2, sink)
	for _, specs := range scaleInput() {
		require.NoError(t, s.ConsumeTraces(context.Background(), batch(specs...)))
	}
	for _, td := range sink.AllTraces() {
		h.consume(td)
	}
	// Nothing waits for a predecessor: every thread's stream is complete.
	assert.Zero(t, h.p.det.Stats().Pending, "records waiting for a predecessor")
	h.finish()
	st := h.p.det.Stats()
	assert.Zero(t, st.Forced, "records analysed before a predecessor arrived")
	assert.Zero(t, st.Late)
	assert.Zero(t, st.Invalid)
}
