package analysis_test

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/raceway-otel/raceway/analysis"
)

// This file generates random but realistic executions: several services and
// processes, several traces, threads that read and write a few variables,
// mutexes and read/write locks, shared locks (fleet-wide, some with a read
// mode) around shared variables, spawns and joins, and RPC chains. The
// generator simulates the execution step by step (one event of one runnable
// thread per step, in a global order), so lock semantics really hold: a
// thread only acquires a lock that is free, readers exclude writers,
// lock-protected accesses are really ordered through the lock strands, and
// accesses under a shared lock really exclude each other (with no edge
// between them, unless the acquire carries the optional exact edge).

// genConfig sizes a generated execution.
type genConfig struct {
	Services     int // services
	Procs        int // processes per service
	Roots        int // root threads, each its own trace
	MaxThreads   int // cap on threads (roots, spawned, handlers)
	Budget       int // max actions per thread (besides start/end/awaits)
	LocksPerProc int // locks per process; every other one is a RW lock
}

var defaultGen = genConfig{Services: 2, Procs: 2, Roots: 4, MaxThreads: 24, Budget: 10, LocksPerProc: 3}

// Process-scoped variables have the same names in every process (so that a
// detector that ignores scope reports false races); shared ones are
// fleet-wide resources.
var (
	genLocalVars  = []string{"x", "y", "request_count"}
	genSharedVars = []string{"postgres/shop/products/42.stock", "redis/cart/7"}
	// genSharedLocks[i] protects genSharedVars[i]; the row lock has a read
	// mode (SELECT … FOR SHARE).
	genSharedLocks = []struct {
		name string
		rw   bool
	}{{"postgres/shop/products/42", true}, {"redis/0/lock:cart:7", false}}
)

type simProc struct {
	service, process string
	locks            []*simLock
}

type simLock struct {
	name    string
	index   int
	rw      bool
	w, r    analysis.ThreadID // strands (r only for RW locks)
	wn, rn  uint64            // releases published so far on each strand
	writer  *simThread
	readers int
}

// simShared is a shared lock: one for the whole fleet.
type simShared struct {
	name        string
	index       int
	rw          bool
	writer      *simThread
	readers     int
	lastRelease analysis.Epoch // of an exclusive holder
}

type simThread struct {
	id      analysis.ThreadID
	seq     uint64
	name    string
	proc    *simProc
	trace   [16]byte
	span    [8]byte
	origin  analysis.Origin
	creator analysis.Epoch // spawn or send epoch

	started, done bool
	budget        int
	held          *simLock
	sheld         *simShared // at most one of held and sheld is set
	heldRead      bool
	holdLeft      int
	children      []*simThread // spawned, not yet awaited
	waitFor       *simThread   // child being awaited or RPC handler
	waitRPC       bool
	caller        *simThread // for handlers
	last          analysis.Epoch
	lastRead      map[string]int // values this thread read, by variable key text
}

type simulator struct {
	rng     *rand.Rand
	cfg     genConfig
	procs   []*simProc
	shared  []*simShared
	threads []*simThread
	events  []analysis.Event
	values  map[string]int
	used    map[uint64]bool
}

func (s *simulator) newID() analysis.ThreadID {
	for {
		v := s.rng.Uint64()
		if v != 0 && !s.used[v] {
			s.used[v] = true
			return analysis.ThreadID(v)
		}
	}
}

func (s *simulator) newThread(p *simProc, trace [16]byte, origin analysis.Origin, creator analysis.Epoch) *simThread {
	t := &simThread{
		id: s.newID(), proc: p, trace: trace, origin: origin, creator: creator,
		budget: 1 + s.rng.IntN(s.cfg.Budget), lastRead: map[string]int{},
	}
	t.name = fmt.Sprintf("%s-thread-%d", p.service, len(s.threads))
	for i := range t.span {
		t.span[i] = byte(s.rng.Uint32())
	}
	s.threads = append(s.threads, t)
	return t
}

// emit appends the next event of thread t.
func (s *simulator) emit(t *simThread, e analysis.Event) analysis.Epoch {
	t.seq++
	e.Epoch = analysis.Epoch{Thread: t.id, Seq: t.seq}
	e.Service, e.Process = t.proc.service, t.proc.process
	e.TraceID, e.SpanID = t.trace, t.span
	if t.held != nil {
		e.LocksHeld = []string{t.held.name}
	}
	if t.sheld != nil && e.Kind.IsAccess() {
		if t.heldRead {
			e.SharedRLocks = []string{t.sheld.name}
		} else {
			e.SharedLocks = []string{t.sheld.name}
		}
	}
	if e.Where.File == "" {
		e.Where = analysis.Location{File: "gen.go", Line: 1 + int(e.Kind), Function: "gen." + e.Kind.String()}
	}
	s.events = append(s.events, e)
	t.last = e.Epoch
	return e.Epoch
}

