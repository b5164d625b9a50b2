package convention

import "github.com/raceway-otel/raceway/analysis"

// AttributeWriter stores the attributes of one span event in some
// representation (pdata, the OTel SDK, a map): [Encode] calls it once per
// attribute.
type AttributeWriter interface {
	Str(key, v string)
	Int(key string, v int64)
	StrSlice(key string, v []string)
}

// EventName is the name of the span event of a record of kind k, for
// example "raceway.lock.acquire".
func EventName(k analysis.Kind) string { return EventPrefix + k.String() }

// Encode writes e as the attributes of a span event named EventName(e.Kind),
// the way [Decoder] reads them back. Only what an attribute carries is
// written: e.Service, e.TraceID, e.SpanID and e.Time come from the span,
// its resource and the event's timestamp ([Source]). e.Process is written
// as ProcessID when set. Encode does not validate e: it can write records
// the Decoder refuses, which is what tests of malformed input need.
func Encode(e *analysis.Event, w AttributeWriter) {
	w.Str(ThreadID, e.Epoch.Thread.String())
	w.Int(Seq, int64(e.Epoch.Seq))
	if len(e.After) > 0 {
		after := make([]string, len(e.After))
		for i, a := range e.After {
			after[i] = a.String()
		}
		w.StrSlice(After, after)
	}
	if !e.Sync.IsZero() {
		w.Str(Sync, e.Sync.String())
	}
	if e.Origin != analysis.OriginUnknown {
		w.Str(Origin, e.Origin.String())
	}
	if e.ThreadName != "" {
		w.Str(ThreadName, e.ThreadName)
	}
	if e.Process != "" {
		w.Str(ProcessID, e.Process)
	}
	if e.Var != "" {
		w.Str(VarName, e.Var)
	}
	if e.Shared {
		w.Str(VarScope, ScopeShared)
	}
	if e.HasValues {
		if e.Old != "" {
			w.Str(ValueOld, e.Old)
		}
		w.Str(ValueNew, e.New)
	}
	if e.Lock != "" {
		w.Str(LockID, e.Lock)
	}
	if e.LockShared {
		w.Str(LockScope, ScopeShared)
	}
	if len(e.LocksHeld) > 0 {
		w.StrSlice(LocksHeld, e.LocksHeld)
	}
	if len(e.SharedLocks) > 0 {
		w.StrSlice(LocksShared, e.SharedLocks)
	}
	if len(e.SharedRLocks) > 0 {
		w.StrSlice(RLocksShared, e.SharedRLocks)
	}
	if e.Where.File != "" {
		w.Str(CodeFilePath, e.Where.File)
	}
	if e.Where.Line != 0 {
		w.Int(CodeLineNumber, int64(e.Where.Line))
	}
	if e.Where.Function != "" {
		w.Str(CodeFunctionName, e.Where.Function)
	}
}
