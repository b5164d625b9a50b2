package racewaytest

import (
	"context"
	"testing"
	"time"

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

// Alternate runs plain and captured one after the other in every
// iteration, each first in turn (on PostgreSQL the second statement of an
// iteration took about 9 µs longer than the first, against a by-key
// SELECT's 60 µs), each in a request of its own as racewayotel's
// Middleware starts it (a span, a logical thread that has already
// recorded), and times only them: it reports the captured time (ns/op),
// the plain one (plain-ns/op), the difference (capture-ns/op) and the
// ratio. It runs each once before the timing (to connect, and for a
// capture to learn the table).
//
// The application's call site, which a capture looks for above its own
// frames and racewayotel's, is the first frame outside them: the caller's
// when it is in an external test package, as an application's would be,
// else one of Alternate's.
func Alternate(b *testing.B, rw *racewayotel.Tracker, tracer trace.Tracer, plain, captured func(context.Context)) {
	once := func(f func(context.Context)) time.Duration {
		ctx, span := tracer.Start(context.Background(), "request")
		defer span.End()
		ctx, _ = rw.StartHandler(ctx, "request")
		rw.TrackStateChange(ctx, "request.started", nil, 1, racewayotel.Read) // the thread's start is recorded
		start := time.Now()
		f(ctx)
		return time.Since(start)
	}
	once(captured)
	once(plain)
	var withCapture, without time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if i%2 == 0 {
			withCapture += once(captured)
			without += once(plain)
		} else {
			without += once(plain)
			withCapture += once(captured)
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(withCapture.Nanoseconds())/n, "ns/op")
	b.ReportMetric(float64(without.Nanoseconds())/n, "plain-ns/op")
	b.ReportMetric(float64((withCapture-without).Nanoseconds())/n, "capture-ns/op")
	b.ReportMetric(float64(withCapture)/float64(without), "ratio")
}
