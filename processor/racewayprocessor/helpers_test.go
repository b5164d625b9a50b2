package racewayprocessor

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/raceway-otel/raceway/analysis"
	"github.com/raceway-otel/raceway/processor/racewayprocessor/internal/metadata"
	"github.com/raceway-otel/raceway/processor/racewayprocessor/internal/metadatatest"
	"github.com/raceway-otel/raceway/racewayotel/convention"
)

// base is the wall time of the test records.
var base = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// rec is one Raceway record as racewayotel would emit it on a span.
type rec struct {
	kind   string // analysis.Kind name: "read", "write", "thread.start", ...
	thread uint64
	seq    int64
	after  []string // epochs thread@seq
	sync   string
	v      string // variable
	shared bool
	old    *string
	val    *string // raceway.value.new
	file   string
	line   int64
	fn     string
	name   string // thread.name on thread.start
	origin string
	proc   string // raceway.process.id
	locks  []string
	lock   string
	at     time.Duration // offset from base
}

func str(s string) *string { return &s }

func epoch(thread uint64, seq uint64) string {
	return analysis.Epoch{Thread: analysis.ThreadID(thread), Seq: seq}.String()
}

func addRecord(span ptrace.Span, r rec) {
	ev := span.Events().AppendEmpty()
	ev.SetName(convention.EventPrefix + r.kind)
	ev.SetTimestamp(pcommon.NewTimestampFromTime(base.Add(r.at)))
	a := ev.Attributes()
	a.PutStr(convention.ThreadID, analysis.ThreadID(r.thread).String())
	a.PutInt(convention.Seq, r.seq)
	if len(r.after) > 0 {
		s := a.PutEmptySlice(convention.After)
		for _, e := range r.after {
			s.AppendEmpty().SetStr(e)
		}
	}
	if r.sync != "" {
		a.PutStr(convention.Sync, r.sync)
	}
	if r.v != "" {
		a.PutStr(convention.VarName, r.v)
		if r.shared {
			a.PutStr(convention.VarScope, convention.ScopeShared)
		}
	}
	if r.old != nil {
		a.PutStr(convention.ValueOld, *r.old)
	}
	if r.val != nil {
		a.PutStr(convention.ValueNew, *r.val)
	}
	if r.file != "" {
		a.PutStr(convention.CodeFilePath, r.file)
		a.PutInt(convention.CodeLineNumber, r.line)
	}
	if r.fn != "" {
		a.PutStr(convention.CodeFunctionName, r.fn)
	}
	if r.name != "" {
		a.PutStr(convention.ThreadName, r.name)
	}
	if r.origin != "" {
		a.PutStr(convention.Origin, r.origin)
	}
	if r.proc != "" {
		a.PutStr(convention.ProcessID, r.proc)
	}
	if r.lock != "" {
		a.PutStr(convention.LockID, r.lock)
	}
	if len(r.locks) > 0 {
		s := a.PutEmptySlice(convention.LocksHeld)
		for _, l := range r.locks {
			s.AppendEmpty().SetStr(l)
		}
	}
	a.PutInt(convention.GoroutineID, 7)
}

// spanSpec describes one span to build.
type spanSpec struct {
	service, instance string
	trace, span       byte // ids are filled with these bytes
	parent            byte
	name              string
	recs              []rec
}

func traceID(b byte) pcommon.TraceID {
	var id pcommon.TraceID
	for i := range id {
		id[i] = b
	}
	return id
}

func spanID(b byte) pcommon.SpanID {
	var id pcommon.SpanID
	for i := range id {
		id[i] = b
	}
	return id
}

// batch builds one ptrace.Traces holding the given spans, one resource per
// span (as separate exports would).
func batch(specs ...spanSpec) ptrace.Traces {
	td := ptrace.NewTraces()
	for _, s := range specs {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", s.service)
		if s.instance != "" {
			rs.Resource().Attributes().PutStr("service.instance.id", s.instance)
		}
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName("github.com/raceway-otel/raceway/racewayotel")
		span := ss.Spans().AppendEmpty()
		span.SetTraceID(traceID(s.trace))
		span.SetSpanID(spanID(s.span))
		if s.parent != 0 {
			span.SetParentSpanID(spanID(s.parent))
		}
		span.SetName(s.name)
		span.SetKind(ptrace.SpanKindServer)
		start := base
		if len(s.recs) > 0 {
			start = base.Add(s.recs[0].at - time.Millisecond)
		}
		span.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
		span.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(50 * time.Millisecond)))
		span.Attributes().PutStr("http.request.method", "POST")
		for _, r := range s.recs {
			if r.proc == "" {
				r.proc = s.instance
			}
			addRecord(span, r)
		}
	}
	return td
}

// harness runs a processor with a fake clock and manual ticks.
type harness struct {
	t    *testing.T
	p    *racewayProcessor
	sink *consumertest.TracesSink
	tt   *componenttest.Telemetry
	now  time.Time
}

