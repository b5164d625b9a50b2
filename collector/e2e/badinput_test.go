package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/raceway-otel/raceway/analysis"
	"github.com/raceway-otel/raceway/internal/stack"
	"github.com/raceway-otel/raceway/racewayotel/convention"
)

// badCase is a span carrying one malformed Raceway record: a valid write
// record (or kind, when set) changed by mutate.
type badCase struct {
	name   string
	kind   string // record kind; default "write"
	mutate func(a pcommon.Map, th analysis.ThreadID)
}

func badCases() []badCase {
	epoch := func(th analysis.ThreadID, seq int) string { return fmt.Sprintf("%s@%d", th, seq) }
	others := func(n int) []string {
		var out []string
		for range n {
			out = append(out, epoch(randomThread(), 1))
		}
		return out
	}
	putSlice := func(a pcommon.Map, key string, elems []string) {
		s := a.PutEmptySlice(key)
		for _, e := range elems {
			s.AppendEmpty().SetStr(e)
		}
	}
	return []badCase{
		// Garbled and oversized clocks.
		{name: "garbled thread id", mutate: func(a pcommon.Map, _ analysis.ThreadID) { a.PutStr(convention.ThreadID, "not-a-thread!") }},
		{name: "zero thread id", mutate: func(a pcommon.Map, _ analysis.ThreadID) { a.PutStr(convention.ThreadID, "0000000000000000") }},
		{name: "thread id too long", mutate: func(a pcommon.Map, _ analysis.ThreadID) {
			a.PutStr(convention.ThreadID, strings.Repeat("f", 4096))
		}},
		{name: "garbled after epoch", mutate: func(a pcommon.Map, _ analysis.ThreadID) { putSlice(a, convention.After, []string{"zz@@1"}) }},
		{name: "oversized after entry (64 KiB)", mutate: func(a pcommon.Map, _ analysis.ThreadID) {
			putSlice(a, convention.After, []string{strings.Repeat("9", 64<<10) + "@1"})
		}},
		{name: "after seq overflow", mutate: func(a pcommon.Map, _ analysis.ThreadID) {
			putSlice(a, convention.After, []string{randomThread().String() + "@99999999999999999999999"})
		}},
		{name: "too many after edges", mutate: func(a pcommon.Map, _ analysis.ThreadID) {
			putSlice(a, convention.After, others(analysis.MaxAfter+1))
		}},
		{name: "edge from its own thread", mutate: func(a pcommon.Map, th analysis.ThreadID) {
			putSlice(a, convention.After, []string{epoch(th, 1)})
		}},
		{name: "garbled sync on a release", kind: "lock.release", mutate: func(a pcommon.Map, _ analysis.ThreadID) {
			a.Remove(convention.VarName)
			a.PutStr(convention.LockID, "mu")
			a.PutStr(convention.Sync, "@@@")
		}},
		{name: "release without sync", kind: "lock.release", mutate: func(a pcommon.Map, _ analysis.ThreadID) {
			a.Remove(convention.VarName)
			a.PutStr(convention.LockID, "mu")
		}},
		// Unknown event kinds and values.
		{name: "unknown kind raceway.teleport", kind: "teleport"},
		{name: "unknown thread origin", kind: "thread.start", mutate: func(a pcommon.Map, _ analysis.ThreadID) {
			a.Remove(convention.VarName)
			a.PutStr(convention.Origin, "teleported")
		}},
		{name: "unknown variable scope", mutate: func(a pcommon.Map, _ analysis.ThreadID) { a.PutStr(convention.VarScope, "galactic") }},
		// Missing attributes.
		{name: "missing raceway.seq", mutate: func(a pcommon.Map, _ analysis.ThreadID) { a.Remove(convention.Seq) }},
		{name: "missing raceway.thread.id", mutate: func(a pcommon.Map, _ analysis.ThreadID) { a.Remove(convention.ThreadID) }},
		{name: "write without a variable", mutate: func(a pcommon.Map, _ analysis.ThreadID) { a.Remove(convention.VarName) }},
		// Wrong types and ranges.
		{name: "seq as a string", mutate: func(a pcommon.Map, _ analysis.ThreadID) { a.PutStr(convention.Seq, "2") }},
		{name: "seq as a fraction", mutate: func(a pcommon.Map, _ analysis.ThreadID) { a.PutDouble(convention.Seq, 2.5) }},
		{name: "negative seq", mutate: func(a pcommon.Map, _ analysis.ThreadID) { a.PutInt(convention.Seq, -2) }},
		{name: "thread id as an int", mutate: func(a pcommon.Map, _ analysis.ThreadID) { a.PutInt(convention.ThreadID, 42) }},
		{name: "variable as an int", mutate: func(a pcommon.Map, _ analysis.ThreadID) { a.PutInt(convention.VarName, 7) }},
		{name: "negative line", mutate: func(a pcommon.Map, _ analysis.ThreadID) { a.PutInt(convention.CodeLineNumber, -5) }},
		// Huge values.
		{name: "1 MiB value", mutate: func(a pcommon.Map, _ analysis.ThreadID) {
			a.PutStr(convention.ValueNew, strings.Repeat("x", 1<<20))
		}},
		{name: "64 KiB variable name", mutate: func(a pcommon.Map, _ analysis.ThreadID) {
			a.PutStr(convention.VarName, strings.Repeat("v", 64<<10))
		}},
		{name: "too many locks held", mutate: func(a pcommon.Map, _ analysis.ThreadID) {
			var locks []string
			for i := range analysis.MaxLocksHeld + 1 {
				locks = append(locks, fmt.Sprintf("lock%d", i))
			}
			putSlice(a, convention.LocksHeld, locks)
		}},
	}
}

