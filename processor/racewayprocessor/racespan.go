package racewayprocessor // import "github.com/raceway-otel/raceway/processor/racewayprocessor"

import (
	"crypto/sha256"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/raceway-otel/raceway/analysis"
	"github.com/raceway-otel/raceway/processor/racewayprocessor/internal/metadata"
	"github.com/raceway-otel/raceway/racewayotel/convention"
)

// appendRaceSpan adds to td the raceway.race span that shows t's race inside
// the request trace of access a (role rolePrevious or roleCurrent): a child
// of a's span in a's trace, under a's service and process, starting and
// ending at a's time, with status Error, the finding's attributes (without
// the report text: the finding has it) and a link to the finding trace. It
// is a span of its own, so it can be emitted whenever the race is found,
// after a's span has passed on.
func appendRaceSpan(td ptrace.Traces, t *raceText, a *analysis.Access, role string) {
	f := t.finding()
	rs := td.ResourceSpans().AppendEmpty()
	res := rs.Resource().Attributes()
	res.PutStr(attrServiceName, a.Service)
	if a.Process != "" {
		res.PutStr(attrServiceInstanceID, a.Process)
	}
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName(metadata.ScopeName)
	span := ss.Spans().AppendEmpty()
	span.SetTraceID(pcommon.TraceID(a.TraceID))
	span.SetParentSpanID(pcommon.SpanID(a.SpanID))
	span.SetSpanID(raceSpanID(a, role, f))
	span.SetName(convention.RaceEvent)
	span.SetKind(ptrace.SpanKindInternal)
	at := pcommon.NewTimestampFromTime(a.Time)
	span.SetStartTimestamp(at)
	span.SetEndTimestamp(at)
	span.Status().SetCode(ptrace.StatusCodeError)
	span.Status().SetMessage(statusMessage(t.r))
	l := span.Links().AppendEmpty()
	l.SetTraceID(f.trace)
	l.SetSpanID(f.span)
	t.put(span.Attributes(), role, false)
}

// raceSpanID derives the id of the raceway.race span of access a, in role,
// for the distinct race whose finding is f: the same input always yields
// the same output.
func raceSpanID(a *analysis.Access, role string, f spanRef) pcommon.SpanID {
	h := sha256.New()
	h.Write(f.trace[:])
	h.Write(a.TraceID[:])
	h.Write(a.SpanID[:])
	h.Write([]byte(role))
	var id pcommon.SpanID
	copy(id[:], h.Sum(nil))
	return id
}
