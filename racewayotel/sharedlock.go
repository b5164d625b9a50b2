package racewayotel

import (
	"context"
	"slices"

	"github.com/petermattis/goid"
	"go.opentelemetry.io/otel/attribute"

	"github.com/raceway-otel/raceway/analysis"
	"github.com/raceway-otel/raceway/racewayotel/convention"
)

// SharedLocker is a lock that serialises several processes: a database row
// or advisory lock, a Redis lock, a lease. [Tracker.WithSharedLock] runs code
// holding one.
type SharedLocker interface {
	Lock(ctx context.Context) error
	Unlock(ctx context.Context) error
}

// TokenLocker is a SharedLocker whose store carries a release token with the
// lock (see [AfterRelease]), such as a Redis lock that keeps it in a
// companion key. [Tracker.WithSharedLock] then records the exact release →
// acquire edge: its acquire follows the token Lock read, and it releases with
// UnlockToken, which stores the token of its release for the next holder.
type TokenLocker interface {
	SharedLocker
	// LockToken returns the release token that the last successful Lock
	// read with the lock, "" if there was none.
	LockToken() string
	// UnlockToken is Unlock, storing token with the lock as it releases it
	// ("" stores nothing).
	UnlockToken(ctx context.Context, token string) error
}

// LockOption configures the record of a shared lock's acquire.
type LockOption interface {
	applyLock(*record, *Tracker)
}

type lockOptionFunc func(*record, *Tracker)

func (f lockOptionFunc) applyLock(r *record, t *Tracker) { f(r, t) }

// AfterRelease says that the acquire follows the release that returned
// token (see [Tracker.TrackSharedLockRelease]), as read from the lock's
// store: the acquire then happens after everything the releasing thread did
// before it released. Use it where the store can carry a value with the
// lock (a Redis lock's value, a lease row). An empty token adds nothing; a
// token that is not an epoch is dropped and counted in Stats.ClocksGarbled
// or Stats.ClocksOversized, like an inbound clock.
func AfterRelease(token string) LockOption {
	return lockOptionFunc(func(r *record, t *Tracker) {
		if token == "" {
			return
		}
		if e, ok := t.inboundClock(token, sourceLockToken); ok {
			r.addAfter(e)
		}
	})
}

// TrackSharedLockAcquire records that the calling thread acquired the shared
// lock name exclusively. A shared lock serialises several processes (a row
// locked with SELECT … FOR UPDATE, a PostgreSQL advisory lock, a Redis
// SET NX lock); name identifies it fleet-wide, the same in every process,
// for example "postgres/bank/accounts/7" or "pg_advisory/42". Call it right
// after the lock is acquired.
//
// Until [Tracker.TrackSharedLockRelease], the thread's accesses record that
// they hold the lock, and two accesses that both hold it are never reported
// as a race (they cannot overlap); an access that does not hold it still
// races. Unlike a process lock's, a shared lock's release → acquire order is
// not known to any one process, so the lock orders nothing else, unless the
// acquire names the release it follows with [AfterRelease].
func (t *Tracker) TrackSharedLockAcquire(ctx context.Context, name string, opts ...LockOption) {
	if t == nil {
		return
	}
	t.sharedAcquire(ctx, name, false, callerLocation(1), opts)
}

// TrackSharedLockRelease records that the calling thread releases the shared
// lock name, held exclusively. Call it right before the lock is released,
// while it is still held. It returns a token (the release record's epoch,
// at most analysis.MaxEpochTextLen bytes; "" on a nil Tracker) that the
// caller may store with the lock, for the next acquirer to pass to
// [AfterRelease].
func (t *Tracker) TrackSharedLockRelease(ctx context.Context, name string) string {
	if t == nil {
		return ""
	}
	return t.sharedRelease(ctx, name, false, callerLocation(1))
}

// TrackSharedRLockAcquire records that the calling thread acquired the shared
// lock name in shared (read) mode, such as a row locked FOR SHARE or
// pg_advisory_lock_shared: it excludes the lock's exclusive holders but not
// its other readers, so two accesses that both hold it only in read mode
// still race when one of them writes.
func (t *Tracker) TrackSharedRLockAcquire(ctx context.Context, name string, opts ...LockOption) {
	if t == nil {
		return
	}
	t.sharedAcquire(ctx, name, true, callerLocation(1), opts)
}

// TrackSharedRLockRelease records that the calling thread releases the
// shared lock name, held in read mode, and returns a token as
// [Tracker.TrackSharedLockRelease] does.
func (t *Tracker) TrackSharedRLockRelease(ctx context.Context, name string) string {
	if t == nil {
		return ""
	}
	return t.sharedRelease(ctx, name, true, callerLocation(1))
}

