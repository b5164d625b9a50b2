package analysis

import "slices"

// scheduler holds the events that wait for a predecessor (an earlier
// event of their thread, an epoch they name, or a strand's previous epoch)
// until it has been analysed, so that the detector analyses events in an
// order consistent with happens-before whatever their arrival order.
type scheduler struct {
	queue   []*pending // in arrival order, analysed ones included until they reach the front
	head    int        // queue[:head] is gone
	n       int        // events waiting
	byEpoch map[Epoch]*pending
	bySync  map[Epoch]*pending // releases by the strand epoch they publish
	// waiting holds the events waiting for each epoch not yet analysed, by
	// thread and seq.
	waiting map[ThreadID]map[uint64][]*pending
	ready   []*pending // events whose predecessors have all been analysed
}

// pending is an event waiting for predecessors.
type pending struct {
	ev      Event
	arrived int64 // unix nanoseconds
	missing int   // predecessors not analysed yet
	done    bool  // analysed (possibly forced before missing reached 0)
}

func newScheduler() scheduler {
	return scheduler{
		byEpoch: make(map[Epoch]*pending),
		bySync:  make(map[Epoch]*pending),
		waiting: make(map[ThreadID]map[uint64][]*pending),
	}
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

// has reports whether an event with epoch e is waiting.
func (s *scheduler) has(e Epoch) bool { return s.byEpoch[e] != nil }

// wait makes p wait for epoch e.
func (s *scheduler) wait(p *pending, e Epoch) {
	byThread := s.waiting[e.Thread]
	if byThread == nil {
		byThread = make(map[uint64][]*pending)
		s.waiting[e.Thread] = byThread
	}
	byThread[e.Seq] = append(byThread[e.Seq], p)
	p.missing++
}

// hold queues p, which waits for at least one epoch.
func (s *scheduler) hold(p *pending) {
	s.queue = append(s.queue, p)
	s.byEpoch[p.ev.Epoch] = p
	if !p.ev.Sync.IsZero() && s.bySync[p.ev.Sync] == nil {
		s.bySync[p.ev.Sync] = p
	}
	s.n++
}

// waitsFor reports whether an event waits for an epoch of thread id.
func (s *scheduler) waitsFor(id ThreadID) bool { return len(s.waiting[id]) > 0 }

// release marks p as analysed, removing it from the indexes (and, if it
// is forced, from the lists of the epochs it still waits for).
func (s *scheduler) release(p *pending) {
	p.done = true
	if p.missing > 0 {
		deps(&p.ev, func(e Epoch) {
			byThread := s.waiting[e.Thread]
			if waiters, ok := byThread[e.Seq]; ok {
				if waiters = slices.DeleteFunc(waiters, func(q *pending) bool { return q == p }); len(waiters) == 0 {
					delete(byThread, e.Seq)
				} else {
					byThread[e.Seq] = waiters
				}
				if len(byThread) == 0 {
					delete(s.waiting, e.Thread)
				}
			}
		})
	}
	if s.byEpoch[p.ev.Epoch] == p {
		delete(s.byEpoch, p.ev.Epoch)
		s.n--
	}
	if !p.ev.Sync.IsZero() && s.bySync[p.ev.Sync] == p {
		delete(s.bySync, p.ev.Sync)
	}
}

// advanced moves the events waiting for thread id's epochs from (from, to]
// to the ready list.
func (s *scheduler) advanced(id ThreadID, from, to uint64) {
	byThread := s.waiting[id]
	if len(byThread) == 0 {
		return
	}
	wake := func(seq uint64) {
		for _, p := range byThread[seq] {
			if p.missing--; p.missing == 0 && !p.done {
				s.ready = append(s.ready, p)
			}
		}
		delete(byThread, seq)
	}
	if to-from <= uint64(len(byThread)) {
		for seq := from + 1; seq <= to; seq++ {
			wake(seq)
		}
	} else {
		for seq := range byThread {
			if from < seq && seq <= to {
				wake(seq)
			}
		}
	}
	if len(byThread) == 0 {
		delete(s.waiting, id)
	}
}

// nextReady returns an event whose predecessors have all been analysed, or
// nil.
func (s *scheduler) nextReady() *pending {
	for len(s.ready) > 0 {
		p := s.ready[len(s.ready)-1]
		s.ready = s.ready[:len(s.ready)-1]
		if !p.done {
			return p
		}
	}
	return nil
}

// front returns the oldest waiting event, or nil.
func (s *scheduler) front() *pending {
	for s.head < len(s.queue) && s.queue[s.head].done {
		s.queue[s.head] = nil
		s.head++
	}
	if s.head == len(s.queue) {
		s.queue, s.head = s.queue[:0], 0
		return nil
	}
	if s.head > len(s.queue)/2 {
		s.queue = append(s.queue[:0], s.queue[s.head:]...)
		s.head = 0
	}
	return s.queue[s.head]
}

// firstWaiting returns an event that p waits for and that is itself
// waiting (not p's ancestor in visiting), or nil.
func (s *scheduler) firstWaiting(p *pending, visiting map[*pending]bool) *pending {
	var next *pending
	deps(&p.ev, func(e Epoch) {
		q := s.byEpoch[e]
		if q == nil {
			q = s.bySync[e]
		}
		if next == nil && q != nil && !q.done && !visiting[q] {
			next = q
		}
	})
	return next
}
