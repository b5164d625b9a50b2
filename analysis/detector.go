package analysis

import (
	"slices"
	"time"
)

// Detector finds races in a stream of events. It is not safe for concurrent
// use: drivers serialise calls.
//
// Events are analysed in an order consistent with happens-before whatever
// their arrival order: an event waits until its predecessors (see [Event])
// have been analysed, or until it has waited Config.Wait. An event that
// arrives after its thread has moved past it is late: it is checked against
// the retained history of its variable and counted in Stats.Late.
type Detector struct {
	cfg     Config
	threads recency[ThreadID, *thread] // threads and lock strands (pointers: retained accesses refer to them)
	vars    recency[varKey, variable]
	sched   scheduler
	snaps   snapshots
	groups  groups
	intern  interner
	found   []raceRec // races found since the last Drain
	stats   Stats

	evictedWall int64 // the latest wall time of an evicted thread's last event (see forgotten)
}

// NewDetector returns a Detector bounded by cfg.
func NewDetector(cfg Config) (*Detector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &Detector{
		cfg:     cfg,
		threads: newRecency[ThreadID, *thread](),
		vars:    newRecency[varKey, variable](),
		sched:   newScheduler(),
		snaps:   newSnapshots(cfg.MaxThreads),
		groups:  newGroups(cfg.MaxVariables),
		intern:  newInterner(cfg.MaxVariables),
	}, nil
}

// Add validates e and queues it; e is analysed as soon as its predecessors
// have been. now is the arrival time, used for Config.Wait. An invalid
// event is counted in Stats.Invalid and its error (wrapping
// ErrInvalidEvent) returned. Add keeps no reference to e's slices.
func (d *Detector) Add(e Event, now time.Time) error {
	if err := e.Validate(); err != nil {
		d.stats.Invalid++
		return err
	}
	d.stats.Events++
	if d.sched.has(e.Epoch) {
		d.stats.Duplicates++
		return nil
	}
	if e.Kind.IsAccess() {
		e.LocksHeld = d.intern.lockSet(e.LocksHeld)
		e.SharedLocks = d.intern.lockSet(e.SharedLocks)
		e.SharedRLocks = d.intern.lockSet(e.SharedRLocks)
	} else {
		e.LocksHeld, e.SharedLocks, e.SharedRLocks = nil, nil, nil
	}
	if t := d.thread(e.Epoch.Thread); t != nil && e.Epoch.Seq <= t.done {
		d.analyse(&e, false) // late, or a duplicate
		return nil
	}
	missing := false
	deps(&e, func(dep Epoch) { missing = missing || !d.analysed(dep) })
	if !missing {
		d.analyse(&e, false)
		d.runReady()
		return nil
	}
	p := &pending{ev: e, arrived: now.UnixNano()}
	p.ev.After = slices.Clone(e.After)
	deps(&p.ev, func(dep Epoch) {
		if !d.analysed(dep) {
			d.sched.wait(p, dep)
		}
	})
	d.sched.hold(p)
	for d.sched.n > d.cfg.MaxPending {
		d.stats.EvictedPending++
		d.force(d.sched.front())
	}
	return nil
}

// analysed reports whether epoch e has been analysed.
func (d *Detector) analysed(e Epoch) bool {
	t := d.thread(e.Thread)
	return t != nil && t.done >= e.Seq
}

// Advance analyses the events that have waited longer than Config.Wait for
// a predecessor, as if the predecessor were known, oldest first.
func (d *Detector) Advance(now time.Time) {
	limit := now.UnixNano() - int64(d.cfg.Wait)
	for p := d.sched.front(); p != nil && p.arrived <= limit; p = d.sched.front() {
		d.force(p)
	}
}

// Flush analyses every pending event now, oldest first.
func (d *Detector) Flush() {
	for p := d.sched.front(); p != nil; p = d.sched.front() {
		d.force(p)
	}
}

