package analysis

import "slices"

// clockEntry is one component of a detector clock: thread's first seq
// events happened before, the last of them at wall time wall.
type clockEntry struct {
	thread ThreadID
	seq    uint64
	wall   int64
}

// clock is the detector's bounded vector clock of one point in a thread:
// the components of the OTHER threads (the thread's own component is the
// seq of the point). entries is sorted by thread and never modified once
// stored, so clocks share it freely (copy on write).
//
// When joining would exceed the entry bound, the entries of the least
// recently active threads are dropped and horizon rises to their wall
// time: an access by a thread without an entry whose wall time is at or
// before the horizon is assumed ordered before the point. That can hide a
// race but never invents one.
type clock struct {
	entries []clockEntry
	horizon int64
}

// get returns thread's entry.
func (c *clock) get(t ThreadID) (clockEntry, bool) {
	lo, hi := 0, len(c.entries)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if c.entries[m].thread < t {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(c.entries) && c.entries[lo].thread == t {
		return c.entries[lo], true
	}
	return clockEntry{}, false
}

// join returns the join of c, o and the extra entries (the points o
// describes). It returns c unchanged when the others add nothing, and o's
// entries, shared, when they cover c: both without allocating, which is
// the common case of a lock acquire (the lock's clock covers the
// acquirer's). maxEntries bounds the result; dropped counts the entries it
// had to drop.
//
// A clock may hold an entry for its own thread (inherited through a lock
// or an RPC); it is never consulted, since a thread's own accesses are
// ordered by program order.
func join(c, o clock, extras []clockEntry, maxEntries int) (out clock, dropped int) {
	if !c.adds(o, extras) {
		return c, 0
	}
	oCoversC := !o.adds(c, nil)
	if oCoversC && o.coversAll(extras) {
		return clock{entries: o.entries, horizon: max(c.horizon, o.horizon)}, 0
	}
	merged := make([]clockEntry, 0, len(c.entries)+len(o.entries)+len(extras))
	if oCoversC {
		// The common case of a lock release: the releaser's clock covers the
		// lock's (it acquired it); only the extras are new.
		merged = append(merged, o.entries...)
		return finishJoin(merged, c, o, extras, maxEntries)
	}
	i, j := 0, 0
	for i < len(c.entries) || j < len(o.entries) {
		switch {
		case j == len(o.entries) || (i < len(c.entries) && c.entries[i].thread < o.entries[j].thread):
			merged = append(merged, c.entries[i])
			i++
		case i == len(c.entries) || o.entries[j].thread < c.entries[i].thread:
			merged = append(merged, o.entries[j])
			j++
		default:
			e := c.entries[i]
			if o.entries[j].seq > e.seq {
				e = o.entries[j]
			}
			merged = append(merged, e)
			i++
			j++
		}
	}
	return finishJoin(merged, c, o, extras, maxEntries)
}

// finishJoin adds the extras to the merged entries of c and o and bounds the
// result.
func finishJoin(merged []clockEntry, c, o clock, extras []clockEntry, maxEntries int) (out clock, dropped int) {
	for _, x := range extras {
		merged = raise(merged, x)
	}
	out = clock{entries: merged, horizon: max(c.horizon, o.horizon)}
	if len(out.entries) > maxEntries {
		dropped = out.truncate(maxEntries)
	}
	return out, dropped
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
	return slices.Insert(entries, lo, x)
}

// coversAll reports whether c holds every extra entry.
func (c *clock) coversAll(extras []clockEntry) bool {
	for _, x := range extras {
		if e, ok := c.get(x.thread); !ok || e.seq < x.seq {
			return false
		}
	}
	return true
}

// adds reports whether joining o and extras into c would change c, in one
// pass over both sorted entry lists.
func (c *clock) adds(o clock, extras []clockEntry) bool {
	if o.horizon > c.horizon || !c.coversAll(extras) {
		return true
	}
	i := 0
	for _, x := range o.entries {
		for i < len(c.entries) && c.entries[i].thread < x.thread {
			i++
		}
		if i == len(c.entries) || c.entries[i].thread != x.thread || c.entries[i].seq < x.seq {
			return true
		}
	}
	return false
}

// truncate keeps the limit entries with the latest wall times, raising the
// horizon to the latest wall time dropped. It returns how many it dropped.
// It works in place: call it only on entries no other clock shares.
func (c *clock) truncate(limit int) int {
	drop := len(c.entries) - limit
	var cut int64
	if drop == 1 {
		// The common case: one entry too many after a join.
		i := 0
		for j, e := range c.entries {
			if e.wall < c.entries[i].wall {
				i = j
			}
		}
		c.horizon = max(c.horizon, c.entries[i].wall)
		c.entries = slices.Delete(c.entries, i, i+1)
		return 1
	}
	walls := make([]int64, len(c.entries))
	for i, e := range c.entries {
		walls[i] = e.wall
	}
	cut = nthSmallest(walls, drop-1)
	kept := c.entries[:0]
	dropped := 0
	for _, e := range c.entries {
		if dropped < drop && e.wall <= cut {
			dropped++
			c.horizon = max(c.horizon, e.wall)
			continue
		}
		kept = append(kept, e)
	}
	c.entries = kept
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
