package racewayotel_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/raceway-otel/raceway/analysis"
	"github.com/raceway-otel/raceway/racewayotel"
	"github.com/raceway-otel/raceway/racewayotel/convention"
)

// recorded is one span event as the test reads it back.
type recorded struct {
	name  string
	attrs map[string]attribute.Value
}

func (r recorded) str(key string) string { return r.attrs[key].AsString() }

func (r recorded) strs(key string) []string { return r.attrs[key].AsStringSlice() }

// recordedEvents returns the Raceway records of spans in recording order,
// thread.start records left out.
func recordedEvents(spans []sdktrace.ReadOnlySpan) []recorded {
	var out []recorded
	for _, s := range spans {
		for _, ev := range s.Events() {
			if !convention.IsRecord(ev.Name) || ev.Name == "raceway.thread.start" {
				continue
			}
			r := recorded{name: ev.Name, attrs: map[string]attribute.Value{}}
			for _, kv := range ev.Attributes {
				r.attrs[string(kv.Key)] = kv.Value
			}
			out = append(out, r)
		}
	}
	return out
}

// A shared lock's acquire and release are lock records of scope shared with
// no strand; the accesses between them, and only those, carry the lock in
// raceway.locks.shared (raceway.rlocks.shared in read mode).
func TestSharedLockRecords(t *testing.T) {
	s := newService(t, "bank")
	rw := s.rw
	ctx, span := s.start(context.Background(), "transfer")
	rw.TrackSharedLockAcquire(ctx, "postgres/bank/accounts/7")
	rw.TrackSharedRLockAcquire(ctx, "pg_advisory/42")
	rw.TrackSharedStateChange(ctx, "postgres/bank/accounts/7.balance", nil, 1000, racewayotel.Read)
	rw.TrackSharedRLockRelease(ctx, "pg_advisory/42")
	rw.TrackStateChange(ctx, "local", 1, 2, racewayotel.Write)
	token := rw.TrackSharedLockRelease(ctx, "postgres/bank/accounts/7")
	rw.TrackSharedStateChange(ctx, "postgres/bank/accounts/7.balance", 1000, 900, racewayotel.Write)
	span.End()

	evs := recordedEvents(s.rec.Ended())
	names := make([]string, len(evs))
	for i, e := range evs {
		names[i] = e.name
	}
	want := []string{"raceway.lock.acquire", "raceway.rlock.acquire", "raceway.read", "raceway.rlock.release",
		"raceway.write", "raceway.lock.release", "raceway.write"}
	if !slices.Equal(names, want) {
		t.Fatalf("records %v, want %v", names, want)
	}
	for _, i := range []int{0, 1, 3, 5} {
		if got := evs[i].str(convention.LockScope); got != convention.ScopeShared {
			t.Errorf("%s: scope %q, want shared", evs[i].name, got)
		}
		if _, ok := evs[i].attrs[convention.Sync]; ok {
			t.Errorf("%s: a shared lock's record has a strand epoch", evs[i].name)
		}
	}
	if got := evs[2].strs(convention.LocksShared); !slices.Equal(got, []string{"postgres/bank/accounts/7"}) {
		t.Errorf("read under both locks: locks.shared %v", got)
	}
	if got := evs[2].strs(convention.RLocksShared); !slices.Equal(got, []string{"pg_advisory/42"}) {
		t.Errorf("read under both locks: rlocks.shared %v", got)
	}
	if got := evs[4].strs(convention.LocksShared); !slices.Equal(got, []string{"postgres/bank/accounts/7"}) {
		t.Errorf("write after the read lock's release: locks.shared %v", got)
	}
	if _, ok := evs[4].attrs[convention.RLocksShared]; ok {
		t.Error("write after the read lock's release still carries it")
	}
	if _, ok := evs[6].attrs[convention.LocksShared]; ok {
		t.Error("write after the release still carries the lock")
	}
	if token != evs[5].str(convention.ThreadID)+"@"+evs[5].attrs[convention.Seq].String() {
		t.Errorf("release token %q is not the release record's epoch", token)
	}
}

