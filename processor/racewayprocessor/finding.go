package racewayprocessor // import "github.com/raceway-otel/raceway/processor/racewayprocessor"

import (
	"crypto/sha256"
	"encoding/binary"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/xpdata"

	"github.com/raceway-otel/raceway/analysis"
	"github.com/raceway-otel/raceway/processor/racewayprocessor/internal/metadata"
	"github.com/raceway-otel/raceway/racewayotel/convention"
)

// Attributes the processor writes beyond the convention's Race* keys.
const (
	// attrRaceRole says, on a raceway.race span and on a finding span's
	// links, which side of the race the access is: "previous" (analysed
	// first) or "current" (the access that revealed the race).
	attrRaceRole = "raceway.race.role"

	rolePrevious = "previous"
	roleCurrent  = "current"
)

// spanRef is a span's trace and span ids.
type spanRef struct {
	trace pcommon.TraceID
	span  pcommon.SpanID
}

// appendFinding adds the finding trace of t's race to td: resource
// service.name "raceway", one span "race <var> <kind>" linked to both access
// spans and carrying the whole finding, report included, in its attributes.
func appendFinding(td ptrace.Traces, t *raceText) {
	f := t.finding()
	r := t.r
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr(attrServiceName, convention.FindingService)
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName(metadata.ScopeName)
	span := ss.Spans().AppendEmpty()
	span.SetTraceID(f.trace)
	span.SetSpanID(f.span)
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
	t.put(span.Attributes(), "", true)
}

func statusMessage(r *analysis.Race) string {
	if r.LostUpdate != nil {
		return "lost update on " + r.Var
	}
	return r.Kind.String() + " race on " + r.Var
}

// findingIDs derives the ids of the finding trace of r's distinct race from
// the race's group and the time the detector first saw it: every race of the
// group (whose raceway.race spans link to the finding) gets the same ids, and
// the same input always yields the same finding. A group the detector forgot
// and met again is a new finding, with a new first time.
func findingIDs(r *analysis.Race) spanRef {
	h := sha256.New()
	h.Write([]byte(r.Group))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(r.First.UnixNano()))
	h.Write(b[:])
	sum := h.Sum(nil)
	var f spanRef
	copy(f.trace[:], sum[:16])
	copy(f.span[:], sum[16:24])
	return f
}

// raceAttrs is how many attributes raceText.put writes at most: the role,
// 9 about the race, 3 about a lost update, 17 per access and the report.
const raceAttrs = 1 + 9 + 3 + 2*17 + 1

// accessKeys are the keys of one access's attributes: convention.RacePrevious
// or RaceCurrent followed by the per-access suffix. They are built once, not
// on every race.
type accessKeys struct {
	access, service, process, traceID, spanID, epoch, threadID, threadName,
	threadOrigin, file, line, function, valueOld, valueNew, locksHeld,
	sharedLocks, sharedRLocks string
}

func newAccessKeys(prefix string) *accessKeys {
	return &accessKeys{
		access:       prefix + convention.RaceAccess,
		service:      prefix + convention.RaceService,
		process:      prefix + convention.RaceProcess,
		traceID:      prefix + convention.RaceTraceID,
		spanID:       prefix + convention.RaceSpanID,
		epoch:        prefix + convention.RaceEpoch,
		threadID:     prefix + convention.RaceThreadID,
		threadName:   prefix + convention.RaceThreadName,
		threadOrigin: prefix + convention.RaceThreadStart,
		file:         prefix + convention.RaceFile,
		line:         prefix + convention.RaceLine,
		function:     prefix + convention.RaceFunction,
		valueOld:     prefix + convention.RaceValueOld,
		valueNew:     prefix + convention.RaceValueNew,
		locksHeld:    prefix + convention.RaceLocksHeld,
		sharedLocks:  prefix + convention.RaceSharedLocks,
		sharedRLocks: prefix + convention.RaceSharedRLocks,
	}
}

var (
	previousKeys = newAccessKeys(convention.RacePrevious)
	currentKeys  = newAccessKeys(convention.RaceCurrent)
)

// raceText is a race with what its raceway.race spans and finding share,
// computed on first use: the text of the attribute values and the finding's
// ids.
type raceText struct {
	r         *analysis.Race
	done      bool
	prev, cur accessText
	f         spanRef
	fDone     bool
}

// finding returns the ids of the finding trace of t's distinct race.
func (t *raceText) finding() spanRef {
	if !t.fDone {
		t.f, t.fDone = findingIDs(t.r), true
	}
	return t.f
}

// accessText is the text of an access's computed attribute values.
type accessText struct{ traceID, spanID, epoch, threadID string }

