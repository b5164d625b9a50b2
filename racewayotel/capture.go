package racewayotel

import (
	"context"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/petermattis/goid"
	"go.opentelemetry.io/otel/attribute"

	"github.com/raceway-otel/raceway/analysis"
	"github.com/raceway-otel/raceway/racewayotel/convention"
)

// SharedAccess is one access to state shared across processes, as a
// data-store capture (package racewaysql, a Redis hook) records it for an
// application that does not track the access by hand. See
// [Tracker.TrackSharedAccess].
type SharedAccess struct {
	// Resource names the state fleet-wide, as in
	// [Tracker.TrackSharedStateChange]: "postgres/shop/products/42.stock".
	Resource string
	// Access is Read or Write.
	Access Access
	// Old and New are the values, as in [Tracker.TrackStateChange]: before
	// and after a write; for a read, New is the value read. nil records none.
	Old, New any
	// Locks and RLocks name shared locks held for this access, exclusively
	// and in read mode, beyond those the thread holds through
	// [Tracker.TrackSharedLockAcquire]: a transaction's row locks, the row
	// lock a single UPDATE holds while it reads and writes.
	Locks, RLocks []string
	// CallerSkip lists the packages between the application and the capture
	// (the client library, database/sql, an ORM): the record's code location
	// is the first caller outside them and outside racewayotel's packages. A
	// package path also stands for its subpackages.
	CallerSkip []string
	// OldSeen, on a write whose Old is nil, records as Old the value the
	// thread last read or wrote of Resource through TrackSharedAccess, if
	// Resource is among the last few (maxSeen) it so accessed and that
	// access had a value (a delete, or a read that found nothing, leaves
	// none): the read half
	// of a read-modify-write that the application splits over two
	// operations (a Redis GET then SET, a SELECT then an UPDATE … SET
	// stock = ?), whose write the capture sees without its old value. Two
	// such writes that raced after reading the same value are then
	// classified as a lost update, with the numbers.
	OldSeen bool
}

// TrackSharedAccess records a, an access to shared state seen by a
// data-store capture, on the thread that ctx stands for, with the shared
// locks that thread holds and a's own. Names are cut to analysis.MaxNameLen
// bytes and values to analysis.MaxValueLen; at most analysis.MaxLocksHeld
// shared locks of each mode are recorded.
func (t *Tracker) TrackSharedAccess(ctx context.Context, a SharedAccess) {
	if t == nil {
		return
	}
	loc := callerOutside(a.CallerSkip)
	g := goid.Get()
	t.trackShared(ctx, t.current(ctx, g), g, loc, a)
}

// TrackSharedAccesses records accesses in order, as TrackSharedAccess would
// one after the other, but locates them once, at the first caller outside
// the CallerSkip packages of the first, and finds the calling thread once:
// the reads and writes of the columns a statement touched, for one
// unwinding of the stack rather than one per column.
func (t *Tracker) TrackSharedAccesses(ctx context.Context, accesses []SharedAccess) {
	if t == nil || len(accesses) == 0 {
		return
	}
	loc := callerOutside(accesses[0].CallerSkip)
	g := goid.Get()
	th := t.current(ctx, g)
	for _, a := range accesses {
		t.trackShared(ctx, th, g, loc, a)
	}
}

// trackShared records a on th, which goroutine g owns, located at loc.
func (t *Tracker) trackShared(ctx context.Context, th *thread, g int64, loc *location, a SharedAccess) {
	r := record{
		kind:    analysis.KindWrite,
		loc:     loc,
		varName: cut(a.Resource, analysis.MaxNameLen),
		shared:  true,
		xLocks:  a.Locks,
		rLocks:  a.RLocks,
	}
	if a.Access != Write {
		r.kind = analysis.KindRead
	} else {
		r.old, r.hasOld = valueText(a.Old)
	}
	r.new, r.hasNew = valueText(a.New)
	if th.seen == nil {
		th.seen = new(seenValues)
	}
	if a.OldSeen && r.kind == analysis.KindWrite && !r.hasOld {
		r.old, r.hasOld = th.seen.get(r.varName)
	}
	t.emit(ctx, th, g, &r)
	th.seen.update(&r)
}

// maxSeen bounds the shared resources whose last value a thread remembers
// for SharedAccess.OldSeen.
const maxSeen = 8

// seenValues are the values a thread last read or wrote of the last maxSeen
// shared resources it accessed through TrackSharedAccess, a ring (a thread
// gets one on its first such access). Only the thread's owner uses them.
type seenValues struct {
	names, values [maxSeen]string
	next          int
}

func (s *seenValues) get(name string) (string, bool) {
	if name == "" {
		return "", false
	}
	for i, n := range s.names {
		if n == name {
			return s.values[i], true
		}
	}
	return "", false
}

// update remembers the value r read or wrote, or forgets its variable's
// after an access with no value (a delete, a read of a missing key).
func (s *seenValues) update(r *record) {
	i := slices.Index(s.names[:], r.varName)
	switch {
	case r.hasNew && i >= 0:
		s.values[i] = r.new
	case r.hasNew:
		s.names[s.next], s.values[s.next] = r.varName, r.new
		s.next = (s.next + 1) % maxSeen
	case i >= 0:
		s.names[i], s.values[i] = "", ""
	}
}

