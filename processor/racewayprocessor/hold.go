package racewayprocessor // import "github.com/raceway-otel/raceway/processor/racewayprocessor"

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/xpdata/entity"
)

// Held spans are stored per arrival batch: the spans with records of one
// batch are moved into one heldBatch, under one copy of each resource and
// scope they came with (one for a run of equal ones), so that the output is
// as compact as the input and resources are copied once per batch, not once
// per trace. They are indexed per trace (heldTrace), which is what the wait
// and the limits apply to. A trace released while some of its spans sit in a
// batch that is still held (its wait started in an earlier batch, or it is
// released early) has those spans moved out, leaving an empty span (a hole)
// in the batch. The spans of a batch all belong to traces whose wait began
// at or before the batch arrived, so when the batch's wait is over its
// traces have been released and it leaves as a whole.

// heldSpan is a span held for its trace's wait.
type heldSpan struct {
	span  ptrace.Span
	races []spanRace // the raceway.race events added
	batch *heldBatch
	rs    ptrace.ResourceSpans // span's resource and scope in batch.td
	ss    ptrace.ScopeSpans
}

// spanRace is a raceway.race event of a held span: one per race group and
// role, counting its occurrences.
type spanRace struct {
	group, role string
	ev          ptrace.SpanEvent
	n           int64
}

// heldTrace indexes the held spans of one trace.
type heldTrace struct {
	id       pcommon.TraceID
	arrived  time.Time // when its first held span arrived
	spans    []heldSpan
	released bool
	first    [1]heldSpan // spans' first array: many traces hold one span
}

// heldBatch holds the spans with records of one arrival batch.
type heldBatch struct {
	arrived time.Time
	td      ptrace.Traces
	live    int // spans held in td
	holes   int // spans moved out of td with their trace, left empty

	// Where the spans of the batch being consumed go: the copies of the
	// batch's resource rsIdx and of its scope ssIdx.
	rsIdx int
	ssIdx int
	rs    ptrace.ResourceSpans
	ss    ptrace.ScopeSpans
}

// isHole reports whether span is a hole left by moving a held span out: held
// spans carry at least one record, and a span moved out is left empty.
func isHole(span ptrace.Span) bool { return span.Events().Len() == 0 }

// fifo is a first-in first-out queue that reuses its slice.
type fifo[T any] struct {
	items []T
	head  int
}

