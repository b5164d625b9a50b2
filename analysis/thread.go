package analysis

// thread is the detector's state of one logical thread or lock strand.
type thread struct {
	id   ThreadID
	done uint64 // the highest seq analysed
	clk  clock  // the clock at done (other threads' components)
	wall int64  // wall time of done

	// A thread's clock changes only where an edge joins in; since is the
	// seq from which clk holds, and past the versions before it, so that
	// an edge naming an earlier epoch gets that epoch's clock.
	since uint64
	past  [clockVersions]version
	npast int

	info    ThreadInfo
	hasInfo bool
	trace   [16]byte // the trace of the thread's first analysed event

	// waiting holds the pending events that wait for one of this thread's
	// epochs, by seq.
	waiting map[uint64][]*pending

	prev, next *thread // recency list, most recent first
}

// threads is the bounded table of thread states, least recently active
// evicted first.
type threads struct {
	byID       map[ThreadID]*thread
	head, tail *thread
}

func (ts *threads) get(id ThreadID) *thread {
	if ts.head != nil && ts.head.id == id {
		return ts.head // consecutive events of one thread skip the map
	}
	return ts.byID[id]
}

// touch returns id's state, creating it, and marks it most recent.
func (ts *threads) touch(id ThreadID) *thread {
	if ts.head != nil && ts.head.id == id {
		return ts.head
	}
	t := ts.byID[id]
	if t == nil {
		t = &thread{id: id}
		ts.byID[id] = t
	} else {
		ts.unlink(t)
	}
	t.next = ts.head
	if ts.head != nil {
		ts.head.prev = t
	}
	ts.head = t
	if ts.tail == nil {
		ts.tail = t
	}
	return t
}

func (ts *threads) unlink(t *thread) {
	if t.prev != nil {
		t.prev.next = t.next
	} else {
		ts.head = t.next
	}
	if t.next != nil {
		t.next.prev = t.prev
	} else {
		ts.tail = t.prev
	}
	t.prev, t.next = nil, nil
}

// evict removes least recently active threads until at most limit remain,
// sparing those that pending events wait for. It returns how many it removed.
func (ts *threads) evict(limit int) int {
	n := 0
	for t := ts.tail; t != nil && len(ts.byID) > limit; {
		prev := t.prev
		if len(t.waiting) == 0 {
			ts.unlink(t)
			delete(ts.byID, t.id)
			n++
		}
		t = prev
	}
	return n
}

// clockVersions bounds the past clock versions kept per thread.
const clockVersions = 4

// version is a thread's clock from seq since on.
type version struct {
	since uint64
	clk   clock
}

// setClock makes c the thread's clock from seq on, keeping the previous
// version when c differs.
func (t *thread) setClock(c clock, seq uint64) {
	if sameClock(c, t.clk) {
		return
	}
	copy(t.past[1:], t.past[:clockVersions-1])
	t.past[0] = version{since: t.since, clk: t.clk}
	t.npast = min(t.npast+1, clockVersions)
	t.clk, t.since = c, seq
}

// clockAt returns the thread's clock at its seq-th event (seq <= done):
// exact within the versions kept, else the oldest kept.
func (t *thread) clockAt(seq uint64) clock {
	if seq >= t.since {
		return t.clk
	}
	for i := range t.npast {
		if seq >= t.past[i].since {
			return t.past[i].clk
		}
	}
	if t.npast == 0 {
		return t.clk
	}
	return t.past[t.npast-1].clk
}

// sameClock reports whether a and b are the same clock (joins return their
// input unchanged when they add nothing).
func sameClock(a, b clock) bool {
	if a.horizon != b.horizon || len(a.entries) != len(b.entries) {
		return false
	}
	return len(a.entries) == 0 || &a.entries[0] == &b.entries[0]
}