// generate simulates one execution and returns its events in the actual
// global order, with wall times increasing with that order, all within one
// second of base.
func generate(seed uint64, cfg genConfig, base time.Time) []analysis.Event {
	s := &simulator{
		rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), cfg: cfg,
		values: map[string]int{}, used: map[uint64]bool{},
	}
	for i := range cfg.Services {
		for j := range cfg.Procs {
			p := &simProc{service: fmt.Sprintf("svc%d", i), process: fmt.Sprintf("svc%d-%d", i, j)}
			for k := range cfg.LocksPerProc {
				l := &simLock{name: fmt.Sprintf("lock%d", k), index: k, rw: k%2 == 1, w: s.newID()}
				if l.rw {
					l.r = s.newID()
				}
				p.locks = append(p.locks, l)
			}
			s.procs = append(s.procs, p)
		}
	}
	for i, l := range genSharedLocks {
		s.shared = append(s.shared, &simShared{name: l.name, index: i, rw: l.rw})
	}
	for range cfg.Roots {
		var trace [16]byte
		for i := range trace {
			trace[i] = byte(s.rng.Uint32())
		}
		s.newThread(s.procs[s.rng.IntN(len(s.procs))], trace, analysis.OriginRoot, analysis.Epoch{})
	}
	for {
		var runnable []*simThread
		for _, t := range s.threads {
			if !t.done && (t.waitFor == nil || t.waitFor.done) {
				runnable = append(runnable, t)
			}
		}
		if len(runnable) == 0 {
			break
		}
		s.step(runnable[s.rng.IntN(len(runnable))])
	}
	for _, t := range s.threads {
		if t.waitFor != nil || t.held != nil || t.sheld != nil || !t.done {
			panic("generator: thread left blocked or holding a lock")
		}
	}
	step := time.Second / time.Duration(len(s.events)+1)
	for i := range s.events {
		s.events[i].Time = base.Add(time.Duration(i+1) * step)
	}
	return s.events
}

func (s *simulator) step(t *simThread) {
	rng := s.rng
	switch {
	case !t.started:
		t.started = true
		e := analysis.Event{Kind: analysis.KindStart, ThreadName: t.name, Origin: t.origin}
		if !t.creator.IsZero() {
			e.After = []analysis.Epoch{t.creator}
		}
		s.emit(t, e)
	case t.waitFor != nil:
		w := t.waitFor
		t.waitFor = nil
		if t.waitRPC {
			s.emit(t, analysis.Event{Kind: analysis.KindResponse, After: []analysis.Epoch{w.last}})
		} else {
			s.emit(t, analysis.Event{Kind: analysis.KindAwait, After: []analysis.Epoch{w.last}})
		}
	case (t.held != nil || t.sheld != nil) && t.holdLeft > 0:
		t.holdLeft--
		s.access(t)
	case t.held != nil:
		s.release(t)
	case t.sheld != nil:
		s.releaseShared(t)
	case t.budget > 0:
		t.budget--
		switch r := rng.IntN(100); {
		case r < 50:
			s.access(t)
		case r < 60:
			if !s.acquire(t) {
				s.access(t)
			}
		case r < 68:
			if !s.acquireShared(t) {
				s.access(t)
			}
		case r < 78 && len(s.threads) < s.cfg.MaxThreads:
			ep := s.emit(t, analysis.Event{Kind: analysis.KindSpawn})
			c := s.newThread(t.proc, t.trace, analysis.OriginSpawn, ep)
			t.children = append(t.children, c)
		case r < 88 && len(s.threads) < s.cfg.MaxThreads:
			ep := s.emit(t, analysis.Event{Kind: analysis.KindSend})
			h := s.newThread(s.procs[rng.IntN(len(s.procs))], t.trace, analysis.OriginRequest, ep)
			h.caller = t
			t.waitFor, t.waitRPC = h, true
		case len(t.children) > 0:
			s.await(t)
		default:
			s.access(t)
		}
	case len(t.children) > 0 && rng.IntN(3) > 0:
		s.await(t)
	default:
		kind := analysis.KindEnd
		if t.caller != nil {
			kind = analysis.KindRespond
		}
		s.emit(t, analysis.Event{Kind: kind})
		t.done = true
	}
}

func (s *simulator) await(t *simThread) {
	i := s.rng.IntN(len(t.children))
	c := t.children[i]
	t.children = append(t.children[:i], t.children[i+1:]...)
	t.waitFor, t.waitRPC = c, false
	// The Await event is emitted once c has ended (see step).
}