// The token a release returns, passed by another process's acquirer, is the
// acquire's happens-before edge; a garbled token is dropped and counted.
func TestSharedLockReleaseToken(t *testing.T) {
	a, b := newService(t, "a"), newService(t, "b")
	ctxA, spanA := a.start(context.Background(), "a")
	a.rw.TrackSharedLockAcquire(ctxA, "redis/0/lock:cart:9")
	token := a.rw.TrackSharedLockRelease(ctxA, "redis/0/lock:cart:9")
	spanA.End()

	ctxB, spanB := b.start(context.Background(), "b")
	b.rw.TrackSharedLockAcquire(ctxB, "redis/0/lock:cart:9", racewayotel.AfterRelease(token))
	b.rw.TrackSharedLockRelease(ctxB, "redis/0/lock:cart:9")
	b.rw.TrackSharedLockAcquire(ctxB, "redis/0/lock:cart:9", racewayotel.AfterRelease("not an epoch"), racewayotel.AfterRelease(""))
	spanB.End()

	evs := recordedEvents(b.rec.Ended())
	if got := evs[0].strs(convention.After); !slices.Equal(got, []string{token}) {
		t.Errorf("acquire after the token: raceway.after %v, want [%s]", got, token)
	}
	if _, ok := evs[2].attrs[convention.After]; ok {
		t.Errorf("acquire with a garbled token has an edge: %v", evs[2].strs(convention.After))
	}
	if n := b.rw.Stats().ClocksGarbled; n != 1 {
		t.Errorf("Stats.ClocksGarbled = %d, want 1", n)
	}
}

// sharedLock is a SharedLocker for tests, logging its calls.
type sharedLock struct {
	log       *[]string
	lockErr   error
	unlockErr error
}

func (l sharedLock) Lock(context.Context) error {
	*l.log = append(*l.log, "lock")
	return l.lockErr
}

func (l sharedLock) Unlock(context.Context) error {
	*l.log = append(*l.log, "unlock")
	return l.unlockErr
}

// WithSharedLock records the acquire after Lock and the release before
// Unlock, does not run fn when Lock fails, and returns fn's error first.
func TestWithSharedLock(t *testing.T) {
	s := newService(t, "bank")
	ctx, span := s.start(context.Background(), "transfer")
	var log []string
	errFn, errUnlock := errors.New("fn"), errors.New("unlock")
	err := s.rw.WithSharedLock(ctx, sharedLock{log: &log, unlockErr: errUnlock}, "pg_advisory/1", func(ctx context.Context) error {
		log = append(log, "fn")
		s.rw.TrackSharedStateChange(ctx, "postgres/bank/accounts/1.balance", nil, 5, racewayotel.Read)
		return errFn
	})
	if !errors.Is(err, errFn) {
		t.Errorf("error %v, want fn's", err)
	}
	err = s.rw.WithSharedLock(ctx, sharedLock{log: &log, unlockErr: errUnlock}, "pg_advisory/1", func(context.Context) error { return nil })
	if !errors.Is(err, errUnlock) {
		t.Errorf("error %v, want Unlock's", err)
	}
	errLock := errors.New("lock")
	err = s.rw.WithSharedLock(ctx, sharedLock{log: &log, lockErr: errLock}, "pg_advisory/1", func(context.Context) error {
		t.Error("fn ran although Lock failed")
		return nil
	})
	if !errors.Is(err, errLock) {
		t.Errorf("error %v, want Lock's", err)
	}
	span.End()
	if want := []string{"lock", "fn", "unlock", "lock", "unlock", "lock"}; !slices.Equal(log, want) {
		t.Errorf("calls %v, want %v", log, want)
	}
	var names []string
	for _, e := range recordedEvents(s.rec.Ended()) {
		names = append(names, e.name)
		if e.name == "raceway.read" && !slices.Equal(e.strs(convention.LocksShared), []string{"pg_advisory/1"}) {
			t.Errorf("read inside WithSharedLock: locks.shared %v", e.strs(convention.LocksShared))
		}
	}
	want := []string{"raceway.lock.acquire", "raceway.read", "raceway.lock.release", "raceway.lock.acquire", "raceway.lock.release"}
	if !slices.Equal(names, want) {
		t.Errorf("records %v, want %v", names, want)
	}
}

