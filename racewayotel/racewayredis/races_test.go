package racewayredis_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/raceway-otel/raceway/internal/racewaytest"
	"github.com/raceway-otel/raceway/racewayotel/racewayredis"
)

// What the detector concludes when two services run code on one key of the
// real Redis, concurrently: each fixture with the kinds of the races
// expected on the key (whether a write/write race is also a lost update
// depends on the interleaving; TestGetThenSetRaces forces one).
func TestRacesBetweenServices(t *testing.T) {
	type op func(ctx context.Context, s *racewaytest.Service, r *redis.Client, k string) error
	getThenSet := func(ctx context.Context, _ *racewaytest.Service, r *redis.Client, k string) error {
		n, err := r.Get(ctx, k).Int()
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		return r.Set(ctx, k, n+1, 0).Err()
	}
	locked := func(ctx context.Context, s *racewaytest.Service, r *redis.Client, k string) error {
		m := racewayredis.NewMutex(r, k+":lock")
		return s.RW.WithSharedLock(ctx, m, m.Name(), func(ctx context.Context) error {
			return getThenSet(ctx, s, r, k)
		})
	}
	incr := func(ctx context.Context, _ *racewaytest.Service, r *redis.Client, k string) error {
		return r.Incr(ctx, k).Err()
	}
	set := func(ctx context.Context, _ *racewaytest.Service, r *redis.Client, k string) error {
		return r.Set(ctx, k, 7, 0).Err()
	}
	block := func(ctx context.Context, _ *racewaytest.Service, r *redis.Client, k string) error {
		_, err := r.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Get(ctx, k)
			p.Set(ctx, k, 7, 0)
			return nil
		})
		if errors.Is(err, redis.Nil) { // the GET of a missing key
			err = nil
		}
		return err
	}
	checkAndSet := func(ctx context.Context, _ *racewaytest.Service, r *redis.Client, k string) error {
		for range 100 { // until the transaction commits
			if err := watchIncrement(ctx, r, k); !errors.Is(err, redis.TxFailedErr) {
				return err
			}
		}
		return errors.New("100 aborted transactions in a row")
	}
	hincr := func(ctx context.Context, _ *racewaytest.Service, r *redis.Client, k string) error {
		return r.HIncrBy(ctx, k, "qty", 1).Err()
	}
	hgetThenSet := func(ctx context.Context, _ *racewaytest.Service, r *redis.Client, k string) error {
		n, err := r.HGet(ctx, k, "qty").Int()
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		return r.HSet(ctx, k, "qty", n+1).Err()
	}
	hsetOther := func(ctx context.Context, _ *racewaytest.Service, r *redis.Client, k string) error {
		return r.HSet(ctx, k, "sku", "p1").Err()
	}
	del := func(ctx context.Context, _ *racewaytest.Service, r *redis.Client, k string) error {
		return r.Del(ctx, k).Err()
	}
	cases := []struct {
		name  string
		a, b  op
		field string // the variable is this field of the key's hash ("": the key)
		want  []string
	}{
		{"GET then SET in both: races", getThenSet, getThenSet, "", []string{"read/write", "read/write", "write/write"}},
		{"INCR in both: atomic, no race", incr, incr, "", nil},
		{"GET then SET under the Redis lock in both: no race", locked, locked, "", nil},
		{"one skips the lock: races", locked, getThenSet, "", []string{"read/write", "read/write", "write/write"}},
		{"INCR and a plain SET: the SET races", incr, set, "", []string{"read/write", "write/write"}},
		{"MULTI/EXEC blocks in both: atomic, no race", block, block, "", nil},
		{"a MULTI/EXEC block and a plain SET: races", block, set, "", []string{"read/write", "write/write"}},
		{"WATCH check-and-set in both: no race", checkAndSet, checkAndSet, "", nil},
		{"HINCRBY of a field in both: no race", hincr, hincr, "qty", nil},
		{"HGET then HSET of a field in both: races", hgetThenSet, hgetThenSet, "qty", []string{"read/write", "read/write", "write/write"}},
		{"HSETs of two fields: no race on either", hgetThenSet, hsetOther, "qty", nil},
		{"a DEL of the hash and an HSET of a field: race on the key", del, hsetOther, "", []string{"read/write"}},
	}
	prefix, addr := realRedis(t)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k := prefix + string(rune('a'+i))
			a, b := racewaytest.NewService(t, "orders"), racewaytest.NewService(t, "inventory")
			ra, rb := instrumented(t, addr, a), instrumented(t, addr, b)
			// Both start together: whatever the interleaving, neither
			// service's accesses happen before the other's.
			var start, done sync.WaitGroup
			start.Add(1)
			for _, side := range []struct {
				s  *racewaytest.Service
				r  *redis.Client
				op op
			}{{a, ra, tc.a}, {b, rb, tc.b}} {
				done.Add(1)
				go func() {
					defer done.Done()
					start.Wait()
					ctx, span := side.s.Start(context.Background(), "request")
					defer span.End()
					if err := side.op(ctx, side.s, side.r, k); err != nil {
						t.Error(err)
					}
				}()
			}
			start.Done()
			done.Wait()
			var got []string
			v := racewayredis.Key(0, k)
			if tc.field != "" {
				v = racewayredis.Field(0, k, tc.field)
			}
			for _, r := range racewaytest.RacesOn(t, v, a, b) {
				got = append(got, strings.TrimSuffix(r, " lost update"))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("races %q, want %q", got, tc.want)
			}
		})
	}
}
