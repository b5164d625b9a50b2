package analysis

// recency is a map whose entries are kept in order of use, most recent
// first, so that a bounded table can evict its least recently used entries.
// The detector's tables of threads, variables, published clocks and race
// groups are recency maps.
//
// Its entries live in chunks of recencyChunk and are linked by index, not by
// pointer; the slot of an entry removed or evicted is reused. So a table is
// a few large objects whatever its length, and the garbage collector has no
// pointer to follow from one entry to the next (one object per entry, linked
// by pointer, made the variable table the largest part of the collector's
// garbage-collection work: docs/benchmarks.md). A pointer to a value is
// valid until its entry is removed or evicted; a table whose values must
// outlive their entry (a thread, which retained accesses refer to) holds
// pointers to them.
type recency[K comparable, V any] struct {
	byKey            map[K]int32
	chunks           []*[recencyChunk]recencyEntry[K, V]
	head, tail, free int32 // most and least recently used, first free slot; -1 for none
}

// recencyChunk is the number of entries per chunk. (Indexes are int32:
// Config.Validate keeps every table well within them.)
const recencyChunk = 256

type recencyEntry[K comparable, V any] struct {
	key        K
	val        V
	prev, next int32 // -1 for none; next links the free slots too
}

func newRecency[K comparable, V any]() recency[K, V] {
	return recency[K, V]{byKey: make(map[K]int32), head: -1, tail: -1, free: -1}
}

// entry returns the entry in slot i.
func (r *recency[K, V]) entry(i int32) *recencyEntry[K, V] {
	return &r.chunks[i/recencyChunk][i%recencyChunk]
}

// len returns the number of entries.
func (r *recency[K, V]) len() int { return len(r.byKey) }

// get returns k's value, or nil, leaving the order as it is.
func (r *recency[K, V]) get(k K) *V {
	if i, ok := r.byKey[k]; ok {
		return &r.entry(i).val
	}
	return nil
}

// use returns k's value, adding a zero value if k is new, and marks it most
// recently used. added reports whether k is new.
func (r *recency[K, V]) use(k K) (v *V, added bool) {
	if i, ok := r.byKey[k]; ok {
		if r.head != i {
			r.unlink(i)
			r.pushFront(i)
		}
		return &r.entry(i).val, false
	}
	if r.free < 0 {
		r.grow()
	}
	i := r.free
	e := r.entry(i)
	r.free = e.next
	e.key = k
	r.byKey[k] = i
	r.pushFront(i)
	return &e.val, true
}

// grow adds a chunk of free slots.
func (r *recency[K, V]) grow() {
	first := int32(len(r.chunks)) * recencyChunk
	r.chunks = append(r.chunks, new([recencyChunk]recencyEntry[K, V]))
	for i := first + recencyChunk - 1; i >= first; i-- {
		r.entry(i).next = r.free
		r.free = i
	}
}

// remove drops k's entry, if any.
func (r *recency[K, V]) remove(k K) {
	if i, ok := r.byKey[k]; ok {
		r.drop(i)
	}
}

// evict drops least recently used entries until at most limit remain,
// sparing those for which keep (if not nil) is true and calling dropped
// (if not nil) with each one it drops. It returns how many it dropped.
func (r *recency[K, V]) evict(limit int, keep func(*V) bool, dropped func(*V)) int {
	n := 0
	for i := r.tail; i >= 0 && len(r.byKey) > limit; {
		e := r.entry(i)
		prev := e.prev
		if keep == nil || !keep(&e.val) {
			if dropped != nil {
				dropped(&e.val)
			}
			r.drop(i)
			n++
		}
		i = prev
	}
	return n
}

// drop removes the entry in slot i and frees the slot, clearing it so that
// it keeps nothing alive.
func (r *recency[K, V]) drop(i int32) {
	r.unlink(i)
	e := r.entry(i)
	delete(r.byKey, e.key)
	*e = recencyEntry[K, V]{next: r.free}
	r.free = i
}

func (r *recency[K, V]) pushFront(i int32) {
	e := r.entry(i)
	e.prev, e.next = -1, r.head
	if r.head >= 0 {
		r.entry(r.head).prev = i
	}
	r.head = i
	if r.tail < 0 {
		r.tail = i
	}
}

func (r *recency[K, V]) unlink(i int32) {
	e := r.entry(i)
	if e.prev >= 0 {
		r.entry(e.prev).next = e.next
	} else {
		r.head = e.next
	}
	if e.next >= 0 {
		r.entry(e.next).prev = e.prev
	} else {
		r.tail = e.prev
	}
}