func newHarness(t *testing.T, mutate func(*Config)) *harness {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	if mutate != nil {
		mutate(cfg)
	}
	tt := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tt.Shutdown(context.Background())) })
	sink := new(consumertest.TracesSink)
	p, err := newProcessor(metadatatest.NewSettings(tt), cfg, sink)
	require.NoError(t, err)
	h := &harness{t: t, p: p, sink: sink, tt: tt, now: base.Add(time.Hour)}
	p.now = func() time.Time { return h.now }
	return h
}

func (h *harness) consume(td ptrace.Traces) {
	h.t.Helper()
	require.NoError(h.t, h.p.ConsumeTraces(context.Background(), td))
}

func (h *harness) advance(d time.Duration) {
	h.now = h.now.Add(d)
	h.p.tick(context.Background(), h.now)
}

// finish releases everything (past the wait) and shuts down.
func (h *harness) finish() {
	h.advance(h.p.cfg.WaitDuration + time.Second)
	require.NoError(h.t, h.p.Shutdown(context.Background()))
}

// output merges everything the sink received into one Traces.
func (h *harness) output() ptrace.Traces {
	out := ptrace.NewTraces()
	for _, td := range h.sink.AllTraces() {
		td.ResourceSpans().MoveAndAppendTo(out.ResourceSpans())
	}
	return out
}

// finding is the essentials of a finding span.
type finding struct {
	name               string
	prevSvc, curSvc    string
	prevSpan, curSpan  string
	severity, lostRead string
}

func findings(td ptrace.Traces) []finding {
	var fs []finding
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		if v, ok := rs.Resource().Attributes().Get("service.name"); !ok || v.AsString() != convention.FindingService {
			continue
		}
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			spans := rs.ScopeSpans().At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				a := spans.At(k).Attributes()
				get := func(key string) string {
					if v, ok := a.Get(key); ok {
						return v.AsString()
					}
					return ""
				}
				fs = append(fs, finding{
					name:     spans.At(k).Name(),
					prevSvc:  get(convention.RacePrevious + convention.RaceService),
					curSvc:   get(convention.RaceCurrent + convention.RaceService),
					prevSpan: get(convention.RacePrevious + convention.RaceSpanID),
					curSpan:  get(convention.RaceCurrent + convention.RaceSpanID),
					severity: get(convention.RaceSeverity),
					lostRead: get(convention.RaceLostRead),
				})
			}
		}
	}
	sort.Slice(fs, func(i, j int) bool { return fmt.Sprint(fs[i]) < fmt.Sprint(fs[j]) })
	return fs
}

// raceEvents counts the raceway.race span events per span name.
func raceEvents(td ptrace.Traces) map[string]int {
	m := map[string]int{}
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				evs := spans.At(k).Events()
				for e := 0; e < evs.Len(); e++ {
					if evs.At(e).Name() == convention.RaceEvent {
						m[spans.At(k).Name()]++
					}
				}
			}
		}
	}
	return m
}

// nonFindingSpans counts the spans of the output that are not findings.
func nonFindingSpans(sink *consumertest.TracesSink) int {
	n := 0
	for _, td := range sink.AllTraces() {
		rss := td.ResourceSpans()
		for i := 0; i < rss.Len(); i++ {
			if v, ok := rss.At(i).Resource().Attributes().Get("service.name"); ok && v.AsString() == convention.FindingService {
				continue
			}
			for j := 0; j < rss.At(i).ScopeSpans().Len(); j++ {
				n += rss.At(i).ScopeSpans().At(j).Spans().Len()
			}
		}
	}
	return n
}

// racePairs lists, for every raceway.race annotation, "kind prev/cur"
// with the two span ids in sorted order.
func racePairs(td ptrace.Traces) []string {
	var out []string
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				evs := spans.At(k).Events()
				for e := 0; e < evs.Len(); e++ {
					if evs.At(e).Name() != convention.RaceEvent {
						continue
					}
					a := evs.At(e).Attributes()
					p, _ := a.Get(convention.RacePrevious + convention.RaceSpanID)
					c, _ := a.Get(convention.RaceCurrent + convention.RaceSpanID)
					kind, _ := a.Get(convention.RaceKind)
					ids := []string{p.Str(), c.Str()}
					sort.Strings(ids)
					out = append(out, kind.Str()+" "+ids[0]+"/"+ids[1])
				}
			}
		}
	}
	return out
}

// evictionPoints returns the data points of
// otelcol_processor_raceway_evictions when the counts are n: every other
// evicted value is exported at 0.
func evictionPoints(n map[string]int64) []metricdata.DataPoint[int64] {
	var dps []metricdata.DataPoint[int64]
	for what := range evictedAttrs {
		dps = append(dps, metricdata.DataPoint[int64]{Value: n[what], Attributes: attribute.NewSet(attribute.String("evicted", what))})
	}
	return dps
}

// decodeErrorPoints returns the data points of
// otelcol_processor_raceway_decode_errors when malformed and noProcess
// records were rejected.
func decodeErrorPoints(malformed, noProcess int64) []metricdata.DataPoint[int64] {
	return []metricdata.DataPoint[int64]{
		{Value: malformed, Attributes: attribute.NewSet(attribute.String("reason", reasonMalformed))},
		{Value: noProcess, Attributes: attribute.NewSet(attribute.String("reason", reasonNoProcess))},
	}
}

var _ = metadata.Type
var _ = processortest.NewNopSettings
