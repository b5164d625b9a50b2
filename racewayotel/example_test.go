package racewayotel_test

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/raceway-otel/raceway/racewayotel"
	"github.com/raceway-otel/raceway/racewayotel/convention"
)

// printRecords prints the Raceway records of the ended spans, in order, with
// the attributes that do not vary between runs.
func printRecords(rec *tracetest.SpanRecorder) {
	for _, s := range rec.Ended() {
		for _, ev := range s.Events() {
			var b strings.Builder
			b.WriteString(ev.Name)
			for _, kv := range ev.Attributes {
				switch kv.Key {
				case convention.Seq, convention.VarName, convention.VarScope, convention.ValueOld,
					convention.ValueNew, convention.LockID, convention.Origin, convention.LocksHeld:
					fmt.Fprintf(&b, " %s=%s", strings.TrimPrefix(string(kv.Key), "raceway."), kv.Value.String())
				}
			}
			fmt.Println(b.String())
		}
	}
}

func Example() {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	rw := racewayotel.New(racewayotel.WithTracerProvider(tp))
	tp.RegisterSpanProcessor(rw.SpanProcessor())

	ctx, span := tp.Tracer("bank").Start(context.Background(), "transfer")
	balance := 1000
	rw.TrackStateChange(ctx, "accounts.alice.balance", nil, balance, racewayotel.Read)
	rw.TrackStateChange(ctx, "accounts.alice.balance", balance, balance-100, racewayotel.Write)
	span.End()

	printRecords(rec)
	// Output:
	// raceway.thread.start seq=1 thread.origin=root
	// raceway.read seq=2 var.name=accounts.alice.balance var.scope=process value.new=1000
	// raceway.write seq=3 var.name=accounts.alice.balance var.scope=process value.old=1000 value.new=900
}

func ExampleTracker_TrackSharedStateChange() {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	rw := racewayotel.New(racewayotel.WithTracerProvider(tp))
	tp.RegisterSpanProcessor(rw.SpanProcessor())

	ctx, span := tp.Tracer("shop").Start(context.Background(), "buy")
	// The row is the same resource for every process of the fleet.
	rw.TrackSharedStateChange(ctx, "postgres/shop/products/42.stock", 10, 9, racewayotel.Write)
	span.End()

	printRecords(rec)
	// Output:
	// raceway.thread.start seq=1 thread.origin=root
	// raceway.write seq=2 var.name=postgres/shop/products/42.stock var.scope=shared value.old=10 value.new=9
}

func ExampleTracker_WithLock() {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	rw := racewayotel.New(racewayotel.WithTracerProvider(tp))
	tp.RegisterSpanProcessor(rw.SpanProcessor())

	ctx, span := tp.Tracer("bank").Start(context.Background(), "transfer")
	var mu sync.Mutex
	rw.WithLock(ctx, &mu, "accounts", func() {
		rw.TrackStateChange(ctx, "accounts.alice.balance", 1000, 900, racewayotel.Write)
	})
	span.End()

	printRecords(rec)
	// Output:
	// raceway.thread.start seq=1 thread.origin=root
	// raceway.lock.acquire seq=2 lock.id=accounts
	// raceway.write seq=3 var.name=accounts.alice.balance var.scope=process value.old=1000 value.new=900 locks.held=["accounts"]
	// raceway.lock.release seq=4 lock.id=accounts
}

func ExampleTracker_Go() {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	rw := racewayotel.New(racewayotel.WithTracerProvider(tp))
	tp.RegisterSpanProcessor(rw.SpanProcessor())

	ctx, span := tp.Tracer("jobs").Start(context.Background(), "parent")
	task := rw.Go(ctx, func(ctx context.Context) {
		rw.TrackStateChange(ctx, "report.rows", 0, 42, racewayotel.Write)
	})
	if err := task.Wait(ctx); err != nil {
		fmt.Println(err)
	}
	span.End()

	printRecords(rec)
	// Output:
	// raceway.thread.start seq=1 thread.origin=root
	// raceway.thread.spawn seq=2
	// raceway.thread.start seq=1 thread.origin=spawn
	// raceway.write seq=2 var.name=report.rows var.scope=process value.old=0 value.new=42
	// raceway.thread.end seq=3
	// raceway.thread.await seq=3
}

func ExampleTracker_StartFunction() {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	rw := racewayotel.New(racewayotel.WithTracerProvider(tp))
	tp.RegisterSpanProcessor(rw.SpanProcessor())

	ctx, span := tp.Tracer("bank").Start(context.Background(), "request")
	func() {
		defer rw.StartFunction(ctx, "transfer", attribute.Int("amount", 100))()
	}()
	span.End()

	for _, ev := range rec.Ended()[0].Events()[1:] {
		var fn string
		var timed bool
		for _, kv := range ev.Attributes {
			if kv.Key == convention.CodeFunctionName {
				fn = kv.Value.AsString()
			}
			timed = timed || kv.Key == convention.DurationNS
		}
		fmt.Println(ev.Name, fn, timed)
	}
	// Output:
	// raceway.call transfer false
	// raceway.return transfer true
}
