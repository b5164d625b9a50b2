package racewayredis_test

// Tests against a real Redis on loopback (see internal/servertest): each
// uses keys under its own random prefix and deletes them.

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/raceway-otel/raceway/internal/racewaytest"
	"github.com/raceway-otel/raceway/internal/servertest"
	"github.com/raceway-otel/raceway/racewayotel/racewayredis"
)

// realRedis returns the address of the real Redis and a key prefix of the
// test's own, whose keys are deleted at its end.
func realRedis(t *testing.T) (prefix, addr string) {
	t.Helper()
	addr, prefix = servertest.RedisKeys(t, "raceway-test:")
	return prefix, addr
}

// Two services read a key with GET and write it back with SET,
// concurrently: a race, classified as a lost update with the numbers.
func TestGetThenSetRaces(t *testing.T) {
	prefix, addr := realRedis(t)
	stock := prefix + "stock"
	a, b := racewaytest.NewService(t, "orders"), racewaytest.NewService(t, "inventory")
	ra, rb := instrumented(t, addr, a), instrumented(t, addr, b)
	ctx := context.Background()
	if err := ra.Set(racewayredis.WithoutCapture(ctx), stock, 10, 0).Err(); err != nil {
		t.Fatal(err)
	}
	// Both read before either writes: the interleaving of a lost update.
	var read sync.WaitGroup
	read.Add(2)
	reserve := func(s *racewaytest.Service, r *redis.Client, n int) {
		ctx, span := s.Start(ctx, "reserve")
		defer span.End()
		v, err := r.Get(ctx, stock).Int()
		read.Done()
		read.Wait()
		if err == nil {
			err = r.Set(ctx, stock, v-n, 0).Err()
		}
		if err != nil {
			t.Error(err)
		}
	}
	var done sync.WaitGroup
	done.Add(2)
	go func() { defer done.Done(); reserve(a, ra, 1) }()
	go func() { defer done.Done(); reserve(b, rb, 2) }()
	done.Wait()

	name := racewayredis.Key(0, stock)
	var lost bool
	for _, r := range racewaytest.Races(t, racewaytest.Events(t, a, b)) {
		if r.Var == name && r.LostUpdate != nil {
			lost = true
			if r.LostUpdate.Read != "10" || r.LostUpdate.Expected != "7" {
				t.Errorf("lost update %+v, want both read 10, expected 7", *r.LostUpdate)
			}
			if svcs := []string{r.Previous.Service, r.Current.Service}; !slices.Contains(svcs, "orders") || !slices.Contains(svcs, "inventory") {
				t.Errorf("race between %v, want orders and inventory", svcs)
			}
		}
	}
	if !lost {
		t.Errorf("no lost update on %s: %v", name, racewaytest.RacesOn(t, name, a, b))
	}
}

// Concurrent optimistic transactions (WATCH, GET, MULTI, SET, EXEC) on one
// key: those whose EXEC was aborted record no write, so the writes recorded
// are exactly the increments that took effect.
func TestWatchAbortedWritesNothing(t *testing.T) {
	prefix, addr := realRedis(t)
	k := prefix + "n"
	s := racewaytest.NewService(t, "counter")
	r := instrumented(t, addr, s)
	const workers, tries = 4, 5
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, span := s.Start(context.Background(), "increment")
			defer span.End()
			for range tries {
				if err := watchIncrement(ctx, r, k); err != nil && !errors.Is(err, redis.TxFailedErr) {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	final, err := r.Get(racewayredis.WithoutCapture(context.Background()), k).Int()
	if err != nil {
		t.Fatal(err)
	}
	writes := 0
	for _, a := range s.Accesses() {
		if a[:5] == "write" {
			writes++
		}
	}
	aborted := workers*tries - final
	if writes != final {
		t.Errorf("%d writes recorded, %d increments took effect", writes, final)
	}
	if n := s.RW.Stats().CaptureSkipped; n != uint64(aborted) {
		t.Errorf("Stats.CaptureSkipped = %d, want the %d aborted transactions", n, aborted)
	}
	t.Logf("%d transactions committed, %d aborted", final, aborted)
}

// watchIncrement increments k with an optimistic transaction (WATCH, GET,
// MULTI, SET, EXEC), once: redis.TxFailedErr when k changed meanwhile.
func watchIncrement(ctx context.Context, r *redis.Client, k string) error {
	return r.Watch(ctx, func(tx *redis.Tx) error {
		n, err := tx.Get(ctx, k).Int()
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, k, n+1, 0)
			return nil
		})
		return err
	}, k)
}
