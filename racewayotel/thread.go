package racewayotel

import (
	"bytes"
	"context"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/raceway-otel/raceway/analysis"
	"github.com/raceway-otel/raceway/racewayotel/internal/twogen"
)

// thread is a logical thread: one sequential strand of execution, run by one
// goroutine (its owner). Contexts carry a *thread; a context used on another
// goroutine forks a new thread there (see Tracker.current).
type thread struct {
	id     analysis.ThreadID
	idText string
	name   string
	origin analysis.Origin
	// startAfter are the edges of the thread.start record.
	startAfter []analysis.Epoch

	// owner is the goroutine running the thread; 0 until the first goroutine
	// that records with it claims it.
	owner atomic.Int64
	// seq is the last sequence number assigned. Number 1 is reserved for the
	// thread.start record from creation on, so that other threads can name
	// it before it is written.
	seq atomic.Uint64

	// The owner alone uses these fields.
	started bool
	g       *goroutine
	locks   []string
	held    attribute.KeyValue // LocksHeld attribute of locks, when not empty
	shared  sharedLocks
	seen    *seenValues          // see SharedAccess.OldSeen
	kv      []attribute.KeyValue // a record's attributes, reused (see deliver)
	spanKey spanKey              // the span last recorded on and its state
	spanSt  *spanState

	mu    sync.Mutex
	forks [maxForks]*thread // recent forks for other goroutines, a ring
	next  int
}

// maxForks bounds the forks remembered per thread; a goroutine whose fork
// was forgotten gets a new one.
const maxForks = 8

type threadKey struct{}

func contextWithThread(ctx context.Context, th *thread) context.Context {
	return context.WithValue(ctx, threadKey{}, th)
}

func newThread(origin analysis.Origin, name string, after ...analysis.Epoch) *thread {
	id := randomThreadID()
	th := &thread{id: id, idText: id.String(), name: name, origin: origin}
	for _, e := range after {
		if !e.IsZero() {
			th.startAfter = append(th.startAfter, e)
		}
	}
	th.seq.Store(1)
	return th
}

// latest returns the epoch of the thread's last assigned record.
func (th *thread) latest() analysis.Epoch {
	return analysis.Epoch{Thread: th.id, Seq: th.seq.Load()}
}

// current returns the thread that goroutine g runs for ctx. The context's
// thread is the one it carries or, for a context with no thread but a span,
// the thread bound to that span by the first goroutine that recorded with it
// (the thread that goroutine was running, or a new root thread). Then:
//   - when g owns the context's thread, or is the first to use it, it is
//     that thread;
//   - when another goroutine owns it, it is a thread forked for g (origin
//     implicit), reused for later calls of g with that context;
//   - for a context with no thread and no span, it is the thread g last
//     recorded on, or a new root thread.
func (t *Tracker) current(ctx context.Context, g int64) *thread {
	h, _ := ctx.Value(threadKey{}).(*thread)
	if h == nil {
		sc := trace.SpanContextFromContext(ctx)
		if !sc.IsValid() {
			return t.goroutineThread(g)
		}
		h = t.bindings.bind(spanKey{trace: sc.TraceID(), span: sc.SpanID()}, func() *thread {
			return t.goroutineThread(g)
		})
	}
	o := h.owner.Load()
	if o == g {
		return h
	}
	if o == 0 && h.owner.CompareAndSwap(0, g) {
		h.g = t.goroutines.get(g)
		return h
	}
	return t.fork(h, g)
}

// goroutineThread returns the thread g last recorded on, or a new root
// thread owned by g.
func (t *Tracker) goroutineThread(g int64) *thread {
	gr := t.goroutines.get(g)
	if last := gr.last.Load(); last != nil {
		return last
	}
	th := newThread(analysis.OriginRoot, "")
	th.owner.Store(g)
	th.g = gr
	return th
}

