package racewayotel

import (
	"context"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Stats counts what a [Tracker] did, so that no record is lost silently.
// Every field only grows.
type Stats struct {
	// Records counts the records added to a recording span (the
	// application's, an orphan or an overflow span).
	Records uint64
	// Lost counts records that no recording span could carry: the context's
	// span and the orphan span started for the record were both
	// non-recording (the trace was sampled out, or no SDK is installed). Each
	// leaves a gap in its thread's sequence numbers.
	Lost uint64
	// OrphanSpans counts the "raceway.orphan" spans started because a record
	// was made with no recording span in its context (or after that span
	// ended). Each carries one record.
	OrphanSpans uint64
	// OverflowSpans counts the "raceway.overflow" spans started because a
	// span had received its limit of records (see [WithSpanEventLimit]).
	OverflowSpans uint64
	// SDKDroppedEvents counts span events, Raceway's or not, that the SDK
	// discarded from spans ended while the [SpanProcessor] was registered
	// (ReadOnlySpan.DroppedEvents).
	SDKDroppedEvents uint64
	// ClocksGarbled and ClocksOversized count inbound clocks (the
	// raceway.clock baggage member, the Raceway-Clock response header) that
	// were dropped because they did not parse as an epoch, or were longer than
	// analysis.MaxEpochTextLen bytes.
	ClocksGarbled   uint64
	ClocksOversized uint64
	// ImplicitThreads counts the threads forked because a context was used
	// on a goroutine other than its thread's (see [Tracker.Detach]).
	ImplicitThreads uint64
	// CaptureSkipped counts the operations data-store captures saw but could
	// not classify, and did not record (see [Tracker.CountSkipped]).
	CaptureSkipped uint64
}

// counters are a Tracker's Stats, updated atomically.
type counters struct {
	records, lost, orphans, overflows, sdkDropped atomic.Uint64
	garbled, oversized, implicit                  atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Records:          c.records.Load(),
		Lost:             c.lost.Load(),
		OrphanSpans:      c.orphans.Load(),
		OverflowSpans:    c.overflows.Load(),
		SDKDroppedEvents: c.sdkDropped.Load(),
		ClocksGarbled:    c.garbled.Load(),
		ClocksOversized:  c.oversized.Load(),
		ImplicitThreads:  c.implicit.Load(),
	}
}

// Stats returns a snapshot of t's counters.
func (t *Tracker) Stats() Stats {
	if t == nil {
		return Stats{}
	}
	s := t.counters.snapshot()
	s.CaptureSkipped = t.skipped.load()
	return s
}

// registerMetrics exports t's counters through mp as asynchronous counters.
func (t *Tracker) registerMetrics(mp metric.MeterProvider) (metric.Registration, error) {
	m := mp.Meter(instrumentationName, metric.WithInstrumentationVersion(Version))
	records, err1 := m.Int64ObservableCounter("raceway.records", metric.WithUnit("{record}"),
		metric.WithDescription("Raceway records added to spans."))
	lost, err2 := m.Int64ObservableCounter("raceway.records.lost", metric.WithUnit("{record}"),
		metric.WithDescription("Raceway records no recording span could carry."))
	spans, err3 := m.Int64ObservableCounter("raceway.spans", metric.WithUnit("{span}"),
		metric.WithDescription("Spans started to carry Raceway records, by raceway.span.kind (orphan, overflow)."))
	dropped, err4 := m.Int64ObservableCounter("raceway.sdk.events.dropped", metric.WithUnit("{event}"),
		metric.WithDescription("Span events the SDK discarded from ended spans."))
	clocks, err5 := m.Int64ObservableCounter("raceway.clocks.dropped", metric.WithUnit("{clock}"),
		metric.WithDescription("Inbound clocks dropped, by raceway.reason (garbled, oversized)."))
	threads, err6 := m.Int64ObservableCounter("raceway.threads.implicit", metric.WithUnit("{thread}"),
		metric.WithDescription("Threads forked because a context was used on another goroutine."))
	skipped, err7 := m.Int64ObservableCounter("raceway.capture.skipped", metric.WithUnit("{operation}"),
		metric.WithDescription("Data-store operations a capture could not classify and did not record, by raceway.capture.system and raceway.reason."))
	for _, err := range []error{err1, err2, err3, err4, err5, err6, err7} {
		if err != nil {
			return nil, err
		}
	}
	orphan := metric.WithAttributes(attribute.String("raceway.span.kind", "orphan"))
	overflow := metric.WithAttributes(attribute.String("raceway.span.kind", "overflow"))
	garbled := metric.WithAttributes(attribute.String("raceway.reason", "garbled"))
	oversized := metric.WithAttributes(attribute.String("raceway.reason", "oversized"))
	return m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s := t.counters.snapshot()
		o.ObserveInt64(records, int64(s.Records))
		o.ObserveInt64(lost, int64(s.Lost))
		o.ObserveInt64(spans, int64(s.OrphanSpans), orphan)
		o.ObserveInt64(spans, int64(s.OverflowSpans), overflow)
		o.ObserveInt64(dropped, int64(s.SDKDroppedEvents))
		o.ObserveInt64(clocks, int64(s.ClocksGarbled), garbled)
		o.ObserveInt64(clocks, int64(s.ClocksOversized), oversized)
		o.ObserveInt64(threads, int64(s.ImplicitThreads))
		t.skipped.each(func(system, reason string, n uint64) {
			o.ObserveInt64(skipped, int64(n), metric.WithAttributes(
				attribute.String("raceway.capture.system", system), attribute.String("raceway.reason", reason)))
		})
		return nil
	}, records, lost, spans, dropped, clocks, threads, skipped)
}
