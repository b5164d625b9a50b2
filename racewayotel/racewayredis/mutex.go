package racewayredis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/raceway-otel/raceway/racewayotel"
)

// Defaults of the Mutex options.
const (
	DefaultLockTTL   = 10 * time.Second
	DefaultLockWait  = 10 * time.Second
	DefaultLockRetry = 10 * time.Millisecond
	// DefaultTokenTTL is how long a release token is kept for the next
	// holder: the collector processor's default race window, beyond which
	// two accesses are never compared.
	DefaultTokenTTL = 10 * time.Minute
)

// Errors of Mutex.
var (
	// ErrNotObtained: Lock waited its limit (WithLockWait) for the lock.
	ErrNotObtained = errors.New("racewayredis: lock not obtained")
	// ErrLockLost: Unlock found the lock no longer held by this Mutex (it
	// expired, see WithLockTTL, and another holder may have taken it).
	ErrLockLost = errors.New("racewayredis: lock lost before Unlock")
	// ErrNotLocked: Unlock of a Mutex that is not locked.
	ErrNotLocked = errors.New("racewayredis: Unlock of an unlocked Mutex")
)

// WithLockTTL sets how long a Mutex's lock lives in Redis if its holder
// never unlocks it (SET … PX). A holder that works longer loses the lock:
// another holder may then take it while the first still works, a race that
// the capture reports as none (both hold the shared lock). Default
// DefaultLockTTL.
func WithLockTTL(d time.Duration) Option {
	return optionFunc(func(c *config) { c.lock.ttl = d })
}

// WithLockWait bounds how long Lock waits for the lock before it returns
// ErrNotObtained (a context deadline also ends the wait). Default
// DefaultLockWait.
func WithLockWait(d time.Duration) Option {
	return optionFunc(func(c *config) { c.lock.wait = d })
}

// WithLockRetry sets the pause between Lock's attempts, jittered by ±50 %.
// Default DefaultLockRetry.
func WithLockRetry(d time.Duration) Option {
	return optionFunc(func(c *config) { c.lock.retry = d })
}

// WithTokenTTL sets how long the release token stays for the next holder
// (DefaultTokenTTL).
func WithTokenTTL(d time.Duration) Option {
	return optionFunc(func(c *config) { c.lock.tokenTTL = d })
}

// lockConfig holds a Mutex's options.
type lockConfig struct {
	ttl, wait, retry, tokenTTL time.Duration
}

// Mutex is a Redis lock, declared as a shared lock: it acquires with
// SET key owner NX PX ttl and releases with a compare-and-delete, and
// implements racewayotel.TokenLocker, so that Tracker.WithSharedLock records
// the hold:
//
//	m := racewayredis.NewMutex(rdb, "lock:cart:9")
//	err := rw.WithSharedLock(ctx, m, m.Name(), func(ctx context.Context) error {
//		… read-modify-write the cart …
//	})
//
// The accesses made while holding it hold the shared lock m.Name()
// ("redis/<db>/<key>", see [Key]), so two holders' accesses are never
// reported as a race, while an access made without the lock still races.
// The release also stores its token (the releasing thread's epoch) in a
// companion key, in the same atomic step as the compare-and-delete; the
// next Lock reads it in the same atomic step as its SET NX, so the next
// holder's acquire happens after the previous holder's release: an exact
// edge across processes. The companion key is "{<key>}:raceway", or
// "<key>:raceway" when the key has a hash tag, so that both are in one
// cluster slot; it expires after WithTokenTTL.
//
// The lock's own commands are not recorded as accesses (WithoutCapture).
// A Mutex can be shared by goroutines of a process: they take it in turn.
type Mutex struct {
	rdb      redis.Scripter
	key      string
	tokenKey string
	name     string
	cfg      lockConfig
	sem      chan struct{} // held from Lock to Unlock, within the process

	owner string // the value of this hold; guarded by sem
	token string // the release token Lock read; guarded by sem
}

var _ racewayotel.TokenLocker = (*Mutex)(nil)

