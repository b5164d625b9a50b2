package analysis

import "slices"

// access analyses a read or write of thread t whose clock is c: it reports
// every unordered conflicting pair with the variable's FastTrack state and
// history, then updates them.
//
// The state keeps the last write (v.w) and, beside it, every access no
// later access supersedes (see supersedes): the last read alone (v.r) while
// it is the only one, else the list m.reads, which then holds FastTrack's
// concurrent reads and, unlike FastTrack, the writes that raced or that a
// better-protected write followed. Every new access is checked against all
// of them, so a race with an access that was dropped is always found
// through one that superseded it.
func (d *Detector) access(t *thread, ev *Event, c clock, wall int64) {
	d.stats.Accesses++
	v, a := d.newAccess(t, ev, wall)
	d.check(v, a, &c, nil)

	if v.more == nil && (differs(v.w, t) || differs(v.r, t) || (a.holdsShared() && (v.w != nil || v.r != nil))) {
		d.moreOf(v)
	}
	m := v.more
	if a.write {
		if m != nil {
			kept := m.reads[:0]
			for _, r := range m.reads {
				if !supersedes(a, r, &c) {
					kept = append(kept, r)
				}
			}
			if w := v.w; w != nil && !supersedes(a, w, &c) {
				kept = append(kept, w)
			}
			m.reads = d.boundReads(kept)
		}
		// (The last read stays: it costs nothing, and every later write is
		// checked against it.)
		v.w, v.wTid, v.wSeq = a, a.tid, a.seq
	} else if m == nil {
		v.r = a // v.r was nil or this thread's, and a holds no shared lock
	} else {
		kept := m.reads[:0]
		for _, r := range m.reads {
			if !supersedes(a, r, &c) {
				kept = append(kept, r)
			}
		}
		if r := v.r; r != nil && !supersedes(a, r, &c) {
			kept = append(kept, r)
		}
		kept = d.boundReads(append(kept, a))
		if len(kept) == 1 {
			v.r, kept = a, kept[:0] // epoch mode
		} else {
			v.r = nil
		}
		m.reads = kept
	}
	if m != nil && m.record(a, d.cfg.MaxHistory) {
		d.stats.EvictedHistory++
	}
}

// boundReads keeps the newest 4 × Config.MaxHistory of a variable's
// retained accesses beside its last write, counting the others evicted.
func (d *Detector) boundReads(kept []*access) []*access {
	if limit := 4 * d.cfg.MaxHistory; len(kept) > limit {
		d.stats.EvictedHistory += uint64(len(kept) - limit)
		kept = append(kept[:0], kept[len(kept)-limit:]...)
	}
	return kept
}

// late checks an access (or counts another event) that arrived after its
// thread t had moved past it. Its clock is unknown; the thread's current
// clock, which is later, stands in for it, so a pair is reported only when
// neither that clock covers the retained access nor the retained access's
// thread has since heard of the late one: both can only hide races.
func (d *Detector) late(t *thread, ev *Event) {
	if !ev.Kind.IsAccess() {
		d.stats.Late++
		return
	}
	v := d.vars.get(key(ev, d.intern(ev.Service, ev.Process)))
	if v != nil && v.retains(t.id, ev.Epoch.Seq) {
		d.stats.Duplicates++
		return
	}
	d.stats.Late++
	d.stats.Accesses++
	v, a := d.newAccess(t, ev, unixNano(ev.Time))
	c := t.clk
	d.check(v, a, &c, t)
	if d.moreOf(v).record(a, d.cfg.MaxHistory) {
		d.stats.EvictedHistory++
	}
}

// moreOf returns v's state for several threads, creating it from v's last
// write and read.
func (d *Detector) moreOf(v *variable) *varMore {
	if v.more == nil {
		v.more = &varMore{}
		for _, p := range [...]*access{v.w, v.r} {
			if p != nil {
				v.more.record(p, d.cfg.MaxHistory)
			}
		}
	}
	return v.more
}

// retains reports whether the variable's state holds thread's seq-th event.
func (v *variable) retains(thread ThreadID, seq uint64) bool {
	is := func(p *access) bool { return p != nil && p.tid == thread && p.seq == seq }
	if is(v.w) || is(v.r) {
		return true
	}
	if v.more != nil {
		return slices.ContainsFunc(v.more.reads, is) || slices.ContainsFunc(v.more.hist, is)
	}
	return false
}