// Drain returns the races found since the previous Drain or DrainEach, in
// the order found. At most 65,536 are kept between two calls; the others
// are counted in Stats.Races and their group's Count but not returned.
func (d *Detector) Drain() []Race {
	if len(d.found) == 0 {
		return nil
	}
	out := make([]Race, len(d.found))
	i := 0
	d.DrainEach(func(f Found) {
		f.Race(&out[i])
		i++
	})
	return out
}

// DrainEach is Drain without the slice: it calls f with each race in turn,
// as a Found, which is valid only during the call. f must not call the
// Detector.
func (d *Detector) DrainEach(f func(Found)) {
	for i := range d.found {
		f(Found{rec: &d.found[i]})
	}
	clear(d.found)
	d.found = d.found[:0]
}

// Stats returns the detector's counters.
func (d *Detector) Stats() Stats {
	s := d.stats
	s.Pending = d.sched.n
	s.Variables = d.vars.len()
	s.Threads = d.threads.len()
	return s
}

// force analyses root, first analysing (forcing where needed) the pending
// events it waits for, so that forced events keep happens-before order
// among themselves.
func (d *Detector) force(root *pending) {
	stack := []*pending{root}
	visiting := map[*pending]bool{root: true}
	for len(stack) > 0 {
		p := stack[len(stack)-1]
		if p.done {
			stack = stack[:len(stack)-1]
			continue
		}
		if next := d.sched.firstWaiting(p, visiting); next != nil {
			visiting[next] = true
			stack = append(stack, next)
			continue
		}
		stack = stack[:len(stack)-1]
		d.run(p, p.missing > 0)
		d.runReady()
	}
}

// runReady analyses the pending events whose predecessors have all been
// analysed.
func (d *Detector) runReady() {
	for p := d.sched.nextReady(); p != nil; p = d.sched.nextReady() {
		d.run(p, false)
	}
}

// run analyses a pending event.
func (d *Detector) run(p *pending, forced bool) {
	d.sched.release(p)
	d.analyse(&p.ev, forced)
}

// analyse analyses one event whose predecessors have been analysed (or
// forced): it computes the event's clock from its thread's and its edges',
// checks accesses, publishes snapshots and strand epochs, and wakes the
// events waiting for it.
func (d *Detector) analyse(ev *Event, forced bool) {
	t := d.useThread(ev.Epoch.Thread, ev.Epoch.Seq)
	defer d.evictThreads()
	if ev.Epoch.Seq <= t.done {
		d.late(t, ev)
		return
	}
	if forced {
		d.stats.Forced++
	}
	wall := unixNano(ev.Time)
	c := t.clk
	for _, a := range ev.After {
		src, at := d.clockOf(a, wall)
		var dropped int
		c, dropped = c.join(src, at, d.cfg.MaxClockEntries)
		d.stats.EvictedClockEntries += uint64(dropped)
	}
	if !c.is(t.clk) {
		t.setClock(c, ev.Epoch.Seq)
	}
	prev := t.done
	t.done, t.wall = ev.Epoch.Seq, wall
	d.describe(t, ev)

	switch ev.Kind {
	case KindRead, KindWrite:
		d.access(t, ev, c, wall)
	case KindSpawn, KindSend, KindRespond:
		d.stats.EvictedSnapshots += uint64(d.snaps.put(ev.Epoch, c, wall))
	case KindRelease, KindRRelease:
		if !ev.Sync.IsZero() { // (a shared lock's release publishes nothing)
			d.release(t, ev, c, wall)
		}
	}
	d.sched.advanced(t.id, prev, t.done)
}

// useThread returns the state of thread id, whose seq-th event is being
// analysed, tracking it if new, and marks it most recently active. A thread
// tracked anew past its first event (evicted and back, or whose first
// events never came) starts from a clock the detector no longer knows.
func (d *Detector) useThread(id ThreadID, seq uint64) *thread {
	p, added := d.threads.use(id)
	if !added {
		return *p
	}
	t := &thread{id: id}
	*p = t
	if seq > 1 {
		t.setClock(d.forgotten(), seq)
		t.pastDropped = true
	}
	return t
}

// thread returns the state of thread id, or nil if it is not tracked.
func (d *Detector) thread(id ThreadID) *thread {
	if p := d.threads.get(id); p != nil {
		return *p
	}
	return nil
}

