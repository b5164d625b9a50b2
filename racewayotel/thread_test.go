package racewayotel_test

import (
	"context"
	"testing"

	"github.com/raceway-otel/raceway/analysis"
	"github.com/raceway-otel/raceway/racewayotel"
)

// starts returns the thread.start records by thread.
func starts(evs []analysis.Event) map[analysis.ThreadID]analysis.Event {
	m := map[analysis.ThreadID]analysis.Event{}
	for _, e := range evs {
		if e.Kind == analysis.KindStart {
			m[e.Epoch.Thread] = e
		}
	}
	return m
}

// Scenario 4: spawn and join.
func TestGoAndWait(t *testing.T) {
	s := newService(t, "svc")
	rw := s.rw
	ctx, span := s.start(context.Background(), "parent")
	rw.TrackStateChange(ctx, "x", 0, 1, racewayotel.Write)
	task := rw.Go(ctx, func(ctx context.Context) {
		rw.TrackStateChange(ctx, "x", 1, 2, racewayotel.Write)
	})
	if err := task.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	rw.TrackStateChange(ctx, "x", 2, 3, racewayotel.Write)

	running, written := make(chan struct{}), make(chan struct{})
	task = rw.Go(ctx, func(ctx context.Context) {
		close(running)
		<-written
		rw.TrackStateChange(ctx, "x", 3, 4, racewayotel.Write)
	})
	<-running
	rw.TrackStateChange(ctx, "x", 3, 5, racewayotel.Write) // while the child runs
	close(written)
	if err := task.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	span.End()

	evs := events(t, s)
	h := newHB(evs)
	w1, w2, w3 := find(t, evs, analysis.KindWrite, "x", "1"), find(t, evs, analysis.KindWrite, "x", "2"), find(t, evs, analysis.KindWrite, "x", "3")
	ordered(t, h, w1, w2) // spawn edge
	ordered(t, h, w2, w3) // join edge
	if w1.Epoch.Thread == w2.Epoch.Thread {
		t.Fatal("the child ran on the parent's thread")
	}
	if o := starts(evs)[w2.Epoch.Thread].Origin; o != analysis.OriginSpawn {
		t.Errorf("child origin %s, want spawn", o)
	}
	concurrent(t, h, find(t, evs, analysis.KindWrite, "x", "4"), find(t, evs, analysis.KindWrite, "x", "5"))
	if got := racesOn(t, evs, "x"); len(got) != 1 || got[0] != "write/write" {
		t.Errorf("races on x: %v, want one write/write (writes 4 and 5)", got)
	}
}

// Spawn and End, for goroutines the caller starts itself.
func TestSpawnEnd(t *testing.T) {
	s := newService(t, "svc")
	rw := s.rw
	ctx, span := s.start(context.Background(), "parent")
	rw.TrackStateChange(ctx, "x", 0, 1, racewayotel.Write)
	cctx, task := rw.TrackAsyncSpawn(ctx)
	go func() {
		defer task.End()
		rw.TrackStateChange(cctx, "x", 1, 2, racewayotel.Write)
	}()
	if err := rw.TrackAsyncAwait(ctx, task); err != nil {
		t.Fatal(err)
	}
	rw.TrackStateChange(ctx, "x", 2, 3, racewayotel.Write)
	span.End()

	evs := events(t, s)
	h := newHB(evs)
	ordered(t, h, find(t, evs, analysis.KindWrite, "x", "1"), find(t, evs, analysis.KindWrite, "x", "2"))
	ordered(t, h, find(t, evs, analysis.KindWrite, "x", "2"), find(t, evs, analysis.KindWrite, "x", "3"))
	if got := racesOn(t, evs, "x"); len(got) != 0 {
		t.Errorf("races on x: %v, want none", got)
	}
}

