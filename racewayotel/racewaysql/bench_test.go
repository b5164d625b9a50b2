package racewaysql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/raceway-otel/raceway/internal/racewaytest"
	"github.com/raceway-otel/raceway/internal/servertest"
	"github.com/raceway-otel/raceway/racewayotel"
)

// BenchmarkStatement prices the capture on a real PostgreSQL on loopback:
// each iteration runs a statement through a captured *sql.DB and the same
// statement through a plain one (pgx both, on one shared connection: see
// sharedConn), in alternating order, each in a request of its own as a
// traced application with racewayotel's Middleware has it (a span and a
// logical thread), and reports the captured time per statement (ns/op),
// the plain one (plain-ns/op) and their ratio (the goal is at most 1.10).
// Only the statement is timed. Spans are recorded and dropped: no
// exporter.
//
//	go test -run '^$' -bench Statement -count 6 ./racewayotel/racewaysql
func BenchmarkStatement(b *testing.B) {
	_, dsn := servertest.Postgres(b)
	setup := servertest.OpenDB(b, servertest.PostgresDriver, dsn)
	servertest.Must(b, setup, "CREATE TABLE products (id int PRIMARY KEY, name text, stock int)",
		"INSERT INTO products VALUES (42, 'lamp', 1000000)")
	tp, rw := racewaytest.BenchTracker(b)
	plain, captured := sharedConn(b, rw, setup.Driver(), dsn)
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
			alternate(b, rw, tracer, func(ctx context.Context) { must0(b, bc.run(ctx, plain)) },
				func(ctx context.Context) { must0(b, bc.run(ctx, captured)) })
		})
	}
}

// sharedConn opens one connection to dsn with d and returns a plain and a
// captured *sql.DB that both run every statement on it, so that the two
// sides of a comparison talk to the same server process (PostgreSQL runs
// one per connection) over the same socket. Two plain *sql.DBs compared
// this way differed by at most 1 % on a by-key SELECT; with a connection
// each, by up to 4 % (up to 9 % without alternating the order), a
// different one faster in each run. The statements run one at a time, so
// the two pools never use the connection at once.
func sharedConn(b *testing.B, rw *racewayotel.Tracker, d driver.Driver, dsn string) (plain, captured *sql.DB) {
	c, err := d.Open(dsn)
	if err != nil {
		b.Fatal(err)
	}
	one := oneConn{c: c, d: d}
	plain, captured = sql.OpenDB(one), OpenDB(rw, one)
	for _, db := range []*sql.DB{plain, captured} {
		db.SetMaxOpenConns(1)
		b.Cleanup(func() { _ = db.Close() })
	}
	return plain, captured
}

// oneConn is a driver.Connector whose every connection is c.
type oneConn struct {
	c driver.Conn
	d driver.Driver
}

func (o oneConn) Connect(context.Context) (driver.Conn, error) { return o.c, nil }
func (o oneConn) Driver() driver.Driver                        { return o.d }

func must0(b *testing.B, err error) {
	if err != nil {
		b.Fatal(err)
	}
}

// alternate runs plain and captured one after the other in every
// iteration, each first in turn (on PostgreSQL the second statement of an
// iteration took about 9 µs longer than the first, against a by-key
// SELECT's 60 µs), each in a request of its own as racewayotel's
// Middleware starts it (a span, a logical thread that has already
// recorded), and times only them: it reports the captured time (ns/op),
// the plain one (plain-ns/op), the difference (capture-ns/op) and the
// ratio.
func alternate(b *testing.B, rw *racewayotel.Tracker, tracer trace.Tracer, plain, captured func(context.Context)) {
	once := func(f func(context.Context)) time.Duration {
		ctx, span := tracer.Start(context.Background(), "request")
		defer span.End()
		ctx, _ = rw.StartHandler(ctx, "request")
		rw.TrackStateChange(ctx, "request.started", nil, 1, racewayotel.Read) // the thread's start is recorded
		start := time.Now()
		f(ctx)
		return time.Since(start)
	}
	once(captured) // connect and learn the table outside the timing
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

// BenchmarkCapture prices the capture alone, with no database: a SELECT of
// two columns by key and an UPDATE by key through a conn on a fake
// connection (the catalog filled in advance), against the same conn with
// the capture off, timed as BenchmarkStatement times them (capture-ns/op is
// what the capture adds).
//
//	go test -run '^$' -bench Capture ./racewayotel/racewaysql
func BenchmarkCapture(b *testing.B) {
	tp, rw := racewaytest.BenchTracker(b)
	tracer := tp.Tracer("bench")
	captured, plain := newTestConn(b, SystemPostgres).c, newTestConn(b, SystemPostgres).c
	captured.cap.rw, plain.cap.rw = rw, nil
	sel := []driver.NamedValue{{Ordinal: 1, Value: int64(42)}}
	upd := []driver.NamedValue{{Ordinal: 1, Value: int64(9)}, {Ordinal: 2, Value: int64(42)}}
	dest := make([]driver.Value, 2)
	selectOn := func(c *conn) func(context.Context) {
		return func(ctx context.Context) {
			rows, _ := c.query(ctx, "SELECT name, stock FROM products WHERE id = $1", sel, func() (driver.Rows, error) {
				return &fakeRows{cols: []string{"name", "stock"}, vals: [][]driver.Value{{"lamp", int64(10)}}}, nil
			})
			for rows.Next(dest) == nil {
			}
			_ = rows.Close()
		}
	}
	updateOn := func(c *conn) func(context.Context) {
		return func(ctx context.Context) {
			_, _ = c.exec(ctx, "UPDATE products SET stock = $1 WHERE id = $2", upd, func() (driver.Result, error) {
				return fakeResult{affected: 1}, nil
			})
		}
	}
	b.Run("select", func(b *testing.B) { alternate(b, rw, tracer, selectOn(plain), selectOn(captured)) })
	b.Run("update", func(b *testing.B) { alternate(b, rw, tracer, updateOn(plain), updateOn(captured)) })
}
