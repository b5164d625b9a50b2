package analysis

import "iter"

// varKey identifies a variable: its name within a process, or fleet-wide
// when proc is nil (shared).
type varKey struct {
	name string
	proc *process
}

// variable is the detector's state of one variable: FastTrack's, with what
// it takes to report every racing pair.
//
//   - w is the last write, and r the last read while no other read is kept
//     (FastTrack's epoch mode).
//   - live holds the other accesses that no later access supersedes (see
//     supersedes): FastTrack's concurrent reads (its read vector) and,
//     unlike FastTrack, the writes that a later write did not supersede,
//     because they raced with it or held fewer shared locks.
//   - recent holds the latest accesses, live or not.
//
// Invariant: every access analysed (and not evicted by a bound) is in w, r
// or live, or superseded through a chain of accesses by one that is. An
// access that races with it races with that one too (it is unordered with
// it, conflicts with it, and is not excluded by its locks), so checking w,
// r and live finds a race whenever there is one; then checking recent
// reports every racing pair. An access in w, r or live is marked live, so
// that a check visits each access once.
//
// A variable that has held one write and one read at most (the common,
// epoch-only state) needs nothing more.
type variable struct {
	w, r *access
	more *varMore // nil while v holds one write and one read at most
}

// varMore is the state of a variable that has held more than one write or
// one read.
type varMore struct {
	live   []*access
	recent ring[*access]
}

// supersedes reports whether newer, an access of the point whose clock is
// c, may stand for the retained access older in the variable's state:
// older happens before it (program order or the clock), newer conflicts
// with whatever older conflicts with (a read never stands for a write),
// and newer is not better protected by shared locks (see protectsAsMuch).
func supersedes(newer, older *access, c clock) bool {
	if older.write && !newer.write {
		return false
	}
	if older.thread.id != newer.thread.id && !c.orders(older.thread.id, older.seq, older.wall) {
		return false
	}
	return protectsAsMuch(older, newer)
}

// update makes access a of the point whose clock is c part of v's state,
// dropping what it supersedes and keeping at most maxLive accesses in live
// and maxRecent in recent. It returns how many accesses it dropped from
// live because of the bound (a race with one of them may go unreported).
func (v *variable) update(a *access, c clock, maxLive, maxRecent int) (evicted int) {
	if v.more == nil {
		// The epoch-only state: one write and one read at most.
		switch {
		case a.write && v.w == nil:
			v.w, a.live = a, true
			return 0
		case !a.write && v.r == nil:
			v.r, a.live = a, true
			return 0
		}
	}
	m := v.moreOf(maxRecent)
	kept := m.live[:0]
	for _, p := range m.live {
		if supersedes(a, p, c) {
			p.live = false
		} else {
			kept = append(kept, p)
		}
	}
	// The last write and read move to live when a replaces them without
	// superseding them. (The last read stays when a is a write: every later
	// write is checked against it, and the epoch mode is kept.)
	if a.write {
		if w := v.w; w != nil && !supersedes(a, w, c) {
			kept = append(kept, w)
		} else if w != nil {
			w.live = false
		}
		v.w, a.live = a, true
	} else {
		if r := v.r; r != nil && !supersedes(a, r, c) {
			kept = append(kept, r)
		} else if r != nil {
			r.live = false
		}
		v.r = nil
		kept = append(kept, a)
		a.live = true
	}
	n := len(kept)
	if n > maxLive {
		for _, p := range kept[:n-maxLive] {
			p.live = false
		}
		evicted += n - maxLive
		copy(kept, kept[n-maxLive:])
		kept = kept[:maxLive]
	}
	if !a.write && len(kept) == 1 && kept[0] == a {
		v.r, kept = a, kept[:0] // back to epoch mode
	}
	// Clear the slots the list no longer uses, so that they keep no access
	// alive.
	clear(kept[len(kept):max(n, len(m.live))])
	m.live = kept
	m.recent.push(a, maxRecent)
	return evicted
}

// moreOf returns v's state for several threads, creating it with v's last
// write and read as its first recent accesses.
func (v *variable) moreOf(maxRecent int) *varMore {
	if v.more == nil {
		v.more = &varMore{}
		for _, p := range [...]*access{v.w, v.r} {
			if p != nil {
				v.more.recent.push(p, maxRecent)
			}
		}
	}
	return v.more
}

// record adds a late access to v's recent accesses: its place in
// happens-before order has passed, so it takes no part in the rest of the
// state.
func (v *variable) record(a *access, maxRecent int) {
	v.moreOf(maxRecent).recent.push(a, maxRecent)
}

// retains reports whether v's state holds thread's seq-th event.
func (v *variable) retains(thread ThreadID, seq uint64) bool {
	for p := range v.accesses() {
		if p.thread.id == thread && p.seq == seq {
			return true
		}
	}
	return false
}

// accesses yields every access v's state holds: w, r, live and recent (an
// access in both live and recent comes twice).
func (v *variable) accesses() iter.Seq[*access] {
	return func(yield func(*access) bool) {
		for _, p := range [...]*access{v.w, v.r} {
			if p != nil && !yield(p) {
				return
			}
		}
		if v.more == nil {
			return
		}
		for _, p := range v.more.live {
			if !yield(p) {
				return
			}
		}
		for i := range v.more.recent.len() {
			if !yield(v.more.recent.at(i)) {
				return
			}
		}
	}
}
