package analysis

import (
	"hash/maphash"
	"slices"
	"time"
)

// maxUndrained bounds the races kept between two calls of Drain; later
// occurrences are still counted in their group and in Stats.
const maxUndrained = 1 << 16

// Detector finds races in a stream of events. It is not safe for concurrent
// use: drivers serialise calls.
//
// Events are analysed in an order consistent with happens-before whatever
// their arrival order: an event waits until its predecessors (see [Event])
// have been analysed, or until it has waited Config.Wait. An event that
// arrives after its thread has moved past it is late: it is checked against
// the retained history of its variable and counted in Stats.Late.
type Detector struct {
	cfg Config

	threads threads
	vars    variables
	procs   map[[2]string]*process // by service and id
	locs    map[Location]*Location
	// Small caches in front of procs and locs: most accesses repeat the
	// last process and one of a few code locations.
	lastProc *process
	locCache [64]*Location
	lockSets map[string][]string // shared one-lock LocksHeld sets

	snaps     map[Epoch]snapshot
	snapOrder []Epoch // ring of the keys of snaps, oldest at snapNext
	snapNext  int

	queue    queue
	byEpoch  map[Epoch]*pending // pending events by their epoch
	bySync   map[Epoch]*pending // pending releases by the strand epoch they publish
	ready    []*pending
	npending int

	groups     map[groupID]*group
	groupOrder []groupID // ring of the keys of groups, oldest at groupNext
	groupNext  int

	lines uint64 // lineages started (see clock)

	races []raceRec
	seen  [24]*access // the accesses a check has visited (see checker)
	stats Stats
}

// snapshot is the clock of a published epoch (a spawn, a send, a
// respond), kept so that edges from it are exact.
type snapshot struct {
	clk  clock
	wall int64
}

// group counts the occurrences of one distinct race.
type group struct {
	count   int
	first   time.Time
	key     string // Race.Group
	evicted bool   // forgotten beyond Config.MaxVariables groups
}

