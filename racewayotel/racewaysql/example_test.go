package racewaysql_test

import (
	"context"
	"fmt"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	_ "modernc.org/sqlite"

	"github.com/raceway-otel/raceway/racewayotel"
	"github.com/raceway-otel/raceway/racewayotel/racewaysql"
)

// Open a database through the capture, and the application's statements
// record the rows they read and write, with no tracking call: here a
// read-modify-write of a product's stock in SQLite, and what it recorded.
func ExampleOpen() {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	rw := racewayotel.New(racewayotel.WithTracerProvider(tp))
	tp.RegisterSpanProcessor(rw.SpanProcessor())

	db, err := racewaysql.Open(rw, "sqlite", "file::memory:", racewaysql.WithDatabase("shop"))
	if err != nil {
		panic(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // one in-memory database
	ctx, span := tp.Tracer("shop").Start(context.Background(), "POST /reserve")
	_, _ = db.ExecContext(ctx, "CREATE TABLE products (id integer PRIMARY KEY, stock integer)")
	_, _ = db.ExecContext(ctx, "INSERT INTO products VALUES (42, 10)")
	var stock int
	_ = db.QueryRowContext(ctx, "SELECT stock FROM products WHERE id = ?", 42).Scan(&stock)
	_, _ = db.ExecContext(ctx, "UPDATE products SET stock = ? WHERE id = ?", stock-1, 42)
	span.End()

	for _, ev := range rec.Ended()[0].Events() {
		a := map[string]string{}
		for _, kv := range ev.Attributes {
			a[string(kv.Key)] = kv.Value.String()
		}
		switch ev.Name {
		case "raceway.read":
			fmt.Println("read ", a["raceway.var.name"], "=", a["raceway.value.new"])
		case "raceway.write":
			fmt.Println("write", a["raceway.var.name"], a["raceway.value.old"], "->", a["raceway.value.new"])
		}
	}
	fmt.Println("skipped:", rw.Stats().CaptureSkipped, "(the CREATE TABLE)")
	// Output:
	// write sqlite/shop/products/42.id  -> 42
	// write sqlite/shop/products/42.stock  -> 10
	// read  sqlite/shop/products/42.stock = 10
	// write sqlite/shop/products/42.stock 10 -> 9
	// skipped: 1 (the CREATE TABLE)
}