// Wait gives up when its context is done, recording nothing.
func TestWaitCancelled(t *testing.T) {
	s := newService(t, "svc")
	ctx, span := s.start(context.Background(), "parent")
	defer span.End()
	release := make(chan struct{})
	task := s.rw.Go(ctx, func(context.Context) { <-release })
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := task.Wait(cctx); err != context.Canceled {
		t.Errorf("Wait: %v, want context.Canceled", err)
	}
	close(release)
	if err := task.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

// Scenario 7: a background job started with the helpers runs concurrently
// with the handler that started it, in the same trace; awaited, it does not.
func TestScenario7Detach(t *testing.T) {
	s := newService(t, "svc")
	rw := s.rw
	ctx, span := s.start(context.Background(), "GET /order")
	rw.TrackStateChange(ctx, "order.status", "", "new", racewayotel.Write)
	written, done := make(chan struct{}), make(chan struct{})
	go func(ctx context.Context) { // the job
		defer close(done)
		<-written
		rw.TrackStateChange(ctx, "order.status", "new", "job", racewayotel.Write)
	}(rw.Detach(ctx))
	rw.TrackStateChange(ctx, "order.status", "new", "handler", racewayotel.Write)
	close(written)
	<-done
	span.End()

	evs := events(t, s)
	h := newHB(evs)
	first := find(t, evs, analysis.KindWrite, "order.status", "new")
	job := find(t, evs, analysis.KindWrite, "order.status", "job")
	handler := find(t, evs, analysis.KindWrite, "order.status", "handler")
	ordered(t, h, first, job)
	concurrent(t, h, job, handler)
	if job.TraceID != handler.TraceID {
		t.Error("the job left the handler's trace")
	}
	if o := starts(evs)[job.Epoch.Thread].Origin; o != analysis.OriginDetach {
		t.Errorf("job origin %s, want detach", o)
	}
	if got := racesOn(t, evs, "order.status"); len(got) != 1 {
		t.Errorf("races: %v, want one (job and handler)", got)
	}
}

// Scenario 7: a context sent through a channel to a worker goroutine, with
// Detach at the hand-off. Two jobs run one after the other on the worker are
// ordered (the goroutine runs its threads in turn).
func TestScenario7Channel(t *testing.T) {
	s := newService(t, "svc")
	rw := s.rw
	jobs := make(chan context.Context)
	done := make(chan struct{})
	workerDone := make(chan struct{})
	go func() { // the worker
		defer close(workerDone)
		i := 0
		for ctx := range jobs {
			i++
			rw.TrackStateChange(ctx, "cache.size", nil, "job"+string(rune('0'+i)), racewayotel.Write)
			done <- struct{}{}
		}
	}()

	ctx, span := s.start(context.Background(), "request 1")
	rw.TrackStateChange(ctx, "cache.size", nil, "before", racewayotel.Write)
	jobs <- rw.Detach(ctx)
	rw.TrackStateChange(ctx, "cache.size", nil, "after", racewayotel.Write) // concurrent with job1
	<-done
	span.End()

	ctx2, span2 := s.start(context.Background(), "request 2")
	jobs <- rw.Detach(ctx2)
	<-done
	span2.End()
	close(jobs)
	<-workerDone

	evs := events(t, s)
	h := newHB(evs)
	job1, job2 := find(t, evs, analysis.KindWrite, "cache.size", "job1"), find(t, evs, analysis.KindWrite, "cache.size", "job2")
	ordered(t, h, find(t, evs, analysis.KindWrite, "cache.size", "before"), job1)
	concurrent(t, h, job1, find(t, evs, analysis.KindWrite, "cache.size", "after"))
	ordered(t, h, job1, job2) // same worker goroutine
	if job1.Epoch.Thread == job2.Epoch.Thread {
		t.Error("two hand-offs share a thread")
	}
	if got := racesOn(t, evs, "cache.size"); len(got) != 1 {
		t.Errorf("races: %v, want one (job1 and after)", got)
	}
}

// Scenario 7: a job awaited through the library before the handler's write
// does not race with it.
func TestScenario7Awaited(t *testing.T) {
	s := newService(t, "svc")
	rw := s.rw
	ctx, span := s.start(context.Background(), "GET /order")
	task := rw.Go(ctx, func(ctx context.Context) {
		rw.TrackStateChange(ctx, "order.status", "", "job", racewayotel.Write)
	})
	_ = task.Wait(ctx)
	rw.TrackStateChange(ctx, "order.status", "job", "handler", racewayotel.Write)
	span.End()
	evs := events(t, s)
	if got := racesOn(t, evs, "order.status"); len(got) != 0 {
		t.Errorf("races: %v, want none", got)
	}
}

// Scenario 7: a plain go statement with context.WithoutCancel. The job is a
// thread of its own (forked on first use) in the same trace; writes the
// handler made before starting it are ordered before the job's (never a
// false race).
func TestScenario7PlainGo(t *testing.T) {
	s := newService(t, "svc")
	rw := s.rw
	ctx, span := s.start(context.Background(), "GET /order")
	rw.TrackStateChange(ctx, "order.status", "", "handler", racewayotel.Write)
	done := make(chan struct{})
	go func(ctx context.Context) {
		defer close(done)
		rw.TrackStateChange(ctx, "order.status", "handler", "job", racewayotel.Write)
		rw.TrackStateChange(ctx, "order.status", "job", "job2", racewayotel.Write)
	}(context.WithoutCancel(ctx))
	<-done
	span.End()

	evs := events(t, s)
	h := newHB(evs)
	handler := find(t, evs, analysis.KindWrite, "order.status", "handler")
	job := find(t, evs, analysis.KindWrite, "order.status", "job")
	job2 := find(t, evs, analysis.KindWrite, "order.status", "job2")
	if job.Epoch.Thread == handler.Epoch.Thread {
		t.Fatal("the job ran on the handler's thread")
	}
	if job.Epoch.Thread != job2.Epoch.Thread {
		t.Error("the fork was not reused for the goroutine's second call")
	}
	if o := starts(evs)[job.Epoch.Thread].Origin; o != analysis.OriginImplicit {
		t.Errorf("job origin %s, want implicit", o)
	}
	if job.TraceID != handler.TraceID {
		t.Error("the job left the handler's trace")
	}
	ordered(t, h, handler, job)
	if got := racesOn(t, evs, "order.status"); len(got) != 0 {
		t.Errorf("races: %v, want none", got)
	}
	if n := s.rw.Stats().ImplicitThreads; n != 1 {
		t.Errorf("ImplicitThreads = %d, want 1", n)
	}
}

// Two goroutines using one context at once are two threads: their accesses
// race.
func TestSharedContextTwoGoroutines(t *testing.T) {
	s := newService(t, "svc")
	rw := s.rw
	ctx, span := s.start(context.Background(), "parent")
	rw.TrackStateChange(ctx, "n", nil, "0", racewayotel.Write)
	ready := make(chan struct{})
	done := make(chan struct{}, 2)
	for _, v := range []string{"a", "b"} {
		go func() {
			<-ready
			rw.TrackStateChange(ctx, "n", "0", v, racewayotel.Write)
			done <- struct{}{}
		}()
	}
	close(ready)
	<-done
	<-done
	span.End()
	evs := events(t, s)
	concurrent(t, newHB(evs), find(t, evs, analysis.KindWrite, "n", "a"), find(t, evs, analysis.KindWrite, "n", "b"))
	if got := racesOn(t, evs, "n"); len(got) != 1 {
		t.Errorf("races: %v, want one", got)
	}
}