// NewDetector returns a Detector bounded by cfg.
func NewDetector(cfg Config) (*Detector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &Detector{
		cfg:      cfg,
		threads:  threads{byID: make(map[ThreadID]*thread)},
		vars:     newVariables(),
		procs:    make(map[[2]string]*process),
		locs:     make(map[Location]*Location),
		lockSets: make(map[string][]string),
		snaps:    make(map[Epoch]snapshot),
		byEpoch:  make(map[Epoch]*pending),
		bySync:   make(map[Epoch]*pending),
		groups:   make(map[groupID]*group),
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
	t := d.threads.get(e.Epoch.Thread)
	if len(e.LocksHeld) > 0 && e.Kind.IsAccess() {
		if t != nil && slices.Equal(t.locks, e.LocksHeld) {
			e.LocksHeld = t.locks
		} else {
			e.LocksHeld = d.lockSet(e.LocksHeld)
			if t != nil {
				t.locks = e.LocksHeld
			}
		}
	} else {
		e.LocksHeld = nil
	}
	if e.Kind.IsAccess() {
		e.SharedLocks, e.SharedRLocks = d.sharedSet(e.SharedLocks), d.sharedSet(e.SharedRLocks)
	} else {
		e.SharedLocks, e.SharedRLocks = nil, nil
	}
	if d.npending > 0 && d.byEpoch[e.Epoch] != nil {
		d.stats.Duplicates++
		return nil
	}
	if t != nil && e.Epoch.Seq <= t.done {
		d.analyseOn(t, &e, false)
		return nil
	}
	if d.ready0(t, &e) {
		// The common case, events in order: nothing to wait for.
		d.analyseOn(t, &e, false)
		d.runReady()
		return nil
	}
	// It waits: keep a copy of the caller's edges.
	if len(e.After) > 0 {
		e.After = append([]Epoch(nil), e.After...)
	}
	p := &pending{ev: e, arrived: now.UnixNano()}
	deps(&p.ev, func(dep Epoch) {
		dt := d.threads.get(dep.Thread)
		if dt == nil {
			dt = d.threads.touch(dep.Thread)
		}
		if dt.done >= dep.Seq {
			return
		}
		if dt.waiting == nil {
			dt.waiting = make(map[uint64][]*pending)
		}
		dt.waiting[dep.Seq] = append(dt.waiting[dep.Seq], p)
		p.missing++
	})
	if p.missing == 0 {
		d.analyse(p, false)
		d.runReady()
		return nil
	}
	p.queued = true
	d.queue.push(p)
	d.byEpoch[e.Epoch] = p
	if !e.Sync.IsZero() && d.bySync[e.Sync] == nil {
		d.bySync[e.Sync] = p
	}
	d.npending++
	for d.npending > d.cfg.MaxPending {
		d.stats.EvictedPending++
		d.force(d.queue.front())
	}
	return nil
}

// ready0 reports whether every predecessor of e, whose thread's state is t
// (nil if untracked), has been analysed.
func (d *Detector) ready0(t *thread, e *Event) bool {
	done := func(dep Epoch) bool {
		t := d.threads.get(dep.Thread)
		return t != nil && t.done >= dep.Seq
	}
	if e.Epoch.Seq > 1 && (t == nil || t.done < e.Epoch.Seq-1) {
		return false
	}
	for _, a := range e.After {
		if !done(a) {
			return false
		}
	}
	return e.Sync.Seq <= 1 || done(Epoch{Thread: e.Sync.Thread, Seq: e.Sync.Seq - 1})
}

// Advance analyses the events that have waited longer than Config.Wait for
// a predecessor, as if the predecessor were known, oldest first.
func (d *Detector) Advance(now time.Time) {
	limit := now.UnixNano() - int64(d.cfg.Wait)
	for {
		p := d.queue.front()
		if p == nil || p.arrived > limit {
			return
		}
		d.force(p)
	}
}

// Flush analyses every pending event now, oldest first.
func (d *Detector) Flush() {
	for p := d.queue.front(); p != nil; p = d.queue.front() {
		d.force(p)
	}
}

// Drain returns the races found since the previous Drain or DrainEach, in
// the order found. At most 65,536 are kept between two calls; the others
// are counted in Stats.Races and their group's Count but not returned.
func (d *Detector) Drain() []Race {
	if len(d.races) == 0 {
		return nil
	}
	out := make([]Race, 0, len(d.races))
	d.DrainEach(func(r *Race) { out = append(out, *r) })
	return out
}

// DrainEach is Drain without the slice: it calls f with each race in turn.
// r is valid only during the call (DrainEach reuses it); f must not call
// the Detector.
func (d *Detector) DrainEach(f func(r *Race)) {
	var r Race
	for i := range d.races {
		d.race(&d.races[i], &r)
		f(&r)
	}
	clear(d.races)
	d.races = d.races[:0]
}

// Stats returns the detector's counters.
func (d *Detector) Stats() Stats {
	s := d.stats
	s.Pending = d.npending
	s.Variables = d.vars.n
	s.Threads = len(d.threads.byID)
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
		var next *pending
		deps(&p.ev, func(e Epoch) {
			q := d.byEpoch[e]
			if q == nil {
				q = d.bySync[e]
			}
			if next == nil && q != nil && !q.done && !visiting[q] {
				next = q
			}
		})
		if next != nil {
			visiting[next] = true
			stack = append(stack, next)
			continue
		}
		stack = stack[:len(stack)-1]
		d.analyse(p, p.missing > 0)
		d.runReady()
	}
}

// runReady analyses the events whose predecessors have all been analysed.
func (d *Detector) runReady() {
	for len(d.ready) > 0 {
		p := d.ready[len(d.ready)-1]
		d.ready = d.ready[:len(d.ready)-1]
		if !p.done {
			d.analyse(p, false)
		}
	}
}

// analyse analyses one event: it computes the event's clock from its
// thread's and its edges', checks accesses, publishes snapshots and strand
// epochs, and wakes the events waiting for it.
func (d *Detector) analyse(p *pending, forced bool) {
	if p.queued {
		p.queued = false
		if d.byEpoch[p.ev.Epoch] == p {
			delete(d.byEpoch, p.ev.Epoch)
			d.npending--
		}
		if !p.ev.Sync.IsZero() && d.bySync[p.ev.Sync] == p {
			delete(d.bySync, p.ev.Sync)
		}
	}
	p.done = true
	d.analyseOn(d.threads.get(p.ev.Epoch.Thread), &p.ev, forced)
}

