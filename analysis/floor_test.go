package analysis_test

import (
	"fmt"
	"hash/maphash"
	"slices"
	"testing"

	"github.com/raceway-otel/raceway/analysis"
)

// This file holds the floor: the least work a FastTrack detector with
// bounded sparse vector clocks does on the benchmark workload, to tell how
// close to the oracle's time any such detector can get. It is the
// detector's algorithm without everything the analysis issue asks for on
// top of finding which variables race:
//
//   - no access context (location, values, locks, span, thread) and no
//     history: it finds a race on a variable, not every racing pair;
//   - no race reports (it counts races);
//   - no bound on variables and threads, and no recency lists;
//   - no out-of-order arrival (no pending events), no late events, no past
//     clock versions for edges naming an earlier epoch, no validation;
//   - only the event kinds of the workload (start, end, lock acquire and
//     release, read, write).
//
// Its clocks are the detector's: entries sorted by thread, at most 64, the
// least recently active dropped under a horizon (an access at or before
// the horizon is taken as ordered). A thread's clock and a lock's are
// updated in place, and a release by the thread whose clock is a copy of
// the lock's (it acquired it, and no one released it since) copies instead
// of merging.

// floorEpoch is thread tid's seq-th event, at wall time at: an access, or
// a clock component (the thread's first seq events happened before).
type floorEpoch struct {
	tid, seq uint64
	at       int64
}

// floorClock is a bounded sparse vector clock.
type floorClock struct {
	e       []floorEpoch // sorted by tid
	horizon int64
}

// orders reports whether the access (tid, seq) at wall time at happened
// before the point whose clock is c, of thread self.
func (c *floorClock) orders(self, tid, seq uint64, at int64) bool {
	if tid == 0 || tid == self || at <= c.horizon {
		return true
	}
	i, ok := c.search(tid)
	return ok && c.e[i].seq >= seq
}

func (c *floorClock) search(tid uint64) (int, bool) {
	lo, hi := 0, len(c.e)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if c.e[m].tid < tid {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < len(c.e) && c.e[lo].tid == tid
}

// covers reports whether c is at least o in every component.
func (c *floorClock) covers(o *floorClock) bool {
	if o.horizon > c.horizon {
		return false
	}
	i := 0
	for _, x := range o.e {
		for i < len(c.e) && c.e[i].tid < x.tid {
			i++
		}
		if i == len(c.e) || c.e[i].tid != x.tid || c.e[i].seq < x.seq {
			return false
		}
	}
	return true
}

// join sets c to the join of c and o, in place (through scratch).
func (c *floorClock) join(o *floorClock, scratch *[]floorEpoch) {
	out := (*scratch)[:0]
	a, b := c.e, o.e
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i].tid < b[j].tid):
			out = append(out, a[i])
			i++
		case i == len(a) || b[j].tid < a[i].tid:
			out = append(out, b[j])
			j++
		default:
			x := a[i]
			if b[j].seq > x.seq {
				x = b[j]
			}
			out = append(out, x)
			i++
			j++
		}
	}
	*scratch = out
	c.e = append(c.e[:0], out...)
	c.horizon = max(c.horizon, o.horizon)
	c.bound()
}

// copyOf sets c to a copy of o.
func (c *floorClock) copyOf(o *floorClock) {
	c.e = append(c.e[:0], o.e...)
	c.horizon = o.horizon
}

// raise sets x's thread to x in c.
func (c *floorClock) raise(x floorEpoch) {
	i, ok := c.search(x.tid)
	if ok {
		c.e[i] = x
		return
	}
	c.e = slices.Insert(c.e, i, x)
	c.bound()
}

// bound drops the least recently active entries beyond 64.
func (c *floorClock) bound() {
	for len(c.e) > analysis.DefaultMaxClockEntries {
		m := 0
		for k := range c.e {
			if c.e[k].at < c.e[m].at {
				m = k
			}
		}
		c.horizon = max(c.horizon, c.e[m].at)
		c.e = slices.Delete(c.e, m, m+1)
	}
}

type floorThread struct {
	id  uint64
	clk floorClock
	// lock and ver: the lock (at its version ver) whose clock clk is a
	// copy of, when it is.
	lock *floorLock
	ver  uint64
}

type floorLock struct {
	clk floorClock
	ver uint64 // releases so far
}

// floorVar is FastTrack's state of a variable: the last write, and the last
// read or, when reads are unordered, the read set.
type floorVar struct {
	name  string
	proc  string
	w, r  floorEpoch
	reads []floorEpoch
	raced bool
}

type floor struct {
	seed    maphash.Seed
	threads map[uint64]*floorThread
	cache   [1024]*floorThread // in front of threads, as the detector's
	locks   map[[2]string]*floorLock
	vars    map[uint64]*floorVar // by a hash of process and name
	scratch []floorEpoch
	races   int // checks that found a race
}

func newFloor() *floor {
	return &floor{
		seed:    maphash.MakeSeed(),
		threads: make(map[uint64]*floorThread),
		locks:   make(map[[2]string]*floorLock),
		vars:    make(map[uint64]*floorVar),
	}
}

