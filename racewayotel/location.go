package racewayotel

import (
	"runtime"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"

	"github.com/raceway-otel/raceway/racewayotel/convention"
)

// location is a call site, with its attributes computed once.
type location struct {
	function string
	file     attribute.KeyValue
	line     attribute.KeyValue
	fn       attribute.KeyValue
}

// maxLocations bounds the call-site cache; sites beyond it are resolved on
// every call.
const maxLocations = 1 << 14

// locations caches call sites by program counter. Reads are lock-free: the
// map is replaced, never changed, under locationsMu.
var (
	locations   atomic.Pointer[map[uintptr]*location]
	locationsMu sync.Mutex
)

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
// (0 for none). Hot paths call runtime.Callers themselves and then this, so
// that unwinding walks one frame less.
func locationOf(pc uintptr) *location {
	if pc == 0 {
		return nil
	}
	if m := locations.Load(); m != nil {
		if l := (*m)[pc]; l != nil {
			return l
		}
	}
	return cacheLocation(pc)
}

func cacheLocation(pc uintptr) *location {
	f, _ := runtime.CallersFrames([]uintptr{pc}).Next()
	l := &location{
		function: f.Function,
		file:     attribute.String(convention.CodeFilePath, f.File),
		line:     attribute.Int(convention.CodeLineNumber, f.Line),
		fn:       attribute.String(convention.CodeFunctionName, f.Function),
	}
	locationsMu.Lock()
	defer locationsMu.Unlock()
	old := locations.Load()
	if old != nil && len(*old) >= maxLocations {
		return l
	}
	m := make(map[uintptr]*location, 1+lenOf(old))
	if old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	m[pc] = l
	locations.Store(&m)
	return l
}

func lenOf(m *map[uintptr]*location) int {
	if m == nil {
		return 0
	}
	return len(*m)
}
