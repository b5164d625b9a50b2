package racewayredis_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/raceway-otel/raceway/internal/racewaytest"
	"github.com/raceway-otel/raceway/racewayotel/convention"
	"github.com/raceway-otel/raceway/racewayotel/racewayredis"
)

// Two services read-modify-write a key holding the Mutex, through
// WithSharedLock: the accesses hold the shared lock, the lock's own
// commands are not recorded, and each acquire follows the release before
// it, whose token came through Redis.
func TestMutexHolds(t *testing.T) {
	prefix, addr := realRedis(t)
	k, lockKey := prefix+"stock", prefix+"lock:stock"
	a, b := racewaytest.NewService(t, "orders"), racewaytest.NewService(t, "inventory")
	ra, rb := instrumented(t, addr, a), instrumented(t, addr, b)
	reserve := func(s *racewaytest.Service, r *redis.Client) {
		ctx, span := s.Start(context.Background(), "reserve")
		defer span.End()
		m := racewayredis.NewMutex(r, lockKey)
		err := s.RW.WithSharedLock(ctx, m, m.Name(), func(ctx context.Context) error {
			n, err := r.Get(ctx, k).Int()
			if err != nil && !errors.Is(err, redis.Nil) {
				return err
			}
			return r.Set(ctx, k, n+1, 0).Err()
		})
		if err != nil {
			t.Error(err)
		}
	}
	reserve(a, ra)
	reserve(b, rb)
	reserve(a, ra)

	lock := racewayredis.Key(0, lockKey)
	v := racewayredis.Key(0, k)
	edges := map[string][][]string{} // per service, the acquires' edges and the releases' epochs
	for i, s := range []*racewaytest.Service{a, b} {
		var got []string
		for _, r := range s.Records() {
			switch r.Name {
			case "raceway.thread.start":
				continue
			case "raceway.lock.acquire":
				edges[s.Name+" acquire"] = append(edges[s.Name+" acquire"], r.Strs(convention.After))
			case "raceway.lock.release":
				edges[s.Name+" release"] = append(edges[s.Name+" release"], []string{r.Epoch()})
			}
			got = append(got, r.Summary())
		}
		want := []string{"lock.acquire " + lock,
			"read " + v + " =" + [...]string{"-", "1"}[i] + " locks=[" + lock + "]",
			"write " + v + " " + [...]string{"-→1", "1→2"}[i] + " locks=[" + lock + "]",
			"lock.release " + lock}
		if i == 0 {
			want = append(want, "lock.acquire "+lock,
				"read "+v+" =2 locks=["+lock+"]", "write "+v+" 2→3 locks=["+lock+"]",
				"lock.release "+lock)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s records:\n  %s\nwant:\n  %s", s.Name, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
		if n := s.RW.Stats().CaptureSkipped; n != 0 {
			t.Errorf("%s: %d commands skipped, want none (the lock's are not captured)", s.Name, n)
		}
	}
	// orders holds first (after no release), then inventory, then orders.
	aAcq, aRel := edges["orders acquire"], edges["orders release"]
	bAcq, bRel := edges["inventory acquire"], edges["inventory release"]
	if len(aAcq) != 2 || len(aRel) != 2 || len(bAcq) != 1 || len(bRel) != 1 {
		t.Fatalf("lock records %v", edges)
	}
	if len(aAcq[0]) != 0 || !slices.Equal(bAcq[0], aRel[0]) || !slices.Equal(aAcq[1], bRel[0]) {
		t.Errorf("acquires after %v (orders) and %v (inventory); releases %v (orders) and %v (inventory): want each acquire after the release before it",
			aAcq, bAcq, aRel, bRel)
	}
}

// The Mutex excludes: goroutines of two processes incrementing a key with
// GET then SET while holding it lose no update; goroutines of one process
// may share one Mutex.
func TestMutexExcludes(t *testing.T) {
	prefix, addr := realRedis(t)
	k, lockKey := prefix+"n", prefix+"lock"
	const procs, workers, rounds = 2, 3, 5
	var wg sync.WaitGroup
	for range procs {
		r := redis.NewClient(&redis.Options{Addr: addr})
		t.Cleanup(func() { _ = r.Close() })
		m := racewayredis.NewMutex(r, lockKey, racewayredis.WithLockRetry(time.Millisecond))
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx := context.Background()
				for range rounds {
					if err := m.Lock(ctx); err != nil {
						t.Error(err)
						return
					}
					n, _ := r.Get(ctx, k).Int()
					time.Sleep(time.Millisecond)
					r.Set(ctx, k, n+1, 0)
					if err := m.Unlock(ctx); err != nil {
						t.Error(err)
					}
				}
			}()
		}
	}
	wg.Wait()
	r := redis.NewClient(&redis.Options{Addr: addr})
	defer r.Close()
	if n, err := r.Get(context.Background(), k).Int(); err != nil || n != procs*workers*rounds {
		t.Errorf("counter %d (%v), want %d", n, err, procs*workers*rounds)
	}
}

// A lock that expired before Unlock is lost: Unlock says so and stores no
// token; Lock gives up after its wait; Unlock of an unlocked Mutex fails.
func TestMutexErrors(t *testing.T) {
	prefix, addr := realRedis(t)
	r := redis.NewClient(&redis.Options{Addr: addr})
	defer r.Close()
	ctx := context.Background()
	m := racewayredis.NewMutex(r, prefix+"lock", racewayredis.WithLockTTL(20*time.Millisecond))
	if err := m.Unlock(ctx); !errors.Is(err, racewayredis.ErrNotLocked) {
		t.Errorf("Unlock before Lock: %v, want ErrNotLocked", err)
	}
	if err := m.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(60 * time.Millisecond)
	if err := m.UnlockToken(ctx, "0123456789abcdef@3"); !errors.Is(err, racewayredis.ErrLockLost) {
		t.Errorf("Unlock after expiry: %v, want ErrLockLost", err)
	}
	again := racewayredis.NewMutex(r, prefix+"lock")
	if err := again.Lock(ctx); err != nil || again.LockToken() != "" {
		t.Errorf("Lock after a lost lock: %v, token %q; want the lock and no token", err, again.LockToken())
	}
	if err := again.Unlock(ctx); err != nil {
		t.Error(err)
	}
	held := racewayredis.NewMutex(r, prefix+"lock")
	if err := held.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	other := racewayredis.NewMutex(r, prefix+"lock", racewayredis.WithLockWait(50*time.Millisecond))
	start := time.Now()
	if err := other.Lock(ctx); !errors.Is(err, racewayredis.ErrNotObtained) {
		t.Errorf("Lock of a held lock: %v, want ErrNotObtained", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Lock waited %s for a 50ms wait", d)
	}
	if err := held.Unlock(ctx); err != nil {
		t.Error(err)
	}
}

// The companion key of the release token is in the lock key's cluster slot.
func TestMutexTokenKeySlot(t *testing.T) {
	for key, want := range map[string]string{
		"lock:cart:9":       "{lock:cart:9}:raceway",
		"lock:{cart}:9":     "lock:{cart}:9:raceway",
		"lock:{}:9":         "{lock:{}:9}:raceway",
		"redis/0/lock:cart": "{redis/0/lock:cart}:raceway",
	} {
		if got := racewayredis.TokenKey(key); got != want {
			t.Errorf("TokenKey(%q) = %q, want %q", key, got, want)
		}
	}
}