func (f *floor) thread(id uint64) *floorThread {
	slot := &f.cache[id*0x9e3779b97f4a7c15>>54]
	if t := *slot; t != nil && t.id == id {
		return t
	}
	t := f.threads[id]
	if t == nil {
		t = &floorThread{id: id}
		f.threads[id] = t
	}
	*slot = t
	return t
}

func (f *floor) lock(e *analysis.Event) *floorLock {
	k := [2]string{e.Process, e.Lock}
	l := f.locks[k]
	if l == nil {
		l = new(floorLock)
		f.locks[k] = l
	}
	return l
}

// add analyses e, whose predecessors have all been analysed.
func (f *floor) add(e *analysis.Event) {
	id := uint64(e.Epoch.Thread)
	t := f.thread(id)
	at := e.Time.UnixNano()
	switch e.Kind {
	case analysis.KindAcquire:
		l := f.lock(e)
		switch {
		case len(t.clk.e) == 0 && t.clk.horizon == 0:
			t.clk.copyOf(&l.clk)
		case !t.clk.covers(&l.clk):
			t.clk.join(&l.clk, &f.scratch)
		}
		t.lock, t.ver = l, l.ver
	case analysis.KindRelease:
		l := f.lock(e)
		if t.lock == l && t.ver == l.ver {
			// t's clock covers the lock's: the join is t's clock.
			l.clk.copyOf(&t.clk)
		} else {
			l.clk.join(&t.clk, &f.scratch)
		}
		l.clk.raise(floorEpoch{tid: id, seq: e.Epoch.Seq, at: at})
		l.ver++
		t.lock = nil
	case analysis.KindRead, analysis.KindWrite:
		f.access(t, e, at)
	}
}

func (f *floor) access(t *floorThread, e *analysis.Event, at int64) {
	h := maphash.String(f.seed, e.Var) ^ maphash.String(f.seed, e.Process)
	v := f.vars[h]
	if v == nil {
		v = &floorVar{name: e.Var, proc: e.Process}
		f.vars[h] = v
	}
	if v.name != e.Var || v.proc != e.Process {
		panic("floor: hash collision") // (64-bit: not in this workload)
	}
	c, self := &t.clk, t.id
	me := floorEpoch{tid: self, seq: e.Epoch.Seq, at: at}
	race := !c.orders(self, v.w.tid, v.w.seq, v.w.at)
	if e.Kind == analysis.KindWrite {
		race = race || !c.orders(self, v.r.tid, v.r.seq, v.r.at)
		for _, r := range v.reads {
			race = race || !c.orders(self, r.tid, r.seq, r.at)
		}
		v.w, v.r, v.reads = me, floorEpoch{}, v.reads[:0]
	} else {
		switch {
		case len(v.reads) > 0:
			v.reads = append(v.reads, me)
		case c.orders(self, v.r.tid, v.r.seq, v.r.at):
			v.r = me
		default:
			v.reads = append(v.reads, v.r, me)
			v.r = floorEpoch{}
		}
	}
	if race {
		f.races++
		v.raced = true
	}
}

// racy returns the variables found racy, as the oracle names them.
func (f *floor) racy() map[varKey]bool {
	out := make(map[varKey]bool)
	for _, v := range f.vars {
		if v.raced {
			out[varKey{Service: "shop", Process: v.proc, Name: v.name}] = true
		}
	}
	return out
}

// runFloor analyses the workload with a new floor.
func runFloor(w *workload) *floor {
	f := newFloor()
	var e analysis.Event
	for i := range w.events {
		w.fill(i, &e)
		f.add(&e)
	}
	return f
}

// TestFloorFindsTheOraclesRacyVariables: the floor does the whole
// detection, so that its time is a floor: on the 10,000-access workload
// (where no clock reaches 64 entries, so none drops one) it finds exactly
// the variables the oracle finds racy.
func TestFloorFindsTheOraclesRacyVariables(t *testing.T) {
	w := buildWorkload(10_000)
	want, err := runOracle(w.materialize(), analysis.DefaultWindow)
	if err != nil {
		t.Fatal(err)
	}
	got := runFloor(w).racy()
	if len(want.Vars) == 0 {
		t.Fatal("the oracle finds no racy variable: the workload lost its races")
	}
	for k := range want.Vars {
		if !got[k] {
			t.Errorf("floor misses racy variable %s", k)
		}
	}
	for k := range got {
		if !want.Vars[k] {
			t.Errorf("floor reports race-free variable %s", k)
		}
	}
}

// BenchmarkFloor times the floor on BenchmarkDetector's workload, input
// expansion included (op=floor), and the input expansion alone
// (op=expand), after one untimed run each, as BenchmarkDetector.
func BenchmarkFloor(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		w := buildWorkload(n)
		expand := func() int {
			var e analysis.Event
			for i := range w.events {
				w.fill(i, &e)
			}
			return 0
		}
		floor := func() int { return runFloor(w).races }
		for _, op := range []struct {
			name string
			run  func() int
		}{{"expand", expand}, {"floor", floor}} {
			b.Run(fmt.Sprintf("accesses=%d/op=%s", n, op.name), func(b *testing.B) {
				op.run()
				b.ResetTimer()
				var races int
				for range b.N {
					races = op.run()
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*w.accesses), "ns/access")
				b.ReportMetric(float64(races), "races")
			})
		}
	}
}
