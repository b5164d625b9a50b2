package racewayotel

import (
	"context"

	"github.com/petermattis/goid"

	"github.com/raceway-otel/raceway/analysis"
)

// Detach stands in for context.WithoutCancel at a hand-off point: it returns
// a context that keeps ctx's values (and so its trace and span) but not its
// cancellation, and that carries a new logical thread (origin detach) which
// starts after everything the calling thread recorded so far. The first
// goroutine that records with the returned context runs that thread. Use it
// for a background job and for a context sent to a worker goroutine through
// a channel:
//
//	go job(rw.Detach(ctx))
//	jobs <- rw.Detach(ctx)
//
// A context handed to another goroutine without Detach (or [Tracker.Go],
// [Tracker.Spawn]) still gets a thread of its own there: the first tracking
// call on that goroutine forks one (origin implicit) that starts after the
// latest record of the context's thread and the latest record of the
// goroutine that created the calling one (read from its stack trace). The
// real hand-off happened at or before that point, so the approximation may
// hide a race between the two goroutines (an access the handing-over thread
// made after the hand-off but before the fork looks ordered) but never
// reports a false one. A goroutine that receives the same context again later
// keeps its fork, with no new edge: use Detach for repeated hand-offs.
func (t *Tracker) Detach(ctx context.Context) context.Context {
	ctx = context.WithoutCancel(ctx)
	if t == nil {
		return ctx
	}
	g := goid.Get()
	parent := t.current(ctx, g)
	if !parent.started {
		t.start(ctx, parent, g, callerLocation(1), t.enter(parent))
	}
	return contextWithThread(ctx, newThread(analysis.OriginDetach, parent.name, parent.latest()))
}