// TrackSharedAccess records the thread's shared locks and its own, once
// each, and the first caller outside the packages it is told to skip.
func TestTrackSharedAccess(t *testing.T) {
	s := newService(t, "shop")
	ctx, span := s.start(context.Background(), "reserve")
	s.rw.TrackSharedLockAcquire(ctx, "pg_advisory/9")
	s.rw.TrackSharedAccess(ctx, racewayotel.SharedAccess{
		Resource: "postgres/shop/products/42.stock", Access: racewayotel.Write, Old: int64(10), New: int64(9),
		Locks: []string{"postgres/shop/products/42", "pg_advisory/9"}, RLocks: []string{"postgres/shop/warehouses/1"},
	})
	s.rw.TrackSharedLockRelease(ctx, "pg_advisory/9")
	s.rw.TrackSharedAccess(ctx, racewayotel.SharedAccess{
		Resource: "postgres/shop/products/42.stock", New: "9",
		CallerSkip: []string{"github.com/raceway-otel/raceway/racewayotel_test"},
	})
	span.End()

	var acc []recorded
	for _, e := range recordedEvents(s.rec.Ended()) {
		if e.name == "raceway.read" || e.name == "raceway.write" {
			acc = append(acc, e)
		}
	}
	if len(acc) != 2 {
		t.Fatalf("%d accesses, want 2", len(acc))
	}
	w, r := acc[0], acc[1]
	if w.name != "raceway.write" || w.str(convention.ValueOld) != "10" || w.str(convention.ValueNew) != "9" ||
		w.str(convention.VarScope) != convention.ScopeShared {
		t.Errorf("write recorded as %s %v", w.name, w.attrs)
	}
	if got := w.strs(convention.LocksShared); !slices.Equal(got, []string{"pg_advisory/9", "postgres/shop/products/42"}) {
		t.Errorf("write: locks.shared %v, want the thread's then the access's, once each", got)
	}
	if got := w.strs(convention.RLocksShared); !slices.Equal(got, []string{"postgres/shop/warehouses/1"}) {
		t.Errorf("write: rlocks.shared %v", got)
	}
	if fn := w.str(convention.CodeFunctionName); !strings.HasSuffix(fn, "racewayotel_test.TestTrackSharedAccess") {
		t.Errorf("write located in %q, want the test", fn)
	}
	if r.name != "raceway.read" || r.str(convention.ValueNew) != "9" {
		t.Errorf("read recorded as %s %v", r.name, r.attrs)
	}
	if _, ok := r.attrs[convention.LocksShared]; ok {
		t.Error("read after the release carries the thread's lock")
	}
	if fn := r.str(convention.CodeFunctionName); !strings.HasPrefix(fn, "testing.") {
		t.Errorf("read located in %q, want the first frame outside the skipped test package (testing)", fn)
	}
}

// CountSkipped counts in Stats and in raceway.capture.skipped by system and
// reason, and keeps the number of pairs told apart bounded.
func TestCountSkipped(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	s := newService(t, "shop", racewayotel.WithMeterProvider(mp))
	s.rw.CountSkipped("postgresql", "unparsed")
	s.rw.CountSkipped("postgresql", "unparsed")
	s.rw.CountSkipped("redis", "unknown command")
	for i := range 100 {
		s.rw.CountSkipped("redis", strings.Repeat("x", i+1))
	}
	if n := s.rw.Stats().CaptureSkipped; n != 103 {
		t.Errorf("Stats.CaptureSkipped = %d, want 103", n)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	var total int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "raceway.capture.skipped" {
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				sys, _ := dp.Attributes.Value("raceway.capture.system")
				reason, _ := dp.Attributes.Value("raceway.reason")
				got[sys.AsString()+"/"+reason.AsString()] = dp.Value
				total += dp.Value
			}
		}
	}
	if got["postgresql/unparsed"] != 2 || got["redis/unknown command"] != 1 {
		t.Errorf("raceway.capture.skipped: %v", got)
	}
	if total != 103 || len(got) > 65 || got["other/other"] == 0 {
		t.Errorf("raceway.capture.skipped: %d pairs, total %d, other %d; want at most 65 pairs and every skip counted",
			len(got), total, got["other/other"])
	}
}

