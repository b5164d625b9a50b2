// Package twogen provides a map bounded by generations: what the Tracker
// and the captures remember per goroutine, span, table or statement text.
package twogen

// Map keeps its entries in two generations, each of at most the bound its
// caller gives to Put: new entries and entries used again go to the newer
// one, and when the newer is full the older is dropped whole. So it holds
// at most twice the bound, what was used since the last drop survives the
// next, and a lookup costs one or two map lookups, with no list to keep in
// order. It is not safe for concurrent use; its zero value is empty.
type Map[K comparable, V any] struct {
	cur, old map[K]V
}

// Get returns k's value and whether it has one, moving it to the newer
// generation (bound perGen) if it was in the older.
func (m *Map[K, V]) Get(k K, perGen int) (V, bool) {
	if v, ok := m.cur[k]; ok {
		return v, true
	}
	v, ok := m.old[k]
	if ok {
		m.Put(k, v, perGen)
	}
	return v, ok
}

// Peek returns k's value and whether it has one, leaving it where it is.
func (m *Map[K, V]) Peek(k K) (V, bool) {
	if v, ok := m.cur[k]; ok {
		return v, true
	}
	v, ok := m.old[k]
	return v, ok
}

// Put sets k's value in the newer generation, first making it the older
// (and dropping the older) when it already holds perGen entries.
func (m *Map[K, V]) Put(k K, v V, perGen int) {
	if m.cur == nil || len(m.cur) >= perGen {
		m.old, m.cur = m.cur, make(map[K]V)
	}
	m.cur[k] = v
}

// Delete removes k.
func (m *Map[K, V]) Delete(k K) {
	delete(m.cur, k)
	delete(m.old, k)
}

// Len returns the number of entries.
func (m *Map[K, V]) Len() int { return len(m.cur) + len(m.old) }
