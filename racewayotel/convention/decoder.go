package convention

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/raceway-otel/raceway/analysis"
)

// Source is where a span event was recorded: the span's resource and ids.
type Source struct {
	Service string // the resource's service.name
	// Process is the default process identity: the resource's
	// service.instance.id. A non-empty ProcessID attribute on the event
	// wins; with neither, a process-scoped access is rejected
	// ([ErrNoProcess]).
	Process string
	TraceID [16]byte
	SpanID  [8]byte
}

// ErrNotRecord is returned by [Decoder.Event] for an event that is not a
// Raceway record (its name lacks EventPrefix, or it is a RaceEvent).
var ErrNotRecord = errors.New("convention: not a Raceway record")

// ErrNoProcess is returned by [Decoder.Event] for a process-scoped read or
// write that names no process: neither a ProcessID attribute nor
// [Source.Process] (the resource's service.instance.id). Such a variable
// cannot be told apart from the variable of the same name in another
// instance of the service, so guessing an identity could report a race
// between two processes that share nothing; the record is rejected instead.
var ErrNoProcess = errors.New("convention: process-scoped access without a process identity (" +
	ProcessID + " or the resource's service.instance.id)")

// Decoder turns the attributes of one span event into an analysis.Event in a
// single pass, without knowing the attribute representation: adapters for
// pdata, the OTel SDK or anything else call [Decoder.Str], [Decoder.Int] and
// [Decoder.StrElem] for each attribute. A Decoder is reusable; the Event it
// returns shares slices with it until the next [Decoder.Reset], and
// analysis.Detector.Add copies what it keeps.
//
// Unknown attributes are ignored, so that producers may add their own.
// Malformed known attributes make [Decoder.Event] fail, and so does a known
// attribute of another type than the convention's: a string attribute given
// as a number or an array, an integer given as a string, an array given as
// a number, or any of them given as a type the convention never uses
// ([Decoder.Mistyped]). A string attribute given as a plain string where an
// array is expected (After, LocksHeld, LocksShared, RLocksShared) is read as
// a one-element array.
type Decoder struct {
	ev     analysis.Event
	record bool
	err    error
}

// IsRecord reports whether a span event named name is a Raceway record.
func IsRecord(name string) bool {
	return strings.HasPrefix(name, EventPrefix) && name != RaceEvent
}

// Reset starts decoding a span event named name, recorded at t by src. It
// returns false, and the Decoder ignores the attributes, when the event is not
// a Raceway record.
func (d *Decoder) Reset(name string, t time.Time, src Source) bool {
	if !IsRecord(name) {
		d.record = false // (what else it holds is not read, and its slices are kept for reuse)
		return false
	}
	after, held := d.ev.After[:0], d.ev.LocksHeld[:0]
	shared, sharedR := d.ev.SharedLocks[:0], d.ev.SharedRLocks[:0]
	*d = Decoder{record: true}
	d.ev = analysis.Event{
		After:        after,
		LocksHeld:    held,
		SharedLocks:  shared,
		SharedRLocks: sharedR,
		Service:      src.Service,
		Process:      src.Process,
		TraceID:      src.TraceID,
		SpanID:       src.SpanID,
		Time:         t,
	}
	kind, ok := analysis.ParseKind(name[len(EventPrefix):])
	if !ok {
		d.fail("unknown record kind %q", truncate(name))
	}
	d.ev.Kind = kind
	return true
}

func (d *Decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("convention: "+format, args...)
	}
}

// Str decodes a string attribute.
func (d *Decoder) Str(key, v string) {
	if !d.record || d.err != nil {
		return
	}
	var err error
	switch key {
	case ThreadID:
		d.ev.Epoch.Thread, err = analysis.ParseThreadID(v)
	case After:
		d.StrElem(key, v)
	case LocksHeld, LocksShared, RLocksShared:
		d.StrElem(key, v)
	case Sync:
		d.ev.Sync, err = analysis.ParseEpoch(v)
	case Origin:
		o, ok := analysis.ParseOrigin(v)
		if !ok {
			d.fail("unknown thread origin %q", truncate(v))
		}
		d.ev.Origin = o
	case ProcessID:
		if v != "" { // empty means absent: the source's identity stands
			d.ev.Process = v
		}
	case VarName:
		d.ev.Var = v
	case VarScope:
		switch v {
		case ScopeShared:
			d.ev.Shared = true
		case ScopeProcess:
			d.ev.Shared = false
		default:
			d.fail("unknown variable scope %q", truncate(v))
		}
	case ValueOld:
		d.ev.Old, d.ev.HasValues = v, true
	case ValueNew:
		d.ev.New, d.ev.HasValues = v, true
	case LockID:
		d.ev.Lock = v
	case LockScope:
		switch v {
		case ScopeShared:
			d.ev.LockShared = true
		case ScopeProcess:
			d.ev.LockShared = false
		default:
			d.fail("unknown lock scope %q", truncate(v))
		}
	case CodeFilePath:
		d.ev.Where.File = v
	case CodeFunctionName:
		d.ev.Where.Function = v
	case ThreadName:
		d.ev.ThreadName = v
	case Seq, CodeLineNumber:
		d.fail("%s must be an int", key)
	}
	if err != nil {
		d.fail("%s: %v", key, err)
	}
}