// analyseOn analyses ev, which is not pending, given the state of its
// thread, t (nil when untracked: the caller has just looked it up).
func (d *Detector) analyseOn(t *thread, ev *Event, forced bool) {
	if t == nil {
		t = d.threads.add(ev.Epoch.Thread)
	} else {
		d.threads.toFront(t)
	}
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
	if len(ev.After) > 0 {
		for _, a := range ev.After {
			snap, extra, ok := d.resolve(a, wall)
			extras := []clockEntry{extra}
			if !ok {
				extras = nil
			}
			var dropped int
			c, dropped = join(c, snap, extras, d.cfg.MaxClockEntries)
			d.stats.EvictedClockEntries += uint64(dropped)
		}
		t.setClock(c, ev.Epoch.Seq)
	}
	prevDone := t.done
	t.done, t.wall = ev.Epoch.Seq, wall
	d.describe(t, ev)

	switch ev.Kind {
	case KindRead, KindWrite:
		d.access(t, ev, c, wall)
	case KindSpawn, KindSend, KindRespond:
		// (An end needs no snapshot: it is its thread's last event, so
		// the thread's clock stays its clock while the thread is tracked.)
		d.snapshot(ev.Epoch, c, wall)
	case KindRelease, KindRRelease:
		if !ev.Sync.IsZero() { // (a shared lock's release publishes nothing)
			d.publish(t, ev, c, wall)
		}
	}
	d.wake(t, prevDone)
}

// describe records what ev tells about its thread.
func (d *Detector) describe(t *thread, ev *Event) {
	if t.proc == nil {
		t.trace = ev.TraceID
		t.proc = d.intern(ev.Service, ev.Process)
	}
	if ev.Kind == KindStart && !t.started {
		t.started = true
		t.name = ev.ThreadName
		t.origin = ev.Origin
		t.where = d.location(&ev.Where)
		if len(ev.After) > 0 {
			t.creator = ev.After[0]
		}
	}
}

// resolve returns the clock of epoch a and the entry for a itself, with
// true (none, and false, for a lock strand, which makes no accesses: its
// entry in a clock would order nothing): exact from a snapshot, or from
// its thread's recent clock versions; when a is older than those, the
// oldest version kept stands in (a later clock, which can only hide
// races); when a has not been analysed, only a itself.
func (d *Detector) resolve(a Epoch, wall int64) (clock, clockEntry, bool) {
	at := d.threads.get(a.Thread)
	if at != nil && at.strand {
		// (A lock strand publishes no snapshot.)
		if at.done >= a.Seq {
			return at.clockAt(a.Seq), clockEntry{}, false
		}
		return clock{}, clockEntry{}, false
	}
	if s, ok := d.snaps[a]; ok {
		// One edge names a published epoch (an RPC is answered once, a
		// thread spawned or joined once): the snapshot has served.
		delete(d.snaps, a)
		return s.clk, clockEntry{thread: a.Thread, seq: a.Seq, wall: s.wall}, true
	}
	if at != nil && at.done >= a.Seq {
		return at.clockAt(a.Seq), clockEntry{thread: a.Thread, seq: a.Seq, wall: at.wall}, true
	}
	return clock{}, clockEntry{thread: a.Thread, seq: a.Seq, wall: wall}, true
}

// snapshot keeps the clock of a published epoch until an edge names it,
// evicting the oldest beyond Config.MaxThreads. (A lock strand needs none:
// the next release of a lock happens after every acquire that names the
// previous one, so the strand's own state is exact when they are analysed.)
func (d *Detector) snapshot(e Epoch, c clock, wall int64) {
	// An epoch is analysed once (unless its thread was evicted and came
	// back: then its new snapshot replaces the old, and the ring holds the
	// key twice, which eviction tolerates).
	d.snaps[e] = snapshot{clk: c, wall: wall}
	if len(d.snapOrder) < d.cfg.MaxThreads {
		d.snapOrder = append(d.snapOrder, e)
		return
	}
	if _, ok := d.snaps[d.snapOrder[d.snapNext]]; ok {
		delete(d.snaps, d.snapOrder[d.snapNext])
		d.stats.EvictedSnapshots++
	}
	d.snapOrder[d.snapNext] = e
	d.snapNext = (d.snapNext + 1) % len(d.snapOrder)
}