// fork returns the thread forked from h for goroutine g, creating it if
// needed. A new fork starts after the latest epoch of h and, when the
// goroutine that created g is known and has recorded, after the latest epoch
// of the thread it last recorded on. The hand-off of the context to g
// happened at or before those points, so this over-approximates the real
// fork point: it may hide a race but never invents one. Two goroutines that
// got the context from h's thread are not ordered with each other, unless
// one created the other.
func (t *Tracker) fork(h *thread, g int64) *thread {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, f := range h.forks {
		if f != nil && f.owner.Load() == g {
			return f
		}
	}
	after := []analysis.Epoch{h.latest()}
	if gr := t.goroutines.peek(creatorGoroutine()); gr != nil {
		if last := gr.last.Load(); last != nil && last != h {
			after = append(after, last.latest())
		}
	}
	f := newThread(analysis.OriginImplicit, h.name, after...)
	f.owner.Store(g)
	f.g = t.goroutines.get(g)
	h.forks[h.next] = f
	h.next = (h.next + 1) % maxForks
	t.counters.implicit.Add(1)
	return f
}

// creatorGoroutine returns the id of the goroutine that created the calling
// one, read from the "created by … in goroutine N" line of its stack trace,
// or 0 when unknown.
func creatorGoroutine() int64 {
	for size := 4 << 10; size <= 64<<10; size *= 4 {
		buf := make([]byte, size)
		n := runtime.Stack(buf, false)
		if n == size {
			continue // truncated: the line is at the end
		}
		buf = buf[:n]
		i := bytes.LastIndex(buf, []byte("created by "))
		if i < 0 {
			return 0
		}
		line := buf[i:]
		if j := bytes.IndexByte(line, '\n'); j >= 0 {
			line = line[:j]
		}
		const marker = " in goroutine "
		j := bytes.LastIndex(line, []byte(marker))
		if j < 0 {
			return 0
		}
		id, err := strconv.ParseInt(string(line[j+len(marker):]), 10, 64)
		if err != nil {
			return 0
		}
		return id
	}
	return 0
}

// goroutine is what the Tracker knows of one goroutine: the thread it last
// recorded on. Only that goroutine changes it.
type goroutine struct {
	last atomic.Pointer[thread]
}

// goroutineTable maps goroutine ids to their state. It is bounded: each
// shard keeps two generations of at most goroutineShardCap goroutines and
// drops the older generation when the newer is full, so at most
// 2×goroutineShards×goroutineShardCap goroutines (65,536) are remembered.
// Goroutine ids are never reused.
type goroutineTable struct {
	shards [goroutineShards]goroutineShard
}

const (
	goroutineShards   = 64
	goroutineShardCap = 512
)

type goroutineShard struct {
	mu sync.Mutex
	m  twogen.Map[int64, *goroutine]
}

// peek returns the state of goroutine g, or nil if it has none.
func (gt *goroutineTable) peek(g int64) *goroutine {
	if g == 0 {
		return nil
	}
	s := &gt.shards[uint64(g)%goroutineShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	gr, _ := s.m.Peek(g)
	return gr
}

// get returns the state of goroutine g, creating it if needed.
func (gt *goroutineTable) get(g int64) *goroutine {
	s := &gt.shards[uint64(g)%goroutineShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	gr, ok := s.m.Get(g, goroutineShardCap)
	if !ok {
		gr = &goroutine{}
		s.m.Put(g, gr, goroutineShardCap)
	}
	return gr
}

// bindingTable binds spans to the threads of the contexts that carry them
// but no thread. It is bounded like goroutineTable: two generations of at
// most maxBindings/2 spans, the older dropped when the newer is full.
type bindingTable struct {
	mu sync.Mutex
	m  twogen.Map[spanKey, *thread]
}

const maxBindings = 1 << 16

// bind returns the thread bound to k, binding it to newThread() if none is.
func (b *bindingTable) bind(k spanKey, newThread func() *thread) *thread {
	b.mu.Lock()
	defer b.mu.Unlock()
	th, ok := b.m.Get(k, maxBindings/2)
	if !ok {
		th = newThread()
		b.m.Put(k, th, maxBindings/2)
	}
	return th
}

// spanKey identifies a span.
type spanKey struct {
	trace trace.TraceID
	span  trace.SpanID
}