// TestBadInputOverOTLP sends one OTLP/gRPC export that mixes a real race
// (the lost-update pair) with spans of another service that each carry one
// malformed Raceway record: garbled and oversized clocks, unknown event
// kinds, missing attributes, wrong types, huge values; and with the writes
// of two instances of a third service that name no process identity. The
// collector must count every bad record in
// otelcol_processor_raceway_decode_errors (reason malformed, or
// no_process_identity: exported at 0 before any input), pass the bad spans
// on unchanged, find the race of the good spans in the same export (and no
// race between the anonymous instances), and keep running; garbage OTLP/HTTP
// bodies are refused with 400.
// (The processor's decoding is also fuzzed in-process: FuzzDecodeSpanEvent
// in processor/racewayprocessor.)
func TestBadInputOverOTLP(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the collector")
	}
	bin := collectorBinary(t)
	cs := startSink(t, "", nil)
	env := baseEnv(t, cs.Addr())
	col := startCollector(t, bin, env, demoConfig(t, "otelcol-raceway.yaml"))
	client := dial(t, env["RACEWAY_OTLP_GRPC"])
	// reasons returns the two decode error counters, whether both are
	// exported, and a description.
	reasons := func(m stack.Metrics) (malformed, noProcess float64, exported bool, state string) {
		malformed, okM := m.Find(metricDecodeErrors, "reason", "malformed")
		noProcess, okP := m.Find(metricDecodeErrors, "reason", "no_process_identity")
		return malformed, noProcess, okM && okP, fmt.Sprintf("decode errors: malformed %.0f (exported %v), no_process_identity %.0f (exported %v)", malformed, okM, noProcess, okP)
	}
	waitFor(col, 20*time.Second, "the decode error counters are not exported at 0 before any input", func() (bool, string) {
		malformed, noProcess, exported, state := reasons(scrape(t, env))
		return exported && malformed == 0 && noProcess == 0, state
	})

	const v = "accounts.grace.balance"
	td := racingPair(v)
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "bad")
	rs.Resource().Attributes().PutStr("service.instance.id", "bad-1")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("github.com/raceway-otel/raceway/racewayotel")
	sent := map[pcommon.SpanID]ptrace.Span{}
	cases := badCases()
	now := time.Now().Add(-time.Second)
	for _, c := range cases {
		sp := ss.Spans().AppendEmpty()
		sp.SetTraceID(randomTrace())
		sp.SetSpanID(randomSpan())
		sp.SetName("bad: " + c.name)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(now))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Millisecond)))
		sp.Attributes().PutStr("case", c.name)
		th := randomThread()
		// The good pair's variable: a valid record here would race.
		ev := addRecord(sp, now, access(analysis.KindWrite, th, 2, 50, v, "", "1"))
		if c.kind != "" {
			ev.SetName(convention.EventPrefix + c.kind)
		}
		if c.mutate != nil {
			c.mutate(ev.Attributes(), th)
		}
		cp := ptrace.NewSpan()
		sp.CopyTo(cp)
		sent[sp.SpanID()] = cp
	}
	// Two instances of one service, with neither raceway.process.id nor
	// service.instance.id, write their own process-scoped cache.size:
	// merged, they would race.
	const anonymous = 2
	for i := range anonymous {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", "anon")
		sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		sp.SetTraceID(randomTrace())
		sp.SetSpanID(randomSpan())
		sp.SetName(fmt.Sprintf("anon %d", i))
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(now))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Millisecond)))
		w := access(analysis.KindWrite, randomThread(), 1, 60, "cache.size", "1", "2")
		w.Process = ""
		addRecord(sp, now, w)
	}
	size := (&ptrace.ProtoMarshaler{}).TracesSize(td)
	if err := exportTraces(client, td); err != nil {
		col.fatalf("exporting the mixed batch (%d bytes): %v", size, err)
	}

	ww, rw := "race "+v+" write/write", "race "+v+" read/write"
	waitFor(col, 30*time.Second, "the good race or spans are missing", func() (bool, string) {
		f := cs.findings()
		return f[ww] > 0 && f[rw] > 0 && cs.SpanCount("bank") == 6 && cs.SpanCount("bad") == len(cases) && cs.SpanCount("anon") == anonymous,
			fmt.Sprintf("findings %v, bank spans %d of 6, bad spans %d of %d, anon spans %d of %d", f, cs.SpanCount("bank"), cs.SpanCount("bad"), len(cases), cs.SpanCount("anon"), anonymous)
	})
	m := scrape(t, env)
	waitFor(col, 20*time.Second, "decode errors are not counted", func() (bool, string) {
		m = scrape(t, env)
		malformed, noProcess, _, state := reasons(m)
		return int(malformed) >= len(cases) && int(noProcess) >= anonymous && int(m.Sum(metricAnalysed)) == 6,
			fmt.Sprintf("%s, want %d and %d; analysed %.0f, want 6", state, len(cases), anonymous, m.Sum(metricAnalysed))
	})
	if malformed, noProcess, _, state := reasons(m); int(malformed) != len(cases) || int(noProcess) != anonymous {
		col.fatalf("%s, want %d (one per bad record) and %d (one per anonymous write)", state, len(cases), anonymous)
	}
	for name := range cs.findings() {
		if name != ww && name != rw {
			col.fatalf("unexpected finding %q from malformed records", name)
		}
	}

	// The bad spans pass through unchanged: same name, attributes and
	// events, and no raceway.race span is emitted for them.
	if n := cs.RaceSpanCount(); n != 6 {
		t.Errorf("%d raceway.race spans, want the good pair's 6", n)
	}
	tds, _, _ := cs.Snapshot()
	seen := 0
	eachSpan(tds, func(svc string, got ptrace.Span) {
		if svc != "bad" {
			return
		}
		want, ok := sent[got.SpanID()]
		if !ok {
			t.Errorf("unknown bad span %s %q", got.SpanID(), got.Name())
			return
		}
		seen++
		same := got.Name() == want.Name() && got.TraceID() == want.TraceID() &&
			reflect.DeepEqual(got.Attributes().AsRaw(), want.Attributes().AsRaw()) &&
			got.Events().Len() == want.Events().Len()
		for i := 0; same && i < got.Events().Len(); i++ {
			g, w := got.Events().At(i), want.Events().At(i)
			same = g.Name() == w.Name() && g.Timestamp() == w.Timestamp() && reflect.DeepEqual(g.Attributes().AsRaw(), w.Attributes().AsRaw())
		}
		if !same {
			t.Errorf("bad span %q changed on the way: sent %d events, received %d (%v)", want.Name(), want.Events().Len(), got.Events().Len(), got.Events().At(got.Events().Len()-1).Name())
		}
	})
	if seen != len(cases) {
		t.Errorf("%d of %d bad spans reached the backend", seen, len(cases))
	}

	// Garbage at the OTLP level: refused, the collector carries on. (The
	// stock OTLP/HTTP receiver answers 400 to a garbled protobuf body and,
	// in v0.161.0, 500 to garbled JSON.)
	statuses := map[string]int{}
	for _, ct := range []string{"application/x-protobuf", "application/json"} {
		resp, err := http.Post("http://"+env["RACEWAY_OTLP_HTTP"]+"/v1/traces", ct, bytes.NewReader([]byte("\x0a\xff\xff\xff\xff\x0f garbage {")))
		if err != nil {
			col.fatalf("OTLP/HTTP POST: %v", err)
		}
		resp.Body.Close()
		statuses[ct] = resp.StatusCode
		if resp.StatusCode < 400 {
			col.fatalf("garbage %s body: status %d, want a refusal", ct, resp.StatusCode)
		}
	}
	if err := exportTraces(client, plainSpans(3)); err != nil {
		col.fatalf("the collector no longer accepts exports after bad input: %v", err)
	}
	waitFor(col, 20*time.Second, "spans sent after the bad input are missing", func() (bool, string) {
		return cs.SpanCount("plain") == 3, fmt.Sprintf("%d plain spans", cs.SpanCount("plain"))
	})
	if col.p.Exited() {
		col.fatalf("the collector exited")
	}
	col.checkNoPanic()
	_, _, _, state := reasons(m)
	t.Logf("RESULT bad input: one export of %d bytes with 6 good spans (a lost update), %d spans with one malformed record each "+
		"and %d anonymous writes: %s, analysed %.0f, findings %v, bad spans passed on unchanged %d/%d; garbage OTLP/HTTP bodies refused %v",
		size, len(cases), anonymous, state, m.Sum(metricAnalysed), cs.findings(), seen, len(cases), statuses)
}
