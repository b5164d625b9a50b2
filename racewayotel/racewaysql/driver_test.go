package racewaysql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"slices"
	"strings"
	"sync"
	"testing"
)

// callLog records the driver methods database/sql called.
type callLog struct {
	mu    sync.Mutex
	calls []string
}

func (l *callLog) add(c string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, c)
}

func (l *callLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.calls
	l.calls = nil
	return c
}

// oldDriver has only the methods every driver must have.
type oldDriver struct{ log *callLog }

func (d oldDriver) Open(string) (driver.Conn, error) { return oldConn(d), nil }

type oldConn struct{ log *callLog }

func (c oldConn) Prepare(q string) (driver.Stmt, error) {
	c.log.add("Prepare")
	return oldStmt(c), nil
}
func (c oldConn) Close() error { return nil }
func (c oldConn) Begin() (driver.Tx, error) {
	c.log.add("Begin")
	return oldTx(c), nil
}

type oldStmt struct{ log *callLog }

func (s oldStmt) Close() error  { return nil }
func (s oldStmt) NumInput() int { return -1 }
func (s oldStmt) Exec(args []driver.Value) (driver.Result, error) {
	s.log.add("Stmt.Exec")
	return driver.RowsAffected(1), nil
}
func (s oldStmt) Query(args []driver.Value) (driver.Rows, error) {
	s.log.add("Stmt.Query")
	return &fakeRows{cols: []string{"x"}, vals: [][]driver.Value{{int64(1)}}}, nil
}

type oldTx struct{ log *callLog }

func (t oldTx) Commit() error   { t.log.add("Commit"); return nil }
func (t oldTx) Rollback() error { t.log.add("Rollback"); return nil }

// newDriver has every optional interface of a connection.
type newDriver struct{ log *callLog }

func (d newDriver) Open(string) (driver.Conn, error) { return newConn{oldConn(d)}, nil }

type newConn struct{ oldConn }

func (c newConn) PrepareContext(context.Context, string) (driver.Stmt, error) {
	c.log.add("PrepareContext")
	return oldStmt(c.oldConn), nil
}
func (c newConn) BeginTx(_ context.Context, opts driver.TxOptions) (driver.Tx, error) {
	c.log.add("BeginTx")
	return oldTx(c.oldConn), nil
}
func (c newConn) ExecContext(context.Context, string, []driver.NamedValue) (driver.Result, error) {
	c.log.add("ExecContext")
	return driver.RowsAffected(1), nil
}
func (c newConn) QueryContext(context.Context, string, []driver.NamedValue) (driver.Rows, error) {
	c.log.add("QueryContext")
	return &fakeRows{cols: []string{"x"}, vals: [][]driver.Value{{int64(1)}}}, nil
}
func (c newConn) Ping(context.Context) error         { c.log.add("Ping"); return nil }
func (c newConn) ResetSession(context.Context) error { c.log.add("ResetSession"); return nil }
func (c newConn) IsValid() bool                      { c.log.add("IsValid"); return true }
func (c newConn) CheckNamedValue(nv *driver.NamedValue) error {
	c.log.add("CheckNamedValue")
	if _, ok := nv.Value.(point); ok {
		return nil // a type only this driver accepts
	}
	return driver.ErrSkip
}

type point struct{ x, y int }

// The wrapper forwards every method the wrapped connection has and, for
// those it lacks, makes database/sql do what it does without the wrapper:
// prepare instead of exec, refuse non-default isolation, convert arguments
// by default. Statements still run when the capture cannot learn the
// session (this fake answers no query), and are counted as skipped.
func TestDriverInterfaces(t *testing.T) {
	ctx := context.Background()
	r := newRecorder(t, "shop-1")
	run := func(t *testing.T, d driver.Driver) (*sql.DB, *sql.Conn) {
		db := sql.OpenDB(must(WrapDriver(r.rw, d, WithSystem(SystemPostgres)).(driver.DriverContext).OpenConnector("")))
		t.Cleanup(func() { _ = db.Close() })
		c, err := db.Conn(ctx) // one connection, so that ResetSession and IsValid are not asked in between
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return db, c
	}
	t.Run("old driver", func(t *testing.T) {
		log := &callLog{}
		_, c := run(t, oldDriver{log})
		log.take() // connecting: the capture asked its questions
		if _, err := c.ExecContext(ctx, "UPDATE t SET x = 1 WHERE id = 1"); err != nil {
			t.Fatal(err)
		}
		var x int
		if err := c.QueryRowContext(ctx, "SELECT x FROM t WHERE id = 1").Scan(&x); err != nil || x != 1 {
			t.Fatalf("query: %d, %v", x, err)
		}
		if err := c.PingContext(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := c.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable}); err == nil ||
			!strings.Contains(err.Error(), "non-default isolation level") {
			t.Errorf("BeginTx(serializable) on a driver without BeginTx: %v, want database/sql's refusal", err)
		}
		tx, err := c.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if _, err := c.ExecContext(ctx, "SELECT 1", point{1, 2}); err == nil {
			t.Error("a value database/sql cannot convert was accepted")
		}
		want := []string{"Prepare", "Stmt.Exec", "Prepare", "Stmt.Query", "Begin", "Commit"}
		if got := log.take(); !slices.Equal(got, want) {
			t.Errorf("calls %v, want %v", got, want)
		}
	})
	t.Run("new driver", func(t *testing.T) {
		log := &callLog{}
		db, c := run(t, newDriver{log})
		log.take() // connecting: the capture asked its questions
		if _, err := c.ExecContext(ctx, "UPDATE t SET x = $1 WHERE id = 1", point{1, 2}); err != nil {
			t.Fatal(err)
		}
		var x int
		if err := c.QueryRowContext(ctx, "SELECT x FROM t WHERE id = 1").Scan(&x); err != nil || x != 1 {
			t.Fatalf("query: %d, %v", x, err)
		}
		st, err := c.PrepareContext(ctx, "SELECT x FROM t WHERE id = $1")
		if err != nil {
			t.Fatal(err)
		}
		if err := st.QueryRowContext(ctx, point{1, 2}).Scan(&x); err != nil {
			t.Fatal(err)
		}
		_ = st.Close()
		if err := c.PingContext(ctx); err != nil {
			t.Fatal(err)
		}
		tx, err := c.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable})
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		want := []string{"CheckNamedValue", "ExecContext", "QueryContext", "PrepareContext", "CheckNamedValue",
			"Stmt.Query", "Ping", "BeginTx", "Rollback"}
		if got := log.take(); !slices.Equal(got, want) {
			t.Errorf("calls %v, want %v", got, want)
		}
		_ = c.Close() // back to the pool: database/sql resets the session when it is reused
		if err := db.PingContext(ctx); err != nil {
			t.Fatal(err)
		}
		if got := log.take(); !slices.Contains(got, "ResetSession") || !slices.Contains(got, "IsValid") {
			t.Errorf("reuse called %v, want ResetSession and IsValid forwarded", got)
		}
	})
	if got := r.skipped(); len(got) == 0 || slices.ContainsFunc(got, func(s string) bool { return s != reasonSession }) {
		t.Errorf("skipped %v, want only %q", got, reasonSession)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
