package e2e

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/raceway-otel/raceway/analysis"
	"github.com/raceway-otel/raceway/racewayotel/convention"
)

// pdataAttrs writes the attributes convention.Encode produces into a
// pcommon.Map.
type pdataAttrs pcommon.Map

func (m pdataAttrs) Str(k, v string)       { pcommon.Map(m).PutStr(k, v) }
func (m pdataAttrs) Int(k string, v int64) { pcommon.Map(m).PutInt(k, v) }
func (m pdataAttrs) StrSlice(k string, v []string) {
	s := pcommon.Map(m).PutEmptySlice(k)
	for _, e := range v {
		s.AppendEmpty().SetStr(e)
	}
}

// addRecord adds e to span as racewayotel records it: a span event at at,
// written by convention.Encode. It returns the event, which tests of
// malformed input then spoil.
func addRecord(span ptrace.Span, at time.Time, e analysis.Event) ptrace.SpanEvent {
	ev := span.Events().AppendEmpty()
	ev.SetName(convention.EventName(e.Kind))
	ev.SetTimestamp(pcommon.NewTimestampFromTime(at))
	convention.Encode(&e, pdataAttrs(ev.Attributes()))
	return ev
}

// bankRecord is the record of kind, epoch th@seq, that the bank process
// bank-1 makes at line of its transfer code.
func bankRecord(kind analysis.Kind, th analysis.ThreadID, seq uint64, line int) analysis.Event {
	return analysis.Event{
		Kind:    kind,
		Epoch:   analysis.Epoch{Thread: th, Seq: seq},
		Process: "bank-1",
		Where:   analysis.Location{File: file, Line: line, Function: "main.transfer"},
	}
}

// requestStart is bankRecord's thread.start of a request thread named name.
func requestStart(th analysis.ThreadID, line int, name string) analysis.Event {
	e := bankRecord(analysis.KindStart, th, 1, line)
	e.Origin, e.ThreadName = analysis.OriginRequest, name
	return e
}

// access is bankRecord's read (old == "") or write of v.
func access(kind analysis.Kind, th analysis.ThreadID, seq uint64, line int, v, old, val string) analysis.Event {
	e := bankRecord(kind, th, seq, line)
	e.Var, e.Old, e.New, e.HasValues = v, old, val, true
	return e
}
