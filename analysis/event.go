package analysis

import (
	"errors"
	"fmt"
	"time"
)

// Kind is the kind of a Raceway event.
type Kind uint8

// The event kinds. Only reads and writes are accesses; the others carry
// happens-before edges (through [Event.After] and [Event.Sync]) or context
// for reports.
const (
	KindInvalid  Kind = iota
	KindRead          // a read of Event.Var
	KindWrite         // a write of Event.Var
	KindAcquire       // a lock acquired (exclusive, or a read/write lock's write side)
	KindRelease       // a lock released; Sync is the lock strand's next epoch
	KindRAcquire      // a read/write lock acquired for reading
	KindRRelease      // a read/write lock released by a reader; Sync is the reader strand's next epoch
	KindStart         // the first event of a thread; After holds its creator's epoch, if any
	KindSpawn         // a thread starts another one (whose Start names this epoch)
	KindEnd           // the last event of a spawned thread, named by the joiner's Await
	KindAwait         // a thread joins another one; After holds the joined thread's End
	KindSend          // an RPC request leaves; the handler's Start names this epoch
	KindRespond       // an RPC handler returns; the caller's Response names this epoch
	KindResponse      // an RPC response arrives; After holds the handler's Respond
	KindCall          // a function call (context for reports)
	KindReturn        // a function return (context for reports)
	KindError         // an error (context for reports)
	kindCount
)

var kindNames = [...]string{
	KindInvalid:  "invalid",
	KindRead:     "read",
	KindWrite:    "write",
	KindAcquire:  "lock.acquire",
	KindRelease:  "lock.release",
	KindRAcquire: "rlock.acquire",
	KindRRelease: "rlock.release",
	KindStart:    "thread.start",
	KindSpawn:    "thread.spawn",
	KindEnd:      "thread.end",
	KindAwait:    "thread.await",
	KindSend:     "rpc.send",
	KindRespond:  "rpc.respond",
	KindResponse: "rpc.response",
	KindCall:     "call",
	KindReturn:   "return",
	KindError:    "error",
}

