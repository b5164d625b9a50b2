package collectortest

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/raceway-otel/raceway/analysis"
	"github.com/raceway-otel/raceway/racewayotel/convention"
)

// AddRecord appends e to span as racewayotel records it: a span event named
// convention.EventName(e.Kind), timestamped at, whose attributes
// convention.Encode writes. Like Encode, it does not validate e, and what a
// record takes from its span and resource (e.Service, e.TraceID, e.SpanID,
// e.Time) is not written. It returns the event, which tests of malformed
// input may then spoil.
func AddRecord(span ptrace.Span, at time.Time, e analysis.Event) ptrace.SpanEvent {
	ev := span.Events().AppendEmpty()
	ev.SetName(convention.EventName(e.Kind))
	ev.SetTimestamp(pcommon.NewTimestampFromTime(at))
	convention.Encode(&e, pdataAttrs(ev.Attributes()))
	return ev
}

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
