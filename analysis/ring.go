package analysis

// ring keeps the last items pushed into it, up to a limit given at each
// push, oldest first. Its storage grows with use, so a ring that receives
// few items stays small. A variable's recent accesses and a thread's past
// clocks are rings.
type ring[T any] struct {
	items []T
	next  int // once full, the slot of the oldest item, which the next push replaces
}

// push adds x, dropping the oldest item when the ring already holds limit
// items, and reports whether it dropped one.
func (r *ring[T]) push(x T, limit int) (dropped bool) {
	if len(r.items) < limit {
		r.items = append(r.items, x)
		return false
	}
	r.items[r.next] = x
	r.next = (r.next + 1) % len(r.items)
	return true
}

// len returns the number of items.
func (r *ring[T]) len() int { return len(r.items) }

// at returns the i-th item, oldest first.
func (r *ring[T]) at(i int) T { return r.items[(r.next+i)%len(r.items)] }
