package racewayprocessor

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/raceway-otel/raceway/processor/racewayprocessor/internal/metadatatest"
	"github.com/raceway-otel/raceway/racewayotel/convention"
)

const stock = "postgres/shop/products/42.stock"

// rmw is a request thread that reads v then writes it back: thread.start,
// read, write, on one span.
func rmw(service, instance string, tr byte, thread uint64, v string, shared bool, t0 time.Duration, read, write string) spanSpec {
	return spanSpec{service: service, instance: instance, trace: tr, span: tr, name: "POST /order", recs: []rec{
		{kind: "thread.start", thread: thread, seq: 1, origin: "request", name: "POST /order", at: t0},
		{kind: "read", thread: thread, seq: 2, v: v, shared: shared, val: str(read), file: service + ".go", line: 10, at: t0 + time.Millisecond},
		{kind: "write", thread: thread, seq: 3, v: v, shared: shared, old: str(read), val: str(write), file: service + ".go", line: 12, at: t0 + 2*time.Millisecond},
	}}
}

// Scenario 5: two services read-modify-write the same shared stock row
// concurrently → race, reported with both services.
func TestScenario5CrossService(t *testing.T) {
	h := newHarness(t, nil)
	h.consume(batch(rmw("orders", "orders-1", 0x51, 0x5001, stock, true, 0, "10", "9")))
	h.advance(time.Second)
	h.consume(batch(rmw("inventory", "inventory-7", 0x52, 0x5002, stock, true, time.Millisecond, "10", "8")))
	h.finish()
	out := h.output()
	fs := findings(out)
	require.NotEmpty(t, fs)
	var ww *finding
	for i := range fs {
		assert.True(t, strings.HasPrefix(fs[i].name, "race "+stock+" "), fs[i].name)
		assert.ElementsMatch(t, []string{"orders", "inventory"}, []string{fs[i].prevSvc, fs[i].curSvc}, "both services reported")
		if strings.HasSuffix(fs[i].name, "write/write") {
			ww = &fs[i]
		}
	}
	require.NotNil(t, ww, "write/write race: %+v", fs)
	assert.Equal(t, "critical", ww.severity, "lost update")
	// Both services' spans have raceway.race spans, under their services.
	assert.Positive(t, raceSpans(out)["POST /order"])
	services := map[string]bool{}
	eachSpan(out, func(svc string, span ptrace.Span) {
		if isRaceSpan(span) {
			services[svc] = true
		}
	})
	assert.Equal(t, map[string]bool{"orders": true, "inventory": true}, services)
}

// Scenario 14 through the processor: two services read-modify-write the
// stock row, each holding the row's shared lock (SELECT … FOR UPDATE) → no
// race; with one of them not holding it → race, and the finding says which
// side held the lock.
func TestScenario14SharedRowLock(t *testing.T) {
	const row = "postgres/shop/products/42"
	locked := func(s spanSpec) spanSpec {
		for i := range s.recs {
			if s.recs[i].v != "" {
				s.recs[i].sharedLocks = []string{row}
			}
		}
		return s
	}
	for _, bothLocked := range []bool{true, false} {
		h := newHarness(t, nil)
		h.consume(batch(locked(rmw("orders", "orders-1", 0x61, 0x6001, stock, true, 0, "10", "9"))))
		inventory := rmw("inventory", "inventory-7", 0x62, 0x6002, stock, true, time.Millisecond, "10", "8")
		if bothLocked {
			inventory = locked(inventory)
		}
		h.consume(batch(inventory))
		h.finish()
		out := h.output()
		if bothLocked {
			assert.Empty(t, findings(out), "both hold the row lock")
			assert.Empty(t, raceSpans(out), "both hold the row lock")
			continue
		}
		require.NotEmpty(t, findings(out), "one side without the row lock")
		eachSpan(out, func(svc string, span ptrace.Span) {
			if svc != convention.FindingService {
				return
			}
			for _, side := range []string{convention.RacePrevious, convention.RaceCurrent} {
				a := span.Attributes()
				service, _ := a.Get(side + convention.RaceService)
				held, ok := a.Get(side + convention.RaceSharedLocks)
				if service.Str() == "orders" {
					require.True(t, ok, "orders' access held the row lock: %s missing", side+convention.RaceSharedLocks)
					assert.Equal(t, []any{row}, held.Slice().AsRaw())
				} else {
					assert.False(t, ok, "inventory's access held no shared lock")
				}
			}
		})
	}
}

