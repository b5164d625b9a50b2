package racewayredis_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/raceway-otel/raceway/racewayotel"
	"github.com/raceway-otel/raceway/racewayotel/racewayredis"
)

// Instrument records every command's accesses to keys: here a GET then SET
// (the write's old value is what the GET read) and an INCR (an atomic
// read-modify-write, holding the key's lock).
func ExampleInstrument() {
	mr, err := miniredis.Run() // an in-process Redis, for the example
	if err != nil {
		panic(err)
	}
	defer mr.Close()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	rw := racewayotel.New(racewayotel.WithTracerProvider(tp))
	tp.RegisterSpanProcessor(rw.SpanProcessor())

	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	if err := racewayredis.Instrument(rdb, rw); err != nil {
		panic(err)
	}

	ctx, span := tp.Tracer("shop").Start(context.Background(), "reserve")
	rdb.Set(ctx, "stock:42", 10, 0)
	n, _ := rdb.Get(ctx, "stock:42").Int()
	rdb.Set(ctx, "stock:42", n-1, 0)
	rdb.Incr(ctx, "orders")
	span.End()

	for _, ev := range rec.Ended()[0].Events() {
		if ev.Name != "raceway.read" && ev.Name != "raceway.write" {
			continue
		}
		line := []string{strings.TrimPrefix(ev.Name, "raceway.")}
		for _, kv := range ev.Attributes {
			switch kv.Key {
			case "raceway.var.name", "raceway.value.new":
				line = append(line, kv.Value.AsString())
			case "raceway.locks.shared":
				line = append(line, "locks="+strings.Join(kv.Value.AsStringSlice(), ","))
			case "raceway.value.old":
				line = append(line, "old="+kv.Value.AsString())
			}
		}
		fmt.Println(strings.Join(line, " "))
	}
	// Output:
	// write redis/0/stock:42 10
	// read redis/0/stock:42 10
	// write redis/0/stock:42 old=10 9
	// read redis/0/orders 0 locks=redis/0/orders
	// write redis/0/orders old=0 1 locks=redis/0/orders
}

// A Redis lock is a shared lock: two services that read-modify-write a key
// holding it are never reported as racing, while one that skips it is.
func ExampleMutex() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	rw := racewayotel.New()
	_ = racewayredis.Instrument(rdb, rw)

	ctx := context.Background()
	m := racewayredis.NewMutex(rdb, "lock:stock:42")
	err := rw.WithSharedLock(ctx, m, m.Name(), func(ctx context.Context) error {
		n, err := rdb.Get(ctx, "stock:42").Int()
		if err != nil {
			return err
		}
		return rdb.Set(ctx, "stock:42", n-1, 0).Err()
	})
	if err != nil {
		fmt.Println(err)
	}
}
