package racewayredis_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/raceway-otel/raceway/internal/racewaytest"
	"github.com/raceway-otel/raceway/internal/servertest"
	"github.com/raceway-otel/raceway/racewayotel/racewayredis"
)

// BenchmarkCommand compares a GET and a SET against the real Redis on
// loopback, captured by the hook and not: two clients with the same
// options, the same recording spans (the SDK's, no exporter; a new span
// every 100 commands, below its event limit). Every iteration sends the
// command once through each client, in alternating order, and times each,
// so that both see the same conditions on a loaded machine: the figure is
// captured/uncaptured, whose goal is ≤ 1.10.
func BenchmarkCommand(b *testing.B) {
	addr := servertest.Redis(b)
	key := servertest.Name("raceway-bench:")
	b.Cleanup(func() {
		r := redis.NewClient(&redis.Options{Addr: addr})
		defer r.Close()
		r.Del(context.Background(), key)
	})
	for _, op := range []string{"GET", "SET"} {
		b.Run(op, func(b *testing.B) {
			plain := redis.NewClient(&redis.Options{Addr: addr})
			captured := redis.NewClient(&redis.Options{Addr: addr})
			b.Cleanup(func() { _ = plain.Close(); _ = captured.Close() })
			plainTP := sdktrace.NewTracerProvider()
			b.Cleanup(func() { _ = plainTP.Shutdown(context.Background()) })
			plainCtx := context.Background()
			plainSpan := racewaytest.Spans(b, plainTP, plainCtx)
			capTP, rw := racewaytest.BenchTracker(b)
			if err := racewayredis.Instrument(captured, rw); err != nil {
				b.Fatal(err)
			}
			// A logical thread of its own, as a request handler has.
			capCtx := rw.Detach(context.Background())
			capSpan := racewaytest.Spans(b, capTP, capCtx)
			send := func(ctx context.Context, rdb *redis.Client) time.Duration {
				t0 := time.Now()
				var err error
				if op == "GET" {
					err = rdb.Get(ctx, key).Err()
				} else {
					err = rdb.Set(ctx, key, "900", 0).Err()
				}
				if err != nil {
					b.Fatal(err)
				}
				return time.Since(t0)
			}
			if err := plain.Set(plainCtx, key, "1000", 0).Err(); err != nil {
				b.Fatal(err)
			}
			send(plainCtx, plain) // both connections are open
			send(capCtx, captured)
			var plainTime, capTime time.Duration
			n := 0
			b.ReportAllocs()
			for b.Loop() {
				pctx, _ := plainSpan()
				cctx, _ := capSpan()
				if n++; n%2 == 0 {
					plainTime += send(pctx, plain)
					capTime += send(cctx, captured)
				} else {
					capTime += send(cctx, captured)
					plainTime += send(pctx, plain)
				}
			}
			b.ReportMetric(float64(plainTime.Nanoseconds())/float64(b.N), "uncaptured-ns/op")
			b.ReportMetric(float64(capTime.Nanoseconds())/float64(b.N), "captured-ns/op")
			b.ReportMetric(float64(capTime)/float64(plainTime), "captured/uncaptured")
		})
	}
}

// BenchmarkHook is the capture of a GET alone, the command not sent: what
// the hook adds to each command.
func BenchmarkHook(b *testing.B) {
	tp, rw := racewaytest.BenchTracker(b)
	hook := racewayredis.NewHook(rw).ProcessHook(func(context.Context, redis.Cmder) error { return nil })
	next := racewaytest.Spans(b, tp, rw.Detach(context.Background()))
	b.ReportAllocs()
	for b.Loop() {
		ctx, _ := next()
		if err := hook(ctx, redis.NewStringCmd(ctx, "get", "k")); err != nil {
			b.Fatal(err)
		}
	}
}
