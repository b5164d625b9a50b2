package analysis

import "slices"

// clockEntry is one component of a detector clock: thread's first seq
// events happened before, the last of them at wall time wall.
type clockEntry struct {
	thread ThreadID
	seq    uint64
	wall   int64
}

// maxOverlay bounds a clock's overlay: the entries joined into it since its
// base was last rebuilt.
const maxOverlay = 8

// clock is the detector's bounded vector clock of one point in a thread:
// the components of the OTHER threads (the thread's own component is the
// seq of the point). It is a base, sorted by thread, and an overlay of at
// most 8 entries joined in since, in the order they were joined, whose
// entries supersede the base's entry of the same thread (an entry is
// joined only when it raises the clock, so the last one of a thread is its
// highest). Clocks share bases and overlays freely: a base is never
// modified once stored, and a clock sees only the first ntop entries of
// its overlay, so a join that adds a few entries to a clock (a lock
// release) appends them in place when no other clock has appended to that
// overlay yet, and copies the overlay otherwise. The base is rebuilt when
// the overlay is full.
//
// When rebuilding would exceed the entry bound, the entries of the least
// recently active threads are dropped and horizon rises to their wall
// time: an access by a thread without an entry whose wall time is at or
// before the horizon is assumed ordered before the point. That can hide a
// race but never invents one. A clock thus holds at most the bound plus 8
// entries.
//
// A lock strand's clocks form a lineage: each release joins into the
// previous one, so each covers every earlier one (an entry dropped since
// is covered by the horizon, which only rises). Such a clock carries its
// lineage and its place in it, so that a thread acquiring a lock again,
// whose clock is still an earlier clock of the same lineage, is known to
// be covered without comparing entries.
type clock struct {
	base    []clockEntry
	ov      *overlay
	ntop    int // the entries of ov this clock sees
	horizon int64
	line    uint64 // the lineage, or 0 for a clock made otherwise
	gen     uint64 // its place in the lineage
}

// overlay holds the entries joined into clocks since their base, in the
// order they were joined. Clocks that share it see a prefix each; used is
// the longest, which only the clock that sees it all may extend in place.
type overlay struct {
	used int
	e    [maxOverlay]clockEntry
}

// top returns the overlay entries c sees.
func (c *clock) top() []clockEntry {
	if c.ov == nil {
		return nil
	}
	return c.ov.e[:c.ntop]
}

// get returns thread's entry.
func (c *clock) get(t ThreadID) (clockEntry, bool) {
	if e, ok := c.getTop(t); ok {
		return e, true
	}
	return search(c.base, t)
}

// getTop returns thread's latest (and so highest) overlay entry.
func (c *clock) getTop(t ThreadID) (clockEntry, bool) {
	top := c.top()
	for i := len(top) - 1; i >= 0; i-- {
		if top[i].thread == t {
			return top[i], true
		}
	}
	return clockEntry{}, false
}

// push joins x, which c does not cover, into c's overlay, which is not
// full: in place when no other clock has extended the overlay past c's
// view, else in a copy of the entries c sees.
func (c *clock) push(x clockEntry) {
	if c.ov == nil || c.ov.used != c.ntop {
		ov := new(overlay)
		if c.ov != nil {
			copy(ov.e[:], c.ov.e[:c.ntop])
		}
		c.ov = ov
	}
	c.ov.e[c.ntop] = x
	c.ntop++
	c.ov.used = c.ntop
}

// compact gives c a new overlay with the latest entry of each thread in
// its full one, when some thread has more than one (a thread that released
// a lock twice): the overlay then holds as many distinct threads as
// before, and the base is rebuilt only when 8 distinct ones do not fit. It
// reports whether it freed a slot.
func (c *clock) compact() bool {
	top := c.top()
	superseded := func(i int) bool {
		for _, y := range top[i+1:] {
			if y.thread == top[i].thread {
				return true
			}
		}
		return false
	}
	ov := (*overlay)(nil)
	for i, x := range top {
		if superseded(i) {
			if ov == nil {
				ov = new(overlay)
				copy(ov.e[:], top[:i])
				ov.used = i
			}
			continue
		}
		if ov != nil {
			ov.e[ov.used] = x
			ov.used++
		}
	}
	if ov == nil {
		return false
	}
	c.ov, c.ntop = ov, ov.used
	return true
}

