package racewaysql

import (
	"context"
	"database/sql/driver"
	"io"
	"strings"
)

// An advisory lock (PostgreSQL's pg_advisory_lock family, MySQL's
// GET_LOCK) is a lock the application takes to serialise whatever it does
// while holding it, in the database or not: it is recorded as a shared lock
// of the calling thread (racewayotel.Tracker.TrackSharedLockAcquire), held
// by every access the thread makes until it is released, by the unlock
// function, at the end of the transaction (pg_advisory_xact_lock), or when
// the connection closes. Names: postgres/<database>/advisory/<key> (the
// key, or its two halves joined by ","), mysql/lock/<name> (MySQL's locks
// are the server's, not a database's).

// advisoryCall is what a lock function call does.
type advisoryCall struct {
	acquire, release, releaseAll bool
	read                         bool // shared (read) mode
	xact                         bool // released at the end of the transaction
	try                          bool // acquired only when the call returns true (1)
	// args are the key (PostgreSQL: one bigint or two ints) or name (MySQL).
	args []value
}

// advisoryFuncs are the lock functions, by lower-case name.
var advisoryFuncs = map[string]advisoryCall{
	"pg_advisory_lock":                 {acquire: true},
	"pg_advisory_lock_shared":          {acquire: true, read: true},
	"pg_advisory_xact_lock":            {acquire: true, xact: true},
	"pg_advisory_xact_lock_shared":     {acquire: true, xact: true, read: true},
	"pg_try_advisory_lock":             {acquire: true, try: true},
	"pg_try_advisory_lock_shared":      {acquire: true, try: true, read: true},
	"pg_try_advisory_xact_lock":        {acquire: true, try: true, xact: true},
	"pg_try_advisory_xact_lock_shared": {acquire: true, try: true, xact: true, read: true},
	"pg_advisory_unlock":               {release: true, try: true},
	"pg_advisory_unlock_shared":        {release: true, try: true, read: true},
	"pg_advisory_unlock_all":           {releaseAll: true},
	"get_lock":                         {acquire: true, try: true},
	"release_lock":                     {release: true, try: true},
	"release_all_locks":                {releaseAll: true},
}

// parseAdvisory reads SELECT fn(args) [AS alias] for a lock function fn,
// the parser being after SELECT; ok is false for any other statement.
func (p *parser) parseAdvisory() (*statement, bool) {
	fn := p.peek()
	if fn.kind != tokIdent || fn.quoted || !p.peekAt(1).punct("(") {
		return nil, false
	}
	call, ok := advisoryFuncs[strings.ToLower(fn.text)]
	if !ok || strings.HasPrefix(strings.ToLower(fn.text), "pg_") != (p.d == dialectPostgres) {
		return nil, false
	}
	save := p.pos
	p.pos += 2
	for !p.acceptPunct(")") {
		v, ok := p.parseValue()
		if !ok || v.kind == valExpr || v.kind == valDefault {
			p.pos = save
			return nil, false
		}
		call.args = append(call.args, v)
		if !p.acceptPunct(",") && !p.peek().punct(")") {
			p.pos = save
			return nil, false
		}
	}
	p.parseAlias()
	if !p.eof() {
		p.pos = save
		return nil, false
	}
	return &statement{kind: kindAdvisory, advisory: &call}, true
}

// heldLock is an advisory lock the capture recorded as held, with the
// context it was taken in: its release is recorded on the same thread.
type heldLock struct {
	name string
	read bool
	xact bool
	ctx  context.Context
}

// lockName returns the shared lock's name for a call's arguments, or "".
func (c *conn) lockName(call *advisoryCall, args []driver.NamedValue) string {
	var parts []string
	for i, v := range call.args {
		a, r := argValue(v, args)
		if r != "" || a == nil {
			return ""
		}
		s, ok := keyText(a)
		if !ok {
			return ""
		}
		if c.sess.system == SystemMySQL && i > 0 {
			break // GET_LOCK's second argument is a timeout
		}
		parts = append(parts, escapeKey(s))
	}
	if len(parts) == 0 {
		return ""
	}
	if c.sess.system == SystemMySQL {
		return SystemMySQL + "/lock/" + parts[0]
	}
	return SystemPostgres + "/" + c.sess.database + "/advisory/" + strings.Join(parts, ",")
}

// advisory applies a lock function call that ran, whose result (for the
// try forms, whose outcome it is) is ok.
func (c *conn) advisory(ctx context.Context, call *advisoryCall, args []driver.NamedValue, ok bool) {
	rw := c.cap.rw
	switch {
	case call.releaseAll:
		for i := len(c.held) - 1; i >= 0; i-- {
			if h := c.held[i]; !h.xact {
				c.release(h)
				c.held = append(c.held[:i], c.held[i+1:]...)
			}
		}
		return
	case !ok:
		return
	}
	name := c.lockName(call, args)
	if name == "" {
		c.skipped(reasonArgument)
		return
	}
	if call.release {
		for i := len(c.held) - 1; i >= 0; i-- {
			if h := c.held[i]; h.name == name && h.read == call.read && !h.xact {
				h.ctx = ctx
				c.release(h)
				c.held = append(c.held[:i], c.held[i+1:]...)
				return
			}
		}
		return
	}
	if call.xact && c.sess.tx == nil {
		return // outside a transaction, released when the statement ends
	}
	if call.read {
		rw.TrackSharedRLockAcquire(ctx, name)
	} else {
		rw.TrackSharedLockAcquire(ctx, name)
	}
	c.held = append(c.held, heldLock{name: name, read: call.read, xact: call.xact, ctx: ctx})
}

// release records the release of an advisory lock held.
func (c *conn) release(h heldLock) {
	if h.read {
		c.cap.rw.TrackSharedRLockRelease(h.ctx, h.name)
	} else {
		c.cap.rw.TrackSharedLockRelease(h.ctx, h.name)
	}
}

// releaseHeld releases the transaction's advisory locks (all of them, with
// all, when the connection closes).
func (c *conn) releaseHeld(all bool) {
	for i := len(c.held) - 1; i >= 0; i-- {
		if h := c.held[i]; all || h.xact {
			c.release(h)
			c.held = append(c.held[:i], c.held[i+1:]...)
		}
	}
}

// lockRows are the one-row result of a try-lock function: the lock is held
// when the row says true (or 1).
type lockRows struct {
	baseRows
	c    *conn
	ctx  context.Context
	call *advisoryCall
	args []driver.NamedValue
	done bool
}

func (r *lockRows) Next(dest []driver.Value) error {
	err := r.inner.Next(dest)
	if err == nil && !r.done && len(dest) == 1 {
		r.done = true
		r.c.advisory(r.ctx, r.call, r.args, truthy(dest[0]))
	}
	if err == io.EOF {
		r.done = true
	}
	return err
}

func truthy(v driver.Value) bool {
	switch v := v.(type) {
	case bool:
		return v
	case int64:
		return v == 1
	case []byte:
		return string(v) == "1" || string(v) == "t" || string(v) == "true"
	case string:
		return v == "1" || v == "t" || v == "true"
	}
	return false
}
