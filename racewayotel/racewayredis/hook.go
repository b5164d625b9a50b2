package racewayredis

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/petermattis/goid"
	"github.com/redis/go-redis/v9"

	"github.com/raceway-otel/raceway/racewayotel"
)

// system is the capture's name in Tracker.CountSkipped.
const system = "redis"

// callerSkip are the packages between the application and the hook.
var callerSkip = []string{"github.com/redis/go-redis/v9"}

// Option configures a [Hook] or a [Mutex]; options that do not apply to one
// are ignored by it.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// config holds the options.
type config struct {
	db    int
	dbSet bool // WithDB was given
	lock  lockConfig
}

func newConfig(opts []Option) config {
	var c config
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	return c
}

// clientDB sets the database to rdb's unless WithDB gave it, and reports
// whether it is known.
func (c *config) clientDB(rdb redis.UniversalClient) bool {
	if c.dbSet {
		return true
	}
	switch r := rdb.(type) {
	case *redis.Client:
		c.db = r.Options().DB
	case *redis.ClusterClient:
		c.db = 0
	case *redis.Ring:
		c.db = r.Options().DB
	default:
		return false
	}
	return true
}

// WithDB sets the database number the client's commands address, which
// names their keys (see [Key]). [Instrument] and [NewMutex] read it from the
// client's options; [NewHook] needs it when it is not 0.
func WithDB(db int) Option {
	return optionFunc(func(c *config) { c.db, c.dbSet = db, true })
}

// Hook is a go-redis hook that records every command's accesses to keys as
// shared reads and writes through a racewayotel Tracker (see the package
// documentation for what each command records). Add it with [Instrument],
// or with the client's AddHook. A Hook is safe for concurrent use.
type Hook struct {
	rw       *racewayotel.Tracker
	db       int
	prefix   string // "redis/<db>/"
	states   stateTable
	switched atomic.Bool // a SELECT of another database was seen
}

var _ redis.Hook = (*Hook)(nil)

// NewHook returns a Hook recording through rw, for the database of
// [WithDB] (0 by default). A nil rw records nothing.
func NewHook(rw *racewayotel.Tracker, opts ...Option) *Hook {
	c := newConfig(opts)
	return newHook(rw, c.db)
}

func newHook(rw *racewayotel.Tracker, db int) *Hook {
	return &Hook{rw: rw, db: db, prefix: prefix(db)}
}

// Instrument adds a [Hook] recording through rw to rdb, the hook's
// database read from rdb's options (a cluster has only database 0):
//
//	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
//	if err := racewayredis.Instrument(rdb, rw); err != nil { … }
//
// Add it after redisotel's hooks, if any, so that records go to the
// command's span. WithDB overrides the database; for another kind of client
// than *redis.Client, *redis.ClusterClient and *redis.Ring, it must be
// given.
func Instrument(rdb redis.UniversalClient, rw *racewayotel.Tracker, opts ...Option) error {
	c := newConfig(opts)
	if !c.clientDB(rdb) {
		return fmt.Errorf("racewayredis: cannot tell the database of a %T: pass WithDB", rdb)
	}
	rdb.AddHook(newHook(rw, c.db))
	return nil
}

// DialHook returns next: dialling touches no key.
func (h *Hook) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook records a command's accesses after it ran.
func (h *Hook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if h.rw != nil && captured(ctx) {
			h.command(ctx, goid.Get(), cmd, err, false)
		}
		return err
	}
}

// ProcessPipelineHook records the accesses of a pipeline's commands after
// it ran, as if they were sent one by one, and those of a MULTI/EXEC block
// (a transaction pipeline) as atomic: each holds its key's lock.
func (h *Hook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		if h.rw == nil || !captured(ctx) {
			return err
		}
		g := goid.Get()
		if n := len(cmds); n >= 2 && cmds[0].Name() == "multi" && cmds[n-1].Name() == "exec" {
			h.transaction(ctx, g, cmds, err)
			return err
		}
		for _, cmd := range cmds {
			h.command(ctx, g, cmd, cmd.Err(), false)
		}
		return err
	}
}