// sortedTop returns the overlay entries c sees sorted by thread, one per
// thread (its highest), in buf.
func (c *clock) sortedTop(buf *[maxOverlay]clockEntry) []clockEntry {
	out := buf[:0]
	for _, x := range c.top() {
		out = raise(out, x)
	}
	return out
}

// covers reports whether c holds thread's seq-th event.
func (c *clock) covers(thread ThreadID, seq uint64) bool {
	e, ok := c.get(thread)
	return ok && e.seq >= seq
}

// search returns t's entry in the sorted entries.
func search(entries []clockEntry, t ThreadID) (clockEntry, bool) {
	lo, hi := 0, len(entries)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if entries[m].thread < t {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(entries) && entries[lo].thread == t {
		return entries[lo], true
	}
	return clockEntry{}, false
}

// same reports whether a and b are the same stored entries.
func same(a, b []clockEntry) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// sameClock reports whether a and b are the same clock (joins return their
// input unchanged when they add nothing).
func sameClock(a, b clock) bool {
	return a.horizon == b.horizon && same(a.base, b.base) && a.ov == b.ov && a.ntop == b.ntop
}

// join returns the join of c, o and the extra entries (the points o
// describes). It returns c unchanged when the others add nothing, and o,
// shared, when it covers c and the extras: both without allocating, which
// is the common case of a lock acquire (the lock's clock covers the
// acquirer's). When o covers c but not the extras (a lock release: the
// releaser's clock covers the lock's), they are appended to o's overlay.
// maxEntries bounds the result's base; dropped counts the entries it had to
// drop.
//
// A clock may hold an entry for its own thread (inherited through a lock
// or an RPC); it is never consulted, since a thread's own accesses are
// ordered by program order.
func join(c, o clock, extras []clockEntry, maxEntries int) (out clock, dropped int) {
	if !sameClock(c, o) && (c.line == 0 || c.line != o.line || c.gen > o.gen) {
		// (A release joins the releaser's clock into the lock's, which is
		// often the same: the releaser's clock is the lock's since it
		// acquired it. An acquire joins an earlier clock of the lock into
		// a later one, which covers it.)
		if !c.adds(&o, extras) {
			return c, 0
		}
		if o.adds(&c, nil) {
			return c.rebuild(&o, maxEntries, extras...)
		}
		o.horizon = max(c.horizon, o.horizon)
	}
	// o covers c: add the extras it lacks to its overlay.
	for i, x := range extras {
		if o.covers(x.thread, x.seq) {
			continue
		}
		o.line, o.gen = 0, 0
		if o.ntop == maxOverlay && !o.compact() {
			return o.rebuild(nil, maxEntries, extras[i:]...)
		}
		o.push(x)
	}
	return o, 0
}

// rebuild returns c joined with o (if not nil) and the extras as a clock
// with an empty overlay and at most maxEntries entries, and how many it
// dropped.
func (c *clock) rebuild(o *clock, maxEntries int, extras ...clockEntry) (clock, int) {
	out := clock{horizon: c.horizon}
	var merged []clockEntry
	var tc, to [maxOverlay]clockEntry
	if o == nil {
		merged = make([]clockEntry, 0, len(c.base)+c.ntop+len(extras))
		merged = mergeMax(merged, c.base, c.sortedTop(&tc))
	} else {
		out.horizon = max(out.horizon, o.horizon)
		var bc, bo [2 * DefaultMaxClockEntries]clockEntry
		fc := mergeMax(bc[:0], c.base, c.sortedTop(&tc))
		fo := mergeMax(bo[:0], o.base, o.sortedTop(&to))
		merged = make([]clockEntry, 0, len(fc)+len(fo)+len(extras))
		merged = mergeMax(merged, fc, fo)
	}
	for _, x := range extras {
		merged = raise(merged, x)
	}
	out.base = merged
	dropped := 0
	if len(out.base) > maxEntries {
		dropped = out.truncate(maxEntries)
	}
	return out, dropped
}

// mergeMax appends to dst the merge of the sorted entries a and b, keeping
// the higher seq of a thread in both.
func mergeMax(dst, a, b []clockEntry) []clockEntry {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i].thread < b[j].thread):
			dst = append(dst, a[i])
			i++
		case i == len(a) || b[j].thread < a[i].thread:
			dst = append(dst, b[j])
			j++
		default:
			e := a[i]
			if b[j].seq > e.seq {
				e = b[j]
			}
			dst = append(dst, e)
			i++
			j++
		}
	}
	return dst
}