// Int decodes an integer attribute.
func (d *Decoder) Int(key string, v int64) {
	if !d.record || d.err != nil {
		return
	}
	switch key {
	case Seq:
		if v <= 0 {
			d.fail("%s must be positive, got %d", key, v)
			return
		}
		d.ev.Epoch.Seq = uint64(v)
	case CodeLineNumber:
		if v < 0 || v > 1<<31 {
			d.fail("%s out of range: %d", key, v)
			return
		}
		d.ev.Where.Line = int(v)
	default:
		if stringKey(key) {
			d.fail("%s must be a string", key)
		}
	}
}

// Mistyped decodes an attribute of a type the convention never uses (a
// boolean, a number with a fraction, bytes, a map, an array element that is
// not a string): it makes the event fail if key is one the decoder reads.
func (d *Decoder) Mistyped(key string) {
	if !d.record || d.err != nil {
		return
	}
	if stringKey(key) || key == Seq || key == CodeLineNumber {
		d.fail("%s has a type the convention does not use", key)
	}
}

// stringKey reports whether key is an attribute the decoder reads as a
// string or an array of strings.
func stringKey(key string) bool {
	switch key {
	case ThreadID, After, Sync, Origin, ProcessID, VarName, VarScope, ValueOld, ValueNew,
		LockID, LockScope, LocksHeld, LocksShared, RLocksShared, CodeFilePath, CodeFunctionName, ThreadName:
		return true
	}
	return false
}

// StrElem decodes one element of a string-array attribute (After,
// LocksHeld, LocksShared, RLocksShared). Elements beyond the event limits
// make the event fail.
func (d *Decoder) StrElem(key, v string) {
	if !d.record || d.err != nil {
		return
	}
	switch key {
	case After:
		if len(d.ev.After) == analysis.MaxAfter {
			d.fail("more than %d %s epochs", analysis.MaxAfter, key)
			return
		}
		e, err := analysis.ParseEpoch(v)
		if err != nil {
			d.fail("%s: %v", key, err)
			return
		}
		d.ev.After = append(d.ev.After, e)
	case LocksHeld:
		d.ev.LocksHeld = d.appendLock(d.ev.LocksHeld, key, v)
	case LocksShared:
		d.ev.SharedLocks = d.appendLock(d.ev.SharedLocks, key, v)
	case RLocksShared:
		d.ev.SharedRLocks = d.appendLock(d.ev.SharedRLocks, key, v)
	default:
		if stringKey(key) || key == Seq || key == CodeLineNumber {
			d.fail("%s must not be an array", key)
		}
	}
}

// appendLock appends the lock name v of the array attribute key to list,
// failing the event past analysis.MaxLocksHeld names.
func (d *Decoder) appendLock(list []string, key, v string) []string {
	if len(list) == analysis.MaxLocksHeld {
		d.fail("more than %d %s", analysis.MaxLocksHeld, key)
		return list
	}
	return append(list, v)
}

// Event returns the decoded event, or why it cannot be analysed: the first
// malformed attribute, analysis.Event.Validate's verdict, or [ErrNoProcess].
func (d *Decoder) Event() (analysis.Event, error) {
	if !d.record {
		return analysis.Event{}, ErrNotRecord
	}
	if d.err != nil {
		return analysis.Event{}, d.err
	}
	if err := d.ev.Validate(); err != nil {
		return analysis.Event{}, err
	}
	if d.ev.Kind.IsAccess() && !d.ev.Shared && d.ev.Process == "" {
		return analysis.Event{}, ErrNoProcess
	}
	return d.ev, nil
}

func truncate(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
