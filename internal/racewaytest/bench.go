package racewaytest

import (
	"context"
	"testing"

	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/raceway-otel/raceway/racewayotel"
)

// EventsPerSpan is how many events the benchmarks of racewayotel and its
// captures add to a span before ending it and starting another (see
// Spans): below the SDK's limit of 128, so that no event is evicted.
const EventsPerSpan = 100

// BenchTracker returns a TracerProvider that records spans and exports
// none, with a Tracker registered on it (its metrics on a no-op
// MeterProvider): what the benchmarks price a tracking call on. The
// provider is shut down at the end of the benchmark.
func BenchTracker(b testing.TB) (*sdktrace.TracerProvider, *racewayotel.Tracker) {
	tp := sdktrace.NewTracerProvider()
	rw := racewayotel.New(racewayotel.WithTracerProvider(tp), racewayotel.WithMeterProvider(metricnoop.NewMeterProvider()))
	tp.RegisterSpanProcessor(rw.SpanProcessor())
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, rw
}

// Spans returns a func that returns ctx with a recording span of tp's,
// replaced by a new one every EventsPerSpan calls; the last one is ended at
// the end of the benchmark.
func Spans(b testing.TB, tp trace.TracerProvider, ctx context.Context) func() (context.Context, trace.Span) {
	tracer := tp.Tracer("bench")
	var span trace.Span
	var cur context.Context
	n := 0
	b.Cleanup(func() {
		if span != nil {
			span.End()
		}
	})
	return func() (context.Context, trace.Span) {
		if n%EventsPerSpan == 0 {
			if span != nil {
				span.End()
			}
			cur, span = tracer.Start(ctx, "request")
		}
		n++
		return cur, span
	}
}
