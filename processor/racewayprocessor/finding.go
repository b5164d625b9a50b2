package racewayprocessor // import "github.com/raceway-otel/raceway/processor/racewayprocessor"

import (
	"crypto/sha256"
	"encoding/binary"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/raceway-otel/raceway/analysis"
	"github.com/raceway-otel/raceway/processor/racewayprocessor/internal/metadata"
	"github.com/raceway-otel/raceway/racewayotel/convention"
)

// Attributes the processor writes beyond the convention's Race* keys.
const (
	// attrRaceRole says, on a raceway.race span event and on a finding
	// span's links, which side of the race the span is: "previous" (analysed
	// first) or "current" (the access that revealed the race).
	attrRaceRole = "raceway.race.role"
	// raceProcess is the per-access suffix (after convention.RaceCurrent or
	// RacePrevious) of the process (service instance) identity.
	raceProcess = "process.id"

	rolePrevious = "previous"
	roleCurrent  = "current"
)

// appendFinding adds a finding trace for r to td: resource service.name
// "raceway", one span "race <var> <kind>" linked to both access spans and
// carrying the whole finding in its attributes.
func appendFinding(td ptrace.Traces, r *analysis.Race) {
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr(attrServiceName, convention.FindingService)
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName(metadata.ScopeName)
	span := ss.Spans().AppendEmpty()
	tid, sid := findingIDs(r)
	span.SetTraceID(tid)
	span.SetSpanID(sid)
	span.SetName("race " + r.Var + " " + r.Kind.String())
	span.SetKind(ptrace.SpanKindInternal)
	start, end := r.Previous.Time, r.Current.Time
	if end.Before(start) {
		start, end = end, start
	}
	span.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
	span.SetEndTimestamp(pcommon.NewTimestampFromTime(end))
	span.Status().SetCode(ptrace.StatusCodeError)
	span.Status().SetMessage(statusMessage(r))
	for _, side := range []struct {
		a    *analysis.Access
		role string
	}{{&r.Previous, rolePrevious}, {&r.Current, roleCurrent}} {
		l := span.Links().AppendEmpty()
		l.SetTraceID(pcommon.TraceID(side.a.TraceID))
		l.SetSpanID(pcommon.SpanID(side.a.SpanID))
		l.Attributes().PutStr(attrRaceRole, side.role)
	}
	putRace(span.Attributes(), r, true)
}

func statusMessage(r *analysis.Race) string {
	if r.LostUpdate != nil {
		return "lost update on " + r.Var
	}
	return r.Kind.String() + " race on " + r.Var
}

// findingIDs derives the finding's trace and span ids from the race, so that
// the same input always yields the same finding.
func findingIDs(r *analysis.Race) (pcommon.TraceID, pcommon.SpanID) {
	h := sha256.New()
	h.Write([]byte(r.Group))
	var b [8]byte
	for _, a := range []*analysis.Access{&r.Previous, &r.Current} {
		h.Write(a.TraceID[:])
		h.Write(a.SpanID[:])
		binary.BigEndian.PutUint64(b[:], uint64(a.Epoch.Thread))
		h.Write(b[:])
		binary.BigEndian.PutUint64(b[:], a.Epoch.Seq)
		h.Write(b[:])
	}
	sum := h.Sum(nil)
	var tid pcommon.TraceID
	var sid pcommon.SpanID
	copy(tid[:], sum[:16])
	copy(sid[:], sum[16:24])
	return tid, sid
}

// putRace writes the finding's attributes (convention.Race* keys) to m;
// withReport adds the Go-race-detector style report text.
func putRace(m pcommon.Map, r *analysis.Race, withReport bool) {
	m.PutStr(convention.RaceVar, r.Var)
	if r.Shared {
		m.PutStr(convention.RaceScope, convention.ScopeShared)
	} else {
		m.PutStr(convention.RaceScope, convention.ScopeProcess)
	}
	m.PutStr(convention.RaceKind, r.Kind.String())
	m.PutStr(convention.RaceSeverity, r.Severity.String())
	m.PutStr(convention.RaceGroup, r.Group)
	m.PutInt(convention.RaceCount, int64(r.Count))
	m.PutStr(convention.RaceReason, r.Reason)
	m.PutBool(convention.RaceLate, r.Late)
	m.PutBool(convention.RaceLostUpdate, r.LostUpdate != nil)
	if lu := r.LostUpdate; lu != nil {
		m.PutStr(convention.RaceLostRead, lu.Read)
		m.PutStr(convention.RaceLostFinal, lu.Final)
		if lu.Expected != "" {
			m.PutStr(convention.RaceLostExpect, lu.Expected)
		}
	}
	putAccess(m, convention.RacePrevious, &r.Previous)
	putAccess(m, convention.RaceCurrent, &r.Current)
	if withReport {
		m.PutStr(convention.RaceReport, r.Report())
	}
}

func putAccess(m pcommon.Map, prefix string, a *analysis.Access) {
	m.PutStr(prefix+convention.RaceAccess, a.Kind.String())
	m.PutStr(prefix+convention.RaceService, a.Service)
	if a.Process != "" {
		m.PutStr(prefix+raceProcess, a.Process)
	}
	m.PutStr(prefix+convention.RaceTraceID, pcommon.TraceID(a.TraceID).String())
	m.PutStr(prefix+convention.RaceSpanID, pcommon.SpanID(a.SpanID).String())
	m.PutStr(prefix+convention.RaceEpoch, a.Epoch.String())
	m.PutStr(prefix+convention.RaceThreadID, a.Epoch.Thread.String())
	if a.Thread.Name != "" {
		m.PutStr(prefix+convention.RaceThreadName, a.Thread.Name)
	}
	m.PutStr(prefix+convention.RaceThreadStart, a.Thread.Origin.String())
	if a.Where.File != "" {
		m.PutStr(prefix+convention.RaceFile, a.Where.File)
		m.PutInt(prefix+convention.RaceLine, int64(a.Where.Line))
	}
	if a.Where.Function != "" {
		m.PutStr(prefix+convention.RaceFunction, a.Where.Function)
	}
	if a.HasValues {
		if a.Kind == analysis.KindWrite {
			m.PutStr(prefix+convention.RaceValueOld, a.Old)
		}
		m.PutStr(prefix+convention.RaceValueNew, a.New)
	}
	held := m.PutEmptySlice(prefix + convention.RaceLocksHeld)
	held.EnsureCapacity(len(a.LocksHeld))
	for _, l := range a.LocksHeld {
		held.AppendEmpty().SetStr(l)
	}
}