func (s *simulator) access(t *simThread) {
	rng := s.rng
	var name string
	shared := rng.IntN(4) == 0
	switch {
	case t.held != nil && rng.IntN(10) < 7:
		// Mostly the variable this lock protects.
		shared = false
		name = genLocalVars[t.held.index%len(genLocalVars)]
	case t.sheld != nil && rng.IntN(10) < 8:
		shared = true
		name = genSharedVars[t.sheld.index]
	case shared:
		name = genSharedVars[rng.IntN(len(genSharedVars))]
	default:
		name = genLocalVars[rng.IntN(len(genLocalVars))]
	}
	key := name
	if !shared {
		key = t.proc.process + ":" + name
	}
	kind := analysis.KindRead
	if rng.IntN(2) == 0 {
		kind = analysis.KindWrite
	}
	cur := s.values[key]
	e := analysis.Event{Kind: kind, Var: name, Shared: shared, HasValues: true}
	// Code locations: a few per variable and kind, so that location pairs
	// repeat across threads as they do in real programs.
	e.Where = analysis.Location{File: "gen.go", Line: 100 + 10*int(kind) + len(name)%7*20 + rng.IntN(3), Function: "gen.access"}
	if kind == analysis.KindRead {
		e.New = strconv.Itoa(cur)
		t.lastRead[key] = cur
	} else {
		base, ok := t.lastRead[key]
		if !ok {
			base = cur
		}
		next := base + 1 + rng.IntN(10)
		e.Old, e.New = strconv.Itoa(cur), strconv.Itoa(next)
		s.values[key] = next
	}
	s.emit(t, e)
}

// acquire takes a free lock of t's process, if any is free for the chosen
// mode, and reports whether it did.
func (s *simulator) acquire(t *simThread) bool {
	rng := s.rng
	if len(t.proc.locks) == 0 {
		return false
	}
	l := t.proc.locks[rng.IntN(len(t.proc.locks))]
	read := l.rw && rng.IntN(2) == 0
	var after []analysis.Epoch
	if read {
		if l.writer != nil {
			return false
		}
		l.readers++
		if l.wn > 0 {
			after = append(after, analysis.Epoch{Thread: l.w, Seq: l.wn})
		}
	} else {
		if l.writer != nil || l.readers > 0 {
			return false
		}
		l.writer = t
		if l.wn > 0 {
			after = append(after, analysis.Epoch{Thread: l.w, Seq: l.wn})
		}
		if l.rw && l.rn > 0 {
			after = append(after, analysis.Epoch{Thread: l.r, Seq: l.rn})
		}
	}
	kind := analysis.KindAcquire
	if read {
		kind = analysis.KindRAcquire
	}
	s.emit(t, analysis.Event{Kind: kind, Lock: l.name, After: after})
	t.held, t.heldRead, t.holdLeft = l, read, 1+rng.IntN(3)
	return true
}

func (s *simulator) release(t *simThread) {
	l := t.held
	var e analysis.Event
	if t.heldRead {
		l.readers--
		l.rn++
		e = analysis.Event{Kind: analysis.KindRRelease, Lock: l.name, Sync: analysis.Epoch{Thread: l.r, Seq: l.rn}}
	} else {
		l.writer = nil
		l.wn++
		e = analysis.Event{Kind: analysis.KindRelease, Lock: l.name, Sync: analysis.Epoch{Thread: l.w, Seq: l.wn}}
	}
	s.emit(t, e)
	t.held = nil
}

// acquireShared takes a shared lock if it is free for the chosen mode (in
// any process) and reports whether it did. Half the exclusive acquires carry
// the optional exact edge from the previous exclusive release, as when the
// lock's store (a Redis value, a lease row) holds the releaser's epoch.
func (s *simulator) acquireShared(t *simThread) bool {
	rng := s.rng
	l := s.shared[rng.IntN(len(s.shared))]
	read := l.rw && rng.IntN(2) == 0
	switch {
	case l.writer != nil, !read && l.readers > 0:
		return false
	case read:
		l.readers++
	default:
		l.writer = t
	}
	e := analysis.Event{Kind: analysis.KindAcquire, Lock: l.name, LockShared: true}
	if read {
		e.Kind = analysis.KindRAcquire
	} else if !l.lastRelease.IsZero() && l.lastRelease.Thread != t.id && rng.IntN(2) == 0 {
		e.After = []analysis.Epoch{l.lastRelease}
	}
	s.emit(t, e)
	t.sheld, t.heldRead, t.holdLeft = l, read, 1+rng.IntN(3)
	return true
}

func (s *simulator) releaseShared(t *simThread) {
	l := t.sheld
	e := analysis.Event{Kind: analysis.KindRelease, Lock: l.name, LockShared: true}
	if t.heldRead {
		e.Kind = analysis.KindRRelease
		l.readers--
	} else {
		l.writer = nil
	}
	ep := s.emit(t, e)
	if !t.heldRead {
		l.lastRelease = ep
	}
	t.sheld = nil
}
