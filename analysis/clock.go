package analysis

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

// joinInto returns the join of c and o plus the extra entry (the point o
// describes), leaving out self (the owner of the result). It returns c
// unchanged, without allocating, when o adds nothing. maxEntries bounds the
// result; dropped counts the entries it had to drop.
func joinInto(c clock, o clock, extra clockEntry, self ThreadID, maxEntries int) (out clock, dropped int) {
	if !c.adds(o, extra, self) {
		return c, 0
	}
	merged := make([]clockEntry, 0, len(c.entries)+len(o.entries)+1)
	i, j := 0, 0
	extraDone := extra.thread == 0 || extra.thread == self
	push := func(e clockEntry) {
		if e.thread == self {
			return
		}
		if !extraDone && extra.thread <= e.thread {
			if extra.thread == e.thread {
				if extra.seq > e.seq {
					e = extra
				}
				extraDone = true
			} else {
				merged = append(merged, extra)
				extraDone = true
			}
		}
		if n := len(merged); n > 0 && merged[n-1].thread == e.thread {
			if e.seq > merged[n-1].seq {
				merged[n-1] = e
			}
			return
		}
		merged = append(merged, e)
	}
	for i < len(c.entries) || j < len(o.entries) {
		switch {
		case j == len(o.entries) || (i < len(c.entries) && c.entries[i].thread <= o.entries[j].thread):
			push(c.entries[i])
			i++
		default:
			push(o.entries[j])
			j++
		}
	}
	if !extraDone {
		merged = append(merged, extra)
	}
	out = clock{entries: merged, horizon: max(c.horizon, o.horizon)}
	if len(out.entries) > maxEntries {
		dropped = out.truncate(maxEntries)
	}
	return out, dropped
}

// adds reports whether joining o and extra into c would change c, in one
// pass over both sorted entry lists.
func (c *clock) adds(o clock, extra clockEntry, self ThreadID) bool {
	if o.horizon > c.horizon {
		return true
	}
	if extra.thread != 0 && extra.thread != self {
		if e, ok := c.get(extra.thread); !ok || e.seq < extra.seq {
			return true
		}
	}
	i := 0
	for _, x := range o.entries {
		if x.thread == self {
			continue
		}
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
func (c *clock) truncate(limit int) int {
	drop := len(c.entries) - limit
	// Find the wall time below which entries go: a selection over a copy
	// of the wall times (clocks are small, truncation is rare).
	walls := make([]int64, len(c.entries))
	for i, e := range c.entries {
		walls[i] = e.wall
	}
	cut := nthSmallest(walls, drop-1)
	kept := c.entries[:0:0]
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