// Scenario 6: A writes x, calls B which writes x, A writes x again after B
// returns → no race (the RPC response edge orders B's write before A's).
func TestScenario6RPCOrdering(t *testing.T) {
	const x = "postgres/app/settings/1.x"
	run := func(t *testing.T, responseEdge bool) []finding {
		const a, b = 0x6a, 0x6b
		var respAfter []string
		if responseEdge {
			respAfter = []string{epoch(b, 3)}
		}
		h := newHarness(t, nil)
		caller := spanSpec{service: "svc-a", instance: "a-1", trace: 0x60, span: 0x61, name: "GET /a", recs: []rec{
			{kind: "thread.start", thread: a, seq: 1, origin: "request", name: "GET /a", at: 0},
			{kind: "write", thread: a, seq: 2, v: x, shared: true, old: str("0"), val: str("1"), file: "a.go", line: 10, at: 1 * time.Millisecond},
			{kind: "rpc.send", thread: a, seq: 3, at: 2 * time.Millisecond},
			{kind: "rpc.response", thread: a, seq: 4, after: respAfter, at: 6 * time.Millisecond},
			{kind: "write", thread: a, seq: 5, v: x, shared: true, old: str("2"), val: str("3"), file: "a.go", line: 14, at: 7 * time.Millisecond},
		}}
		callee := spanSpec{service: "svc-b", instance: "b-1", trace: 0x60, span: 0x62, parent: 0x61, name: "GET /b", recs: []rec{
			{kind: "thread.start", thread: b, seq: 1, origin: "request", name: "GET /b", after: []string{epoch(a, 3)}, at: 3 * time.Millisecond},
			{kind: "write", thread: b, seq: 2, v: x, shared: true, old: str("1"), val: str("2"), file: "b.go", line: 20, at: 4 * time.Millisecond},
			{kind: "rpc.respond", thread: b, seq: 3, at: 5 * time.Millisecond},
		}}
		// The caller's span ends last, so it arrives first.
		h.consume(batch(caller))
		h.advance(time.Second)
		h.consume(batch(callee))
		h.finish()
		return findings(h.output())
	}
	t.Run("with response edge", func(t *testing.T) {
		assert.Empty(t, run(t, true))
	})
	t.Run("control: without the response edge", func(t *testing.T) {
		fs := run(t, false)
		require.Len(t, fs, 1, "the write after the call races with the callee's write: %+v", fs)
		assert.Equal(t, "race postgres/app/settings/1.x write/write", fs[0].name)
		assert.ElementsMatch(t, []string{"svc-a", "svc-b"}, []string{fs[0].prevSvc, fs[0].curSvc})
	})
}

// Scenario 12: per-process names never race across processes; shared
// resources do.
func TestScenario12ProcessScope(t *testing.T) {
	h := newHarness(t, nil)
	// Every service tracks its own request_count.
	h.consume(batch(
		rmw("orders", "orders-1", 0x71, 0x7001, "request_count", false, 0, "5", "6"),
		rmw("inventory", "inventory-1", 0x72, 0x7002, "request_count", false, 0, "5", "6"),
	))
	// Two instances of one service track their own in-memory cache.size.
	h.consume(batch(
		rmw("catalog", "catalog-1", 0x73, 0x7003, "cache.size", false, 0, "1", "2"),
		rmw("catalog", "catalog-2", 0x74, 0x7004, "cache.size", false, 0, "1", "2"),
	))
	h.advance(time.Second)
	// Two services read-modify-write the shared stock row.
	h.consume(batch(
		rmw("orders", "orders-1", 0x75, 0x7005, stock, true, 0, "10", "9"),
		rmw("inventory", "inventory-1", 0x76, 0x7006, stock, true, 0, "10", "9"),
	))
	h.finish()
	fs := findings(h.output())
	require.NotEmpty(t, fs)
	for _, f := range fs {
		assert.Contains(t, f.name, stock, "only the shared resource races: %+v", f)
	}
	// The process-scoped variable does race within one process.
	h2 := newHarness(t, nil)
	h2.consume(batch(
		rmw("catalog", "catalog-1", 0x77, 0x7007, "cache.size", false, 0, "1", "2"),
		rmw("catalog", "catalog-1", 0x78, 0x7008, "cache.size", false, 0, "1", "2"),
	))
	h2.finish()
	fs = findings(h2.output())
	require.NotEmpty(t, fs)
	assert.Contains(t, fs[0].name, "cache.size")
}

