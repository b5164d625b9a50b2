package racewayotel

import (
	"runtime"

	"go.opentelemetry.io/otel/attribute"
)

// location is a call site, with its attributes computed once.
type location struct {
	function string
	file     attribute.KeyValue
	line     attribute.KeyValue
	fn       attribute.KeyValue
}

// maxLocations bounds the program counters whose call sites are cached
// (see framesOf); sites beyond it are resolved on every call.
const maxLocations = 1 << 14

// callerLocation returns the call site skip frames above its caller: 1 is
// the caller's caller.
func callerLocation(skip int) *location {
	var pc [1]uintptr
	if runtime.Callers(skip+2, pc[:]) == 0 {
		return nil
	}
	return locationOf(pc[0])
}

// locationOf returns the call site of a program counter from runtime.Callers
// (0 for none): its innermost frame. Hot paths call runtime.Callers
// themselves and then this, so that unwinding walks one frame less.
func locationOf(pc uintptr) *location {
	if pc == 0 {
		return nil
	}
	return framesOf(pc).locs[0]
}
