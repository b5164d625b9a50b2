package analysis

import "slices"

// Shared locks (a database row lock, a Redis SET NX lock, an advisory lock)
// serialise several processes, but no process sees the others' releases, so
// they give no happens-before edge. They give a lockset rule instead: two
// accesses that hold the same shared lock, at least one of them
// exclusively, cannot overlap and are never reported against each other.
// The rule orders nothing else.

// holdsShared reports whether the access was made holding a shared lock.
func (p *access) holdsShared() bool {
	return p.extra != nil && len(p.extra.shared)+len(p.extra.sharedR) > 0
}

// excludes reports whether the shared locks held at p and a keep them from
// overlapping: some name is held exclusively by one and in either mode by
// the other. (Two read-mode holders do not exclude each other.)
func excludes(p, a *access) bool {
	px, ax := p.extra, a.extra
	if px == nil || ax == nil {
		return false
	}
	for _, n := range px.shared {
		if slices.Contains(ax.shared, n) || slices.Contains(ax.sharedR, n) {
			return true
		}
	}
	for _, n := range ax.shared {
		if slices.Contains(px.sharedR, n) {
			return true
		}
	}
	return false
}

// protectsAsMuch reports whether older holds every shared lock newer holds,
// in at least as strong a mode. Only then may newer, which happens after
// older, stand for older in a variable's state: an access that newer's
// locks exclude is then excluded by older's too, so a race with older is
// not hidden behind newer.
func protectsAsMuch(older, newer *access) bool {
	if !newer.holdsShared() {
		return true
	}
	var excl, read []string
	if older.extra != nil {
		excl, read = older.extra.shared, older.extra.sharedR
	}
	for _, n := range newer.extra.shared {
		if !slices.Contains(excl, n) {
			return false
		}
	}
	for _, n := range newer.extra.sharedR {
		if !slices.Contains(excl, n) && !slices.Contains(read, n) {
			return false
		}
	}
	return true
}