// clockOf returns the clock of epoch a, which an edge names, and the entry
// for a itself (none for a lock strand, which makes no accesses: its entry
// would order nothing). The clock is exact from a snapshot or from its
// thread's clocks (see thread.clockAt); when a's thread is not tracked (a
// was never analysed, or its thread was evicted), forgotten stands in.
func (d *Detector) clockOf(a Epoch, wall int64) (clock, clockEntry) {
	at := d.thread(a.Thread)
	if at != nil && at.strand {
		if at.done >= a.Seq {
			return at.clockAt(a.Seq), clockEntry{}
		}
		return d.forgotten(), clockEntry{}
	}
	if s, ok := d.snaps.take(a); ok {
		return s.clk, clockEntry{thread: a.Thread, seq: a.Seq, wall: s.wall}
	}
	if at != nil && at.done >= a.Seq {
		return at.clockAt(a.Seq), clockEntry{thread: a.Thread, seq: a.Seq, wall: at.wall}
	}
	return d.forgotten(), clockEntry{thread: a.Thread, seq: a.Seq, wall: wall}
}

// release advances the lock strand that release event ev of thread t,
// whose clock is c, publishes on: the strand's clock joins t's, as a
// TSan release joins the thread's clock into the lock's.
func (d *Detector) release(t *thread, ev *Event, c clock, wall int64) {
	s := d.useThread(ev.Sync.Thread, ev.Sync.Seq)
	s.strand = true
	if ev.Sync.Seq <= s.done {
		d.stats.Late++
		return
	}
	sc, dropped := s.clk.join(c, clockEntry{thread: t.id, seq: ev.Epoch.Seq, wall: wall}, d.cfg.MaxClockEntries)
	d.stats.EvictedClockEntries += uint64(dropped)
	if !sc.is(s.clk) {
		s.setClock(sc, ev.Sync.Seq)
	}
	prev := s.done
	s.done, s.wall = ev.Sync.Seq, wall
	if s.proc == nil {
		s.name = "lock " + ev.Lock
		s.proc = d.intern.process(ev.Service, ev.Process)
	}
	d.sched.advanced(s.id, prev, s.done)
}

// describe records what ev tells about its thread.
func (d *Detector) describe(t *thread, ev *Event) {
	if t.proc == nil {
		t.trace = ev.TraceID
		t.proc = d.intern.process(ev.Service, ev.Process)
	}
	if ev.Kind == KindStart && !t.started {
		t.started = true
		t.name = ev.ThreadName
		t.origin = ev.Origin
		t.where = d.intern.location(ev.Where)
		if len(ev.After) > 0 {
			t.creator = ev.After[0]
		}
	}
}

// evictThreads evicts the least recently active threads beyond
// Config.MaxThreads, sparing those that pending events wait for, and keeps
// the latest wall time of an evicted thread's last event (see forgotten).
func (d *Detector) evictThreads() {
	if d.threads.len() > d.cfg.MaxThreads {
		n := d.threads.evict(d.cfg.MaxThreads,
			func(t **thread) bool { return d.sched.waitsFor((*t).id) },
			func(p **thread) {
				t := *p
				d.evictedWall = max(d.evictedWall, t.wall)
				// Its retained accesses may keep t alive, but not its
				// clocks: no edge reaches them any more (see forgotten),
				// and a late access assumes that t heard of it (see
				// Detector.late).
				t.clk, t.past, t.evicted = clock{}, ring[pastClock]{}, true
			})
		d.stats.EvictedThreads += uint64(n)
	}
}

// forgotten returns the clock that stands in for one the detector no
// longer knows: that of an epoch of a thread it evicted, or of a thread
// seen again after it was evicted. Such a clock held only events that
// happened before the evicted thread's last analysed event, so at or
// before the latest wall time of an evicted thread's last event: taking
// those as ordered can hide a race, never invent one. (Before any
// eviction it is the empty clock: an edge to an epoch never seen brings
// that epoch alone.)
func (d *Detector) forgotten() clock { return horizonClock(d.evictedWall) }

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}
