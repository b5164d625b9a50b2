package analysis

import (
	"fmt"
	"slices"
)

// checkEntries reports the first of the invariants of c's entries (see
// clock) that does not hold: the base sorted by thread, no thread twice in
// the base or in extra, at most limit entries in the base and maxExtra in
// extra.
func (c clock) checkEntries(limit int) error {
	if len(c.base) > limit || len(c.extra) > maxExtra {
		return fmt.Errorf("clock of %d+%d entries, bound %d+%d", len(c.base), len(c.extra), limit, maxExtra)
	}
	for i := 1; i < len(c.base); i++ {
		if c.base[i-1].thread >= c.base[i].thread {
			return fmt.Errorf("clock base not sorted and unique: %v", c.base)
		}
	}
	for i, e := range c.extra {
		if slices.ContainsFunc(c.extra[i+1:], func(x clockEntry) bool { return x.thread == e.thread }) {
			return fmt.Errorf("clock extra names thread %s twice", e.thread)
		}
	}
	return nil
}
