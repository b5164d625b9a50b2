package analysis

import (
	"cmp"
	"slices"
)

// clock is the detector's vector clock of one point of a logical thread
// (or of a lock strand): for each thread, how many of its events happened
// before that point. It is a value, sparse and bounded:
//
//   - Its entries are a base, sorted by thread, and extra, at most
//     maxExtra entries joined in since the base was built, in no order. A
//     thread has at most one entry in each; its component is the higher of
//     the two, and 0 without an entry.
//   - Neither slice is modified once a clock holding it has been returned:
//     clocks share them freely (a thread shares the clock of the lock it
//     acquired, a snapshot shares its thread's clock), and an operation
//     that changes a clock builds new ones. Adding a few entries (a lock
//     release adds the releaser's) copies extra only; the base is rebuilt
//     when they would take extra past maxExtra.
//   - The base holds at most the bound given to join
//     (Config.MaxClockEntries), so a clock holds at most the bound plus
//     maxExtra entries. When rebuilding exceeds the bound, the entries with
//     the oldest wall times (the least recently active threads) are dropped
//     and horizon rises to the latest wall time dropped: an event at or
//     before the horizon is assumed to happen before the point (see
//     orders). That can hide a race, never invent one.
//
// A point's own thread needs no component: program order orders its
// events. A clock may hold one all the same (inherited through a lock or
// an RPC answer); it is never consulted.
type clock struct {
	base    []clockEntry
	extra   []clockEntry
	horizon int64 // unix nanoseconds; 0 when nothing was dropped
}

// maxExtra bounds the entries a clock holds beside its base.
const maxExtra = 8

// horizonClock returns the clock that holds no entry and whose horizon is
// wall: it orders the events at or before wall time wall (none when wall
// is 0) and no other.
func horizonClock(wall int64) clock { return clock{horizon: wall} }

// clockEntry says that the first seq events of thread happened before the
// point, the last of them at wall time wall.
type clockEntry struct {
	thread ThreadID
	seq    uint64
	wall   int64
}

// get returns thread's component.
func (c clock) get(thread ThreadID) uint64 {
	var seq uint64
	if i, ok := search(c.base, thread); ok {
		seq = c.base[i].seq
	}
	for _, e := range c.extra {
		if e.thread == thread {
			seq = max(seq, e.seq)
		}
	}
	return seq
}

// covers reports whether the seq-th event of thread happened before the
// point, by the entries alone.
func (c clock) covers(thread ThreadID, seq uint64) bool { return c.get(thread) >= seq }

// orders reports whether the seq-th event of thread, at wall time wall,
// happened before the point, or is assumed to because it is at or before
// the horizon. (A dropped entry may since have been joined back in with a
// lower seq, so the horizon applies whether or not an entry is present.)
func (c clock) orders(thread ThreadID, seq uint64, wall int64) bool {
	return c.covers(thread, seq) || (c.horizon != 0 && wall <= c.horizon)
}

// join returns the clock of a point that follows both c's and o's points
// and the event at (none when at.thread is 0), with a base of at most
// limit entries, and how many entries it dropped. It returns c or o itself
// when that one already covers the other operands (an acquire of a lock
// whose clock covers the thread's, a release that adds nothing new).
func (c clock) join(o clock, at clockEntry, limit int) (clock, int) {
	// (A release by the thread that holds the lock's own clock, the common
	// case, joins a clock with itself: only at can add anything.)
	same := c.is(o)
	if !same && o.coversClock(c) && (at.thread == 0 || o.covers(at.thread, at.seq)) {
		return o, 0
	}
	// c with what o and at add to it.
	out := clock{base: c.base, horizon: max(c.horizon, o.horizon)}
	out.extra = append(make([]clockEntry, 0, len(c.extra)+1), c.extra...)
	changed := out.horizon != c.horizon
	add := func(e clockEntry) {
		out.extra = raiseExtra(out.extra, e)
		changed = true
	}
	if !same {
		if !c.sameBase(o) {
			c.eachUncovered(o.base, add)
		}
		for _, e := range o.extra {
			if !c.covers(e.thread, e.seq) {
				add(e)
			}
		}
	}
	if at.thread != 0 && !c.covers(at.thread, at.seq) {
		add(at)
	}
	if !changed {
		return c, 0 // o and at add nothing
	}
	if len(out.extra) <= maxExtra {
		return out, 0
	}
	return out.rebuilt(limit)
}

