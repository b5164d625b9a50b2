package racewayotel_test

import (
	"context"
	"slices"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/raceway-otel/raceway/analysis"
	"github.com/raceway-otel/raceway/internal/racewaytest"
	"github.com/raceway-otel/raceway/racewayotel"
)

// service is one simulated process: a TracerProvider recording into a
// SpanRecorder, and a Tracker registered with it.
type service struct {
	name   string
	rec    *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	rw     *racewayotel.Tracker
	tracer trace.Tracer
}

func newService(t testing.TB, name string, opts ...racewayotel.Option) *service {
	return newServiceWith(t, name, nil, opts...)
}

func newServiceWith(t testing.TB, name string, tpOpts []sdktrace.TracerProviderOption, opts ...racewayotel.Option) *service {
	t.Helper()
	s := racewaytest.NewServiceWith(t, name, tpOpts, opts...)
	return &service{name: name, rec: s.Rec, tp: s.TP, rw: s.RW, tracer: s.TP.Tracer("test")}
}

// start starts a span of the service's tracer.
func (s *service) start(ctx context.Context, name string) (context.Context, trace.Span) {
	return s.tracer.Start(ctx, name)
}

// decode turns the Raceway records of spans into events, failing the test
// on any record the convention's Decoder rejects.
func decode(t testing.TB, spans []sdktrace.ReadOnlySpan) []analysis.Event {
	t.Helper()
	return racewaytest.Decode(t, spans)
}

// events returns the decoded records of every service's ended spans, after
// checking that each thread numbers its records 1, 2, 3… with no gap and
// starts with thread.start.
func events(t testing.TB, svcs ...*service) []analysis.Event {
	t.Helper()
	var all []analysis.Event
	for _, s := range svcs {
		all = append(all, decode(t, s.rec.Ended())...)
	}
	seqs := map[analysis.ThreadID][]uint64{}
	for _, e := range all {
		seqs[e.Epoch.Thread] = append(seqs[e.Epoch.Thread], e.Epoch.Seq)
		if (e.Epoch.Seq == 1) != (e.Kind == analysis.KindStart) {
			t.Errorf("%s: %s at seq %d", e.Epoch, e.Kind, e.Epoch.Seq)
		}
	}
	for id, s := range seqs {
		slices.Sort(s)
		for i, n := range s {
			if n != uint64(i+1) {
				t.Errorf("thread %s: records %v, want 1..%d", id, s, len(s))
				break
			}
		}
	}
	return all
}

// races runs the analysis detector over evs.
func races(t testing.TB, evs []analysis.Event) []analysis.Race {
	t.Helper()
	return racewaytest.Races(t, evs)
}

// racesOn returns the races on variable v, as "kind" strings.
func racesOn(t testing.TB, evs []analysis.Event, v string) []string {
	t.Helper()
	var out []string
	for _, r := range races(t, evs) {
		if r.Var == v {
			out = append(out, r.Kind.String())
		}
	}
	return out
}

// hb is an independent happens-before oracle over recorded events: program
// order, After edges and lock strands, searched backwards.
type hb struct {
	byEpoch map[analysis.Epoch]analysis.Event
	bySync  map[analysis.Epoch]analysis.Epoch // strand epoch → the release publishing it
}

func newHB(evs []analysis.Event) *hb {
	h := &hb{byEpoch: map[analysis.Epoch]analysis.Event{}, bySync: map[analysis.Epoch]analysis.Epoch{}}
	for _, e := range evs {
		h.byEpoch[e.Epoch] = e
		if !e.Sync.IsZero() {
			h.bySync[e.Sync] = e.Epoch
		}
	}
	return h
}

func (h *hb) preds(e analysis.Epoch) []analysis.Epoch {
	var p []analysis.Epoch
	if rel, ok := h.bySync[e]; ok { // a strand epoch
		p = append(p, rel)
		if e.Seq > 1 {
			p = append(p, analysis.Epoch{Thread: e.Thread, Seq: e.Seq - 1})
		}
		return p
	}
	if e.Seq > 1 {
		p = append(p, analysis.Epoch{Thread: e.Thread, Seq: e.Seq - 1})
	}
	return append(p, h.byEpoch[e].After...)
}

// before reports whether a happens before b.
func (h *hb) before(a, b analysis.Epoch) bool {
	seen := map[analysis.Epoch]bool{}
	stack := h.preds(b)
	for len(stack) > 0 {
		e := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if e == a {
			return true
		}
		if seen[e] {
			continue
		}
		seen[e] = true
		stack = append(stack, h.preds(e)...)
	}
	return false
}

// find returns the only event of kind k on variable v (or lock) whose new
// value is val, failing the test otherwise.
func find(t testing.TB, evs []analysis.Event, k analysis.Kind, v, val string) analysis.Event {
	t.Helper()
	var got []analysis.Event
	for _, e := range evs {
		if e.Kind == k && (e.Var == v || e.Lock == v) && (val == "" || e.New == val) {
			got = append(got, e)
		}
	}
	if len(got) != 1 {
		t.Fatalf("%d %s events on %s with value %q, want 1", len(got), k, v, val)
	}
	return got[0]
}

// ordered checks that a happens before b and not the reverse.
func ordered(t testing.TB, h *hb, a, b analysis.Event) {
	t.Helper()
	if !h.before(a.Epoch, b.Epoch) {
		t.Errorf("%s %s=%s (%s) does not happen before %s %s=%s (%s)", a.Kind, a.Var, a.New, a.Epoch, b.Kind, b.Var, b.New, b.Epoch)
	}
	if h.before(b.Epoch, a.Epoch) {
		t.Errorf("%s happens before %s", b.Epoch, a.Epoch)
	}
}

// concurrent checks that neither of a and b happens before the other.
func concurrent(t testing.TB, h *hb, a, b analysis.Event) {
	t.Helper()
	if h.before(a.Epoch, b.Epoch) || h.before(b.Epoch, a.Epoch) {
		t.Errorf("%s (%s) and %s (%s) are ordered, want concurrent", a.Epoch, a.New, b.Epoch, b.New)
	}
}
