package racewayredis_test

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/raceway-otel/raceway/internal/racewaytest"
	"github.com/raceway-otel/raceway/internal/servertest"
	"github.com/raceway-otel/raceway/racewayotel"
	"github.com/raceway-otel/raceway/racewayotel/racewayredis"
)

// BenchmarkCommand compares a GET and a SET against the real Redis on
// loopback, captured by the hook and not: same client options, same
// recording spans (the SDK's, no exporter; a new span every 100 commands,
// below its event limit). The goal is captured ≤ 1.10× uncaptured; compare
// the sub-benchmarks of one run. cpu-ns/op is this process's CPU time
// (the application's side, not the server's), steadier than wall time on
// a loaded machine.
func BenchmarkCommand(b *testing.B) {
	addr := servertest.Redis(b)
	key := servertest.Name("raceway-bench:")
	b.Cleanup(func() {
		r := redis.NewClient(&redis.Options{Addr: addr})
		defer r.Close()
		r.Del(context.Background(), key)
	})
	for _, op := range []string{"GET", "SET"} {
		for _, captured := range []bool{false, true} {
			name := op + "/uncaptured"
			if captured {
				name = op + "/captured"
			}
			b.Run(name, func(b *testing.B) {
				rdb := redis.NewClient(&redis.Options{Addr: addr})
				b.Cleanup(func() { _ = rdb.Close() })
				ctx, next := benchSpans(b, captured, func(rw *racewayotel.Tracker) {
					if err := racewayredis.Instrument(rdb, rw); err != nil {
						b.Fatal(err)
					}
				})
				if err := rdb.Set(ctx, key, "1000", 0).Err(); err != nil {
					b.Fatal(err)
				}
				runBench(b, func() error {
					ctx := next(ctx)
					if op == "GET" {
						return rdb.Get(ctx, key).Err()
					}
					return rdb.Set(ctx, key, "900", 0).Err()
				})
			})
		}
	}
}

// BenchmarkHook is the capture of a GET alone, the command not sent: what
// the hook adds to each command.
func BenchmarkHook(b *testing.B) {
	var hook redis.ProcessHook
	ctx, next := benchSpans(b, true, func(rw *racewayotel.Tracker) {
		hook = racewayredis.NewHook(rw).ProcessHook(func(context.Context, redis.Cmder) error { return nil })
	})
	runBench(b, func() error {
		ctx := next(ctx)
		return hook(ctx, redis.NewStringCmd(ctx, "get", "k"))
	})
}

// benchSpans returns a context with a logical thread of its own (as a
// request handler has) and a func that gives it a recording span, a new
// one every 100 calls. When captured, it creates a Tracker on the spans'
// TracerProvider and passes it to instrument.
func benchSpans(b *testing.B, captured bool, instrument func(*racewayotel.Tracker)) (context.Context, func(context.Context) context.Context) {
	tp := sdktrace.NewTracerProvider()
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	ctx := context.Background()
	if captured {
		rw := racewayotel.New(racewayotel.WithTracerProvider(tp), racewayotel.WithMeterProvider(metricnoop.NewMeterProvider()))
		tp.RegisterSpanProcessor(rw.SpanProcessor())
		instrument(rw)
		ctx = rw.Detach(ctx)
	}
	tracer := tp.Tracer("bench")
	var span trace.Span
	var cur context.Context
	n := 0
	b.Cleanup(func() {
		if span != nil {
			span.End()
		}
	})
	return ctx, func(ctx context.Context) context.Context {
		if n%100 == 0 {
			if span != nil {
				span.End()
			}
			cur, span = tracer.Start(ctx, "request")
		}
		n++
		return cur
	}
}

// runBench runs op b.N times, reporting allocations and CPU time per op.
func runBench(b *testing.B, op func() error) {
	b.ReportAllocs()
	cpu0 := racewaytest.CPUTime()
	for b.Loop() {
		if err := op(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(racewaytest.CPUTime()-cpu0)/float64(b.N), "cpu-ns/op")
}