// publish advances the lock strand a release publishes on.
func (d *Detector) publish(t *thread, ev *Event, c clock, wall int64) {
	s := d.threads.touch(ev.Sync.Thread)
	s.strand = true
	if ev.Sync.Seq <= s.done {
		d.stats.Late++
		return
	}
	prevDone := s.done
	// (The strand's clock holds no entry of its own: no access is ordered
	// by it, and an acquire naming it shares the clock as is.)
	line := s.clk.line
	if line == 0 {
		// A strand tracked anew (first seen, or evicted and back) starts
		// a new lineage: its earlier clocks are not known to it.
		d.lines++
		line = d.lines
	}
	sc, dropped := join(s.clk, c, []clockEntry{{thread: t.id, seq: ev.Epoch.Seq, wall: wall}}, d.cfg.MaxClockEntries)
	d.stats.EvictedClockEntries += uint64(dropped)
	sc.line, sc.gen = line, ev.Sync.Seq
	s.setClock(sc, ev.Sync.Seq)
	s.done, s.wall = ev.Sync.Seq, wall
	if s.proc == nil {
		s.name = "lock " + ev.Lock
		s.proc = d.intern(ev.Service, ev.Process)
	}
	d.wake(s, prevDone)
}

// wake moves the events waiting for t's epochs up to t.done towards the
// ready list.
func (d *Detector) wake(t *thread, prevDone uint64) {
	if len(t.waiting) == 0 {
		return
	}
	release := func(seq uint64) {
		for _, p := range t.waiting[seq] {
			if p.done {
				continue
			}
			if p.missing--; p.missing == 0 {
				d.ready = append(d.ready, p)
			}
		}
		delete(t.waiting, seq)
	}
	if t.done-prevDone <= 8 {
		for seq := prevDone + 1; seq <= t.done; seq++ {
			release(seq)
		}
		return
	}
	for seq := range t.waiting {
		if seq <= t.done {
			release(seq)
		}
	}
}

func (d *Detector) evictThreads() {
	if len(d.threads.byID) > d.cfg.MaxThreads {
		d.stats.EvictedThreads += uint64(d.threads.evict(d.cfg.MaxThreads))
	}
}

// intern returns the shared copy of a process identity.
func (d *Detector) intern(service, id string) *process {
	if p := d.lastProc; p != nil && p.service == service && p.id == id {
		return p
	}
	p := d.procs[[2]string{service, id}]
	if p == nil {
		p = &process{service: service, id: id, salt: maphash.String(d.vars.seed, service+"\x00"+id)}
		if len(d.procs) < d.cfg.MaxThreads {
			d.procs[[2]string{service, id}] = p
		}
	}
	d.lastProc = p
	return p
}

// lockSet returns a copy of held that the detector may keep; sets of one
// lock (the common case) are shared.
func (d *Detector) lockSet(held []string) []string {
	if len(held) != 1 {
		return append([]string(nil), held...)
	}
	if s, ok := d.lockSets[held[0]]; ok {
		return s
	}
	s := []string{held[0]}
	if len(d.lockSets) < d.cfg.MaxVariables {
		d.lockSets[held[0]] = s
	}
	return s
}

// sharedSet returns a copy of a shared-lock list that the detector may
// keep, or nil for an empty one.
func (d *Detector) sharedSet(held []string) []string {
	if len(held) == 0 {
		return nil
	}
	return d.lockSet(held)
}

// location returns the shared copy of a code location.
func (d *Detector) location(l *Location) *Location {
	slot := &d.locCache[uint(l.Line+len(l.File))%uint(len(d.locCache))]
	if p := *slot; p != nil && *p == *l {
		return p
	}
	p := d.locs[*l]
	if p == nil {
		p = new(Location)
		*p = *l
		if len(d.locs) < d.cfg.MaxVariables {
			d.locs[*p] = p
		}
	}
	*slot = p
	return p
}

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
