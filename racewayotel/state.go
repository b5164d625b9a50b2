package racewayotel

import (
	"context"
	"runtime"

	"github.com/raceway-otel/raceway/analysis"
)

// Access is the kind of a state access.
type Access uint8

// The access kinds.
const (
	Read  Access = iota + 1 // the state was read
	Write                   // the state was written
)

// String returns "Read" or "Write", the spelling of Raceway's SDKs.
func (a Access) String() string {
	if a == Write {
		return "Write"
	}
	return "Read"
}

// TrackStateChange records an access to variable, a variable of this process
// (for example "accounts.alice.balance"): the same name tracked by another
// process names another variable. For a write, oldValue and newValue are the
// values before and after; for a read, newValue is the value read and
// oldValue is ignored. A nil value records none. Strings, byte slices,
// integers, floats, booleans, errors and fmt.Stringers are converted to text
// without fmt, anything else with fmt.Sprint; values are cut to
// analysis.MaxValueLen bytes and names to analysis.MaxNameLen bytes.
//
// Record an access where it happens, inside the same critical section: its
// place in the thread's program order is what the analysis sees.
func (t *Tracker) TrackStateChange(ctx context.Context, variable string, oldValue, newValue any, access Access) {
	if t == nil {
		return
	}
	t.trackState(ctx, variable, false, oldValue, newValue, access)
}

// TrackSharedStateChange records an access to state shared across
// processes: a database row, a cache key, a file, a queue. resource names it
// fleet-wide, so that every process accessing the resource uses the same
// name, for example "postgres/shop/products/42.stock" or
// "redis/sessions/u42". Otherwise it is [Tracker.TrackStateChange].
func (t *Tracker) TrackSharedStateChange(ctx context.Context, resource string, oldValue, newValue any, access Access) {
	if t == nil {
		return
	}
	t.trackState(ctx, resource, true, oldValue, newValue, access)
}

func (t *Tracker) trackState(ctx context.Context, name string, shared bool, oldValue, newValue any, access Access) {
	// The caller of TrackStateChange: skip runtime.Callers, trackState and
	// TrackStateChange (inlined or not, it counts as a frame).
	var pc [1]uintptr
	runtime.Callers(3, pc[:])
	r := record{kind: analysis.KindWrite, loc: locationOf(pc[0]), varName: cut(name, analysis.MaxNameLen), shared: shared}
	if access != Write {
		r.kind = analysis.KindRead
	} else {
		r.old, r.hasOld = valueText(oldValue)
	}
	r.new, r.hasNew = valueText(newValue)
	t.track(ctx, &r)
}
