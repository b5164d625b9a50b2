package stack

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/raceway-otel/raceway/internal/jaegertest"
	"github.com/raceway-otel/raceway/racewayotel/convention"
)

// Finding is one race as stored in Jaeger: a trace of service "raceway"
// whose span carries the finding's attributes.
type Finding struct {
	TraceID    string // the finding trace
	Name       string // the span name, "race <var> <kind>"
	Var, Kind  string
	Severity   string
	Reason     string
	Report     string // the Go-race-detector style text
	LostUpdate bool
	Read       string // lost update: the value both writers read
	Final      string
	Expected   string
	Previous   Side
	Current    Side
	Links      []jaegertest.Reference
	Start      time.Time // when the first of the two accesses happened
}

// Side is one access of a finding.
type Side struct {
	Service, TraceID, SpanID, ThreadID, Origin, Access, File, Function string
	Line                                                               int
	// Process is the process identity (raceway.process.id, or the
	// resource's service.instance.id) of the process that made the access.
	Process string
}

// Location is file:line.
func (s Side) Location() string { return fmt.Sprintf("%s:%d", s.File, s.Line) }

// Findings returns the findings stored in Jaeger, oldest first.
func Findings(ctx context.Context, j *jaegertest.Instance) ([]Finding, error) {
	traces, err := j.Traces(ctx, convention.FindingService)
	if err != nil {
		return nil, err
	}
	var out []Finding
	for _, t := range traces {
		for _, sp := range t.Spans {
			tags := map[string]any{}
			for _, kv := range sp.Tags {
				tags[kv.Key] = kv.Value
			}
			if _, ok := tags[convention.RaceVar]; !ok {
				continue
			}
			str := func(k string) string { s, _ := tags[k].(string); return s }
			side := func(prefix string) Side {
				line, _ := tags[prefix+convention.RaceLine].(float64)
				return Side{
					Service:  str(prefix + convention.RaceService),
					TraceID:  str(prefix + convention.RaceTraceID),
					SpanID:   str(prefix + convention.RaceSpanID),
					ThreadID: str(prefix + convention.RaceThreadID),
					Origin:   str(prefix + convention.RaceThreadStart),
					Access:   str(prefix + convention.RaceAccess),
					File:     str(prefix + convention.RaceFile),
					Function: str(prefix + convention.RaceFunction),
					Line:     int(line),
					Process:  str(prefix + convention.RaceProcess),
				}
			}
			lost, _ := tags[convention.RaceLostUpdate].(bool)
			out = append(out, Finding{
				TraceID:    t.TraceID,
				Name:       sp.OperationName,
				Var:        str(convention.RaceVar),
				Kind:       str(convention.RaceKind),
				Severity:   str(convention.RaceSeverity),
				Reason:     str(convention.RaceReason),
				Report:     str(convention.RaceReport),
				LostUpdate: lost,
				Read:       str(convention.RaceLostRead),
				Final:      str(convention.RaceLostFinal),
				Expected:   str(convention.RaceLostExpect),
				Previous:   side(convention.RacePrevious),
				Current:    side(convention.RaceCurrent),
				Links:      sp.References,
				Start:      time.UnixMicro(sp.StartTime),
			})
		}
	}
	slices.SortFunc(out, func(a, b Finding) int { return a.Start.Compare(b.Start) })
	return out, nil
}

// WaitFindings polls Jaeger until the findings that match keep have stopped
// changing for settle (and at least atLeast are there), or until timeout; it
// returns the last findings it saw.
func WaitFindings(ctx context.Context, j *jaegertest.Instance, keep func(Finding) bool, atLeast int, settle, timeout time.Duration) ([]Finding, error) {
	deadline := time.Now().Add(timeout)
	var last []Finding
	stableSince := time.Now()
	for {
		all, err := Findings(ctx, j)
		if err != nil {
			return last, err
		}
		var cur []Finding
		for _, f := range all {
			if keep == nil || keep(f) {
				cur = append(cur, f)
			}
		}
		if len(cur) != len(last) {
			stableSince = time.Now()
		}
		last = cur
		if len(cur) >= atLeast && time.Since(stableSince) >= settle {
			return cur, nil
		}
		if time.Now().After(deadline) {
			if len(cur) >= atLeast {
				return cur, nil
			}
			return cur, fmt.Errorf("after %s, %d findings in Jaeger, want at least %d", timeout, len(cur), atLeast)
		}
		select {
		case <-ctx.Done():
			return cur, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// Headline is a one-line summary of f.
func (f Finding) Headline() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %s (%s) vs %s (%s)", f.Var, f.Kind, f.Previous.Location(), f.Previous.Service, f.Current.Location(), f.Current.Service)
	if f.LostUpdate {
		fmt.Fprintf(&b, ", lost update: both read %s, final %s", f.Read, f.Final)
		if f.Expected != "" {
			fmt.Fprintf(&b, ", expected %s", f.Expected)
		}
	}
	return b.String()
}
