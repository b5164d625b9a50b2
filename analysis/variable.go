package analysis

// process identifies a process (service instance); interned so that
// accesses and variable keys share one copy.
type process struct {
	service, id string
}

// varKey identifies a variable: its name within a process, or fleet-wide
// when proc is nil (shared).
type varKey struct {
	name string
	proc *process
}

// access is one analysed read or write, kept in a variable's state.
type access struct {
	thread *thread
	tid    ThreadID // thread.id, kept here so that checks need not load thread
	seq    uint64
	wall   int64
	where  *Location
	span   [8]byte
	write  bool
	extra  *accessExtra // nil when no values, no locks and no other process were recorded
}

// accessExtra holds the optional context of an access.
type accessExtra struct {
	old, new  string
	hasValues bool
	locks     []string
	proc      *process // the access's process when it is not its thread's
}

// process returns the process of the access.
func (p *access) process() *process {
	if p.extra != nil && p.extra.proc != nil {
		return p.extra.proc
	}
	return p.thread.proc
}

// variable is the detector's state of one variable: FastTrack's last
// write and last read (epoch mode), and, once a second thread has touched
// it, the read set and a bounded history of recent accesses.
type variable struct {
	key        varKey
	w, r       *access
	more       *varMore
	prev, next *variable // recency list, most recent first
}

// varMore is the state of a variable touched by several threads.
type varMore struct {
	reads []*access // the last read of each thread whose read is not yet ordered before a write
	hist  []*access // ring of recent accesses
	next  int       // next slot of hist to write

	// The variable's pattern and its last two race groups, set when it
	// races, so that repeated races skip computing and hashing the
	// group's identity.
	pattern string
	groups  [2]groupSlot
}

// groupSlot caches the group of races between the locations x and y.
type groupSlot struct {
	x, y  *Location
	write bool
	g     *group
}

// variables is the bounded table of variable states, least recently
// accessed evicted first.
type variables struct {
	byKey      map[varKey]*variable
	head, tail *variable
}

// touch returns k's state, creating it, and marks it most recent.
func (vs *variables) touch(k varKey) *variable {
	v := vs.byKey[k]
	if v == nil {
		v = &variable{key: k}
		vs.byKey[k] = v
		vs.pushFront(v)
		return v
	}
	vs.toFront(v)
	return v
}

// tracked reports whether v is still in the table (not evicted).
func (vs *variables) tracked(v *variable) bool {
	return v.prev != nil || v.next != nil || vs.head == v
}

// toFront marks the tracked variable v most recent.
func (vs *variables) toFront(v *variable) {
	if vs.head == v {
		return
	}
	vs.unlink(v)
	vs.pushFront(v)
}

func (vs *variables) pushFront(v *variable) {
	v.next = vs.head
	if vs.head != nil {
		vs.head.prev = v
	}
	vs.head = v
	if vs.tail == nil {
		vs.tail = v
	}
}

func (vs *variables) unlink(v *variable) {
	if v.prev != nil {
		v.prev.next = v.next
	} else {
		vs.head = v.next
	}
	if v.next != nil {
		v.next.prev = v.prev
	} else {
		vs.tail = v.prev
	}
	v.prev, v.next = nil, nil
}

// evict removes least recently accessed variables until at most limit
// remain and returns how many it removed.
func (vs *variables) evict(limit int) int {
	n := 0
	for len(vs.byKey) > limit && vs.tail != nil {
		v := vs.tail
		vs.unlink(v)
		delete(vs.byKey, v.key)
		n++
	}
	return n
}

// record adds a to the variable's history, returning whether it evicted an
// older access.
func (m *varMore) record(a *access, limit int) bool {
	if len(m.hist) < limit {
		if m.hist == nil {
			m.hist = make([]*access, 0, limit)
		}
		m.hist = append(m.hist, a)
		return false
	}
	m.hist[m.next] = a
	m.next = (m.next + 1) % limit
	return true
}