// NewMutex returns a Mutex on key through rdb. Its name is Key(db, key),
// db being rdb's database (a cluster's is 0; for another kind of client
// it is WithDB's, 0 by default). Of the options, WithDB, WithLockTTL,
// WithLockWait, WithLockRetry and WithTokenTTL apply.
func NewMutex(rdb redis.UniversalClient, key string, opts ...Option) *Mutex {
	c := newConfig(opts)
	c.clientDB(rdb)
	cfg := c.lock
	cfg.ttl = orDefault(cfg.ttl, DefaultLockTTL)
	cfg.wait = orDefault(cfg.wait, DefaultLockWait)
	cfg.retry = orDefault(cfg.retry, DefaultLockRetry)
	cfg.tokenTTL = orDefault(cfg.tokenTTL, DefaultTokenTTL)
	return &Mutex{rdb: rdb, key: key, tokenKey: tokenKey(key), name: Key(c.db, key), cfg: cfg, sem: make(chan struct{}, 1)}
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// tokenKey returns the companion key of a lock key, in its cluster slot.
func tokenKey(key string) string {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			return key + ":raceway"
		}
	}
	return "{" + key + "}:raceway"
}

// Name returns the lock's shared-lock name, "redis/<db>/<key>".
func (m *Mutex) Name() string { return m.name }

// acquire sets the lock key to the owner value if it is free and returns
// the release token stored with it.
var acquire = redis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
	return {1, redis.call('GET', KEYS[2]) or ''}
end
return {0, ''}`)

// release deletes the lock key if it still holds the owner value, storing
// the release token (if any) in the companion key first.
var release = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
	return 0
end
if ARGV[2] ~= '' then
	redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
end
return redis.call('DEL', KEYS[1])`)

// Lock acquires the lock, retrying until it is free, WithLockWait has
// passed (ErrNotObtained) or ctx is done (its error).
func (m *Mutex) Lock(ctx context.Context) error {
	ctx = WithoutCapture(ctx)
	deadline := time.Now().Add(m.cfg.wait)
	select {
	case m.sem <- struct{}{}:
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-time.After(m.cfg.wait):
		return ErrNotObtained
	}
	owner := newOwner()
	ttl := strconv.FormatInt(m.cfg.ttl.Milliseconds(), 10)
	for {
		res, err := acquire.Run(ctx, m.rdb, []string{m.key, m.tokenKey}, owner, ttl).Slice()
		if err != nil {
			<-m.sem
			return fmt.Errorf("racewayredis: lock %s: %w", m.key, err)
		}
		if len(res) == 2 && res[0] == int64(1) {
			m.owner, m.token = owner, ""
			if s, ok := res[1].(string); ok {
				m.token = s
			}
			return nil
		}
		pause := m.cfg.retry/2 + mrand.N(m.cfg.retry+1)
		if time.Now().Add(pause).After(deadline) {
			<-m.sem
			return ErrNotObtained
		}
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			<-m.sem
			return context.Cause(ctx)
		}
	}
}

// LockToken returns the release token the last Lock read with the lock:
// the epoch of the previous holder's release, "" if none was stored.
func (m *Mutex) LockToken() string { return m.token }

// Unlock releases the lock, storing no token.
func (m *Mutex) Unlock(ctx context.Context) error { return m.UnlockToken(ctx, "") }

// UnlockToken releases the lock if this Mutex still holds it, storing token
// with it for the next holder, in one atomic step. It returns ErrLockLost if
// the lock had expired; the token is then not stored.
func (m *Mutex) UnlockToken(ctx context.Context, token string) error {
	if m.owner == "" {
		return ErrNotLocked
	}
	owner := m.owner
	m.owner, m.token = "", ""
	defer func() { <-m.sem }()
	ttl := strconv.FormatInt(m.cfg.tokenTTL.Milliseconds(), 10)
	n, err := release.Run(WithoutCapture(ctx), m.rdb, []string{m.key, m.tokenKey}, owner, token, ttl).Int()
	if err != nil {
		return fmt.Errorf("racewayredis: unlock %s: %w", m.key, err)
	}
	if n == 0 {
		return ErrLockLost
	}
	return nil
}

// newOwner returns a random owner value, unique to one hold.
func newOwner() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
