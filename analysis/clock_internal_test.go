package analysis

import "testing"

// TestOverlaySharedByClocks: clocks that share an overlay each see their
// own entries only. Two releases joined into the same lock clock (one
// recorded, one late) extend it apart: the first in place, the second in a
// copy; and a clock filled up rebuilds its base with every entry.
func TestOverlaySharedByClocks(t *testing.T) {
	entry := func(th ThreadID, seq uint64) clockEntry { return clockEntry{thread: th, seq: seq, wall: int64(seq)} }
	lock, _ := join(clock{}, clock{}, []clockEntry{entry(1, 1)}, DefaultMaxClockEntries)
	a, _ := join(lock, lock, []clockEntry{entry(2, 5)}, DefaultMaxClockEntries)
	b, _ := join(lock, lock, []clockEntry{entry(3, 7)}, DefaultMaxClockEntries)
	if a.ov != lock.ov || b.ov == lock.ov {
		t.Errorf("the first extension should append in place and the second copy (a shares: %v, b shares: %v)", a.ov == lock.ov, b.ov == lock.ov)
	}
	for _, c := range []struct {
		name  string
		clk   clock
		in    []ThreadID
		notIn []ThreadID
	}{
		{"lock", lock, []ThreadID{1}, []ThreadID{2, 3}},
		{"a", a, []ThreadID{1, 2}, []ThreadID{3}},
		{"b", b, []ThreadID{1, 3}, []ThreadID{2}},
	} {
		for _, th := range c.in {
			if _, ok := c.clk.get(th); !ok {
				t.Errorf("%s lacks thread %d", c.name, th)
			}
		}
		for _, th := range c.notIn {
			if _, ok := c.clk.get(th); ok {
				t.Errorf("%s holds thread %d, joined into another clock", c.name, th)
			}
		}
	}
	// A thread joined again: its latest (highest) entry counts.
	a2, _ := join(a, a, []clockEntry{entry(2, 9)}, DefaultMaxClockEntries)
	if e, _ := a2.get(2); e.seq != 9 {
		t.Errorf("thread 2 at %d, want 9", e.seq)
	}
	if e, _ := a.get(2); e.seq != 5 {
		t.Errorf("the earlier clock sees thread 2 at %d, want 5", e.seq)
	}
	// Past 8 overlay entries the base is rebuilt, sorted, one per thread.
	c := a2
	for th := ThreadID(10); th < 20; th++ {
		c, _ = join(c, c, []clockEntry{entry(th, 1)}, DefaultMaxClockEntries)
	}
	if c.ntop > maxOverlay {
		t.Fatalf("overlay of %d entries", c.ntop)
	}
	for _, th := range []ThreadID{1, 2, 10, 15, 19} {
		if _, ok := c.get(th); !ok {
			t.Errorf("after rebuilds the clock lacks thread %d", th)
		}
	}
	for i := 1; i < len(c.base); i++ {
		if c.base[i-1].thread >= c.base[i].thread {
			t.Fatalf("base not sorted and unique: %v", c.base)
		}
	}
	if e, _ := c.get(2); e.seq != 9 {
		t.Errorf("after rebuilds thread 2 at %d, want 9", e.seq)
	}
}

// TestFullOverlayWithRepeatsIsCompacted: an overlay full of entries of
// fewer than 8 threads (one joined twice) keeps its latest entry of each
// and takes the next thread without rebuilding the base; a ninth thread
// rebuilds it.
func TestFullOverlayWithRepeatsIsCompacted(t *testing.T) {
	var c clock
	add := func(th ThreadID, seq uint64) {
		c, _ = join(c, c, []clockEntry{{thread: th, seq: seq, wall: int64(seq)}}, DefaultMaxClockEntries)
	}
	for th := ThreadID(1); th <= 7; th++ {
		add(th, 1)
	}
	add(3, 2) // thread 3 again: 8 entries, 7 threads
	add(8, 1)
	if len(c.base) != 0 || c.ntop != 8 {
		t.Fatalf("base %d entries, overlay %d: want the overlay compacted to 8 threads, no base", len(c.base), c.ntop)
	}
	for th := ThreadID(1); th <= 8; th++ {
		if _, ok := c.get(th); !ok {
			t.Errorf("thread %d lost in compaction", th)
		}
	}
	if e, _ := c.get(3); e.seq != 2 {
		t.Errorf("thread 3 at %d, want its latest entry, 2", e.seq)
	}
	add(9, 1)
	if len(c.base) != 9 || c.ntop != 0 {
		t.Errorf("base %d entries, overlay %d: want the base rebuilt with all 9 threads", len(c.base), c.ntop)
	}
}
