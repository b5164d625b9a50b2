package racewaysql

import (
	"context"
	"database/sql/driver"
	"errors"
)

// conn is a driver connection whose statements capture. It implements every
// optional interface database/sql looks for on a connection, and each does
// what database/sql does when the wrapped connection lacks it (a context
// check, driver.ErrSkip, nil, true), so that wrapping changes nothing but
// the records.
type conn struct {
	inner driver.Conn
	cap   *capture
	sess  session
	held  []heldLock // advisory locks held (see advisory.go)
}

var (
	_ driver.Conn               = (*conn)(nil)
	_ driver.ConnBeginTx        = (*conn)(nil)
	_ driver.ConnPrepareContext = (*conn)(nil)
	_ driver.ExecerContext      = (*conn)(nil)
	_ driver.QueryerContext     = (*conn)(nil)
	_ driver.Pinger             = (*conn)(nil)
	_ driver.SessionResetter    = (*conn)(nil)
	_ driver.Validator          = (*conn)(nil)
	_ driver.NamedValueChecker  = (*conn)(nil)
)

func (c *conn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	var s driver.Stmt
	var err error
	if p, ok := c.inner.(driver.ConnPrepareContext); ok {
		s, err = p.PrepareContext(ctx, query)
	} else if s, err = c.inner.Prepare(query); err == nil && ctx.Err() != nil {
		_ = s.Close()
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, err
	}
	return &stmt{inner: s, c: c, query: query}, nil
}

// Close closes the connection, which releases the advisory locks it held.
func (c *conn) Close() error {
	c.releaseHeld(true)
	return c.inner.Close()
}

// Begin is the deprecated driver.Conn method; database/sql calls BeginTx.
func (c *conn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	var t driver.Tx
	var err error
	if b, ok := c.inner.(driver.ConnBeginTx); ok {
		t, err = b.BeginTx(ctx, opts)
	} else {
		if opts.Isolation != driver.IsolationLevel(0) {
			return nil, errors.New("sql: driver does not support non-default isolation level")
		}
		if opts.ReadOnly {
			return nil, errors.New("sql: driver does not support read-only transactions")
		}
		//lint:ignore SA1019 the wrapped driver has only the old interface
		if t, err = c.inner.Begin(); err == nil && ctx.Err() != nil {
			_ = t.Rollback()
			return nil, ctx.Err()
		}
	}
	if err != nil {
		return nil, err
	}
	c.sess.txOptions(opts)
	return &tx{inner: t, c: c}, nil
}

func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	ec, hasCtx := c.inner.(driver.ExecerContext)
	//lint:ignore SA1019 the wrapped driver may have only the old interface
	e, hasOld := c.inner.(driver.Execer)
	if !hasCtx && !hasOld {
		return nil, driver.ErrSkip // database/sql prepares the statement instead
	}
	return c.exec(ctx, query, args, func() (driver.Result, error) {
		if hasCtx {
			return ec.ExecContext(ctx, query, args)
		}
		return callOld(ctx, args, func(vals []driver.Value) (driver.Result, error) { return e.Exec(query, vals) })
	})
}

func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	qc, hasCtx := c.inner.(driver.QueryerContext)
	//lint:ignore SA1019 the wrapped driver may have only the old interface
	q, hasOld := c.inner.(driver.Queryer)
	if !hasCtx && !hasOld {
		return nil, driver.ErrSkip
	}
	return c.query(ctx, query, args, func() (driver.Rows, error) {
		if hasCtx {
			return qc.QueryContext(ctx, query, args)
		}
		return callOld(ctx, args, func(vals []driver.Value) (driver.Rows, error) { return q.Query(query, vals) })
	})
}

// exec runs a statement through run and records it once it succeeded. A
// driver.ErrSkip from run (database/sql then prepares the statement and
// runs it again) leaves no trace.
func (c *conn) exec(ctx context.Context, query string, args []driver.NamedValue, run func() (driver.Result, error)) (driver.Result, error) {
	if c.cap.rw == nil {
		return run()
	}
	st := c.cap.stmts.statement(c.sess.d, query)
	x, reason := c.start(ctx, st, query, args)
	res, err := run()
	if err == driver.ErrSkip {
		return res, err
	}
	c.finish(st, reason, err)
	switch {
	case err != nil:
	case x != nil:
		x.done(res)
	case st.kind == kindAdvisory:
		call := st.advisory
		if call.acquire && call.try {
			c.skipped(reasonLockResult) // the result is the rows Exec discards
			break
		}
		c.advisory(ctx, call, args, true)
	}
	return res, err
}

// query is exec for statements that return rows, which are recorded as
// they are read.
func (c *conn) query(ctx context.Context, query string, args []driver.NamedValue, run func() (driver.Rows, error)) (driver.Rows, error) {
	if c.cap.rw == nil {
		return run()
	}
	st := c.cap.stmts.statement(c.sess.d, query)
	x, reason := c.start(ctx, st, query, args)
	rows, err := run()
	if err == driver.ErrSkip {
		return rows, err
	}
	c.finish(st, reason, err)
	switch {
	case err != nil:
		return rows, err
	case x != nil:
		return x.wrap(rows), nil
	case st.kind == kindAdvisory:
		if call := st.advisory; call.acquire && call.try {
			return &lockRows{baseRows: baseRows{rows}, c: c, ctx: ctx, call: call, args: args}, nil
		}
		c.advisory(ctx, st.advisory, args, true)
	}
	return rows, nil
}

// finish counts a skipped statement and applies a transaction control
// statement, once the statement ran. A failed COMMIT or ROLLBACK ends the
// transaction too (the server rolls it back).
func (c *conn) finish(st *statement, reason string, err error) {
	if err == nil && reason != "" {
		c.skipped(reason)
	}
	if err == nil || st.kind == kindCommit || st.kind == kindRollback {
		c.sess.control(st)
		if st.kind == kindCommit || st.kind == kindRollback {
			c.releaseHeld(false) // pg_advisory_xact_lock's
		}
	}
}

func (c *conn) Ping(ctx context.Context) error {
	if p, ok := c.inner.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *conn) ResetSession(ctx context.Context) error {
	if r, ok := c.inner.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *conn) IsValid() bool {
	if v, ok := c.inner.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *conn) CheckNamedValue(nv *driver.NamedValue) error {
	if n, ok := c.inner.(driver.NamedValueChecker); ok {
		return n.CheckNamedValue(nv)
	}
	return driver.ErrSkip // database/sql's default conversion
}

// tx is a transaction begun through BeginTx: its end releases the row
// locks the capture followed.
type tx struct {
	inner driver.Tx
	c     *conn
}

func (t *tx) Commit() error {
	err := t.inner.Commit()
	t.c.sess.end(false)
	t.c.releaseHeld(false)
	return err
}

func (t *tx) Rollback() error {
	err := t.inner.Rollback()
	t.c.sess.end(false)
	t.c.releaseHeld(false)
	return err
}
