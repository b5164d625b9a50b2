package analysis

// thread is the detector's state of one logical thread or lock strand.
type thread struct {
	id   ThreadID
	done uint64 // the highest seq analysed
	wall int64  // wall time of done
	clk  clock  // the clock at done

	// A thread's clock changes only where an edge joins in. since is the
	// seq from which clk holds, and past keeps the clocks before it, so
	// that an edge naming an earlier epoch gets that epoch's clock.
	since uint64
	past  ring[pastClock]

	proc *process // the process of its first analysed event

	// What its events told about it (see ThreadInfo).
	trace   [16]byte // the trace of its first analysed event
	name    string
	where   *Location
	creator Epoch
	origin  Origin
	started bool // its Start was analysed

	pastDropped bool // clocks before the oldest in past are not known
	strand      bool // a lock strand: it makes no accesses and publishes no snapshots
	evicted     bool // no longer tracked: its clocks are gone (see Detector.evictThreads)
}

// pastClock is a thread's clock from seq since on.
type pastClock struct {
	since uint64
	clk   clock
}

// maxPastClocks bounds the past clocks kept per thread.
const maxPastClocks = 4

// setClock makes c the thread's clock from seq on, keeping the previous
// one.
func (t *thread) setClock(c clock, seq uint64) {
	if t.since != 0 { // (before the first change the clock was empty)
		if t.past.push(pastClock{since: t.since, clk: t.clk}, maxPastClocks) {
			t.pastDropped = true
		}
	}
	t.clk, t.since = c, seq
}

// clockAt returns the thread's clock at its seq-th event (seq <= done):
// exact within the clocks kept, else the oldest kept, a later clock that
// can only hide races.
func (t *thread) clockAt(seq uint64) clock {
	if seq >= t.since {
		return t.clk
	}
	for i := t.past.len() - 1; i >= 0; i-- {
		if p := t.past.at(i); seq >= p.since {
			return p.clk
		}
	}
	switch {
	case !t.pastDropped:
		return clock{} // before the first change: empty
	case t.past.len() == 0:
		return t.clk
	}
	return t.past.at(0).clk
}

// info returns the public description of t.
func (t *thread) info() ThreadInfo {
	i := ThreadInfo{ID: t.id, Name: t.name, Origin: t.origin, Creator: t.creator}
	if t.where != nil {
		i.Where = *t.where
	}
	if t.proc != nil {
		i.Service, i.Process = t.proc.service, t.proc.id
	}
	return i
}
