package racewayredis_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/raceway-otel/raceway/internal/racewaytest"
	"github.com/raceway-otel/raceway/racewayotel/racewayredis"
)

// miniClient returns a client of an in-process miniredis, captured through
// s's Tracker.
func miniClient(t *testing.T, s *racewaytest.Service) *redis.Client {
	t.Helper()
	mr := miniredis.RunT(t)
	return instrumented(t, mr.Addr(), s)
}

// instrumented returns a client of the Redis at addr, database 0, whose
// commands s's Tracker records.
func instrumented(t *testing.T, addr string, s *racewaytest.Service) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = rdb.Close() })
	if err := racewayredis.Instrument(rdb, s.RW); err != nil {
		t.Fatal(err)
	}
	return rdb
}

// What each command records: the expectation next to the commands.
func TestCommands(t *testing.T) {
	cases := []struct {
		name string
		run  func(ctx context.Context, r *redis.Client)
		want []string
	}{
		{"GET of a missing key, SET, GET", func(ctx context.Context, r *redis.Client) {
			r.Get(ctx, "k")
			r.Set(ctx, "k", 10, 0)
			r.Get(ctx, "k")
		}, []string{"read redis/0/k =-", "write redis/0/k -→10", "read redis/0/k =10"}},

		{"GET then SET: the write's old value is the value read", func(ctx context.Context, r *redis.Client) {
			r.Set(ctx, "k", "10", 0)
			r.Get(ctx, "k")
			r.Set(ctx, "k", 11, 0)
		}, []string{"write redis/0/k -→10", "read redis/0/k =10", "write redis/0/k 10→11"}},

		{"INCR, INCRBY, DECR: atomic read-modify-writes holding the key's lock", func(ctx context.Context, r *redis.Client) {
			r.Incr(ctx, "n")
			r.IncrBy(ctx, "n", 5)
			r.Decr(ctx, "n")
		}, []string{
			"read redis/0/n =0 locks=[redis/0/n]", "write redis/0/n 0→1 locks=[redis/0/n]",
			"read redis/0/n =1 locks=[redis/0/n]", "write redis/0/n 1→6 locks=[redis/0/n]",
			"read redis/0/n =6 locks=[redis/0/n]", "write redis/0/n 6→5 locks=[redis/0/n]",
		}},

		{"MSET, MGET, DEL", func(ctx context.Context, r *redis.Client) {
			r.MSet(ctx, "a", 1, "b", "x")
			r.MGet(ctx, "a", "b", "c")
			r.Del(ctx, "a", "c")
		}, []string{"write redis/0/a -→1", "write redis/0/b -→x",
			"read redis/0/a =1", "read redis/0/b =x", "read redis/0/c =-",
			"write redis/0/a 1→-", "write redis/0/c -→-"}},

		{"SET NX: read, and written only when it applied, atomically", func(ctx context.Context, r *redis.Client) {
			r.SetNX(ctx, "k", "first", 0)
			r.SetNX(ctx, "k", "second", 0)
		}, []string{"read redis/0/k =- locks=[redis/0/k]", "write redis/0/k -→first locks=[redis/0/k]",
			"read redis/0/k =- locks=[redis/0/k]"}},

		{"SET … GET, GETSET, GETDEL: the reply is the old value", func(ctx context.Context, r *redis.Client) {
			r.Set(ctx, "k", "1", 0)
			r.SetArgs(ctx, "k", "2", redis.SetArgs{Get: true})
			r.Do(ctx, "getset", "k", "3") // GetSet is deprecated; Do replies with a generic Cmd
			r.GetDel(ctx, "k")
		}, []string{"write redis/0/k -→1",
			"read redis/0/k =1 locks=[redis/0/k]", "write redis/0/k 1→2 locks=[redis/0/k]",
			"read redis/0/k =2 locks=[redis/0/k]", "write redis/0/k 2→3 locks=[redis/0/k]",
			"read redis/0/k =3 locks=[redis/0/k]", "write redis/0/k 3→- locks=[redis/0/k]"}},

		{"hashes: field-level, each access also reads the key", func(ctx context.Context, r *redis.Client) {
			r.HSet(ctx, "cart:9", "qty", 2, "sku", "p1")
			r.HGet(ctx, "cart:9", "qty")
			r.HIncrBy(ctx, "cart:9", "qty", 3)
			r.HGetAll(ctx, "cart:9")
			r.HDel(ctx, "cart:9", "sku")
		}, []string{
			"read redis/0/cart:9 =-", "write redis/0/cart:9#qty -→2", "write redis/0/cart:9#sku -→p1",
			"read redis/0/cart:9 =-", "read redis/0/cart:9#qty =2",
			"read redis/0/cart:9 =- locks=[redis/0/cart:9]", "read redis/0/cart:9#qty =2 locks=[redis/0/cart:9]", "write redis/0/cart:9#qty 2→5 locks=[redis/0/cart:9]",
			"read redis/0/cart:9 =-", "read redis/0/cart:9#qty =5", "read redis/0/cart:9#sku =p1",
			"read redis/0/cart:9 =-", "write redis/0/cart:9#sku p1→-",
		}},

		{"lists and sets: a change is an atomic read-modify-write of the key", func(ctx context.Context, r *redis.Client) {
			r.RPush(ctx, "q", "a")
			r.LLen(ctx, "q")
			r.SAdd(ctx, "s", "x")
		}, []string{"read redis/0/q =- locks=[redis/0/q]", "write redis/0/q -→- locks=[redis/0/q]",
			"read redis/0/q =-",
			"read redis/0/s =- locks=[redis/0/s]", "write redis/0/s -→- locks=[redis/0/s]"}},

		{"keys with % and # are escaped", func(ctx context.Context, r *redis.Client) {
			r.Set(ctx, "50%#off", "y", 0)
		}, []string{"write redis/0/50%25%23off -→y"}},

		{"a pipeline is its commands, one by one", func(ctx context.Context, r *redis.Client) {
			r.Pipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, "k", 1, 0)
				p.Get(ctx, "k")
				return nil
			})
		}, []string{"write redis/0/k -→1", "read redis/0/k =1"}},

		{"a MULTI/EXEC block holds its keys' locks", func(ctx context.Context, r *redis.Client) {
			r.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, "k", 1, 0)
				p.Get(ctx, "j")
				return nil
			})
		}, []string{"write redis/0/k -→1 locks=[redis/0/k]", "read redis/0/j =- locks=[redis/0/j]"}},

		{"a committed WATCH transaction: the watched key's reads and the block hold its lock", func(ctx context.Context, r *redis.Client) {
			r.Set(ctx, "k", 1, 0)
			_ = r.Watch(ctx, func(tx *redis.Tx) error {
				n, _ := tx.Get(ctx, "k").Int()
				tx.Get(ctx, "other")
				_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
					p.Set(ctx, "k", n+1, 0)
					return nil
				})
				return err
			}, "k")
			r.Get(ctx, "k")
		}, []string{"write redis/0/k -→1", "read redis/0/k =1 locks=[redis/0/k]", "read redis/0/other =-",
			"write redis/0/k 1→2 locks=[redis/0/k]", "read redis/0/k =2"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := racewaytest.NewService(t, "shop")
			r := miniClient(t, s)
			ctx, span := s.Start(context.Background(), "request")
			tc.run(ctx, r)
			span.End()
			if got := s.Accesses(); !slices.Equal(got, tc.want) {
				t.Errorf("records:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
		})
	}
}

