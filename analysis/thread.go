package analysis

// thread is the detector's state of one logical thread or lock strand.
type thread struct {
	// (The fields most events use come first.)
	id   ThreadID
	done uint64 // the highest seq analysed
	wall int64  // wall time of done
	clk  clock  // the clock at done (other threads' components)

	// A thread's clock changes only where an edge joins in; since is the
	// seq from which clk holds, and past the versions before it, so that
	// an edge naming an earlier epoch gets that epoch's clock. Before its
	// first change the clock is empty, which needs no version: past is
	// allocated at the second change.
	since uint64

	proc    *process  // the process of its first analysed event
	locks   []string  // the locks held at its last access with locks (shared)
	lastVar *variable // the variable of its last access

	// waiting holds the pending events that wait for one of this thread's
	// epochs, by seq.
	waiting map[uint64][]*pending

	prev, next *thread // recency list, most recent first

	past *pastClocks

	// What its events told about it (see ThreadInfo).
	trace   [16]byte // the trace of its first analysed event
	name    string
	where   *Location
	creator Epoch
	origin  Origin
	started bool // its Start was analysed
	strand  bool // a lock strand (publishes no snapshots)
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

// threads is the bounded table of thread states, least recently active
// evicted first.
type threads struct {
	byID       map[ThreadID]*thread
	head, tail *thread
	// cache holds recently used threads by a hash of their id, in front of
	// byID: the threads of the requests in flight and their locks.
	cache [threadCacheSize]*thread
}

const threadCacheSize = 1024

func cacheSlot(id ThreadID) uint64 {
	return uint64(id) * 0x9e3779b97f4a7c15 >> 54 // Fibonacci hashing to 10 bits
}

// get returns id's state, or nil if it is not tracked.
func (ts *threads) get(id ThreadID) *thread {
	slot := &ts.cache[cacheSlot(id)]
	if t := *slot; t != nil && t.id == id {
		return t
	}
	t := ts.byID[id]
	if t != nil {
		*slot = t
	}
	return t
}

// touch returns id's state, creating it, and marks it most recent.
func (ts *threads) touch(id ThreadID) *thread {
	t := ts.get(id)
	if t == nil {
		return ts.add(id)
	}
	ts.toFront(t)
	return t
}

// add tracks the state of id, which is not tracked, as most recent.
func (ts *threads) add(id ThreadID) *thread {
	t := &thread{id: id}
	ts.byID[id] = t
	ts.cache[cacheSlot(id)] = t
	ts.pushFront(t)
	return t
}

// toFront marks the tracked thread t most recent.
func (ts *threads) toFront(t *thread) {
	if ts.head == t {
		return
	}
	ts.unlink(t)
	ts.pushFront(t)
}

func (ts *threads) pushFront(t *thread) {
	t.next = ts.head
	if ts.head != nil {
		ts.head.prev = t
	}
	ts.head = t
	if ts.tail == nil {
		ts.tail = t
	}
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
			if slot := &ts.cache[cacheSlot(t.id)]; *slot == t {
				*slot = nil
			}
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

// pastClocks is a ring of a thread's latest past clock versions.
type pastClocks struct {
	v       [clockVersions]version // the latest at v[last]
	n       uint8                  // versions kept
	last    uint8
	dropped bool // older versions were overwritten
}

// setClock makes c the thread's clock from seq on, keeping the previous
// version when c differs.
func (t *thread) setClock(c clock, seq uint64) {
	if sameClock(c, t.clk) {
		return
	}
	if t.since == 0 {
		// The first change: the clock was empty before it.
		t.clk, t.since = c, seq
		return
	}
	p := t.past
	if p == nil {
		p = new(pastClocks)
		t.past = p
	}
	p.last = (p.last + 1) % clockVersions
	p.dropped = p.dropped || p.n == clockVersions
	p.v[p.last] = version{since: t.since, clk: t.clk}
	p.n = min(p.n+1, clockVersions)
	t.clk, t.since = c, seq
}

// clockAt returns the thread's clock at its seq-th event (seq <= done):
// exact within the versions kept, else the oldest kept.
func (t *thread) clockAt(seq uint64) clock {
	if seq >= t.since {
		return t.clk
	}
	p := t.past
	if p == nil {
		return clock{}
	}
	i := p.last
	for range p.n {
		if seq >= p.v[i].since {
			return p.v[i].clk
		}
		i = (i + clockVersions - 1) % clockVersions
	}
	if !p.dropped {
		return clock{} // before the first change
	}
	return p.v[(p.last+1)%clockVersions].clk // the oldest kept
}