func newAccessText(a *analysis.Access) accessText {
	return accessText{
		traceID:  pcommon.TraceID(a.TraceID).String(),
		spanID:   pcommon.SpanID(a.SpanID).String(),
		epoch:    a.Epoch.String(),
		threadID: a.Epoch.Thread.String(),
	}
}

// put sets m, which must be empty, to the finding's attributes
// (convention.Race* keys), after attrRaceRole = role unless role is empty;
// withReport adds the Go-race-detector style report text. Every key is
// written once, so the map is built without pcommon.Map's check for an
// existing key on every Put.
func (t *raceText) put(m pcommon.Map, role string, withReport bool) {
	if !t.done {
		t.prev, t.cur, t.done = newAccessText(&t.r.Previous), newAccessText(&t.r.Current), true
	}
	r := t.r
	var b xpdata.MapBuilder
	b.EnsureCapacity(raceAttrs)
	if role != "" {
		b.AppendEmpty(attrRaceRole).SetStr(role)
	}
	b.AppendEmpty(convention.RaceVar).SetStr(r.Var)
	if r.Shared {
		b.AppendEmpty(convention.RaceScope).SetStr(convention.ScopeShared)
	} else {
		b.AppendEmpty(convention.RaceScope).SetStr(convention.ScopeProcess)
	}
	b.AppendEmpty(convention.RaceKind).SetStr(r.Kind.String())
	b.AppendEmpty(convention.RaceSeverity).SetStr(r.Severity.String())
	b.AppendEmpty(convention.RaceGroup).SetStr(r.Group)
	b.AppendEmpty(convention.RaceCount).SetInt(int64(r.Count))
	b.AppendEmpty(convention.RaceReason).SetStr(r.Reason)
	b.AppendEmpty(convention.RaceLate).SetBool(r.Late)
	b.AppendEmpty(convention.RaceLostUpdate).SetBool(r.LostUpdate != nil)
	if lu := r.LostUpdate; lu != nil {
		b.AppendEmpty(convention.RaceLostRead).SetStr(lu.Read)
		b.AppendEmpty(convention.RaceLostFinal).SetStr(lu.Final)
		if lu.Expected != "" {
			b.AppendEmpty(convention.RaceLostExpect).SetStr(lu.Expected)
		}
	}
	putAccess(&b, previousKeys, &r.Previous, &t.prev)
	putAccess(&b, currentKeys, &r.Current, &t.cur)
	if withReport {
		b.AppendEmpty(convention.RaceReport).SetStr(r.Report())
	}
	b.UnsafeIntoMap(m)
}

func putAccess(b *xpdata.MapBuilder, k *accessKeys, a *analysis.Access, txt *accessText) {
	b.AppendEmpty(k.access).SetStr(a.Kind.String())
	b.AppendEmpty(k.service).SetStr(a.Service)
	if a.Process != "" {
		b.AppendEmpty(k.process).SetStr(a.Process)
	}
	b.AppendEmpty(k.traceID).SetStr(txt.traceID)
	b.AppendEmpty(k.spanID).SetStr(txt.spanID)
	b.AppendEmpty(k.epoch).SetStr(txt.epoch)
	b.AppendEmpty(k.threadID).SetStr(txt.threadID)
	if a.Thread.Name != "" {
		b.AppendEmpty(k.threadName).SetStr(a.Thread.Name)
	}
	b.AppendEmpty(k.threadOrigin).SetStr(a.Thread.Origin.String())
	if a.Where.File != "" {
		b.AppendEmpty(k.file).SetStr(a.Where.File)
		b.AppendEmpty(k.line).SetInt(int64(a.Where.Line))
	}
	if a.Where.Function != "" {
		b.AppendEmpty(k.function).SetStr(a.Where.Function)
	}
	if a.HasValues {
		if a.Kind == analysis.KindWrite {
			b.AppendEmpty(k.valueOld).SetStr(a.Old)
		}
		b.AppendEmpty(k.valueNew).SetStr(a.New)
	}
	putLocks(b, k.locksHeld, a.LocksHeld)
	if len(a.SharedLocks) > 0 {
		putLocks(b, k.sharedLocks, a.SharedLocks)
	}
	if len(a.SharedRLocks) > 0 {
		putLocks(b, k.sharedRLocks, a.SharedRLocks)
	}
}

// putLocks appends the string-array attribute key listing locks.
func putLocks(b *xpdata.MapBuilder, key string, locks []string) {
	s := b.AppendEmpty(key).SetEmptySlice()
	s.EnsureCapacity(len(locks))
	for _, l := range locks {
		s.AppendEmpty().SetStr(l)
	}
}
