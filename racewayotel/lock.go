package racewayotel

import (
	"context"
	"hash/maphash"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/petermattis/goid"
	"go.opentelemetry.io/otel/attribute"

	"github.com/raceway-otel/raceway/analysis"
	"github.com/raceway-otel/raceway/racewayotel/convention"
)

// RWLocker is a read/write lock, such as *sync.RWMutex.
type RWLocker interface {
	sync.Locker
	RLock()
	RUnlock()
}

// TrackLockAcquire records that the calling thread acquired the exclusive
// lock lockID (a mutex, or a read/write lock's write side). Call it right
// after the lock is acquired. lockID names the lock within the process.
func (t *Tracker) TrackLockAcquire(ctx context.Context, lockID string) {
	if t == nil {
		return
	}
	t.acquire(ctx, lockID, false, callerLocation(1))
}

// TrackLockRelease records that the calling thread releases the exclusive
// lock lockID. Call it right before the lock is released, while it is still
// held: the next [Tracker.TrackLockAcquire] of lockID happens after it.
func (t *Tracker) TrackLockRelease(ctx context.Context, lockID string) {
	if t == nil {
		return
	}
	t.release(ctx, lockID, false, callerLocation(1))
}

// TrackRLockAcquire records that the calling thread acquired the read/write
// lock lockID for reading. Call it right after RLock returns.
func (t *Tracker) TrackRLockAcquire(ctx context.Context, lockID string) {
	if t == nil {
		return
	}
	t.acquire(ctx, lockID, true, callerLocation(1))
}

// TrackRLockRelease records that the calling thread releases the read/write
// lock lockID held for reading. Call it right before RUnlock.
func (t *Tracker) TrackRLockRelease(ctx context.Context, lockID string) {
	if t == nil {
		return
	}
	t.release(ctx, lockID, true, callerLocation(1))
}

// WithLock runs fn holding l, recording the acquire and the release of
// lockID. l is released and the release recorded even if fn panics.
func (t *Tracker) WithLock(ctx context.Context, l sync.Locker, lockID string, fn func()) {
	t.holding(ctx, lockID, false, callerLocation(1), l.Lock, l.Unlock, fn)
}

// WithRWLockRead runs fn holding l for reading, recording the acquire and
// the release of lockID. l is released even if fn panics.
func (t *Tracker) WithRWLockRead(ctx context.Context, l RWLocker, lockID string, fn func()) {
	t.holding(ctx, lockID, true, callerLocation(1), l.RLock, l.RUnlock, fn)
}

// WithRWLockWrite runs fn holding l for writing, recording the acquire and
// the release of lockID. l is released even if fn panics.
func (t *Tracker) WithRWLockWrite(ctx context.Context, l RWLocker, lockID string, fn func()) {
	t.holding(ctx, lockID, false, callerLocation(1), l.Lock, l.Unlock, fn)
}

// holding runs fn between lock and unlock, recording the acquire right
// after lock and the release right before unlock, even if fn panics.
func (t *Tracker) holding(ctx context.Context, lockID string, reader bool, loc *location, lock, unlock func(), fn func()) {
	lock()
	if t != nil {
		t.acquire(ctx, lockID, reader, loc)
	}
	defer func() {
		if t != nil {
			t.release(ctx, lockID, reader, loc)
		}
		unlock()
	}()
	fn()
}

// acquire records an acquire of lockID after the releases it follows: a
// reader follows the writer releases, a writer follows every release.
func (t *Tracker) acquire(ctx context.Context, lockID string, reader bool, loc *location) {
	lockID = cut(lockID, analysis.MaxNameLen)
	s := t.locks.get(lockID)
	r := record{kind: analysis.KindAcquire, loc: loc, lock: lockID}
	r.addAfter(s.w.latest())
	if reader {
		r.kind = analysis.KindRAcquire
	} else {
		r.addAfter(s.r.latest())
	}
	g := goid.Get()
	th := t.current(ctx, g)
	t.emit(ctx, th, g, &r)
	if len(th.locks) < analysis.MaxLocksHeld {
		th.locks = append(th.locks, lockID)
		th.held = attribute.StringSlice(convention.LocksHeld, th.locks)
	}
}

// release records a release of lockID publishing the next epoch of its
// strand: the writer strand for an exclusive release, the reader strand for
// a reader's.
func (t *Tracker) release(ctx context.Context, lockID string, reader bool, loc *location) {
	lockID = cut(lockID, analysis.MaxNameLen)
	s := t.locks.get(lockID)
	r := record{kind: analysis.KindRelease, loc: loc, lock: lockID, sync: s.w.next()}
	if reader {
		r.kind, r.sync = analysis.KindRRelease, s.r.next()
	}
	g := goid.Get()
	th := t.current(ctx, g)
	t.emit(ctx, th, g, &r)
	if i := slices.Index(th.locks, lockID); i >= 0 {
		th.locks = slices.Delete(th.locks, i, i+1)
		if len(th.locks) > 0 {
			th.held = attribute.StringSlice(convention.LocksHeld, th.locks)
		}
	}
}

// strand is a lock's release sequence: a pseudo-thread whose n-th epoch is
// the n-th release.
type strand struct {
	id    analysis.ThreadID
	count atomic.Uint64
}

func (s *strand) latest() analysis.Epoch {
	n := s.count.Load()
	if n == 0 {
		return analysis.Epoch{}
	}
	return analysis.Epoch{Thread: s.id, Seq: n}
}

func (s *strand) next() analysis.Epoch {
	return analysis.Epoch{Thread: s.id, Seq: s.count.Add(1)}
}

// lockState holds a lock's two strands: writer (exclusive) releases and
// reader releases.
type lockState struct {
	w, r strand
}

func newLockState() *lockState {
	s := &lockState{}
	s.w.id, s.r.id = randomThreadID(), randomThreadID()
	return s
}

// lockTable maps lock ids to their strands. The first maxExactLocks distinct
// ids get strands of their own; later ids share lockBuckets strands by hash.
// Sharing a strand adds release→acquire edges between locks, which can hide
// a race but never invents one; a lock never changes strands, so no edge is
// ever lost. The table thus holds at most maxExactLocks+lockBuckets entries
// of about 100 bytes.
type lockTable struct {
	mu     sync.Mutex
	exact  map[string]*lockState
	hashed [lockBuckets]*lockState
}

const (
	maxExactLocks = 4096
	lockBuckets   = 256
)

var lockSeed = maphash.MakeSeed()

func (lt *lockTable) get(id string) *lockState {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	if s := lt.exact[id]; s != nil {
		return s
	}
	if len(lt.exact) < maxExactLocks {
		if lt.exact == nil {
			lt.exact = make(map[string]*lockState)
		}
		s := newLockState()
		lt.exact[id] = s
		return s
	}
	b := maphash.String(lockSeed, id) % lockBuckets
	if lt.hashed[b] == nil {
		lt.hashed[b] = newLockState()
	}
	return lt.hashed[b]
}

func randomThreadID() analysis.ThreadID {
	for {
		if id := analysis.ThreadID(rand.Uint64()); id != 0 {
			return id
		}
	}
}
