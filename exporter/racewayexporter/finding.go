package racewayexporter // import "github.com/raceway-otel/raceway/exporter/racewayexporter"

import (
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/raceway-otel/raceway/racewayotel/convention"
)

// Attributes this exporter adds to log records, beyond the finding span's own
// raceway.race.* attributes.
const (
	// AttrLinkedTraceIDs and AttrLinkedSpanIDs (string[], hex) list the
	// finding span's links: the spans of the racing accesses.
	AttrLinkedTraceIDs = "raceway.race.linked.trace_ids"
	AttrLinkedSpanIDs  = "raceway.race.linked.span_ids"
	// AttrServices (string) is the sorted service pair "a,b" of a race, on
	// metric data points.
	AttrServices = "raceway.race.services"
	// AttrOverflow (bool) marks the metric series that collects findings
	// beyond max_series.
	AttrOverflow = "otel.metric.overflow"
	// EventName is the log record's event name.
	EventName = "raceway.race"
)

const racePrefix = "raceway.race."

// finding is one finding span with its resource.
type finding struct {
	resource pcommon.Resource
	span     ptrace.Span
}

// findings picks the finding spans out of td: spans of resources whose
// service.name is convention.FindingService that carry convention.RaceVar.
func findings(td ptrace.Traces) []finding {
	var out []finding
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		svc, ok := rs.Resource().Attributes().Get(convention.ServiceName)
		if !ok || svc.Str() != convention.FindingService {
			continue
		}
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				if _, ok := spans.At(k).Attributes().Get(convention.RaceVar); ok {
					out = append(out, finding{resource: rs.Resource(), span: spans.At(k)})
				}
			}
		}
	}
	return out
}

func (f finding) str(key string) string {
	if v, ok := f.span.Attributes().Get(key); ok {
		return v.AsString()
	}
	return ""
}

// count is the raceway.race.count of the finding (occurrences of its group
// so far), or 1 if absent or malformed.
func (f finding) count() int64 {
	v, ok := f.span.Attributes().Get(convention.RaceCount)
	if !ok {
		return 1
	}
	switch v.Type() {
	case pcommon.ValueTypeInt:
		if v.Int() > 0 {
			return v.Int()
		}
	case pcommon.ValueTypeDouble:
		if v.Double() >= 1 {
			return int64(v.Double())
		}
	}
	return 1
}

// group is the finding's race group, or a key built from its variable, kind
// and code locations when the processor did not set one.
func (f finding) group() string {
	if g := f.str(convention.RaceGroup); g != "" {
		return g
	}
	return strings.Join([]string{
		f.str(convention.RaceVar), f.str(convention.RaceKind),
		f.str(convention.RacePrevious + convention.RaceFile), f.str(convention.RacePrevious + convention.RaceLine),
		f.str(convention.RaceCurrent + convention.RaceFile), f.str(convention.RaceCurrent + convention.RaceLine),
	}, "|")
}

// services is the sorted pair of services of the two accesses.
func (f finding) services() string {
	a := f.str(convention.RacePrevious + convention.RaceService)
	b := f.str(convention.RaceCurrent + convention.RaceService)
	if b < a {
		a, b = b, a
	}
	return a + "," + b
}

// time is when the race was found: the finding span's end, else its start.
func (f finding) time() pcommon.Timestamp {
	if t := f.span.EndTimestamp(); t != 0 {
		return t
	}
	return f.span.StartTimestamp()
}

// severity maps raceway.race.severity to an OTel log severity.
func severity(s string) (plog.SeverityNumber, string) {
	switch strings.ToLower(s) {
	case "critical":
		return plog.SeverityNumberError3, "CRITICAL"
	case "error":
		return plog.SeverityNumberError, "ERROR"
	case "warning", "":
		return plog.SeverityNumberWarn, "WARN"
	default:
		return plog.SeverityNumberWarn, strings.ToUpper(s)
	}
}

// report is the Go-race-detector style text of the finding; a short one is
// made up when the processor did not attach it.
func (f finding) report() string {
	if r := f.str(convention.RaceReport); r != "" {
		return r
	}
	return fmt.Sprintf("WARNING: RACE on %s (%s)\n%s by %s at %s:%s\nPrevious %s by %s at %s:%s\n",
		f.str(convention.RaceVar), f.str(convention.RaceKind),
		f.str(convention.RaceCurrent+convention.RaceAccess), f.str(convention.RaceCurrent+convention.RaceService),
		f.str(convention.RaceCurrent+convention.RaceFile), f.str(convention.RaceCurrent+convention.RaceLine),
		f.str(convention.RacePrevious+convention.RaceAccess), f.str(convention.RacePrevious+convention.RaceService),
		f.str(convention.RacePrevious+convention.RaceFile), f.str(convention.RacePrevious+convention.RaceLine))
}

// links returns the hex trace and span ids of the finding span's links.
func (f finding) links() (traceIDs, spanIDs []string) {
	ls := f.span.Links()
	for i := 0; i < ls.Len(); i++ {
		tid, sid := ls.At(i).TraceID(), ls.At(i).SpanID()
		traceIDs = append(traceIDs, hex.EncodeToString(tid[:]))
		spanIDs = append(spanIDs, hex.EncodeToString(sid[:]))
	}
	return traceIDs, spanIDs
}

// appendLogs adds one log record per finding to ld, under a copy of the
// finding's resource.
func appendLogs(ld plog.Logs, fs []finding, version string, now time.Time) {
	var (
		lastRes pcommon.Resource
		records plog.LogRecordSlice
		started bool
	)
	for _, f := range fs {
		if !started || f.resource != lastRes {
			rl := ld.ResourceLogs().AppendEmpty()
			f.resource.CopyTo(rl.Resource())
			sl := rl.ScopeLogs().AppendEmpty()
			sl.Scope().SetName(scopeName)
			sl.Scope().SetVersion(version)
			records = sl.LogRecords()
			lastRes, started = f.resource, true
		}
		lr := records.AppendEmpty()
		lr.SetTimestamp(f.time())
		lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(now))
		lr.SetEventName(EventName)
		num, text := severity(f.str(convention.RaceSeverity))
		lr.SetSeverityNumber(num)
		lr.SetSeverityText(text)
		lr.SetTraceID(f.span.TraceID())
		lr.SetSpanID(f.span.SpanID())
		lr.Body().SetStr(f.report())
		attrs := lr.Attributes()
		f.span.Attributes().Range(func(k string, v pcommon.Value) bool {
			if strings.HasPrefix(k, racePrefix) && k != convention.RaceReport {
				v.CopyTo(attrs.PutEmpty(k))
			}
			return true
		})
		if tids, sids := f.links(); len(tids) > 0 {
			t := attrs.PutEmptySlice(AttrLinkedTraceIDs)
			s := attrs.PutEmptySlice(AttrLinkedSpanIDs)
			for i := range tids {
				t.AppendEmpty().SetStr(tids[i])
				s.AppendEmpty().SetStr(sids[i])
			}
		}
	}
}
