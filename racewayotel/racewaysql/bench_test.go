package racewaysql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"testing"
	"time"

	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/raceway-otel/raceway/internal/dbtest"
	"github.com/raceway-otel/raceway/racewayotel"
)

// BenchmarkStatement prices the capture on a real PostgreSQL on loopback:
// each iteration runs a statement through a captured *sql.DB and the same
// statement through a plain one (pgx both), alternating, each in a span of
// its own as in a traced application, and reports the captured time per
// statement (ns/op), the plain one (plain-ns/op) and their ratio (the goal
// is at most 1.10). Spans are recorded and dropped: no exporter.
//
//	go test -run '^$' -bench Statement -count 6 ./racewayotel/racewaysql
func BenchmarkStatement(b *testing.B) {
	_, dsn := dbtest.Postgres(b)
	plain := dbtest.OpenDB(b, dbtest.PostgresDriver, dsn)
	dbtest.Must(b, plain, "CREATE TABLE products (id int PRIMARY KEY, name text, stock int)",
		"INSERT INTO products VALUES (42, 'lamp', 1000000)")
	tp := sdktrace.NewTracerProvider()
	defer func() { _ = tp.Shutdown(context.Background()) }()
	rw := racewayotel.New(racewayotel.WithTracerProvider(tp), racewayotel.WithMeterProvider(metricnoop.NewMeterProvider()))
	tp.RegisterSpanProcessor(rw.SpanProcessor())
	captured, err := Open(rw, dbtest.PostgresDriver, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer captured.Close()
	tracer := tp.Tracer("bench")

	for _, bc := range []struct {
		name string
		run  func(ctx context.Context, db *sql.DB) error
	}{
		{"select", func(ctx context.Context, db *sql.DB) error {
			var name string
			var stock int
			return db.QueryRowContext(ctx, "SELECT name, stock FROM products WHERE id = $1", 42).Scan(&name, &stock)
		}},
		{"update", func(ctx context.Context, db *sql.DB) error {
			_, err := db.ExecContext(ctx, "UPDATE products SET stock = $1 WHERE id = $2", 1000, 42)
			return err
		}},
		{"decrement", func(ctx context.Context, db *sql.DB) error {
			_, err := db.ExecContext(ctx, "UPDATE products SET stock = stock - 1 WHERE id = $1", 42)
			return err
		}},
		{"for-update-tx", func(ctx context.Context, db *sql.DB) error {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			var stock int
			if err := tx.QueryRowContext(ctx, "SELECT stock FROM products WHERE id = $1 FOR UPDATE", 42).Scan(&stock); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "UPDATE products SET stock = $1 WHERE id = $2", stock+1, 42); err != nil {
				return err
			}
			return tx.Commit()
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			once := func(db *sql.DB) time.Duration {
				ctx, span := tracer.Start(context.Background(), "request")
				start := time.Now()
				if err := bc.run(ctx, db); err != nil {
					b.Fatal(err)
				}
				d := time.Since(start)
				span.End()
				return d
			}
			once(captured) // connect and learn the table outside the timing
			once(plain)
			var withCapture, without time.Duration
			b.ResetTimer()
			for b.Loop() {
				withCapture += once(captured)
				without += once(plain)
			}
			n := float64(b.N)
			b.ReportMetric(float64(withCapture.Nanoseconds())/n, "ns/op")
			b.ReportMetric(float64(without.Nanoseconds())/n, "plain-ns/op")
			b.ReportMetric(float64(withCapture)/float64(without), "ratio")
		})
	}
}

// BenchmarkCapture prices the capture alone, with no database: a SELECT of
// two columns by key and an UPDATE by key through a conn on a fake
// connection (the catalog filled in advance), each in a span; "plain" runs
// the same with capture off.
//
//	go test -run '^$' -bench Capture -benchmem ./racewayotel/racewaysql
func BenchmarkCapture(b *testing.B) {
	tc := newTestConn(b, SystemPostgres)
	tp := sdktrace.NewTracerProvider()
	defer func() { _ = tp.Shutdown(context.Background()) }()
	rw := racewayotel.New(racewayotel.WithTracerProvider(tp), racewayotel.WithMeterProvider(metricnoop.NewMeterProvider()))
	tp.RegisterSpanProcessor(rw.SpanProcessor())
	tracer := tp.Tracer("bench")
	args := []driver.NamedValue{{Ordinal: 1, Value: int64(42)}}
	dest := make([]driver.Value, 2)
	for _, capture := range []bool{false, true} {
		name := "plain"
		tc.c.cap.rw = nil
		if capture {
			name = "captured"
			tc.c.cap.rw = rw
		}
		b.Run("select/"+name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ctx, span := tracer.Start(context.Background(), "request")
				rows, _ := tc.c.query(ctx, "SELECT name, stock FROM products WHERE id = $1", args, func() (driver.Rows, error) {
					return &fakeRows{cols: []string{"name", "stock"}, vals: [][]driver.Value{{"lamp", int64(10)}}}, nil
				})
				for rows.Next(dest) == nil {
				}
				_ = rows.Close()
				span.End()
			}
		})
		b.Run("update/"+name, func(b *testing.B) {
			b.ReportAllocs()
			upd := []driver.NamedValue{{Ordinal: 1, Value: int64(9)}, {Ordinal: 2, Value: int64(42)}}
			for b.Loop() {
				ctx, span := tracer.Start(context.Background(), "request")
				_, _ = tc.c.exec(ctx, "UPDATE products SET stock = $1 WHERE id = $2", upd, func() (driver.Result, error) {
					return fakeResult{affected: 1}, nil
				})
				span.End()
			}
		})
	}
}