// raise sets x's thread to at least x.seq in the sorted entries, which it
// may modify in place.
func raise(entries []clockEntry, x clockEntry) []clockEntry {
	lo, hi := 0, len(entries)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if entries[m].thread < x.thread {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(entries) && entries[lo].thread == x.thread {
		if entries[lo].seq < x.seq {
			entries[lo] = x
		}
		return entries
	}
	if len(entries) == cap(entries) {
		return slices.Insert(entries, lo, x)
	}
	entries = entries[:len(entries)+1]
	copy(entries[lo+1:], entries[lo:])
	entries[lo] = x
	return entries
}

// coversAll reports whether c holds every extra entry.
func (c *clock) coversAll(extras []clockEntry) bool {
	for _, x := range extras {
		if !c.covers(x.thread, x.seq) {
			return false
		}
	}
	return true
}

// coversSorted reports whether c holds every entry of the sorted list, in
// one pass over c's base.
func (c *clock) coversSorted(list []clockEntry) bool {
	i := 0
	for _, x := range list {
		for i < len(c.base) && c.base[i].thread < x.thread {
			i++
		}
		if i < len(c.base) && c.base[i].thread == x.thread && c.base[i].seq >= x.seq {
			continue
		}
		if e, ok := c.getTop(x.thread); !ok || e.seq < x.seq {
			return false
		}
	}
	return true
}

// adds reports whether joining o and extras into c would change c. When
// both share a base (a thread and the lock it acquired), only the overlays
// are compared.
func (c *clock) adds(o *clock, extras []clockEntry) bool {
	if o.horizon > c.horizon || !c.coversAll(extras) || !c.coversAll(o.top()) {
		return true
	}
	return !same(c.base, o.base) && !c.coversSorted(o.base)
}

// truncate keeps the limit base entries with the latest wall times, raising
// the horizon to the latest wall time dropped. It returns how many it
// dropped. It works in place: call it only on a base no other clock shares,
// with an empty overlay.
func (c *clock) truncate(limit int) int {
	drop := len(c.base) - limit
	var cut int64
	if drop == 1 {
		// The common case: one entry too many after a join.
		i := 0
		for j, e := range c.base {
			if e.wall < c.base[i].wall {
				i = j
			}
		}
		c.horizon = max(c.horizon, c.base[i].wall)
		c.base = slices.Delete(c.base, i, i+1)
		return 1
	}
	var buf [2 * DefaultMaxClockEntries]int64
	walls := buf[:0]
	for _, e := range c.base {
		walls = append(walls, e.wall)
	}
	cut = nthSmallest(walls, drop-1)
	kept := c.base[:0]
	dropped := 0
	for _, e := range c.base {
		if dropped < drop && e.wall <= cut {
			dropped++
			c.horizon = max(c.horizon, e.wall)
			continue
		}
		kept = append(kept, e)
	}
	c.base = kept
	return dropped
}

// nthSmallest returns the k-th smallest (from 0) of v, reordering v.
func nthSmallest(v []int64, k int) int64 {
	lo, hi := 0, len(v)-1
	for lo < hi {
		pivot := v[int(uint(lo+hi)>>1)]
		i, j := lo, hi
		for i <= j {
			for v[i] < pivot {
				i++
			}
			for v[j] > pivot {
				j--
			}
			if i <= j {
				v[i], v[j] = v[j], v[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return v[k]
		}
	}
	return v[k]
}
