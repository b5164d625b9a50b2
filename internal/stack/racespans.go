package stack

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/raceway-otel/raceway/internal/jaegertest"
	"github.com/raceway-otel/raceway/racewayotel/convention"
)

// RaceSpan is a raceway.race span as stored in Jaeger: a race shown inside a
// request trace, as a child of the span of one of the racing accesses.
type RaceSpan struct {
	TraceID, SpanID string
	Service         string // the racing span's service
	Parent          string // the racing span (the CHILD_OF reference)
	ParentName      string // its operation name, when the trace has it
	Var, Kind       string
	// Finding is the link to the finding trace (a FOLLOWS_FROM reference).
	Finding jaegertest.Reference
	Start   time.Time
}

// RaceSpans returns the raceway.race spans of the trace traceID
// (GET /api/traces/{id}).
func RaceSpans(ctx context.Context, j *jaegertest.Instance, traceID string) ([]RaceSpan, error) {
	t, err := j.Trace(ctx, traceID)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	for _, sp := range t.Spans {
		names[sp.SpanID] = sp.OperationName
	}
	var out []RaceSpan
	for _, sp := range t.Spans {
		if sp.OperationName != convention.RaceEvent {
			continue
		}
		str := func(k string) string {
			v, _ := jaegertest.Tag(sp.Tags, k)
			s, _ := v.(string)
			return s
		}
		rs := RaceSpan{
			TraceID: t.TraceID, SpanID: sp.SpanID, Service: t.ServiceName(sp),
			Var: str(convention.RaceVar), Kind: str(convention.RaceKind),
			Start: time.UnixMicro(sp.StartTime),
		}
		for _, r := range sp.References {
			switch r.RefType {
			case "CHILD_OF":
				rs.Parent, rs.ParentName = r.SpanID, names[r.SpanID]
			case "FOLLOWS_FROM":
				rs.Finding = r
			}
		}
		out = append(out, rs)
	}
	return out, nil
}

// WaitRaceSpans polls Jaeger until the trace traceID has a raceway.race span
// that match selects (a race may show on one span under several, one per
// distinct race and role, and they need not arrive together), or until
// timeout; it returns the trace's raceway.race spans it last saw.
func WaitRaceSpans(ctx context.Context, j *jaegertest.Instance, traceID string, match func(RaceSpan) bool, timeout time.Duration) ([]RaceSpan, error) {
	deadline := time.Now().Add(timeout)
	for {
		rs, err := RaceSpans(ctx, j, traceID)
		if err == nil && slices.ContainsFunc(rs, match) {
			return rs, nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return rs, err
			}
			return rs, fmt.Errorf("after %s, trace %s has no such raceway.race span (it has %d: %+v)", timeout, traceID, len(rs), rs)
		}
		select {
		case <-ctx.Done():
			return rs, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
