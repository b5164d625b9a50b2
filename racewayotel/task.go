package racewayotel

import (
	"context"
	"sync"

	"github.com/petermattis/goid"

	"github.com/raceway-otel/raceway/analysis"
)

// Task is a logical thread started by [Tracker.Go] or [Tracker.Spawn], that
// another thread can join with [Task.Wait].
type Task struct {
	t    *Tracker
	ctx  context.Context // the task's context, carrying its thread
	loc  *location
	once sync.Once
	done chan struct{}
	end  analysis.Epoch // the task's thread.end, set before done closes
}

// Go runs fn in a new goroutine as a new logical thread: the calling thread
// records a thread.spawn, and fn's thread starts after it. fn's thread
// records a thread.end when fn returns (or panics); [Task.Wait] joins it.
//
//	task := rw.Go(ctx, func(ctx context.Context) { rw.TrackStateChange(ctx, "x", 0, 1, racewayotel.Write) })
//	_ = task.Wait(ctx)
func (t *Tracker) Go(ctx context.Context, fn func(context.Context)) *Task {
	k := t.spawn(ctx, callerLocation(1))
	go func() {
		defer k.finish(k.loc)
		fn(k.ctx)
	}()
	return k
}

// Spawn is [Tracker.Go] for callers that start the goroutine themselves. It
// records a thread.spawn on the calling thread and returns the context of
// the new thread, to be used by the goroutine the caller starts (the first
// goroutine that records with it becomes the thread's), and the Task, whose
// [Task.End] the goroutine calls when it is done:
//
//	ctx2, task := rw.Spawn(ctx)
//	go func() {
//		defer task.End()
//		work(ctx2)
//	}()
//	_ = task.Wait(ctx)
func (t *Tracker) Spawn(ctx context.Context) (context.Context, *Task) {
	k := t.spawn(ctx, callerLocation(1))
	return k.ctx, k
}

// TrackAsyncSpawn is [Tracker.Spawn], under the name of Raceway's SDKs.
func (t *Tracker) TrackAsyncSpawn(ctx context.Context) (context.Context, *Task) {
	k := t.spawn(ctx, callerLocation(1))
	return k.ctx, k
}

// TrackAsyncAwait is [Task.Wait], under the name of Raceway's SDKs.
func (t *Tracker) TrackAsyncAwait(ctx context.Context, task *Task) error {
	return task.wait(ctx, callerLocation(1))
}

func (t *Tracker) spawn(ctx context.Context, loc *location) *Task {
	k := &Task{t: t, ctx: ctx, loc: loc, done: make(chan struct{})}
	if t == nil {
		return k
	}
	g := goid.Get()
	parent := t.current(ctx, g)
	at := t.emit(ctx, parent, g, &record{kind: analysis.KindSpawn, loc: loc})
	name := parent.name
	if loc != nil {
		name = loc.function
	}
	k.ctx = contextWithThread(ctx, newThread(analysis.OriginSpawn, name, at))
	return k
}

// End records the end of the task's thread and lets [Task.Wait] return. Call
// it once, on the task's goroutine, after its last tracked access: for
// example with defer at the top of the goroutine. Later calls do nothing.
// Tasks started by [Tracker.Go] end by themselves.
func (k *Task) End() {
	if k == nil {
		return
	}
	k.finish(callerLocation(1))
}

func (k *Task) finish(loc *location) {
	k.once.Do(func() {
		if k.t != nil {
			k.end = k.t.track(k.ctx, &record{kind: analysis.KindEnd, loc: loc})
		}
		close(k.done)
	})
}

// Wait waits for the task to end and records, on the calling thread, a
// thread.await that happens after the task's thread.end. If ctx is done
// first, Wait records nothing and returns ctx's cause.
func (k *Task) Wait(ctx context.Context) error {
	return k.wait(ctx, callerLocation(1))
}

func (k *Task) wait(ctx context.Context, loc *location) error {
	if k == nil {
		return nil
	}
	select {
	case <-k.done:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	if k.t != nil {
		r := record{kind: analysis.KindAwait, loc: loc}
		r.addAfter(k.end)
		k.t.track(ctx, &r)
	}
	return nil
}
