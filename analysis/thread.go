package analysis

// thread is the detector's state of one logical thread or lock strand.
type thread struct {
	id   ThreadID
	done uint64 // the highest seq analysed
	clk  clock  // the clock at done (other threads' components)
	wall int64  // wall time of done

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

func (ts *threads) get(id ThreadID) *thread { return ts.byID[id] }

// touch returns id's state, creating it, and marks it most recent.
func (ts *threads) touch(id ThreadID) *thread {
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
