package analysis

import (
	"time"
)

// RaceKind says which accesses conflict.
type RaceKind uint8

// The race kinds, in increasing severity.
const (
	ReadWrite  RaceKind = iota + 1 // a read and a write
	WriteWrite                     // two writes
)

// String returns "read/write" or "write/write".
func (k RaceKind) String() string {
	if k == WriteWrite {
		return "write/write"
	}
	return "read/write"
}

// Severity ranks findings: a write/write race (one update overwrites
// another) is worse than a read/write race, and a lost update is worst.
type Severity uint8

// The severities.
const (
	SeverityWarning  Severity = iota + 1 // read/write
	SeverityError                        // write/write
	SeverityCritical                     // a lost update
)

// String returns the severity's name.
func (s Severity) String() string {
	switch s {
	case SeverityCritical:
		return "critical"
	case SeverityError:
		return "error"
	}
	return "warning"
}

// ThreadInfo describes a logical thread, as far as its Start event told.
type ThreadInfo struct {
	ID      ThreadID
	Name    string // e.g. "GET /transfer"
	Origin  Origin
	Creator Epoch    // the epoch that started it (spawn, RPC send, parent), if known
	Where   Location // where it started
	Service string
	Process string
}

// Access is one side of a race: an access with all its context.
type Access struct {
	Kind      Kind // KindRead or KindWrite
	Epoch     Epoch
	Thread    ThreadInfo
	Service   string
	Process   string
	TraceID   [16]byte
	SpanID    [8]byte
	Time      time.Time
	Where     Location
	Old, New  string
	HasValues bool
	// LocksHeld lists the process-scoped locks held at the access.
	LocksHeld []string
	// SharedLocks and SharedRLocks list the shared locks (fleet-wide names)
	// held at the access, exclusively and in read mode (see
	// [Event.SharedLocks]). Two racing accesses never hold a common name
	// with one of them holding it exclusively.
	SharedLocks, SharedRLocks []string
}

// LostUpdate explains a write/write race between two read-modify-writes
// that both started from the same value, so that one update was lost.
type LostUpdate struct {
	Read     string // the value both writers had read
	Writes   [2]string
	Final    string // the value of the write that came last in wall time
	Expected string // both updates applied, when the values are numbers; else ""
}

// Race is one finding: two conflicting accesses to the same variable, at
// least one a write, from different threads, neither happening before the
// other.
type Race struct {
	Var    string // the variable as the program named it
	Shared bool   // Var is fleet-wide (shared) rather than process-scoped
	Kind   RaceKind
	// Severity is SeverityCritical for a lost update, SeverityError for
	// write/write, SeverityWarning for read/write.
	Severity Severity
	// Previous was analysed first; Current is the access that revealed the
	// race. Previous did not happen before Current, nor Current before
	// Previous.
	Previous, Current Access
	// Reason says in words why the two are unordered.
	Reason     string
	LostUpdate *LostUpdate // nil unless classified as a lost update
	// Late is set when Current arrived after its place in happens-before
	// order had passed and was checked against retained history.
	Late bool

	// Group identifies the distinct race: same variable pattern (the name
	// with every run of decimal digits replaced by "*", so that
	// accounts/42.balance and accounts/43.balance share one), same kind,
	// same pair of code locations. Count is how many occurrences of the
	// group the detector has seen, this one included; First is when the
	// group was first seen.
	Group string
	Count int
	First time.Time
}
