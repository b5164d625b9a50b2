package racewayotel_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/raceway-otel/raceway/analysis"
	"github.com/raceway-otel/raceway/racewayotel"
)

// transfer read-modify-writes the balance, under lock mu when it is not nil.
// The balance stands for a row in a database: atomic, yet lost updates are
// possible.
func transfer(ctx context.Context, rw *racewayotel.Tracker, mu *sync.Mutex, balance *atomic.Int64, amount int64) {
	rmw := func() {
		b := balance.Load()
		rw.TrackStateChange(ctx, "accounts.alice.balance", nil, b, racewayotel.Read)
		balance.Store(b - amount)
		rw.TrackStateChange(ctx, "accounts.alice.balance", b, b-amount, racewayotel.Write)
	}
	if mu == nil {
		rmw()
		return
	}
	rw.WithLock(ctx, mu, "accounts.alice", rmw)
}

// Scenarios 1 and 2: two concurrent transfers race without the lock and do
// not with WithLock, whose release→acquire edge orders them.
func TestWithLockOrdering(t *testing.T) {
	for _, locked := range []bool{false, true} {
		s := newService(t, "bank")
		rw := s.rw
		ctx, span := s.start(context.Background(), "transfers")
		var mu *sync.Mutex
		if locked {
			mu = &sync.Mutex{}
		}
		var balance atomic.Int64
		balance.Store(1000)
		var gate sync.WaitGroup
		gate.Add(2)
		tasks := make([]*racewayotel.Task, 2)
		for i, amount := range []int64{100, 50} {
			tasks[i] = rw.Go(ctx, func(ctx context.Context) {
				gate.Done()
				gate.Wait() // both run before either transfers
				transfer(ctx, rw, mu, &balance, amount)
			})
		}
		for _, k := range tasks {
			_ = k.Wait(ctx)
		}
		span.End()

		evs := events(t, s)
		got := racesOn(t, evs, "accounts.alice.balance")
		if locked {
			if len(got) != 0 {
				t.Errorf("with WithLock: races %v, want none", got)
			}
			h := newHB(evs)
			var acq []analysis.Event
			for _, e := range evs {
				if e.Kind == analysis.KindAcquire {
					acq = append(acq, e)
				}
				if e.Kind.IsAccess() && !slices.Equal(e.LocksHeld, []string{"accounts.alice"}) {
					t.Errorf("%s %s: locks held %v", e.Kind, e.Epoch, e.LocksHeld)
				}
			}
			if len(acq) != 2 || !(h.before(acq[0].Epoch, acq[1].Epoch) || h.before(acq[1].Epoch, acq[0].Epoch)) {
				t.Errorf("the two critical sections are not ordered: %v", acq)
			}
		} else if len(got) == 0 {
			t.Error("without a lock: no race, want the lost update")
		}
	}
}

// Read/write locks: writer release → later readers and writers, reader
// releases → later writer; readers are not ordered with each other.
func TestRWLock(t *testing.T) {
	s := newService(t, "svc")
	rw := s.rw
	ctx, span := s.start(context.Background(), "rw")
	var mu sync.RWMutex
	var both sync.WaitGroup
	both.Add(2)
	w1 := rw.Go(ctx, func(ctx context.Context) {
		rw.WithRWLockWrite(ctx, &mu, "table", func() {
			rw.TrackStateChange(ctx, "table.x", 0, 1, racewayotel.Write)
		})
	})
	_ = w1.Wait(context.Background()) // wall order only: no recorded edge to the readers
	readers := make([]*racewayotel.Task, 2)
	for i := range readers {
		readers[i] = rw.Go(context.Background(), func(ctx context.Context) {
			rw.WithRWLockRead(ctx, &mu, "table", func() {
				both.Done()
				both.Wait() // both readers inside at once
				rw.TrackStateChange(ctx, "table.x", nil, 1, racewayotel.Read)
			})
		})
	}
	for _, r := range readers {
		_ = r.Wait(context.Background())
	}
	w2 := rw.Go(context.Background(), func(ctx context.Context) {
		rw.WithRWLockWrite(ctx, &mu, "table", func() {
			rw.TrackStateChange(ctx, "table.x", 1, 2, racewayotel.Write)
		})
	})
	_ = w2.Wait(context.Background())
	span.End()

	evs := events(t, s)
	h := newHB(evs)
	first, last := find(t, evs, analysis.KindWrite, "table.x", "1"), find(t, evs, analysis.KindWrite, "table.x", "2")
	var reads []analysis.Event
	for _, e := range evs {
		if e.Kind == analysis.KindRead {
			reads = append(reads, e)
			ordered(t, h, first, e)
			ordered(t, h, e, last)
		}
	}
	if len(reads) != 2 {
		t.Fatalf("%d reads, want 2", len(reads))
	}
	concurrent(t, h, reads[0], reads[1])
	if got := racesOn(t, evs, "table.x"); len(got) != 0 {
		t.Errorf("races %v, want none", got)
	}
}

// WithLock releases the lock and records the release when fn panics.
func TestWithLockPanic(t *testing.T) {
	s := newService(t, "svc")
	ctx, span := s.start(context.Background(), "panic")
	var mu sync.Mutex
	func() {
		defer func() {
			if recover() == nil {
				t.Error("no panic")
			}
		}()
		s.rw.WithLock(ctx, &mu, "m", func() { panic("boom") })
	}()
	if !mu.TryLock() {
		t.Fatal("lock still held after a panic")
	}
	mu.Unlock()
	span.End()
	rel := find(t, events(t, s), analysis.KindRelease, "m", "")
	if rel.Sync.IsZero() {
		t.Error("release without a strand epoch")
	}
}
