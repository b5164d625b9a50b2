package analysis

import "hash/maphash"

// process identifies a process (service instance); interned so that
// accesses and variable keys share one copy.
type process struct {
	service, id string
	salt        uint64 // mixed into the hash of its variables' keys
}

// varKey identifies a variable: its name within a process, or fleet-wide
// when proc is nil (shared).
type varKey struct {
	name string
	proc *process
}

// access is one analysed read or write, kept in a variable's state.
type access struct {
	thread    *thread
	tid       ThreadID // thread.id, kept here so that checks need not load thread
	seq       uint64
	wall      int64
	where     *Location
	span      [8]byte
	write     bool
	hasValues bool         // extra holds old and new values
	extra     *accessExtra // nil when no values, no locks and no other process were recorded
}

// accessExtra holds the optional context of an access.
type accessExtra struct {
	old, new string
	locks    []string // process-scoped locks held
	shared   []string // shared locks held exclusively
	sharedR  []string // shared locks held in read mode
	proc     *process // the access's process when it is not its thread's
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
	wTid       ThreadID // w's thread and seq, read without loading w
	wSeq       uint64
	more       *varMore
	prev, next *variable // recency list, most recent first
}

// varMore is the state of a variable touched by several threads.
type varMore struct {
	reads []*access // the accesses beside w that no later access supersedes (see Detector.access)
	hist  []*access // ring of recent accesses (in buf up to the default bound)
	next  int       // next slot of hist to write
	buf   [DefaultMaxHistory]*access

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
// accessed evicted first. It is indexed by a 64-bit hash of the key (a map
// with small keys is faster than one keyed by name and process); the rare
// key whose hash another tracked key has goes to spill.
type variables struct {
	seed       maphash.Seed
	byHash     map[uint64]*variable
	spill      map[varKey]*variable
	n          int
	head, tail *variable
}

func newVariables() variables {
	return variables{seed: maphash.MakeSeed(), byHash: make(map[uint64]*variable)}
}

func (vs *variables) hash(k varKey) uint64 {
	h := maphash.String(vs.seed, k.name)
	if k.proc != nil {
		h ^= k.proc.salt
	}
	return h
}

// get returns k's state, or nil.
func (vs *variables) get(k varKey) *variable {
	v, _ := vs.lookup(k, vs.hash(k))
	return v
}

// lookup returns k's state (or nil) and whether the hash h is free.
func (vs *variables) lookup(k varKey, h uint64) (*variable, bool) {
	v := vs.byHash[h]
	if v != nil && v.key == k {
		return v, false
	}
	if len(vs.spill) > 0 {
		if s := vs.spill[k]; s != nil {
			return s, false
		}
	}
	return nil, v == nil
}

// touch returns k's state, creating it, and marks it most recent.
func (vs *variables) touch(k varKey) *variable {
	h := vs.hash(k)
	v, free := vs.lookup(k, h)
	if v == nil {
		v = &variable{key: k}
		if free {
			vs.byHash[h] = v
		} else {
			if vs.spill == nil {
				vs.spill = make(map[varKey]*variable)
			}
			vs.spill[k] = v
		}
		vs.n++
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
	for vs.n > limit && vs.tail != nil {
		v := vs.tail
		vs.unlink(v)
		if h := vs.hash(v.key); vs.byHash[h] == v {
			delete(vs.byHash, h)
		} else {
			delete(vs.spill, v.key)
		}
		vs.n--
		n++
	}
	return n
}

// record adds a to the variable's history, returning whether it evicted an
// older access.
func (m *varMore) record(a *access, limit int) bool {
	if len(m.hist) < limit {
		if m.hist == nil {
			if limit <= len(m.buf) {
				m.hist = m.buf[:0:limit]
			} else {
				m.hist = make([]*access, 0, limit)
			}
		}
		m.hist = append(m.hist, a)
		return false
	}
	m.hist[m.next] = a
	m.next = (m.next + 1) % limit
	return true
}