// TestAccessWithoutProcessIdentity: two instances of one service
// read-modify-write their own in-memory cache.size. Without any process
// identity (no raceway.process.id, no service.instance.id on the resource)
// the two variables cannot be told apart: the accesses are rejected and
// counted (reason no_process_identity), never merged into one variable that
// would race. Shared-scope accesses need no identity and are analysed; with
// either identity the process-scoped ones are accepted and do not race. The
// control gives both instances one identity: merged, they race, which is
// what a guessed identity would report.
func TestAccessWithoutProcessIdentity(t *testing.T) {
	const cache = "cache.size"
	run := func(t *testing.T, instances, procs [2]string) (*harness, []finding) {
		h := newHarness(t, nil)
		var specs []spanSpec
		for i := range 2 {
			th := uint64(0x9100 + i)
			local := rmw("catalog", instances[i], byte(0x91+i), th, cache, false, 0, "1", "2")
			shared := rmw("catalog", instances[i], byte(0x93+i), th+0x10, stock, true, 0, "10", "9")
			for j := range local.recs {
				local.recs[j].proc = procs[i]
				shared.recs[j].proc = procs[i]
			}
			specs = append(specs, local, shared)
		}
		h.consume(batch(specs...))
		h.finish()
		return h, findings(h.output())
	}
	vars := func(fs []finding) map[string]bool {
		m := map[string]bool{}
		for _, f := range fs {
			m[strings.Fields(f.name)[1]] = true
		}
		return m
	}
	t.Run("neither identity", func(t *testing.T) {
		h, fs := run(t, [2]string{}, [2]string{})
		assert.Equal(t, map[string]bool{stock: true}, vars(fs), "only the shared row races: %+v", fs)
		metadatatest.AssertEqualProcessorRacewayDecodeErrors(t, h.tt, decodeErrorPoints(0, 4), metricdatatest.IgnoreTimestamp())
		// Four thread starts and the four shared accesses.
		metadatatest.AssertEqualProcessorRacewayEventsAnalysed(t, h.tt, []metricdata.DataPoint[int64]{{Value: 8}}, metricdatatest.IgnoreTimestamp())
	})
	for name, ids := range map[string][2][2]string{
		"raceway.process.id":  {{}, {"catalog-a", "catalog-b"}},
		"service.instance.id": {{"catalog-1", "catalog-2"}, {}},
	} {
		t.Run(name, func(t *testing.T) {
			h, fs := run(t, ids[0], ids[1])
			assert.Equal(t, map[string]bool{stock: true}, vars(fs), "%+v", fs)
			metadatatest.AssertEqualProcessorRacewayDecodeErrors(t, h.tt, decodeErrorPoints(0, 0), metricdatatest.IgnoreTimestamp())
		})
	}
	t.Run("control: one identity for both", func(t *testing.T) {
		_, fs := run(t, [2]string{}, [2]string{"catalog-x", "catalog-x"})
		assert.Equal(t, map[string]bool{stock: true, cache: true}, vars(fs), "%+v", fs)
	})
}