// WithSharedLock runs fn holding l, the shared lock name (see
// [Tracker.TrackSharedLockAcquire]), recording the acquire after l.Lock
// succeeds and the release before l.Unlock. When Lock fails, fn does not run
// and the error is returned. Otherwise l is unlocked even if fn panics, and
// fn's error is returned, or else Unlock's. When l is a [TokenLocker], the
// acquire follows the release whose token Lock read, and l is unlocked with
// UnlockToken and the token of this release.
func (t *Tracker) WithSharedLock(ctx context.Context, l SharedLocker, name string, fn func(context.Context) error) (err error) {
	if err := l.Lock(ctx); err != nil {
		return err
	}
	loc := callerLocation(1)
	tl, _ := l.(TokenLocker)
	if t != nil {
		var opts []LockOption
		if tl != nil {
			opts = []LockOption{AfterRelease(tl.LockToken())}
		}
		t.sharedAcquire(ctx, name, false, loc, opts)
	}
	defer func() {
		token := ""
		if t != nil {
			token = t.sharedRelease(ctx, name, false, loc)
		}
		var uerr error
		if tl != nil {
			uerr = tl.UnlockToken(ctx, token)
		} else {
			uerr = l.Unlock(ctx)
		}
		if err == nil {
			err = uerr
		}
	}()
	return fn(ctx)
}

func (t *Tracker) sharedAcquire(ctx context.Context, name string, read bool, loc *location, opts []LockOption) {
	name = cut(name, analysis.MaxNameLen)
	r := record{kind: analysis.KindAcquire, loc: loc, lock: name, sharedLock: true}
	if read {
		r.kind = analysis.KindRAcquire
	}
	for _, o := range opts {
		if o != nil {
			o.applyLock(&r, t)
		}
	}
	g := goid.Get()
	th := t.current(ctx, g)
	t.emit(ctx, th, g, &r)
	th.shared.add(name, read)
}

func (t *Tracker) sharedRelease(ctx context.Context, name string, read bool, loc *location) string {
	name = cut(name, analysis.MaxNameLen)
	r := record{kind: analysis.KindRelease, loc: loc, lock: name, sharedLock: true}
	if read {
		r.kind = analysis.KindRRelease
	}
	g := goid.Get()
	th := t.current(ctx, g)
	e := t.emit(ctx, th, g, &r)
	th.shared.remove(name, read)
	return e.String()
}

// sharedLocks are the shared locks a thread holds, exclusively (x) and in
// read mode (r), at most analysis.MaxLocksHeld of each (later ones are not
// recorded: an access then looks less protected than it is, which can
// report a race the lock prevented, so the limit is far above real use),
// with their access attributes built once per change.
type sharedLocks struct {
	x, r     []string
	xKV, rKV attribute.KeyValue
}

func (s *sharedLocks) add(name string, read bool) {
	list := &s.x
	if read {
		list = &s.r
	}
	if len(*list) < analysis.MaxLocksHeld {
		*list = append(*list, name)
		s.build()
	}
}

func (s *sharedLocks) remove(name string, read bool) {
	list := &s.x
	if read {
		list = &s.r
	}
	if i := slices.Index(*list, name); i >= 0 {
		*list = slices.Delete(*list, i, i+1)
		s.build()
	}
}

func (s *sharedLocks) build() {
	s.xKV = attribute.StringSlice(convention.LocksShared, s.x)
	s.rKV = attribute.StringSlice(convention.RLocksShared, s.r)
}

// appendAccessKV appends the shared-lock attributes of an access that holds
// s's locks and, beyond them, the explicit ones of r (a transaction's row
// locks).
func (s *sharedLocks) appendAccessKV(kv []attribute.KeyValue, r *record) []attribute.KeyValue {
	kv = appendLockSet(kv, convention.LocksShared, s.x, s.xKV, r.xLocks)
	return appendLockSet(kv, convention.RLocksShared, s.r, s.rKV, r.rLocks)
}

// appendLockSet appends the attribute key listing held ∪ extra, using built
// (the attribute of held) when extra adds nothing.
func appendLockSet(kv []attribute.KeyValue, key string, held []string, built attribute.KeyValue, extra []string) []attribute.KeyValue {
	if len(extra) == 0 {
		if len(held) == 0 {
			return kv
		}
		return append(kv, built)
	}
	all := slices.Clone(held)
	for _, n := range extra {
		n = cut(n, analysis.MaxNameLen)
		if len(all) < analysis.MaxLocksHeld && !slices.Contains(all, n) {
			all = append(all, n)
		}
	}
	return append(kv, attribute.StringSlice(key, all))
}
