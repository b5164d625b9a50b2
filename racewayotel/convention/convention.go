package convention

// Span events. A Raceway record is a span event named EventPrefix followed by
// the record's kind, as spelled by analysis.Kind.String: "raceway.read",
// "raceway.write", "raceway.lock.acquire", "raceway.lock.release",
// "raceway.rlock.acquire", "raceway.rlock.release", "raceway.thread.start",
// "raceway.thread.spawn", "raceway.thread.end", "raceway.thread.await",
// "raceway.rpc.send", "raceway.rpc.respond", "raceway.rpc.response",
// "raceway.call", "raceway.return", "raceway.error". The event's timestamp is
// the record's wall time.
const (
	EventPrefix = "raceway."
	// RaceEvent names the span the processor emits as a child of a span
	// that took part in a race (earlier versions added a span event of this
	// name to that span); a span event of this name is not a record and
	// processors ignore it.
	RaceEvent = "raceway.race"
)

// Record attributes.
const (
	// ThreadID (string, 16 hex digits) is the logical thread: one HTTP
	// handler invocation, one goroutine. Required.
	ThreadID = "raceway.thread.id"
	// Seq (int) numbers the thread's records from 1: program order. Required.
	Seq = "raceway.seq"
	// After (string[]) lists epochs (thread@seq) of other threads that
	// happen before this record.
	After = "raceway.after"
	// Sync (string) is, on a lock release, the epoch it publishes on the
	// lock's strand.
	Sync = "raceway.sync"
	// Origin (string) says, on thread.start, how the thread started:
	// root, request, spawn, detach or implicit.
	Origin = "raceway.thread.origin"
	// ProcessID (string, at most 1024 bytes) identifies the process
	// (service instance) that recorded the event; process-scoped variables
	// are keyed by it. Readers fall back to the resource's
	// ServiceInstanceID when it is absent or empty, and reject a
	// process-scoped access that has neither.
	ProcessID = "raceway.process.id"
	// VarName (string) is the variable of a read or write.
	VarName = "raceway.var.name"
	// VarScope (string) is ScopeProcess (the default when absent) or
	// ScopeShared.
	VarScope = "raceway.var.scope"
	// ValueOld and ValueNew (string) are the values before and after a write;
	// on a read ValueNew is the value read.
	ValueOld = "raceway.value.old"
	ValueNew = "raceway.value.new"
	// LockID (string) names the lock of a lock record, within its process.
	LockID = "raceway.lock.id"
	// LocksHeld (string[]) lists the process-scoped locks the thread held at
	// an access.
	LocksHeld = "raceway.locks.held"
	// LockScope (string) is, on a lock record, ScopeProcess (the default
	// when absent: LockID names the lock within its process) or ScopeShared
	// (LockID names a lock that serialises several processes, fleet-wide,
	// such as a database row lock; its releases carry no Sync).
	LockScope = "raceway.lock.scope"
	// LocksShared (string[]) lists the shared locks held exclusively at an
	// access (a row locked FOR UPDATE, a Redis SET NX lock); RLocksShared
	// those held in shared (read) mode (FOR SHARE). Two accesses never race
	// when one holds a shared lock exclusively and the other holds it too.
	LocksShared  = "raceway.locks.shared"
	RLocksShared = "raceway.rlocks.shared"
	// ErrorMessage (string) is the message of an error record.
	ErrorMessage = "exception.message"
	// DurationNS (int) is, on a return, how long the function ran.
	DurationNS = "raceway.duration_ns"

	// Attributes reused from the OpenTelemetry semantic conventions.
	CodeFilePath     = "code.file.path"
	CodeLineNumber   = "code.line.number"
	CodeFunctionName = "code.function.name"
	// ThreadName (string) names the logical thread on thread.start, e.g.
	// "GET /transfer".
	ThreadName = "thread.name"
	// GoroutineID (int) is the goroutine that recorded the event: the
	// runtime's "managed thread", hence semconv's thread.id.
	GoroutineID = "thread.id"
	ServiceName = "service.name"
	// ServiceInstanceID is the resource attribute that stands for ProcessID
	// on records that lack it.
	ServiceInstanceID = "service.instance.id"
)

// Scopes of variables (VarScope) and locks (LockScope).
const (
	ScopeProcess = "process"
	ScopeShared  = "shared"
)

// Causality on the wire.
const (
	// BaggageMember is the W3C baggage member that carries the sender's epoch
	// (thread@seq, at most analysis.MaxEpochTextLen bytes) on requests.
	BaggageMember = "raceway.clock"
	// ResponseHeader carries the handler's respond epoch back to the caller.
	ResponseHeader = "Raceway-Clock"
)

// Finding attributes, written by the processor on finding spans, on
// raceway.race span events, and by the exporter on log records and metrics.
// Per-access attributes are prefixed with RaceCurrent or RacePrevious.
const (
	FindingService  = "raceway" // service.name of finding traces
	RaceVar         = "raceway.race.var"
	RaceScope       = "raceway.race.scope"
	RaceKind        = "raceway.race.kind" // "read/write" or "write/write"
	RaceSeverity    = "raceway.race.severity"
	RaceGroup       = "raceway.race.group"
	RaceCount       = "raceway.race.count"
	RaceReason      = "raceway.race.reason"
	RaceReport      = "raceway.race.report" // the Go-race-detector style text
	RaceLate        = "raceway.race.late"
	RaceLostUpdate  = "raceway.race.lost_update" // bool
	RaceLostRead    = "raceway.race.lost_update.read"
	RaceLostFinal   = "raceway.race.lost_update.final"
	RaceLostExpect  = "raceway.race.lost_update.expected"
	RaceCurrent     = "raceway.race.current."
	RacePrevious    = "raceway.race.previous."
	RaceAccess      = "access" // suffixes after RaceCurrent / RacePrevious
	RaceService     = "service.name"
	RaceProcess     = "process.id" // the process (service instance) identity
	RaceTraceID     = "trace_id"
	RaceSpanID      = "span_id"
	RaceEpoch       = "epoch"
	RaceThreadID    = "thread.id"
	RaceThreadName  = "thread.name"
	RaceThreadStart = "thread.origin"
	RaceFile        = "code.file.path"
	RaceLine        = "code.line.number"
	RaceFunction    = "code.function.name"
	RaceValueOld    = "value.old"
	RaceValueNew    = "value.new"
	RaceLocksHeld   = "locks.held"
	// RaceSharedLocks and RaceSharedRLocks list the shared locks the access
	// held exclusively and in read mode; written only when there are some.
	RaceSharedLocks  = "locks.shared"
	RaceSharedRLocks = "rlocks.shared"
)
