package analysis

// pending is an event waiting for predecessors.
type pending struct {
	ev      Event
	arrived int64 // unix nanoseconds
	missing int   // unsatisfied dependencies
	done    bool  // analysed (possibly forced before missing reached 0)
	queued  bool  // in the queue and the byEpoch and bySync tables
}

// deps calls f for every epoch that must be analysed before ev: its
// program-order predecessor, the epochs in After and, for a release, the
// strand's previous epoch.
func deps(ev *Event, f func(Epoch)) {
	if ev.Epoch.Seq > 1 {
		f(Epoch{Thread: ev.Epoch.Thread, Seq: ev.Epoch.Seq - 1})
	}
	for _, a := range ev.After {
		f(a)
	}
	if ev.Sync.Seq > 1 {
		f(Epoch{Thread: ev.Sync.Thread, Seq: ev.Sync.Seq - 1})
	}
}

// queue is a FIFO of pending events in arrival order.
type queue struct {
	items []*pending
	head  int
}

func (q *queue) push(p *pending) { q.items = append(q.items, p) }

// front returns the oldest event not yet analysed, dropping analysed ones.
func (q *queue) front() *pending {
	for q.head < len(q.items) && q.items[q.head].done {
		q.items[q.head] = nil
		q.head++
	}
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
		return nil
	}
	if q.head > 1024 && q.head > len(q.items)/2 {
		q.items = append(q.items[:0], q.items[q.head:]...)
		q.head = 0
	}
	return q.items[q.head]
}