// command records one command that goroutine g ran, whose error is err;
// inBlock when it ran in a committed MULTI/EXEC block.
func (h *Hook) command(ctx context.Context, g int64, cmd redis.Cmder, err error, inBlock bool) {
	name := cmd.Name()
	if !inBlock && h.connCommand(g, name, cmd, err) {
		return
	}
	c := classify(cmd, err)
	if c.skip == noState {
		return
	}
	st := h.states.get(g)
	switch {
	case st != nil && st.multi:
		c.skip = reasonTransaction
	case h.switched.Load():
		c.skip = reasonDatabase
	}
	if c.skip != "" {
		h.rw.CountSkipped(system, c.skip)
		return
	}
	// One location and thread for all of the command's accesses.
	acc := make([]racewayotel.SharedAccess, 0, len(c.acc))
	for _, a := range c.acc {
		acc = append(acc, h.shared(a, inBlock || (st != nil && st.watching(a.key))))
	}
	h.rw.TrackSharedAccesses(ctx, acc)
}

// shared returns the shared access that a records; locked when it holds
// its key's lock whatever the command (a MULTI/EXEC block, a WATCHed key).
func (h *Hook) shared(a access, locked bool) racewayotel.SharedAccess {
	key := h.prefix + escape(a.key)
	sa := racewayotel.SharedAccess{
		Resource:   key,
		Access:     racewayotel.Read,
		Old:        a.old,
		New:        a.new,
		OldSeen:    a.oldSeen,
		CallerSkip: callerSkip,
	}
	if a.hasField {
		sa.Resource += "#" + a.field
	}
	if a.write {
		sa.Access = racewayotel.Write
	}
	if a.locked || locked {
		sa.Locks = []string{key}
	}
	return sa
}

// connCommand handles the commands that change what the connection's
// later commands mean (WATCH, UNWATCH, MULTI, EXEC, DISCARD, SELECT), and
// reports whether cmd was one.
func (h *Hook) connCommand(g int64, name string, cmd redis.Cmder, err error) bool {
	switch name {
	case "watch":
		if err != nil {
			return true
		}
		var keys []string
		for _, a := range cmd.Args()[1:] {
			k, ok := argText(a)
			if !ok {
				h.rw.CountSkipped(system, reasonArgs)
				continue
			}
			keys = append(keys, k)
		}
		h.change(g, func(s *connState) { s.watched = append(s.watched, keys...) })
	case "unwatch":
		h.change(g, func(s *connState) { s.watched = nil })
	case "multi":
		h.change(g, func(s *connState) { s.multi = true })
	case "exec", "discard":
		h.change(g, func(s *connState) { s.watched, s.multi = nil, false })
	case "select":
		if db, ok := argInt(cmd.Args(), 1); !ok || int(db) != h.db {
			h.switched.Store(true)
			h.rw.CountSkipped(system, reasonDatabase)
		}
	default:
		return false
	}
	return true
}

func (h *Hook) change(g int64, f func(*connState)) {
	if !h.states.change(g, f) {
		h.rw.CountSkipped(system, reasonStateFull)
	}
}

// transaction records a MULTI/EXEC block that goroutine g ran: nothing if
// EXEC did not run it (a WATCHed key changed, a queued command was
// rejected, the connection failed), otherwise each command that succeeded,
// holding its keys' locks. EXEC ends the connection's WATCH.
func (h *Hook) transaction(ctx context.Context, g int64, cmds []redis.Cmder, err error) {
	exec := cmds[len(cmds)-1]
	execErr := exec.Err()
	aborted := errors.Is(err, redis.TxFailedErr) || errors.Is(execErr, redis.TxFailedErr)
	if execErr == nil || aborted || redis.IsExecAbortError(execErr) {
		h.change(g, func(s *connState) { s.watched = nil })
	}
	switch {
	case aborted:
		h.rw.CountSkipped(system, reasonAborted)
		return
	case execErr != nil || cmds[0].Err() != nil:
		h.rw.CountSkipped(system, reasonFailed)
		return
	}
	for _, cmd := range cmds[1 : len(cmds)-1] {
		h.command(ctx, g, cmd, cmd.Err(), true)
	}
}

// noCapture is the context key of WithoutCapture.
type noCapture struct{}

// WithoutCapture returns a context whose commands the hook does not
// record: those of a lock (see [Mutex]), which are synchronisation rather
// than shared state.
func WithoutCapture(ctx context.Context) context.Context {
	return context.WithValue(ctx, noCapture{}, true)
}

func captured(ctx context.Context) bool { return ctx.Value(noCapture{}) == nil }
