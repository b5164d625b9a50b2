package analysis

// access is one analysed read or write, kept in a variable's state.
type access struct {
	thread *thread
	seq    uint64
	wall   int64
	where  *Location
	span   [8]byte
	write  bool
	live   bool          // in its variable's w, r or live (see variable)
	values *accessValues // nil when no values were recorded
	extra  *accessExtra  // nil when no lock and no other process were recorded
}

// accessValues holds the values an access recorded: the value read, or the
// value replaced and the value written.
type accessValues struct{ old, new string }

// valuedAccess is an access allocated with its values: one object instead
// of two.
type valuedAccess struct {
	access
	values accessValues
}

// accessExtra holds the rarer context of an access: the locks it held and
// its process when that is not its thread's.
type accessExtra struct {
	locks   []string // process-scoped locks held
	shared  []string // shared locks held exclusively
	sharedR []string // shared locks held in read mode
	proc    *process // the access's process when it is not its thread's
}

// process returns the process of the access.
func (p *access) process() *process {
	if p.extra != nil && p.extra.proc != nil {
		return p.extra.proc
	}
	return p.thread.proc
}

// epoch returns the access's epoch.
func (p *access) epoch() Epoch { return Epoch{Thread: p.thread.id, Seq: p.seq} }

// KeptPerHistory bounds, per unit of Config.MaxHistory, the accesses that
// no later access supersedes: a variable keeps at most KeptPerHistory ×
// MaxHistory of them.
const KeptPerHistory = 4

// access analyses a read or write of thread t, whose clock is c: it reports
// every race with the variable's retained accesses, then makes it part of
// the variable's state.
func (d *Detector) access(t *thread, ev *Event, c clock, wall int64) {
	d.stats.Accesses++
	k, v, a := d.newAccess(t, ev, wall)
	d.check(k, v, a, c, nil)
	d.stats.EvictedHistory += uint64(v.update(a, c, KeptPerHistory*d.cfg.MaxHistory, d.cfg.MaxHistory))
}

// late checks an access (or counts another event) that arrived after its
// thread t had moved past it. Its clock is unknown; the thread's current
// clock, which is later, stands in for it, so a pair is reported only when
// neither that clock orders the retained access nor the retained access's
// thread has since heard of the late one (or may have: an evicted thread's
// clock is gone): both can only hide races.
func (d *Detector) late(t *thread, ev *Event) {
	if !ev.Kind.IsAccess() {
		d.stats.Late++
		return
	}
	if v := d.vars.get(d.varKey(t, ev)); v != nil && v.retains(t.id, ev.Epoch.Seq) {
		d.stats.Duplicates++
		return
	}
	d.stats.Late++
	d.stats.Accesses++
	k, v, a := d.newAccess(t, ev, unixNano(ev.Time))
	d.check(k, v, a, t.clk, t)
	v.record(a, d.cfg.MaxHistory)
}

// check reports a, of the point whose clock is c, against the accesses v
// retains, each once. It visits the live ones (w, r and live), which find
// a race if there is one; only then, or for a late access, which has no
// place among them, does it visit the recent ones, to report every racing
// pair. So the common, race-free access costs what FastTrack's does.
//
// For a late access of thread lateT, c is lateT's current clock.
func (d *Detector) check(k varKey, v *variable, a *access, c clock, lateT *thread) {
	racy := false
	for _, p := range [...]*access{v.w, v.r} {
		if p != nil && d.checkPair(k, p, a, c, lateT) {
			racy = true
		}
	}
	if v.more == nil {
		return
	}
	for _, p := range v.more.live {
		if d.checkPair(k, p, a, c, lateT) {
			racy = true
		}
	}
	if !racy && lateT == nil {
		return
	}
	for i := range v.more.recent.len() {
		if p := v.more.recent.at(i); !p.live {
			d.checkPair(k, p, a, c, lateT)
		}
	}
}

// checkPair reports the race between the retained access p and a, if
// they race, and reports whether they do, ignoring the race window: they
// conflict, they are of different threads, neither happens before the
// other, and shared locks do not exclude them.
func (d *Detector) checkPair(k varKey, p, a *access, c clock, lateT *thread) bool {
	if p.thread.id == a.thread.id || !p.write && !a.write || excludes(p, a) {
		return false
	}
	if c.covers(p.thread.id, p.seq) {
		return false
	}
	if c.orders(p.thread.id, p.seq, p.wall) {
		d.stats.AssumedOrdered++ // by the horizon of a bounded clock
		return false
	}
	if lateT != nil && (p.thread.evicted || p.thread.clk.covers(lateT.id, a.seq)) {
		return false // see late
	}
	if dt := a.wall - p.wall; a.wall != 0 && p.wall != 0 && (dt > int64(d.cfg.Window) || -dt > int64(d.cfg.Window)) {
		d.stats.OutsideWindow++
		return true
	}
	d.report(k, p, a, lateT != nil)
	return true
}

// varKey returns the key of the variable that access event ev of thread t
// names.
func (d *Detector) varKey(t *thread, ev *Event) varKey {
	if ev.Shared {
		return varKey{name: ev.Var}
	}
	return varKey{name: ev.Var, proc: d.processOf(t, ev)}
}

// processOf returns the process of event ev of thread t: its thread's,
// unless the event names another.
func (d *Detector) processOf(t *thread, ev *Event) *process {
	if p := t.proc; p != nil && p.service == ev.Service && p.id == ev.Process {
		return p
	}
	return d.intern.process(ev.Service, ev.Process)
}

// newAccess returns the key and state of the variable ev accesses
// (tracking it if new, evicting the least recently accessed beyond
// Config.MaxVariables) and the access.
func (d *Detector) newAccess(t *thread, ev *Event, wall int64) (varKey, *variable, *access) {
	k := d.varKey(t, ev)
	v, _ := d.vars.use(k)
	if d.vars.len() > d.cfg.MaxVariables {
		d.stats.EvictedVariables += uint64(d.vars.evict(d.cfg.MaxVariables, nil, nil))
	}
	var a *access
	if ev.HasValues {
		av := &valuedAccess{values: accessValues{old: ev.Old, new: ev.New}}
		a = &av.access
		a.values = &av.values
	} else {
		a = new(access)
	}
	a.thread, a.seq, a.wall, a.where = t, ev.Epoch.Seq, wall, d.intern.location(ev.Where)
	a.span, a.write = ev.SpanID, ev.Kind == KindWrite
	proc := d.processOf(t, ev)
	if len(ev.LocksHeld)+len(ev.SharedLocks)+len(ev.SharedRLocks) > 0 || proc != t.proc {
		a.extra = &accessExtra{locks: ev.LocksHeld, shared: ev.SharedLocks, sharedR: ev.SharedRLocks}
		if proc != t.proc {
			a.extra.proc = proc
		}
	}
	return k, v, a
}
