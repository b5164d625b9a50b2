package analysis

import (
	"strings"
	"time"
)

// groups counts the occurrences of each distinct race: the same variable
// pattern (see varPattern), the same kind and the same unordered pair
// of code locations. Beyond the limit the least recently seen group is
// forgotten, and its count starts again if it recurs.
type groups struct {
	byID  recency[groupID, *group] // (pointers: a race found keeps its group until drained)
	limit int
}

// groupID identifies a distinct race; x is the lesser location.
type groupID struct {
	pattern string
	write   bool // write/write
	x, y    Location
}

// group counts the occurrences of one distinct race.
type group struct {
	count int
	first time.Time
	key   string // Race.Group
}

func newGroups(limit int) groups {
	return groups{byID: newRecency[groupID, *group](), limit: limit}
}

// add counts an occurrence of the race of kind write (write/write or
// read/write) on a variable of the given pattern between locations x and
// y, at wall time first if it is the first. It returns the group and, when
// the group is new, true and how many groups it evicted.
func (gs *groups) add(pattern string, write bool, x, y Location, first time.Time) (g *group, isNew bool, evicted int) {
	if locLess(y, x) {
		x, y = y, x
	}
	p, isNew := gs.byID.use(groupID{pattern: pattern, write: write, x: x, y: y})
	if isNew {
		kind := ReadWrite
		if write {
			kind = WriteWrite
		}
		xs, ys := x.String(), y.String()
		if ys < xs {
			xs, ys = ys, xs
		}
		*p = &group{first: first, key: pattern + " " + kind.String() + " " + xs + " " + ys}
		evicted = gs.byID.evict(gs.limit, nil, nil)
	}
	g = *p
	g.count++
	return g, isNew, evicted
}

// locLess orders locations by file, line and function.
func locLess(a, b Location) bool {
	if a.File != b.File {
		return a.File < b.File
	}
	if a.Line != b.Line {
		return a.Line < b.Line
	}
	return a.Function < b.Function
}

// varPattern returns the pattern of variable name by which races are
// grouped (see Race.Group).
func varPattern(name string) string {
	if !strings.ContainsAny(name, "0123456789") {
		return name
	}
	var b strings.Builder
	b.Grow(len(name))
	digits := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		if '0' <= c && c <= '9' {
			if !digits {
				b.WriteByte('*')
			}
			digits = true
			continue
		}
		digits = false
		b.WriteByte(c)
	}
	return b.String()
}
