package racewayotel_test

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/raceway-otel/raceway/internal/racewaytest"
	"github.com/raceway-otel/raceway/racewayotel"
	"github.com/raceway-otel/raceway/racewayotel/convention"
)

// BenchmarkTrack compares a tracking call with a bare span.AddEvent carrying
// the same attributes, on recording spans of the SDK (no exporter), each
// given racewaytest.EventsPerSpan events. Compare the sub-benchmarks of one run.
func BenchmarkTrack(b *testing.B) {
	b.Run("AddEvent", func(b *testing.B) {
		tp, _ := racewaytest.BenchTracker(b)
		next := racewaytest.Spans(b, tp, context.Background())
		var seq int64
		b.ReportAllocs()
		for b.Loop() {
			_, span := next()
			seq++
			addEvent(span, seq)
		}
	})
	b.Run("TrackStateChange", func(b *testing.B) {
		// Contexts that carry a thread, as in a Middleware handler.
		tp, rw := racewaytest.BenchTracker(b)
		next := racewaytest.Spans(b, tp, rw.Detach(context.Background()))
		b.ReportAllocs()
		for b.Loop() {
			ctx, _ := next()
			rw.TrackStateChange(ctx, "accounts.alice.balance", "1000", "900", racewayotel.Write)
		}
	})
	b.Run("TrackStateChange/span-only", func(b *testing.B) {
		// Contexts with a span but no thread: the span's thread is looked up.
		tp, rw := racewaytest.BenchTracker(b)
		next := racewaytest.Spans(b, tp, context.Background())
		b.ReportAllocs()
		for b.Loop() {
			ctx, _ := next()
			rw.TrackStateChange(ctx, "accounts.alice.balance", "1000", "900", racewayotel.Write)
		}
	})
}

// addEvent adds the event TrackStateChange adds, with the same attributes.
func addEvent(span trace.Span, seq int64) {
	span.AddEvent("raceway.write", trace.WithAttributes(
		attribute.String(convention.ThreadID, "2ed5205f8aeffe5e"),
		attribute.Int64(convention.Seq, seq),
		attribute.String(convention.ProcessID, "8b1a9953c4611296"),
		attribute.Int64(convention.GoroutineID, 42),
		attribute.String(convention.CodeFilePath, "/src/bank/transfer.go"),
		attribute.Int(convention.CodeLineNumber, 42),
		attribute.String(convention.CodeFunctionName, "bank.transfer"),
		attribute.String(convention.VarName, "accounts.alice.balance"),
		attribute.String(convention.VarScope, convention.ScopeProcess),
		attribute.String(convention.ValueOld, "1000"),
		attribute.String(convention.ValueNew, "900"),
	))
}

// BenchmarkTrackRatio interleaves a bare AddEvent and a TrackStateChange in
// every iteration, timing each, so that both see the same machine load, and
// reports the ratio of their total times ("track/bare").
func BenchmarkTrackRatio(b *testing.B) {
	tp, rw := racewaytest.BenchTracker(b)
	bare := racewaytest.Spans(b, tp, context.Background())
	tracked := racewaytest.Spans(b, tp, rw.Detach(context.Background()))
	var bareTime, trackTime time.Duration
	var seq int64
	for b.Loop() {
		_, span := bare()
		seq++
		t0 := time.Now()
		addEvent(span, seq)
		t1 := time.Now()
		ctx, _ := tracked()
		t2 := time.Now()
		rw.TrackStateChange(ctx, "accounts.alice.balance", "1000", "900", racewayotel.Write)
		t3 := time.Now()
		bareTime += t1.Sub(t0)
		trackTime += t3.Sub(t2)
	}
	b.ReportMetric(float64(bareTime.Nanoseconds())/float64(b.N), "bare-ns/op")
	b.ReportMetric(float64(trackTime.Nanoseconds())/float64(b.N), "track-ns/op")
	b.ReportMetric(float64(trackTime)/float64(bareTime), "track/bare")
}
