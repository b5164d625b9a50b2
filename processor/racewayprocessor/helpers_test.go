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
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/raceway-otel/raceway/analysis"
	"github.com/raceway-otel/raceway/internal/collectortest"
	"github.com/raceway-otel/raceway/processor/racewayprocessor/internal/metadatatest"
	"github.com/raceway-otel/raceway/racewayotel/convention"
)

// base is the wall time of the test records.
var base = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// rec is one Raceway record as racewayotel would emit it on a span.
type rec struct {
	kind        string // analysis.Kind name: "read", "write", "thread.start", ...
	thread      uint64
	seq         int64
	after       []string // epochs thread@seq
	sync        string
	v           string // variable
	shared      bool
	old         *string
	val         *string // raceway.value.new
	file        string
	line        int64
	fn          string
	name        string // thread.name on thread.start
	origin      string
	proc        string // raceway.process.id
	locks       []string
	sharedLocks []string // raceway.locks.shared
	lock        string
	at          time.Duration // offset from base
}

func str(s string) *string { return &s }

func epoch(thread uint64, seq uint64) string {
	return analysis.Epoch{Thread: analysis.ThreadID(thread), Seq: seq}.String()
}

// event is r as the analysis.Event it describes.
func (r rec) event() analysis.Event {
	kind, ok := analysis.ParseKind(r.kind)
	if !ok {
		panic("unknown record kind " + r.kind)
	}
	e := analysis.Event{
		Kind:        kind,
		Epoch:       analysis.Epoch{Thread: analysis.ThreadID(r.thread), Seq: uint64(r.seq)},
		Var:         r.v,
		Shared:      r.shared,
		Lock:        r.lock,
		LocksHeld:   r.locks,
		SharedLocks: r.sharedLocks,
		Process:     r.proc,
		Where:       analysis.Location{File: r.file, Line: int(r.line), Function: r.fn},
		ThreadName:  r.name,
	}
	mustEpoch := func(s string) analysis.Epoch {
		ep, err := analysis.ParseEpoch(s)
		if err != nil {
			panic(err)
		}
		return ep
	}
	for _, a := range r.after {
		e.After = append(e.After, mustEpoch(a))
	}
	if r.sync != "" {
		e.Sync = mustEpoch(r.sync)
	}
	if r.origin != "" {
		e.Origin, _ = analysis.ParseOrigin(r.origin)
	}
	if r.old != nil {
		e.Old, e.HasValues = *r.old, true
	}
	if r.val != nil {
		e.New, e.HasValues = *r.val, true
	}
	return e
}

// addRecord adds r to span as racewayotel records it: a span event written
// by convention.Encode (collectortest.AddRecord).
func addRecord(span ptrace.Span, r rec) { collectortest.AddRecord(span, base.Add(r.at), r.event()) }

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

// finish lets the detector's wait pass and shuts down.
func (h *harness) finish() {
	h.advance(h.p.cfg.WaitDuration + time.Second)
	require.NoError(h.t, h.p.Shutdown(context.Background()))
}

// output copies everything the sink received into one Traces.
func (h *harness) output() ptrace.Traces { return mergeAll(h.sink) }

// mergeAll copies everything sink received into one Traces.
func mergeAll(sink *consumertest.TracesSink) ptrace.Traces {
	out := ptrace.NewTraces()
	for _, td := range sink.AllTraces() {
		for i := 0; i < td.ResourceSpans().Len(); i++ {
			td.ResourceSpans().At(i).CopyTo(out.ResourceSpans().AppendEmpty())
		}
	}
	return out
}

// eachSpan calls fn for every span of td with its resource's service.name.
func eachSpan(td ptrace.Traces, fn func(service string, span ptrace.Span)) {
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		svc := ""
		if v, ok := rss.At(i).Resource().Attributes().Get("service.name"); ok {
			svc = v.AsString()
		}
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				fn(svc, spans.At(k))
			}
		}
	}
}

// isRaceSpan reports whether span is a raceway.race span the processor
// emitted.
func isRaceSpan(span ptrace.Span) bool { return span.Name() == convention.RaceEvent }

// finding is the essentials of a finding span.
type finding struct {
	name               string
	prevSvc, curSvc    string
	prevSpan, curSpan  string
	severity, lostRead string
}

func findings(td ptrace.Traces) []finding {
	var fs []finding
	eachSpan(td, func(svc string, span ptrace.Span) {
		if svc != convention.FindingService {
			return
		}
		a := span.Attributes()
		get := func(key string) string {
			if v, ok := a.Get(key); ok {
				return v.AsString()
			}
			return ""
		}
		fs = append(fs, finding{
			name:     span.Name(),
			prevSvc:  get(convention.RacePrevious + convention.RaceService),
			curSvc:   get(convention.RaceCurrent + convention.RaceService),
			prevSpan: get(convention.RacePrevious + convention.RaceSpanID),
			curSpan:  get(convention.RaceCurrent + convention.RaceSpanID),
			severity: get(convention.RaceSeverity),
			lostRead: get(convention.RaceLostRead),
		})
	})
	sort.Slice(fs, func(i, j int) bool { return fmt.Sprint(fs[i]) < fmt.Sprint(fs[j]) })
	return fs
}

// raceSpans counts the raceway.race spans of td per name of the span they
// are a child of (which must be in td too).
func raceSpans(td ptrace.Traces) map[string]int {
	names := map[pcommon.SpanID]string{}
	eachSpan(td, func(_ string, span ptrace.Span) { names[span.SpanID()] = span.Name() })
	m := map[string]int{}
	eachSpan(td, func(_ string, span ptrace.Span) {
		if isRaceSpan(span) {
			m[names[span.ParentSpanID()]]++
		}
	})
	return m
}

// requestSpans counts the spans the sink received that are neither findings
// nor raceway.race spans: the spans passed on.
func requestSpans(sink *consumertest.TracesSink) int {
	n := 0
	for _, td := range sink.AllTraces() {
		eachSpan(td, func(svc string, span ptrace.Span) {
			if svc != convention.FindingService && !isRaceSpan(span) {
				n++
			}
		})
	}
	return n
}

// racePairs lists, for every raceway.race span, "kind prev/cur" with the two
// span ids in sorted order.
func racePairs(td ptrace.Traces) []string {
	var out []string
	eachSpan(td, func(_ string, span ptrace.Span) {
		if !isRaceSpan(span) {
			return
		}
		a := span.Attributes()
		p, _ := a.Get(convention.RacePrevious + convention.RaceSpanID)
		c, _ := a.Get(convention.RaceCurrent + convention.RaceSpanID)
		kind, _ := a.Get(convention.RaceKind)
		ids := []string{p.Str(), c.Str()}
		sort.Strings(ids)
		out = append(out, kind.Str()+" "+ids[0]+"/"+ids[1])
	})
	sort.Strings(out)
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
