package analysis

// recency is a map whose entries are kept in order of use, most recent
// first, so that a bounded table can evict its least recently used entries.
// The detector's tables of threads, variables, published clocks and race
// groups are recency maps. Values live in their entries: a pointer to a
// value stays valid (and the value keeps its content) after it is evicted.
type recency[K comparable, V any] struct {
	byKey      map[K]*recencyEntry[K, V]
	head, tail *recencyEntry[K, V] // most and least recently used
}

type recencyEntry[K comparable, V any] struct {
	key        K
	val        V
	prev, next *recencyEntry[K, V]
}

func newRecency[K comparable, V any]() recency[K, V] {
	return recency[K, V]{byKey: make(map[K]*recencyEntry[K, V])}
}

// len returns the number of entries.
func (r *recency[K, V]) len() int { return len(r.byKey) }

// get returns k's value, or nil, leaving the order as it is.
func (r *recency[K, V]) get(k K) *V {
	if e := r.byKey[k]; e != nil {
		return &e.val
	}
	return nil
}

// use returns k's value, adding a zero value if k is new, and marks it most
// recently used. added reports whether k is new.
func (r *recency[K, V]) use(k K) (v *V, added bool) {
	e := r.byKey[k]
	if e == nil {
		e = &recencyEntry[K, V]{key: k}
		r.byKey[k] = e
		r.pushFront(e)
		return &e.val, true
	}
	if r.head != e {
		r.unlink(e)
		r.pushFront(e)
	}
	return &e.val, false
}

// remove drops k's entry, if any.
func (r *recency[K, V]) remove(k K) {
	if e := r.byKey[k]; e != nil {
		r.unlink(e)
		delete(r.byKey, k)
	}
}

// evict drops least recently used entries until at most limit remain,
// sparing those for which keep (if not nil) is true and calling dropped
// (if not nil) with each one it drops. It returns how many it dropped.
func (r *recency[K, V]) evict(limit int, keep func(*V) bool, dropped func(*V)) int {
	n := 0
	for e := r.tail; e != nil && len(r.byKey) > limit; {
		prev := e.prev
		if keep == nil || !keep(&e.val) {
			r.unlink(e)
			delete(r.byKey, e.key)
			if dropped != nil {
				dropped(&e.val)
			}
			n++
		}
		e = prev
	}
	return n
}

func (r *recency[K, V]) pushFront(e *recencyEntry[K, V]) {
	e.next = r.head
	if r.head != nil {
		r.head.prev = e
	}
	r.head = e
	if r.tail == nil {
		r.tail = e
	}
}

func (r *recency[K, V]) unlink(e *recencyEntry[K, V]) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		r.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		r.tail = e.prev
	}
	e.prev, e.next = nil, nil
}
