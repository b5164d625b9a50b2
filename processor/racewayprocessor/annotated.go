package racewayprocessor // import "github.com/raceway-otel/raceway/processor/racewayprocessor"

import "container/list"

// maxAnnotated bounds the annotations remembered by [annotated]: about
// 150 B each, 2.5 MiB in all.
const maxAnnotated = 1 << 14

// annotation identifies a raceway.race span: the access span it is a child
// of, the distinct race (analysis.Race.Group) and the access's role in it.
type annotation struct {
	trace [16]byte
	span  [8]byte
	group string
	role  string
}

// annotated remembers the raceway.race spans emitted, so that an access span
// gets at most one per distinct race and role: a span on a hot variable races
// again with every new partner, and those repeats are counted (in the
// detector's group count and the processor's races_found) rather than shown
// again. It keeps the most recently seen max annotations, forgetting the
// least recently seen first: an access that keeps racing stays remembered,
// and only one that raced long ago, forgotten and then raced again in the
// same group and role would get a second raceway.race span.
type annotated struct {
	max     int
	byKey   map[annotation]*list.Element
	recency list.List // of annotation, most recently seen first
	evicted int64
}

func newAnnotated(max int) *annotated {
	return &annotated{max: max, byKey: make(map[annotation]*list.Element)}
}

// add reports whether a is new, remembering it; either way a becomes the
// most recently seen.
func (s *annotated) add(a annotation) bool {
	if e, ok := s.byKey[a]; ok {
		s.recency.MoveToFront(e)
		return false
	}
	if s.recency.Len() >= s.max {
		oldest := s.recency.Back()
		delete(s.byKey, oldest.Value.(annotation))
		s.recency.Remove(oldest)
		s.evicted++
	}
	s.byKey[a] = s.recency.PushFront(a)
	return true
}
