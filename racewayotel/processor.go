package racewayotel

import (
	"context"
	"sync"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// SpanProcessor is the part of a [Tracker] that watches span lifecycles. It
// must be registered with the TracerProvider whose spans carry the records:
//
//	rw := racewayotel.New()
//	tp := sdktrace.NewTracerProvider(
//		sdktrace.WithSpanProcessor(rw.SpanProcessor()),
//		sdktrace.WithBatcher(exporter),
//	)
//
// When a span ends, it ends the span's open "raceway.overflow" child and
// counts the events the SDK evicted from it (Stats.SDKDroppedEvents). It
// neither changes nor exports spans, so it never blocks, whatever the state
// of the exporters and the collector.
type SpanProcessor struct {
	t    *Tracker
	once sync.Once
}

var _ sdktrace.SpanProcessor = (*SpanProcessor)(nil)

// SpanProcessor returns t's span processor.
func (t *Tracker) SpanProcessor() *SpanProcessor {
	return &SpanProcessor{t: t}
}

// OnStart does nothing. It is called synchronously when a span starts.
func (p *SpanProcessor) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

// OnEnd counts the events s dropped and ends s's open overflow child. It is
// called synchronously when a span ends.
func (p *SpanProcessor) OnEnd(s sdktrace.ReadOnlySpan) {
	if p == nil || p.t == nil {
		return
	}
	if n := s.DroppedEvents(); n > 0 {
		p.t.counters.sdkDropped.Add(uint64(n))
	}
	sc := s.SpanContext()
	if st := p.t.spans.remove(spanKey{trace: sc.TraceID(), span: sc.SpanID()}); st != nil {
		st.end()
	}
}

// Shutdown ends every open overflow span and stops exporting metrics. It is
// called when the TracerProvider shuts down.
func (p *SpanProcessor) Shutdown(context.Context) error {
	if p == nil || p.t == nil {
		return nil
	}
	var err error
	p.once.Do(func() {
		p.t.spans.endAll()
		if p.t.metrics != nil {
			err = p.t.metrics.Unregister()
		}
	})
	return err
}

// ForceFlush does nothing: the processor holds no spans.
func (p *SpanProcessor) ForceFlush(context.Context) error { return nil }