// check reports a against the retained conflicting accesses of other
// threads that the point whose clock is c does not order, within the race
// window: first the FastTrack state (last write, last read or read set),
// which finds a race on the variable if there is one; then, only when it
// did (or for a late access, which has no FastTrack place), the history, to
// report the other racing pairs too. The common, race-free access thus
// costs O(1), and does not even load the last write when the clock orders
// it.
//
// For a late access of thread lateT, c is lateT's current clock, a later
// one, and a retained access is also taken as ordered when its thread has
// since heard of a (both can only hide races).
func (d *Detector) check(v *variable, a *access, c *clock, lateT *thread) {
	k := checker{d: d, v: v, a: a, lateT: lateT}
	late := lateT != nil
	// The last write's thread and seq are kept in v, so that the common
	// case, a write of the same thread or one the clock orders, does not
	// load it.
	if w := v.w; w != nil && v.wTid != a.tid && (late || !c.covers(v.wTid, v.wSeq)) {
		k.visit(w, c)
	}
	if a.write && differs(v.r, a.thread) {
		k.visit(v.r, c) // (a read never conflicts with the last read)
	}
	if v.more == nil {
		return
	}
	for _, p := range v.more.reads {
		if p.tid != a.tid {
			k.visit(p, c)
		}
	}
	if k.found || late {
		for _, p := range v.more.hist {
			if p.tid != a.tid {
				k.visit(p, c)
			}
		}
	}
	clear(d.seen[:k.nseen])
}

// checker is the state of one check.
type checker struct {
	d     *Detector
	v     *variable
	a     *access
	lateT *thread
	nseen int // of d.seen
	found bool
}

// visit checks a, whose clock is c, against p, a retained access of
// another thread, once.
func (k *checker) visit(p *access, c *clock) {
	a, d := k.a, k.d
	if !p.write && !a.write || excludes(p, a) {
		return
	}
	seen := d.seen[:k.nseen]
	for _, s := range seen {
		if s == p {
			return
		}
	}
	if k.nseen < len(d.seen) {
		d.seen[k.nseen] = p
		k.nseen++
	}
	if d.ordered(p, c) {
		return
	}
	if k.lateT != nil && p.thread.clk.covers(k.lateT.id, a.seq) {
		return
	}
	if dt := a.wall - p.wall; a.wall != 0 && p.wall != 0 && (dt > int64(d.cfg.Window) || -dt > int64(d.cfg.Window)) {
		d.stats.OutsideWindow++
		return
	}
	k.found = true
	d.report(k.v, p, a, k.lateT != nil)
}

// ordered reports whether access p happened before the point whose clock
// is c, counting the pairs it assumes ordered because of a dropped clock
// component.
func (d *Detector) ordered(p *access, c *clock) bool {
	if c.covers(p.tid, p.seq) {
		return true
	}
	// A dropped entry may have been joined back in with an older seq, so
	// the horizon applies whether or not an entry is present.
	if c.horizon != 0 && p.wall <= c.horizon {
		d.stats.AssumedOrdered++
		return true
	}
	return false
}

// hb reports whether access p happened before the point whose clock is c,
// with the same assumption as ordered but without counting.
func hb(p *access, c clock) bool {
	if c.covers(p.tid, p.seq) {
		return true
	}
	return c.horizon != 0 && p.wall <= c.horizon
}

// differs reports whether p is an access of a thread other than t.
func differs(p *access, t *thread) bool { return p != nil && p.tid != t.id }

// key returns the variable key of an access event of process proc.
func key(ev *Event, proc *process) varKey {
	k := varKey{name: ev.Var}
	if !ev.Shared {
		k.proc = proc
	}
	return k
}

// newAccess returns the variable ev accesses (tracking it if new, evicting
// the least recently accessed beyond Config.MaxVariables) and the access.
func (d *Detector) newAccess(t *thread, ev *Event, wall int64) (*variable, *access) {
	proc := t.proc
	if proc == nil || proc.service != ev.Service || proc.id != ev.Process {
		proc = d.intern(ev.Service, ev.Process)
	}
	k := key(ev, proc)
	var v *variable
	if lv := t.lastVar; lv != nil && lv.key == k && d.vars.tracked(lv) {
		// A read-modify-write: the write follows the read of the same
		// variable.
		v = lv
		d.vars.toFront(v)
	} else {
		v = d.vars.touch(k)
		t.lastVar = v
	}
	if d.vars.n > d.cfg.MaxVariables {
		d.stats.EvictedVariables += uint64(d.vars.evict(d.cfg.MaxVariables))
	}
	where := d.location(&ev.Where)
	if !ev.HasValues && len(ev.LocksHeld) == 0 && len(ev.SharedLocks) == 0 && len(ev.SharedRLocks) == 0 && proc == t.proc {
		return v, &access{thread: t, tid: t.id, seq: ev.Epoch.Seq, wall: wall, where: where, span: ev.SpanID, write: ev.Kind == KindWrite}
	}
	// One allocation for both.
	ax := &struct {
		access
		x accessExtra
	}{
		access: access{thread: t, tid: t.id, seq: ev.Epoch.Seq, wall: wall, where: where, span: ev.SpanID, write: ev.Kind == KindWrite, hasValues: ev.HasValues},
		x:      accessExtra{old: ev.Old, new: ev.New, locks: ev.LocksHeld, shared: ev.SharedLocks, sharedR: ev.SharedRLocks},
	}
	if proc != t.proc {
		ax.x.proc = proc
	}
	ax.extra = &ax.x
	return v, &ax.access
}