// A write with OldSeen records as its old value what its thread last read
// or wrote of the resource (forgotten after an access with no value, and
// beyond the last few resources); another thread's reads do not count, and
// an explicit Old wins. Two such read-modify-writes from two services race
// as a lost update.
func TestSharedAccessOldSeen(t *testing.T) {
	a, b := newService(t, "a"), newService(t, "b")
	const v = "redis/0/stock"
	rmw := func(s *service, read, write string) {
		ctx, span := s.start(context.Background(), "rmw")
		defer span.End()
		s.rw.TrackSharedAccess(ctx, racewayotel.SharedAccess{Resource: v, Access: racewayotel.Read, New: read})
		s.rw.TrackSharedAccess(ctx, racewayotel.SharedAccess{Resource: v, Access: racewayotel.Write, New: write, OldSeen: true})
	}
	rmw(a, "10", "9")
	rmw(b, "10", "8")

	ctx, span := a.start(context.Background(), "other")
	write := func(name string, old, new any) {
		a.rw.TrackSharedAccess(ctx, racewayotel.SharedAccess{Resource: name, Access: racewayotel.Write, Old: old, New: new, OldSeen: true})
	}
	write("k", nil, nil) // nothing seen: no old value
	write("k", nil, "1") // a delete forgot nothing: still none
	write("k", nil, "2") // old 1
	write("k", "7", "3") // explicit old wins
	write("k", nil, nil) // old 3, then forgotten
	write("k", nil, "4") // none
	a.rw.TrackSharedAccess(ctx, racewayotel.SharedAccess{Resource: "k", Access: racewayotel.Read})
	write("k", nil, "6") // none: the read found nothing
	for i := range 8 {   // eight other resources push k out
		write(fmt.Sprint("o", i), nil, "x")
	}
	write("k", nil, "5") // none
	span.End()

	var olds []string
	for _, e := range recordedEvents(a.rec.Ended()) {
		if e.name == "raceway.write" && e.str(convention.VarName) == "k" {
			old, ok := e.attrs[convention.ValueOld]
			if !ok {
				olds = append(olds, "-")
				continue
			}
			olds = append(olds, old.AsString())
		}
	}
	if want := []string{"-", "-", "1", "7", "3", "-", "-", "-"}; !slices.Equal(olds, want) {
		t.Errorf("old values %v, want %v", olds, want)
	}

	evs := events(t, a, b)
	var lost *analysis.LostUpdate
	for _, r := range races(t, evs) {
		if r.Var == v && r.LostUpdate != nil {
			lost = r.LostUpdate
		}
	}
	if lost == nil || lost.Read != "10" || lost.Expected != "7" {
		t.Errorf("lost update %+v, want both read 10, expected 7", lost)
	}
}

// tokenLock is a TokenLocker for tests: its store is one token, shared by
// the processes that use it.
type tokenLock struct {
	store *string
	read  string
}

func (l *tokenLock) Lock(context.Context) error { l.read = *l.store; return nil }
func (l *tokenLock) Unlock(context.Context) error {
	return errors.New("Unlock called instead of UnlockToken")
}
func (l *tokenLock) LockToken() string { return l.read }
func (l *tokenLock) UnlockToken(_ context.Context, token string) error {
	*l.store = token
	return nil
}