// String returns the kind's name as used on the wire (for example
// "lock.acquire").
func (k Kind) String() string {
	if k < kindCount {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// ParseKind returns the Kind named s, or KindInvalid and false.
func ParseKind(s string) (Kind, bool) {
	for k := KindRead; k < kindCount; k++ {
		if kindNames[k] == s {
			return k, true
		}
	}
	return KindInvalid, false
}

// IsAccess reports whether k is a read or a write.
func (k Kind) IsAccess() bool { return k == KindRead || k == KindWrite }

// Origin says how a logical thread started.
type Origin uint8

// The thread origins.
const (
	OriginUnknown  Origin = iota
	OriginRoot            // a thread with no recorded creator (main, a job with no context)
	OriginRequest         // an RPC handler invocation; After names the caller's Send, if known
	OriginSpawn           // started by the library's spawn helper; After names the Spawn
	OriginDetach          // a context detached for another goroutine with the library's helper
	OriginImplicit        // a goroutine noticed using another thread's context (a plain go statement)
)

var originNames = [...]string{"unknown", "root", "request", "spawn", "detach", "implicit"}

// String returns the origin's name as used on the wire.
func (o Origin) String() string {
	if int(o) < len(originNames) {
		return originNames[o]
	}
	return fmt.Sprintf("Origin(%d)", uint8(o))
}

// ParseOrigin returns the Origin named s, or OriginUnknown and false.
func ParseOrigin(s string) (Origin, bool) {
	for i, n := range originNames {
		if n == s {
			return Origin(i), true
		}
	}
	return OriginUnknown, false
}

// Location is a place in source code.
type Location struct {
	File     string
	Line     int
	Function string
}

// String returns file:line, or "?" when unknown.
func (l Location) String() string {
	if l.File == "" {
		return "?"
	}
	return fmt.Sprintf("%s:%d", l.File, l.Line)
}

// Event is one Raceway record. Drivers decode their input into Events; the
// [Detector] validates them (see [Event.Validate]).
type Event struct {
	Kind  Kind
	Epoch Epoch // this event: the Epoch.Seq-th event of thread Epoch.Thread
	// After lists epochs of other threads that happen before this event
	// (spawn, RPC send, respond, a lock strand, a joined thread's end).
	After []Epoch
	// Sync, for KindRelease and KindRRelease of a process lock, is the
	// epoch this release publishes on the lock's strand. Sync.Seq counts the
	// strand's releases from 1. A shared lock's release has none.
	Sync Epoch

	// Var names the variable accessed (reads and writes). Unless Shared is
	// set, the name is scoped to the process (Service, Process): the same name
	// in two processes is two variables.
	Var string
	// Shared marks Var as state shared across processes (a database row, a
	// cache key); its name identifies the resource fleet-wide.
	Shared bool
	// Old and New are the values before and after a write; for a read, New is
	// the value read. HasValues says whether they were recorded.
	Old, New  string
	HasValues bool

	// Lock names the lock of a lock event: a lock of the process, or, with
	// LockShared, a shared lock named fleet-wide.
	Lock string
	// LockShared marks the lock of a lock event as shared: a lock that
	// serialises several processes (a database row lock, a Redis SET NX
	// lock, an advisory lock, a lease). Its release needs no Sync: no process
	// knows the releases of the others, so a shared lock orders nothing by
	// itself; the accesses made under it name it in SharedLocks or
	// SharedRLocks instead.
	LockShared bool
	// LocksHeld lists the process-scoped locks the thread held at an access.
	LocksHeld []string
	// SharedLocks and SharedRLocks list the shared locks held at an access,
	// by their fleet-wide names: held exclusively, and held in read (shared)
	// mode. Two accesses to a variable never race when one holds a name
	// exclusively and the other holds it in either mode: they cannot overlap.
	// It is a lockset rule, not a happens-before edge: it orders nothing else.
	SharedLocks, SharedRLocks []string

	Service string   // service.name
	Process string   // the process (service instance) identity
	TraceID [16]byte // the trace this event belongs to
	SpanID  [8]byte  // the span that recorded it
	Time    time.Time
	Where   Location

	// ThreadName and Origin describe the thread; they are read from
	// KindStart events.
	ThreadName string
	Origin     Origin
}

// Limits on one event, checked by [Event.Validate].
const (
	MaxAfter     = 8    // epochs in Event.After
	MaxNameLen   = 1024 // bytes in Var, Lock, each lock name held, ThreadName, Service, Process
	MaxValueLen  = 1024 // bytes in Old and New
	MaxLocksHeld = 16   // names in each of LocksHeld, SharedLocks and SharedRLocks
)

// ErrInvalidEvent is wrapped by every error [Event.Validate] returns.
var ErrInvalidEvent = errors.New("analysis: invalid event")

// Validate reports why e cannot be analysed, or nil. Drivers that decode
// untrusted input should count and drop events that fail it.
func (e *Event) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidEvent, fmt.Sprintf(format, args...))
	}
	switch {
	case e.Kind == KindInvalid || e.Kind >= kindCount:
		return bad("unknown kind %d", e.Kind)
	case e.Epoch.Thread == 0 || e.Epoch.Seq == 0:
		return bad("%s without an epoch", e.Kind)
	case len(e.After) > MaxAfter:
		return bad("%d edges, more than %d", len(e.After), MaxAfter)
	case len(e.LocksHeld) > MaxLocksHeld || len(e.SharedLocks) > MaxLocksHeld || len(e.SharedRLocks) > MaxLocksHeld:
		return bad("%d locks held, more than %d", max(len(e.LocksHeld), len(e.SharedLocks), len(e.SharedRLocks)), MaxLocksHeld)
	case len(e.Var) > MaxNameLen || len(e.Lock) > MaxNameLen || len(e.ThreadName) > MaxNameLen ||
		len(e.Service) > MaxNameLen || len(e.Process) > MaxNameLen:
		return bad("name longer than %d bytes", MaxNameLen)
	case len(e.Old) > MaxValueLen || len(e.New) > MaxValueLen:
		return bad("value longer than %d bytes", MaxValueLen)
	case e.Kind.IsAccess() && e.Var == "":
		return bad("%s without a variable", e.Kind)
	case e.LockShared && !e.Kind.isLock():
		return bad("%s marked as a shared lock event", e.Kind)
	case (e.Kind == KindRelease || e.Kind == KindRRelease) && !e.LockShared && (e.Sync.Thread == 0 || e.Sync.Seq == 0):
		return bad("%s without a strand epoch", e.Kind)
	case !e.Sync.IsZero() && (e.Sync.Thread == 0 || e.Sync.Seq == 0):
		return bad("%s with a zero component in its strand epoch", e.Kind)
	case e.Kind != KindRelease && e.Kind != KindRRelease && !e.Sync.IsZero():
		return bad("%s with a strand epoch", e.Kind)
	case e.LockShared && !e.Sync.IsZero():
		return bad("%s of a shared lock with a strand epoch", e.Kind)
	case e.Sync.Thread != 0 && e.Sync.Thread == e.Epoch.Thread:
		return bad("strand is the releasing thread")
	}
	for _, a := range e.After {
		if a.Thread == 0 || a.Seq == 0 {
			return bad("zero epoch in After")
		}
		if a.Thread == e.Epoch.Thread {
			return bad("edge from its own thread")
		}
	}
	for _, l := range e.LocksHeld {
		if len(l) > MaxNameLen {
			return bad("lock name longer than %d bytes", MaxNameLen)
		}
	}
	for _, list := range [...][]string{e.SharedLocks, e.SharedRLocks} {
		for _, l := range list {
			if len(l) > MaxNameLen {
				return bad("shared lock name longer than %d bytes", MaxNameLen)
			}
			if l == "" {
				// (An empty name would make unrelated accesses exclude
				// each other: a hidden race.)
				return bad("empty shared lock name")
			}
		}
	}
	return nil
}

// isLock reports whether k acquires or releases a lock.
func (k Kind) isLock() bool {
	return k == KindAcquire || k == KindRelease || k == KindRAcquire || k == KindRRelease
}
