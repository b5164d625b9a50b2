package racewayotel_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

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

// OldSeen records as a write's old value what the same thread last saw of
// the resource (read or written), so that two writes that both replaced the
// value they read are a lost update; a value-less access forgets it, and
// another thread never sees it.
func TestTrackSharedAccessOldSeen(t *testing.T) {
	a := newService(t, "orders")
	const row = "postgres/shop/products/42.stock"
	rmw := func(s *service, wrote int64) {
		ctx, span := s.start(context.Background(), "reserve")
		s.rw.TrackSharedAccess(ctx, racewayotel.SharedAccess{Resource: row, New: int64(10)})
		s.rw.TrackSharedAccess(ctx, racewayotel.SharedAccess{Resource: row, Access: racewayotel.Write, New: wrote, OldSeen: true})
		s.rw.TrackSharedAccess(ctx, racewayotel.SharedAccess{Resource: row, Access: racewayotel.Write, New: wrote - 1, OldSeen: true})
		s.rw.TrackSharedAccess(ctx, racewayotel.SharedAccess{Resource: row, Access: racewayotel.Read})
		s.rw.TrackSharedAccess(ctx, racewayotel.SharedAccess{Resource: row, Access: racewayotel.Write, New: int64(1), OldSeen: true})
		s.rw.TrackSharedAccess(ctx, racewayotel.SharedAccess{Resource: row, Access: racewayotel.Write, Old: "x", New: int64(2), OldSeen: true})
		span.End()
	}
	rmw(a, 9)
	var olds []string
	for _, e := range recordedEvents(a.rec.Ended()) {
		if e.name == "raceway.write" {
			if v, ok := e.attrs[convention.ValueOld]; ok {
				olds = append(olds, v.AsString())
			} else {
				olds = append(olds, "none")
			}
		}
	}
	if want := []string{"10", "9", "none", "x"}; !slices.Equal(olds, want) {
		t.Errorf("old values %v, want %v", olds, want)
	}

	// Two services that read 10 and write back 9 and 8: a lost update.
	b, c := newService(t, "inventory"), newService(t, "billing")
	for i, s := range []*service{b, c} {
		ctx, span := s.start(context.Background(), "reserve")
		s.rw.TrackSharedAccess(ctx, racewayotel.SharedAccess{Resource: row, New: int64(10)})
		s.rw.TrackSharedAccess(ctx, racewayotel.SharedAccess{Resource: row, Access: racewayotel.Write, New: int64(9 - i), OldSeen: true})
		span.End()
	}
	lost := false
	for _, r := range races(t, events(t, b, c)) {
		if lu := r.LostUpdate; lu != nil && lu.Read == "10" && lu.Expected == "7" {
			lost = true
		}
	}
	if !lost {
		t.Error("no lost update from 10 between the two services")
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