// rebuilt returns c with its extra entries merged into a new base of at
// most limit entries, and how many entries it dropped.
func (c clock) rebuilt(limit int) (clock, int) {
	extra := slices.SortedFunc(slices.Values(c.extra), func(a, b clockEntry) int { return cmp.Compare(a.thread, b.thread) })
	out := clock{horizon: c.horizon, base: make([]clockEntry, 0, len(c.base)+len(extra))}
	i, j := 0, 0
	for i < len(c.base) || j < len(extra) {
		switch {
		case j == len(extra) || i < len(c.base) && c.base[i].thread < extra[j].thread:
			out.base = append(out.base, c.base[i])
			i++
		case i == len(c.base) || extra[j].thread < c.base[i].thread:
			out.base = append(out.base, extra[j])
			j++
		default:
			out.base = append(out.base, higher(c.base[i], extra[j]))
			i++
			j++
		}
	}
	n := 0
	for ; len(out.base) > limit; n++ {
		oldest := 0
		for i, e := range out.base {
			if e.wall < out.base[oldest].wall {
				oldest = i
			}
		}
		out.horizon = max(out.horizon, out.base[oldest].wall)
		out.base = slices.Delete(out.base, oldest, oldest+1)
	}
	return out, n
}

// coversClock reports whether c is at least o in every component and in
// horizon. When they share a base, only o's extra entries are compared.
func (c clock) coversClock(o clock) bool {
	if o.horizon > c.horizon {
		return false
	}
	covered := true
	if !c.sameBase(o) {
		c.eachUncovered(o.base, func(clockEntry) { covered = false })
	}
	for _, e := range o.extra {
		covered = covered && c.covers(e.thread, e.seq)
	}
	return covered
}

// eachUncovered calls f with each entry of the sorted entries that c does
// not cover, walking c's base alongside them.
func (c clock) eachUncovered(sorted []clockEntry, f func(clockEntry)) {
	i := 0
	for _, e := range sorted {
		for i < len(c.base) && c.base[i].thread < e.thread {
			i++
		}
		if i < len(c.base) && c.base[i].thread == e.thread && c.base[i].seq >= e.seq {
			continue
		}
		if !c.extraCovers(e) {
			f(e)
		}
	}
}

// extraCovers reports whether c's extra entries hold the event e names.
func (c clock) extraCovers(e clockEntry) bool {
	for _, x := range c.extra {
		if x.thread == e.thread && x.seq >= e.seq {
			return true
		}
	}
	return false
}

// sameBase reports whether c and o share their base.
func (c clock) sameBase(o clock) bool { return same(c.base, o.base) }

// is reports whether c and o are the same clock, sharing their entries (a
// join returns an operand itself when it adds nothing to it).
func (c clock) is(o clock) bool {
	return c.horizon == o.horizon && same(c.base, o.base) && same(c.extra, o.extra)
}

// same reports whether a and b are the same stored entries.
func same(a, b []clockEntry) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// search returns the index of thread's entry in the sorted entries and
// true, or where it would be inserted and false.
func search(entries []clockEntry, thread ThreadID) (int, bool) {
	lo, hi := 0, len(entries)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if entries[m].thread < thread {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < len(entries) && entries[lo].thread == thread
}

// raiseExtra returns the unsorted entries with e's thread raised to at
// least e.seq, appending e if the thread has no entry. It may modify
// entries.
func raiseExtra(entries []clockEntry, e clockEntry) []clockEntry {
	i := slices.IndexFunc(entries, func(x clockEntry) bool { return x.thread == e.thread })
	if i < 0 {
		return append(entries, e)
	}
	entries[i] = higher(entries[i], e)
	return entries
}

// higher returns the entry with the higher seq of two entries of a thread.
func higher(a, b clockEntry) clockEntry {
	if b.seq > a.seq {
		return b
	}
	return a
}
