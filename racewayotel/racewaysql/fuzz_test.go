package racewaysql

import (
	"context"
	"database/sql/driver"
	"io"
	"log/slog"
	"testing"
	"time"

	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/raceway-otel/raceway/racewayotel"
)

// FuzzCapture runs any text through the whole capture, in every dialect,
// as an Exec and as a Query returning one row: it must never panic, and
// must finish in bounded time (the tokenizer stops at maxTokens; key sets,
// rows and locks are bounded). The seed corpus is in
// testdata/fuzz/FuzzCapture: statements of the ORMs and drivers the table
// tests cover, and malformed ones.
//
//	go test -run '^$' -fuzz FuzzCapture -fuzztime 1m ./racewayotel/racewaysql
func FuzzCapture(f *testing.F) {
	// Spans go nowhere: a long fuzzing run must not accumulate them.
	tp := sdktrace.NewTracerProvider()
	f.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	rw := racewayotel.New(racewayotel.WithTracerProvider(tp), racewayotel.WithMeterProvider(metricnoop.NewMeterProvider()),
		racewayotel.WithLogger(slog.New(slog.DiscardHandler)))
	tp.RegisterSpanProcessor(rw.SpanProcessor())
	var conns []*conn
	for _, sys := range []string{SystemPostgres, SystemMySQL, SystemSQLite} {
		c := newTestConn(f, sys).c
		c.cap.rw = rw
		conns = append(conns, c)
	}
	tracer := tp.Tracer("fuzz")
	f.Fuzz(func(t *testing.T, query string, n int64, s string) {
		args := []driver.NamedValue{
			{Ordinal: 1, Value: n}, {Ordinal: 2, Value: s}, {Ordinal: 3, Value: []int64{n, n + 1}},
			{Ordinal: 4, Value: nil}, {Name: "id", Ordinal: 5, Value: n},
		}
		ctx, span := tracer.Start(context.Background(), "fuzz")
		defer span.End()
		start := time.Now()
		for _, c := range conns {
			_, _ = c.exec(ctx, query, args, func() (driver.Result, error) {
				return fakeResult{affected: n % 4, lastID: n}, nil
			})
			rows, err := c.query(ctx, query, args, func() (driver.Rows, error) {
				return &fakeRows{cols: []string{"id", "stock", s}, vals: [][]driver.Value{{n, s, nil}}}, nil
			})
			if err == nil {
				dest := make([]driver.Value, 3)
				for rows.Next(dest) != io.EOF {
				}
				_ = rows.Close()
			}
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%d bytes took %s", len(query), d)
		}
	})
}