// WithSharedLock on a TokenLocker stores its release's token with the lock,
// and the next holder's acquire, in another process, follows it: what a
// holds before it releases happens before what b does holding the lock.
func TestWithSharedLockToken(t *testing.T) {
	a, b := newService(t, "a"), newService(t, "b")
	var store string
	const name = "redis/0/lock:cart:9"
	hold := func(s *service, value string) {
		ctx, span := s.start(context.Background(), "hold")
		defer span.End()
		err := s.rw.WithSharedLock(ctx, &tokenLock{store: &store}, name, func(ctx context.Context) error {
			s.rw.TrackSharedStateChange(ctx, "redis/0/cart:9", nil, value, racewayotel.Write)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	hold(a, "1")
	token := store
	hold(b, "2")
	if token == "" || store == token {
		t.Fatalf("tokens %q then %q: want one per release", token, store)
	}
	recA := recordedEvents(a.rec.Ended())
	if rel := recA[len(recA)-1]; rel.name != "raceway.lock.release" || token != rel.str(convention.ThreadID)+"@"+rel.attrs[convention.Seq].String() {
		t.Errorf("stored token %q is not the epoch of a's release %v", token, rel.attrs)
	}
	acq := recordedEvents(b.rec.Ended())[0]
	if acq.name != "raceway.lock.acquire" || !slices.Equal(acq.strs(convention.After), []string{token}) {
		t.Errorf("b's first record %s after %v, want an acquire after %s", acq.name, acq.strs(convention.After), token)
	}
}

// rmw read-modify-writes a shared balance, under the shared lock when
// locked: a database row two services update.
func rmw(ctx context.Context, rw *racewayotel.Tracker, locked bool, old, new int) {
	const row, balance = "postgres/bank/accounts/7", "postgres/bank/accounts/7.balance"
	if locked {
		rw.TrackSharedLockAcquire(ctx, row)
	}
	rw.TrackSharedStateChange(ctx, balance, nil, old, racewayotel.Read)
	rw.TrackSharedStateChange(ctx, balance, old, new, racewayotel.Write)
	if locked {
		rw.TrackSharedLockRelease(ctx, row)
	}
}

// Two services read-modify-write one row in two traces with nothing
// ordering them: with the row's shared lock held by both there is no race;
// with one side unlocked, the lost update is found.
func TestSharedLockAcrossProcesses(t *testing.T) {
	for _, bLocked := range []bool{true, false} {
		a, b := newService(t, "orders"), newService(t, "inventory")
		ctxA, spanA := a.start(context.Background(), "POST /orders")
		ctxB, spanB := b.start(context.Background(), "POST /reserve")
		rmw(ctxA, a.rw, true, 100, 99)
		rmw(ctxB, b.rw, bLocked, 100, 98)
		spanA.End()
		spanB.End()
		got := racesOn(t, events(t, a, b), "postgres/bank/accounts/7.balance")
		if bLocked && len(got) != 0 {
			t.Errorf("both hold the row lock: races %v, want none", got)
		}
		if !bLocked && !slices.Contains(got, "write/write") {
			t.Errorf("one side unlocked: races %v, want the write/write of the lost update", got)
		}
	}
}

// The release token carried to the next acquirer orders what the releaser
// did before the release with what the acquirer does after it, even
// outside the lock.
func TestSharedLockTokenOrders(t *testing.T) {
	for _, carried := range []bool{true, false} {
		a, b := newService(t, "a"), newService(t, "b")
		ctxA, spanA := a.start(context.Background(), "a")
		a.rw.TrackSharedStateChange(ctxA, "redis/0/cart:9", nil, "x", racewayotel.Write)
		a.rw.TrackSharedLockAcquire(ctxA, "redis/0/lock:cart:9")
		token := a.rw.TrackSharedLockRelease(ctxA, "redis/0/lock:cart:9")
		spanA.End()
		if !carried {
			token = ""
		}
		ctxB, spanB := b.start(context.Background(), "b")
		b.rw.TrackSharedLockAcquire(ctxB, "redis/0/lock:cart:9", racewayotel.AfterRelease(token))
		b.rw.TrackSharedLockRelease(ctxB, "redis/0/lock:cart:9")
		b.rw.TrackSharedStateChange(ctxB, "redis/0/cart:9", "x", "y", racewayotel.Write)
		spanB.End()
		got := racesOn(t, events(t, a, b), "redis/0/cart:9")
		if carried && len(got) != 0 {
			t.Errorf("token carried: races %v, want none", got)
		}
		if !carried && len(got) != 1 {
			t.Errorf("no token: races %v, want the write/write", got)
		}
	}
}

// TrackSharedAccesses records like TrackSharedAccess one after the other,
// located once at the first caller outside the first access's CallerSkip.
func TestTrackSharedAccesses(t *testing.T) {
	s := newService(t, "shop")
	ctx, span := s.start(context.Background(), "reserve")
	s.rw.TrackSharedAccesses(ctx, []racewayotel.SharedAccess{
		{Resource: "postgres/shop/products/42.stock", New: int64(10), Locks: []string{"postgres/shop/products/42"}},
		{Resource: "postgres/shop/products/42.stock", Access: racewayotel.Write, New: int64(9), OldSeen: true},
	})
	s.rw.TrackSharedAccesses(ctx, nil)
	span.End()
	evs := recordedEvents(s.rec.Ended())
	if len(evs) != 2 || evs[0].name != "raceway.read" || evs[1].name != "raceway.write" {
		t.Fatalf("records %v, want a read then a write", evs)
	}
	if got := evs[0].strs(convention.LocksShared); !slices.Equal(got, []string{"postgres/shop/products/42"}) {
		t.Errorf("read: locks.shared %v", got)
	}
	if _, ok := evs[1].attrs[convention.LocksShared]; ok || evs[1].str(convention.ValueOld) != "10" {
		t.Errorf("write: %v, want old 10 and no lock", evs[1].attrs)
	}
	for _, e := range evs {
		if fn := e.str(convention.CodeFunctionName); !strings.HasSuffix(fn, "racewayotel_test.TestTrackSharedAccesses") {
			t.Errorf("%s located in %q, want the test", e.name, fn)
		}
	}
}