func (q *fifo[T]) push(v T) { q.items = append(q.items, v) }
func (q *fifo[T]) len() int { return len(q.items) - q.head }
func (q *fifo[T]) peek() T  { return q.items[q.head] }
func (q *fifo[T]) all() []T { return q.items[q.head:] }
func (q *fifo[T]) reset()   { clear(q.items); q.items, q.head = q.items[:0], 0 }
func (q *fifo[T]) pop() T {
	v := q.items[q.head]
	var zero T
	q.items[q.head] = zero
	q.head++
	if q.head > 64 && q.head*2 > len(q.items) {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	return v
}

// hold moves span (of resource rs, scope ss, at indexes i, j of the batch)
// into the batch's held spans and indexes it under its trace.
func (p *racewayProcessor) hold(span ptrace.Span, rs ptrace.ResourceSpans, ss ptrace.ScopeSpans, i, j int, now time.Time) {
	b := p.cur
	if b == nil {
		b = &heldBatch{arrived: now, td: ptrace.NewTraces(), rsIdx: -1}
		p.cur = b
		p.batches.push(b)
	}
	if b.rsIdx != i {
		b.rsIdx, b.ssIdx = i, -1
		if b.rs == (ptrace.ResourceSpans{}) || !sameResource(rs, b.rs) {
			b.rs = b.td.ResourceSpans().AppendEmpty()
			rs.Resource().CopyTo(b.rs.Resource())
			b.rs.SetSchemaUrl(rs.SchemaUrl())
			b.ss = ptrace.ScopeSpans{}
		}
	}
	if b.ssIdx != j {
		b.ssIdx = j
		if b.ss == (ptrace.ScopeSpans{}) || !sameScope(ss, b.ss) {
			b.ss = b.rs.ScopeSpans().AppendEmpty()
			ss.Scope().CopyTo(b.ss.Scope())
			b.ss.SetSchemaUrl(ss.SchemaUrl())
		}
	}
	dst := b.ss.Spans().AppendEmpty()
	span.MoveTo(dst)
	b.live++

	tid := dst.TraceID()
	h := p.held[tid]
	if h == nil {
		h = p.newTrace(tid, now)
		p.held[tid] = h
		p.traces.push(h)
	}
	h.spans = append(h.spans, heldSpan{span: dst, batch: b, rs: b.rs, ss: b.ss})
	p.nspans++
	if len(h.spans) == p.cfg.MaxSpansPerTrace {
		p.full = append(p.full, h)
	}
}

// newTrace returns an empty heldTrace for trace id, reusing a released one
// if any.
func (p *racewayProcessor) newTrace(id pcommon.TraceID, now time.Time) *heldTrace {
	var h *heldTrace
	if n := len(p.spare); n > 0 {
		h = p.spare[n-1]
		p.spare = p.spare[:n-1]
	} else {
		h = new(heldTrace)
	}
	h.id, h.arrived, h.released = id, now, false
	h.spans = h.first[:0]
	return h
}

// recycle keeps h, released and no longer queued, for newTrace.
func (p *racewayProcessor) recycle(h *heldTrace) {
	p.spare = append(p.spare, h)
}

// sameResource reports whether a and b have the same resource and schema, so
// that the spans of both can be held under one copy of it.
func sameResource(a, b ptrace.ResourceSpans) bool {
	ra, rb := a.Resource(), b.Resource()
	return a.SchemaUrl() == b.SchemaUrl() &&
		ra.DroppedAttributesCount() == rb.DroppedAttributesCount() &&
		entity.ResourceEntityRefs(ra).Len() == 0 && entity.ResourceEntityRefs(rb).Len() == 0 &&
		ra.Attributes().Equal(rb.Attributes())
}

// sameScope reports whether a and b have the same instrumentation scope and
// schema.
func sameScope(a, b ptrace.ScopeSpans) bool {
	sa, sb := a.Scope(), b.Scope()
	return a.SchemaUrl() == b.SchemaUrl() &&
		sa.Name() == sb.Name() && sa.Version() == sb.Version() &&
		sa.DroppedAttributesCount() == sb.DroppedAttributesCount() &&
		sa.Attributes().Equal(sb.Attributes())
}

// enforceLimits releases traces early: those holding max_spans_per_trace
// spans or more, then the oldest while more than max_traces are held.
func (p *racewayProcessor) enforceLimits() {
	for _, h := range p.full {
		if !h.released {
			p.release(h, time.Time{})
			p.evictSpans++
		}
	}
	clear(p.full)
	p.full = p.full[:0]
	for len(p.held) > p.cfg.MaxTraces && p.traces.len() > 0 {
		h := p.traces.pop()
		if !h.released {
			p.release(h, time.Time{})
			p.evictTraces++
		}
		p.recycle(h)
	}
}

// expire releases the traces whose wait is over at now, then the batches
// whose wait is over, which by then hold only spans of those traces.
func (p *racewayProcessor) expire(now time.Time) {
	cutoff := now.Add(-p.cfg.WaitDuration)
	for p.traces.len() > 0 {
		h := p.traces.peek()
		if !h.released {
			if h.arrived.After(cutoff) {
				break
			}
			p.release(h, cutoff)
		}
		p.recycle(p.traces.pop())
	}
	for p.batches.len() > 0 && !p.batches.peek().arrived.After(cutoff) {
		p.releaseBatch(p.batches.pop())
	}
}

// releaseAll releases every held span.
func (p *racewayProcessor) releaseAll() {
	for _, h := range p.traces.all() {
		if !h.released {
			p.drop(h)
		}
	}
	p.traces.reset()
	for _, b := range p.batches.all() {
		p.releaseBatch(b)
	}
	p.batches.reset()
}

// release ends h's hold. Its spans in batches that arrived at or before
// cutoff stay there, to be released with their batch; the others (all of
// them for a zero cutoff) are moved to the outbox now.
func (p *racewayProcessor) release(h *heldTrace, cutoff time.Time) {
	for i := range h.spans {
		hs := &h.spans[i]
		b := hs.batch
		if !b.arrived.After(cutoff) {
			continue
		}
		if hs.ss != p.movedFrom {
			// (Consecutive traces evicted from one batch share the copy.)
			p.movedFrom = hs.ss
			rs := p.outbox.ResourceSpans().AppendEmpty()
			hs.rs.Resource().CopyTo(rs.Resource())
			rs.SetSchemaUrl(hs.rs.SchemaUrl())
			ss := rs.ScopeSpans().AppendEmpty()
			hs.ss.Scope().CopyTo(ss.Scope())
			ss.SetSchemaUrl(hs.ss.SchemaUrl())
			p.movedTo = ss.Spans()
		}
		hs.span.MoveTo(p.movedTo.AppendEmpty())
		b.live--
		b.holes++
		if b.holes > b.live {
			b.compact()
		}
	}
	p.drop(h)
}

// drop ends h's hold, leaving its spans where they are.
func (p *racewayProcessor) drop(h *heldTrace) {
	h.released = true
	delete(p.held, h.id) // a held trace is always its id's entry
	p.nspans -= len(h.spans)
	clear(h.spans)
	h.spans, h.first[0] = nil, heldSpan{} // h may be recycled: keep no span
}

// compact drops b's holes, and the resources and scopes left empty.
func (b *heldBatch) compact() {
	b.holes = 0
	if b.live == 0 {
		b.td = ptrace.NewTraces()
		return
	}
	b.td.ResourceSpans().RemoveIf(func(rs ptrace.ResourceSpans) bool {
		rs.ScopeSpans().RemoveIf(func(ss ptrace.ScopeSpans) bool {
			ss.Spans().RemoveIf(isHole)
			return ss.Spans().Len() == 0
		})
		return rs.ScopeSpans().Len() == 0
	})
}

// releaseBatch moves b's spans to the outbox.
func (p *racewayProcessor) releaseBatch(b *heldBatch) {
	if b.holes > 0 {
		b.compact()
	}
	b.td.ResourceSpans().MoveAndAppendTo(p.outbox.ResourceSpans())
	b.live = 0
}
