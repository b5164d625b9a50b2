package racewayotel

import (
	"context"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Names of the spans the Tracker starts to carry records.
const (
	orphanSpanName   = "raceway.orphan"
	overflowSpanName = "raceway.overflow"
)

// spanState counts the records added to one application span and holds its
// current overflow child.
type spanState struct {
	count atomic.Int64

	mu        sync.Mutex
	over      trace.Span // the current overflow child, or nil
	overCount int        // records on over
	ended     bool       // the span has ended (SpanProcessor.OnEnd)
}

// overflow adds a record to the span's current overflow child, starting a
// new child when there is none or it is full. The overflow child ends when it
// is full or when its parent ends.
func (st *spanState) overflow(ctx context.Context, t *Tracker, name string, kv []attribute.KeyValue) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.over == nil || st.overCount >= t.cfg.spanEventLimit || st.ended {
		if st.over != nil {
			st.over.End()
		}
		_, st.over = t.tracer.Start(ctx, overflowSpanName, trace.WithSpanKind(trace.SpanKindInternal))
		st.overCount = 0
		t.counters.overflows.Add(1)
	}
	if !st.over.IsRecording() {
		t.counters.lost.Add(1)
		return
	}
	st.over.AddEvent(name, trace.WithAttributes(kv...))
	st.overCount++
	t.counters.records.Add(1)
	if st.ended {
		st.over.End()
		st.over = nil
	}
}

// end ends the overflow child of a span that has ended.
func (st *spanState) end() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.ended = true
	if st.over != nil {
		st.over.End()
		st.over = nil
	}
}

// spanTable holds the state of the spans that received records and have not
// ended. It is bounded by maxSpans: past it, records go straight to their
// span and an SDK eviction is only counted (Stats.SDKDroppedEvents). Entries
// are removed by SpanProcessor.OnEnd, so the SpanProcessor must be
// registered.
type spanTable struct {
	mu sync.Mutex
	m  map[spanKey]*spanState
}

const maxSpans = 1 << 16

func (s *spanTable) get(k spanKey) *spanState {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.m[k]; st != nil {
		return st
	}
	if len(s.m) >= maxSpans {
		return nil
	}
	if s.m == nil {
		s.m = make(map[spanKey]*spanState)
	}
	st := &spanState{}
	s.m[k] = st
	return st
}

func (s *spanTable) remove(k spanKey) *spanState {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.m[k]
	delete(s.m, k)
	return st
}

// ends ends every open overflow span (at shutdown).
func (s *spanTable) endAll() {
	s.mu.Lock()
	m := s.m
	s.m = nil
	s.mu.Unlock()
	for _, st := range m {
		st.end()
	}
}