// TestEmptyArrays: an empty raceway.after or raceway.locks.held is the
// same as an absent one (docs/semconv.md): the records are analysed and
// race as without them.
func TestEmptyArrays(t *testing.T) {
	h := newHarness(t, nil)
	var specs []spanSpec
	for i := range 2 {
		s := rmw("catalog", "catalog-1", byte(0xa1+i), uint64(0xa100+i), "cache.size", false, 0, "1", "2")
		for j := range s.recs {
			s.recs[j].at += time.Duration(i) * time.Millisecond
		}
		specs = append(specs, s)
	}
	td := batch(specs...)
	for i := 0; i < td.ResourceSpans().Len(); i++ {
		evs := td.ResourceSpans().At(i).ScopeSpans().At(0).Spans().At(0).Events()
		for k := 0; k < evs.Len(); k++ {
			evs.At(k).Attributes().PutEmptySlice(convention.After)
			evs.At(k).Attributes().PutEmptySlice(convention.LocksHeld)
		}
	}
	h.consume(td)
	h.finish()
	metadatatest.AssertEqualProcessorRacewayDecodeErrors(t, h.tt, decodeErrorPoints(0, 0), metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorRacewayEventsAnalysed(t, h.tt, []metricdata.DataPoint[int64]{{Value: 6}}, metricdatatest.IgnoreTimestamp())
	require.NotEmpty(t, findings(h.output()), "the two read-modify-writes race")
}

// TestMalformedRecords: malformed records are counted and dropped without
// a panic; other spans and records of the same batch are unaffected.
func TestMalformedRecords(t *testing.T) {
	h := newHarness(t, nil)
	huge := strings.Repeat("x", 1<<20)
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "bank")
	rs.Resource().Attributes().PutStr("service.instance.id", "bank-1")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	plain := spans.AppendEmpty()
	plain.SetName("plain")
	plain.SetTraceID(traceID(0x81))
	plain.SetSpanID(spanID(0x81))

	bad := spans.AppendEmpty()
	bad.SetName("bad")
	bad.SetTraceID(traceID(0x82))
	bad.SetSpanID(spanID(0x82))
	type attrs map[string]any
	add := func(name string, a attrs) {
		ev := bad.Events().AppendEmpty()
		ev.SetName(name)
		for k, v := range a {
			switch v := v.(type) {
			case string:
				ev.Attributes().PutStr(k, v)
			case int:
				ev.Attributes().PutInt(k, int64(v))
			case float64:
				ev.Attributes().PutDouble(k, v)
			case bool:
				ev.Attributes().PutBool(k, v)
			case []string:
				s := ev.Attributes().PutEmptySlice(k)
				for _, e := range v {
					s.AppendEmpty().SetStr(e)
				}
			case []int:
				s := ev.Attributes().PutEmptySlice(k)
				for _, e := range v {
					s.AppendEmpty().SetInt(int64(e))
				}
			}
		}
	}
	tid := "00000000000000aa"
	many := make([]string, 100)
	for i := range many {
		many[i] = "00000000000000bb@1"
	}
	cases := []attrs{
		{convention.ThreadID: "zz-not-hex", convention.Seq: 1, convention.VarName: "v"},                    // garbled thread
		{convention.ThreadID: tid, convention.Seq: "one", convention.VarName: "v"},                         // seq as string → missing
		{convention.ThreadID: tid, convention.Seq: -3, convention.VarName: "v"},                            // negative seq
		{convention.ThreadID: tid, convention.Seq: 1.5, convention.VarName: "v"},                           // fractional seq
		{convention.ThreadID: tid, convention.Seq: 1},                                                      // read without a variable
		{convention.Seq: 1, convention.VarName: "v"},                                                       // no thread
		{convention.ThreadID: tid, convention.Seq: 1, convention.VarName: huge},                            // 1 MB name
		{convention.ThreadID: tid, convention.Seq: 1, convention.VarName: "v", convention.ValueNew: huge},  // 1 MB value
		{convention.ThreadID: tid, convention.Seq: 1, convention.VarName: "v", convention.After: many},     // too many edges
		{convention.ThreadID: tid, convention.Seq: 1, convention.VarName: "v", convention.After: []int{1}}, // edges as ints
		{convention.ThreadID: tid, convention.Seq: 1, convention.VarName: "v", convention.After: "garbage@@"},
		{convention.ThreadID: tid, convention.Seq: 1, convention.VarName: 42},
		{convention.ThreadID: tid, convention.Seq: 1, convention.VarName: "v", convention.VarScope: "galaxy"},
		{convention.ThreadID: tid, convention.Seq: 1, convention.VarName: "v", convention.CodeLineNumber: -1},
		{convention.ThreadID: tid, convention.Seq: 1, convention.VarName: "v", convention.Sync: "00000000000000cc@1"}, // sync on a read
		{convention.ThreadID: true, convention.Seq: 1, convention.VarName: "v"},
	}
	for _, c := range cases {
		add("raceway.read", c)
	}
	add("raceway.frobnicate", attrs{convention.ThreadID: tid, convention.Seq: 1}) // unknown kind
	add("raceway.", attrs{})
	add("raceway.lock.release", attrs{convention.ThreadID: tid, convention.Seq: 1, convention.LockID: "mu"}) // release without strand
	wantErrors := len(cases) + 3

	good := spans.AppendEmpty()
	good.SetName("good")
	good.SetTraceID(traceID(0x83))
	good.SetSpanID(spanID(0x83))
	addRecord(good, rec{kind: "write", thread: 0x8383, seq: 1, v: "v", val: str("1")})

	wantPlain := ptrace.NewSpan()
	plain.CopyTo(wantPlain)
	wantBad := ptrace.NewSpan()
	bad.CopyTo(wantBad)

	require.NotPanics(t, func() { h.consume(td) })
	// Every span passes at once, untouched.
	out := h.output()
	require.Equal(t, 3, out.SpanCount())
	got := out.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	assert.Equal(t, wantPlain, got.At(0))
	assert.Equal(t, wantBad, got.At(1), "malformed records stay on the span, untouched")
	h.advance(time.Second)
	metadatatest.AssertEqualProcessorRacewayDecodeErrors(t, h.tt, decodeErrorPoints(int64(wantErrors), 0), metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorRacewayEventsAnalysed(t, h.tt, []metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp())
	h.finish()
	assert.Equal(t, 3, h.sink.SpanCount(), "nothing else: no race")
}

// FuzzDecodeSpanEvent feeds arbitrary span events through the pdata decoding
// path and the detector: nothing may panic.
func FuzzDecodeSpanEvent(f *testing.F) {
	f.Add("raceway.write", "00000000000000aa", int64(1), "accounts.x", "shared", "00000000000000bb@2", "1000", int64(42), 1.0)
	f.Add("raceway.lock.release", "aa", int64(2), "", "process", "00000000000000cc@1", "", int64(-1), 2.5)
	f.Add("raceway.thread.start", "ffffffffffffffff", int64(1<<62), "v", "", "zz@", "x", int64(0), -1.0)
	f.Fuzz(func(t *testing.T, name, thread string, seq int64, v, scope, after, val string, line int64, dbl float64) {
		h := newHarness(t, func(c *Config) { c.MaxPending = 4; c.MaxVariables = 4 })
		td := ptrace.NewTraces()
		spans := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans()
		for i := 0; i < 3; i++ {
			span := spans.AppendEmpty()
			span.SetTraceID(traceID(byte(i % 2)))
			span.SetSpanID(spanID(byte(i)))
			ev := span.Events().AppendEmpty()
			ev.SetName(name)
			a := ev.Attributes()
			a.PutStr(convention.ThreadID, thread)
			a.PutInt(convention.Seq, seq+int64(i))
			a.PutStr(convention.VarName, v)
			a.PutStr(convention.VarScope, scope)
			a.PutEmptySlice(convention.After).AppendEmpty().SetStr(after)
			a.PutStr(convention.Sync, after)
			a.PutStr(convention.ValueNew, val)
			a.PutInt(convention.CodeLineNumber, line)
			a.PutDouble(convention.Seq+"x", dbl)
			a.PutStr(convention.Origin, scope)
			a.PutEmptySlice(convention.LocksHeld).AppendEmpty().SetInt(line)
			ev.SetTimestamp(pcommon.Timestamp(uint64(line)))
		}
		h.consume(td)
		h.advance(time.Second)
		h.finish()
	})
}
