package racewaysql

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/raceway-otel/raceway/racewayotel"
	"github.com/raceway-otel/raceway/racewayotel/convention"
)

// recorder is one simulated service: a Tracker recording into a
// SpanRecorder and a ManualReader, whose records and skips tests read back.
type recorder struct {
	t      testing.TB
	rw     *racewayotel.Tracker
	rec    *tracetest.SpanRecorder
	tracer trace.Tracer
	reader *sdkmetric.ManualReader
	seen   int            // spans already read
	skips  map[string]int // skip counts already read, by reason
}

func newRecorder(t testing.TB, processID string) *recorder {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	rw := racewayotel.New(racewayotel.WithTracerProvider(tp), racewayotel.WithMeterProvider(mp),
		racewayotel.WithLogger(slog.New(slog.DiscardHandler)), racewayotel.WithProcessID(processID))
	tp.RegisterSpanProcessor(rw.SpanProcessor())
	t.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	return &recorder{t: t, rw: rw, rec: rec, tracer: tp.Tracer("test"), reader: reader, skips: map[string]int{}}
}

// testConn is a conn on a fake connection whose catalog is filled in
// advance: the capture from statement to records, with no database.
type testConn struct {
	*recorder
	c *conn
}

// testTables are the tables of the fake catalog, by name, with the key
// columns first (pk counts them).
var testTables = []struct {
	name string
	cols []string
	pk   int
}{
	{"products", []string{"id", "name", "stock", "price", "updated_at", "deleted_at"}, 1},
	{"order_items", []string{"order_id", "product_id", "qty"}, 2},
	{"kv", []string{"key", "value"}, 1},
	{"Accounts", []string{"Id", "Balance"}, 1}, // PostgreSQL: created quoted, mixed case
}

func newTestConn(t testing.TB, system string) *testConn {
	t.Helper()
	r := newRecorder(t, "test-1")
	cp := newCapture(r.rw, []Option{WithSystem(system)})
	db := "shop"
	if system == SystemSQLite {
		db = "/data/shop.db"
	}
	for _, tt := range testTables {
		tab := &table{name: tt.name, prefix: system + "/" + db + "/" + tt.name, cols: tt.cols, fold: system != SystemPostgres}
		for i := range tt.pk {
			tab.pk = append(tab.pk, i)
		}
		cp.catalog.put(catalogKey{database: db, table: catalogName(system, name{text: tt.name, quoted: true})},
			catalogEntry{t: tab, checked: time.Now()})
	}
	c := &conn{inner: fakeConn{}, cap: cp}
	c.sess.system, c.sess.database, c.sess.autocommit = system, db, true
	c.sess.d, _ = dialectOf(system)
	c.sess.iso = isoReadCommitted
	if system == SystemSQLite {
		c.sess.iso = isoSerializable
	}
	return &testConn{recorder: r, c: c}
}

// step is one statement run on a testConn.
type step struct {
	query string
	args  []any // ordinals 1, 2, …; a driver.NamedValue is taken as is
	// Exec: rows affected and last insert id (0: none).
	affected, lastID int64
	// Query, when columns is not nil: the result rows.
	columns []string
	rows    [][]driver.Value
	// What the table tests expect: the records (see records) and the skip
	// reasons counted.
	want, skip []string
}

