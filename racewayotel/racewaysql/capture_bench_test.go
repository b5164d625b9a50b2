package racewaysql

import (
	"context"
	"database/sql/driver"
	"testing"

	"github.com/raceway-otel/raceway/internal/racewaytest"
)

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
	b.Run("select", func(b *testing.B) { racewaytest.Alternate(b, rw, tracer, selectOn(plain), selectOn(captured)) })
	b.Run("update", func(b *testing.B) { racewaytest.Alternate(b, rw, tracer, updateOn(plain), updateOn(captured)) })
}