// What the capture cannot classify is skipped and counted, never guessed;
// commands that touch no shared state are neither recorded nor counted.
func TestSkipped(t *testing.T) {
	cases := []struct {
		name    string
		run     func(ctx context.Context, r *redis.Client)
		skipped uint64
	}{
		{"connection commands are not state", func(ctx context.Context, r *redis.Client) {
			r.Ping(ctx)
			r.Echo(ctx, "x")
			r.Publish(ctx, "ch", "msg")
		}, 0},
		{"a script: what it touches is unknown", func(ctx context.Context, r *redis.Client) {
			r.Eval(ctx, "return redis.call('GET', KEYS[1])", []string{"k"})
		}, 1},
		{"expiry is not modelled", func(ctx context.Context, r *redis.Client) {
			r.Expire(ctx, "k", time.Minute)
			r.TTL(ctx, "k")
		}, 2},
		{"a command the table lacks", func(ctx context.Context, r *redis.Client) {
			r.Rename(ctx, "a", "b")
		}, 1},
		{"a failed command: did it run?", func(ctx context.Context, r *redis.Client) {
			r.RPush(ctx, "list", "x")
			r.Get(ctx, "list") // WRONGTYPE
		}, 1},
		{"an unknown SET option", func(ctx context.Context, r *redis.Client) {
			r.Do(ctx, "set", "k", "v", "frobnicate")
		}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := racewaytest.NewService(t, "shop")
			r := miniClient(t, s)
			ctx, span := s.Start(context.Background(), "request")
			before := len(s.Accesses())
			tc.run(ctx, r)
			span.End()
			if n := s.RW.Stats().CaptureSkipped; n != tc.skipped {
				t.Errorf("Stats.CaptureSkipped = %d, want %d", n, tc.skipped)
			}
			if got := s.Accesses()[before:]; tc.name != "a failed command: did it run?" && len(got) > 0 {
				t.Errorf("skipped commands recorded %v", got)
			}
		})
	}
}

// After a SELECT of another database, keys can no longer be named: every
// command is skipped and counted.
func TestSelectOtherDatabase(t *testing.T) {
	s := racewaytest.NewService(t, "shop")
	r := miniClient(t, s)
	ctx, span := s.Start(context.Background(), "request")
	conn := r.Conn()
	defer conn.Close()
	conn.Get(ctx, "k")
	conn.Select(ctx, 1)
	conn.Get(ctx, "k")
	r.Get(ctx, "k")
	span.End()
	if got := s.Accesses(); !slices.Equal(got, []string{"read redis/0/k =-"}) {
		t.Errorf("records %v, want the first GET only", got)
	}
	if n := s.RW.Stats().CaptureSkipped; n != 3 {
		t.Errorf("Stats.CaptureSkipped = %d, want 3 (the SELECT and both later GETs)", n)
	}
}

// WithoutCapture's commands are neither recorded nor counted.
func TestWithoutCapture(t *testing.T) {
	s := racewaytest.NewService(t, "shop")
	r := miniClient(t, s)
	ctx, span := s.Start(context.Background(), "request")
	r.Set(racewayredis.WithoutCapture(ctx), "k", 1, 0)
	r.Eval(racewayredis.WithoutCapture(ctx), "return 1", nil)
	span.End()
	if got, n := s.Accesses(), s.RW.Stats().CaptureSkipped; len(got) > 0 || n > 0 {
		t.Errorf("records %v, %d skipped; want none", got, n)
	}
}