// run runs s and returns its records (see render) and the skip reasons it
// counted.
func (tc *testConn) run(s step) (records []string, skipped []string) {
	tc.t.Helper()
	args := make([]driver.NamedValue, len(s.args))
	for i, a := range s.args {
		if nv, ok := a.(driver.NamedValue); ok {
			args[i] = nv
			continue
		}
		args[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	ctx, span := tc.tracer.Start(context.Background(), "step")
	if s.columns != nil {
		rows, err := tc.c.query(ctx, s.query, args, func() (driver.Rows, error) {
			return &fakeRows{cols: s.columns, vals: s.rows}, nil
		})
		if err != nil {
			tc.t.Fatalf("%s: %v", s.query, err)
		}
		dest := make([]driver.Value, len(s.columns))
		for rows.Next(dest) == nil {
		}
		_ = rows.Close()
	} else {
		if _, err := tc.c.exec(ctx, s.query, args, func() (driver.Result, error) {
			return fakeResult{affected: s.affected, lastID: s.lastID}, nil
		}); err != nil {
			tc.t.Fatalf("%s: %v", s.query, err)
		}
	}
	span.End()
	return tc.records(), tc.skipped()
}

// records renders the access records made since the last call, one line
// each: "R name value locks" or "W name old->new locks", with "x[…]" and
// "r[…]" for the shared locks held exclusively and in read mode.
func (tc *recorder) records() []string {
	spans := tc.rec.Ended()
	var out []string
	for _, sp := range spans[tc.seen:] {
		for _, ev := range sp.Events() {
			if ev.Name != "raceway.read" && ev.Name != "raceway.write" {
				continue
			}
			a := map[string]string{}
			var x, r []string
			for _, kv := range ev.Attributes {
				switch string(kv.Key) {
				case convention.LocksShared:
					x = kv.Value.AsStringSlice()
				case convention.RLocksShared:
					r = kv.Value.AsStringSlice()
				default:
					a[string(kv.Key)] = kv.Value.String()
				}
			}
			line := "R " + a[convention.VarName]
			if ev.Name == "raceway.write" {
				line = "W " + a[convention.VarName]
				if old, ok := a[convention.ValueOld]; ok {
					line += " " + old + "->"
				} else {
					line += " ->"
				}
				line += a[convention.ValueNew]
			} else if v, ok := a[convention.ValueNew]; ok {
				line += " " + v
			}
			if len(x) > 0 {
				line += " x" + fmt.Sprint(x)
			}
			if len(r) > 0 {
				line += " r" + fmt.Sprint(r)
			}
			out = append(out, line)
		}
	}
	tc.seen = len(spans)
	return out
}

// skipped returns the skip reasons counted since the last call.
func (tc *recorder) skipped() []string {
	var rm metricdata.ResourceMetrics
	if err := tc.reader.Collect(context.Background(), &rm); err != nil {
		tc.t.Fatal(err)
	}
	var out []string
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "raceway.capture.skipped" {
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				reason, _ := dp.Attributes.Value("raceway.reason")
				r := reason.AsString()
				for range int(dp.Value) - tc.skips[r] {
					out = append(out, r)
				}
				tc.skips[r] = int(dp.Value)
			}
		}
	}
	return out
}

// fakeConn is a driver.Conn with nothing behind it: the testConn's catalog
// is filled in advance, so it is never asked.
type fakeConn struct{}

func (fakeConn) Prepare(string) (driver.Stmt, error) { return nil, errors.New("fakeConn: no database") }
func (fakeConn) Close() error                        { return nil }
func (fakeConn) Begin() (driver.Tx, error)           { return nil, errors.New("fakeConn: no database") }

type fakeResult struct{ affected, lastID int64 }

func (r fakeResult) RowsAffected() (int64, error) { return r.affected, nil }
func (r fakeResult) LastInsertId() (int64, error) {
	if r.lastID == 0 {
		return 0, errors.New("no id")
	}
	return r.lastID, nil
}

type fakeRows struct {
	cols []string
	vals [][]driver.Value
	i    int
}

func (r *fakeRows) Columns() []string { return r.cols }
func (r *fakeRows) Close() error      { return nil }
func (r *fakeRows) Next(dest []driver.Value) error {
	if r.i >= len(r.vals) {
		return io.EOF
	}
	copy(dest, r.vals[r.i])
	r.i++
	return nil
}

// lines joins records for messages.
func lines(s []string) string {
	if len(s) == 0 {
		return "(none)"
	}
	return "\n\t" + strings.Join(s, "\n\t")
}