// ownPackage is the package path of racewayotel; its subpackages (the
// captures) share the prefix.
const ownPackage = "github.com/raceway-otel/raceway/racewayotel"

// maxCallerDepth bounds the frames searched for the application's caller.
const maxCallerDepth = 48

// callerOutside returns the location of the first caller of its caller's
// caller that is outside racewayotel's packages and the packages skip, or
// nil when every frame searched is inside them. An external test package
// (path ending in _test) counts as outside.
func callerOutside(skip []string) *location {
	// Most callers are a few frames up: unwind 8 frames, then twice as many
	// at each step (a database/sql capture's caller is 12 to 16 frames up,
	// below an application stack of 30 or more that need not be unwound).
	var pcs [maxCallerDepth]uintptr
	for from, to := 0, 8; from < to; from, to = to, min(2*to, maxCallerDepth) {
		n := runtime.Callers(3+from, pcs[from:to])
		for _, pc := range pcs[from : from+n] {
			fs := framesOf(pc)
			for i, pkg := range fs.pkgs {
				if pkg != "" && (!inPackage(pkg, ownPackage) || strings.HasSuffix(pkg, "_test")) && !inAnyPackage(pkg, skip) {
					return fs.locs[i]
				}
			}
		}
		if from+n < to {
			return nil // the stack ended
		}
	}
	return nil
}

// pcFrames are the frames a program counter stands for (more than one
// where calls were inlined), innermost first: their packages and locations.
type pcFrames struct {
	pkgs []string
	locs []*location
}

// frameCache caches pcFrames by program counter, for at most maxLocations
// program counters (beyond, they are resolved on every call), so that a
// capture resolves its call stack's frames once rather than on every
// access.
var (
	frameCache    sync.Map // uintptr → *pcFrames
	frameCacheLen atomic.Int64
)

// framesOf returns the frames of a program counter from runtime.Callers.
func framesOf(pc uintptr) *pcFrames {
	if v, ok := frameCache.Load(pc); ok {
		return v.(*pcFrames)
	}
	fs := &pcFrames{}
	frames := runtime.CallersFrames([]uintptr{pc})
	for {
		f, more := frames.Next()
		fs.pkgs = append(fs.pkgs, funcPackage(f.Function))
		fs.locs = append(fs.locs, &location{
			function: f.Function,
			file:     attribute.String(convention.CodeFilePath, f.File),
			line:     attribute.Int(convention.CodeLineNumber, f.Line),
			fn:       attribute.String(convention.CodeFunctionName, f.Function),
		})
		if !more {
			break
		}
	}
	if frameCacheLen.Load() < maxLocations {
		if _, loaded := frameCache.LoadOrStore(pc, fs); !loaded {
			frameCacheLen.Add(1)
		}
	}
	return fs
}

// funcPackage returns the package path of a function name as
// runtime.Frame.Function spells it ("database/sql.(*DB).QueryContext",
// "github.com/x/y.F.func1").
func funcPackage(fn string) string {
	slash := strings.LastIndexByte(fn, '/')
	dot := strings.IndexByte(fn[slash+1:], '.')
	if dot < 0 {
		return ""
	}
	return fn[:slash+1+dot]
}

func inPackage(pkg, path string) bool {
	return pkg == path || (strings.HasPrefix(pkg, path) && pkg[len(path)] == '/')
}

func inAnyPackage(pkg string, paths []string) bool {
	for _, p := range paths {
		if inPackage(pkg, p) {
			return true
		}
	}
	return false
}

// CountSkipped counts an operation that a data-store capture saw but could
// not classify (a statement it cannot parse, a command it does not know),
// and so did not record: the capture never guesses an identity that could
// invent a race. system names the data store ("postgresql", "redis") and
// reason the capture's short, fixed reason ("unparsed", "multiple tables").
// The count is in Stats.CaptureSkipped and in the metric
// raceway.capture.skipped, by raceway.capture.system and raceway.reason; at
// most maxSkipKinds (system, reason) pairs are told apart, later ones count
// as ("other", "other").
func (t *Tracker) CountSkipped(system, reason string) {
	if t == nil {
		return
	}
	t.skipped.add(system, reason)
}

// maxSkipKinds bounds the (system, reason) pairs of skipped operations told
// apart in the metric.
const maxSkipKinds = 64

// skipTable counts skipped operations by system and reason.
type skipTable struct {
	mu     sync.Mutex
	total  uint64
	counts map[[2]string]uint64
}

func (s *skipTable) add(system, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total++
	k := [2]string{system, reason}
	if _, ok := s.counts[k]; !ok && len(s.counts) >= maxSkipKinds {
		k = [2]string{"other", "other"}
	}
	if s.counts == nil {
		s.counts = make(map[[2]string]uint64)
	}
	s.counts[k]++
}

func (s *skipTable) load() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// each calls f with every (system, reason) pair and its count.
func (s *skipTable) each(f func(system, reason string, n uint64)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, n := range s.counts {
		f(k[0], k[1], n)
	}
}
