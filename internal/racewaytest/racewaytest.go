// Package racewaytest runs simulated services for the tests of racewayotel's
// capture packages (racewayredis, racewaynats, racewayamqp): each service is
// a TracerProvider recording into memory with a Tracker registered on it,
// and its records are read back as span events, as one-line summaries, or
// decoded into analysis events for the detector.
package racewaytest

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkresource "go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/raceway-otel/raceway/analysis"
	"github.com/raceway-otel/raceway/racewayotel"
	"github.com/raceway-otel/raceway/racewayotel/convention"
)

// Service is one simulated process.
type Service struct {
	Name string
	Rec  *tracetest.SpanRecorder
	TP   *sdktrace.TracerProvider
	RW   *racewayotel.Tracker
}

// NewService returns a service named name whose Tracker has process id
// name+"-1" and opts; it is shut down at the end of the test.
func NewService(t testing.TB, name string, opts ...racewayotel.Option) *Service {
	t.Helper()
	return NewServiceWith(t, name, nil, opts...)
}

// NewServiceWith is NewService with more options of its TracerProvider.
func NewServiceWith(t testing.TB, name string, tpOpts []sdktrace.TracerProviderOption, opts ...racewayotel.Option) *Service {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tpOpts = append([]sdktrace.TracerProviderOption{
		sdktrace.WithSpanProcessor(rec),
		sdktrace.WithResource(sdkresource.NewSchemaless(attribute.String("service.name", name))),
	}, tpOpts...)
	tp := sdktrace.NewTracerProvider(tpOpts...)
	opts = append([]racewayotel.Option{
		racewayotel.WithTracerProvider(tp),
		racewayotel.WithMeterProvider(metricnoop.NewMeterProvider()),
		racewayotel.WithProcessID(name + "-1"),
		racewayotel.WithLogger(slog.New(slog.DiscardHandler)),
	}, opts...)
	rw := racewayotel.New(opts...)
	tp.RegisterSpanProcessor(rw.SpanProcessor())
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return &Service{Name: name, Rec: rec, TP: tp, RW: rw}
}

// Start starts a span of the service. Records made with it go to the
// thread of the goroutine that makes them: two services are concurrent
// however their spans are run, two threads of one service only when run by
// two goroutines.
func (s *Service) Start(ctx context.Context, name string) (context.Context, trace.Span) {
	return s.TP.Tracer("test").Start(ctx, name)
}

// Record is one Raceway record, as a span event.
type Record struct {
	Name  string // the event name, "raceway.write"
	Span  string // the span's name
	Attrs map[string]attribute.Value
}

// Str returns a string attribute ("" if absent).
func (r Record) Str(key string) string { return r.Attrs[key].AsString() }

// Strs returns a string-array attribute (nil if absent).
func (r Record) Strs(key string) []string { return r.Attrs[key].AsStringSlice() }

// Epoch returns the record's epoch, "thread@seq".
func (r Record) Epoch() string {
	return r.Str(convention.ThreadID) + "@" + r.Attrs[convention.Seq].String()
}

// Summary is the record in one line: "write redis/0/k 10→11
// locks=[redis/0/k]" for an access ("read redis/0/k =10" for a read, "-"
// for a missing value; locks= lists raceway.locks.shared, absent when
// empty), "lock.acquire redis/0/lock:x" for a lock record, the kind alone
// for the others.
func (r Record) Summary() string {
	kind := strings.TrimPrefix(r.Name, convention.EventPrefix)
	val := func(k string) string {
		if v, ok := r.Attrs[k]; ok {
			return v.AsString()
		}
		return "-"
	}
	var s string
	switch kind {
	case "read":
		s = fmt.Sprintf("read %s =%s", r.Str(convention.VarName), val(convention.ValueNew))
	case "write":
		s = fmt.Sprintf("write %s %s→%s", r.Str(convention.VarName), val(convention.ValueOld), val(convention.ValueNew))
	default:
		if id := r.Str(convention.LockID); id != "" {
			return kind + " " + id
		}
		return kind
	}
	if l := r.Strs(convention.LocksShared); len(l) > 0 {
		s += " locks=[" + strings.Join(l, " ") + "]"
	}
	return s
}

// Records returns the Raceway records of the service's ended spans, in
// recording order within each span.
func (s *Service) Records() []Record {
	var out []Record
	for _, sp := range s.Rec.Ended() {
		for _, ev := range sp.Events() {
			if !convention.IsRecord(ev.Name) {
				continue
			}
			r := Record{Name: ev.Name, Span: sp.Name(), Attrs: map[string]attribute.Value{}}
			for _, kv := range ev.Attributes {
				r.Attrs[string(kv.Key)] = kv.Value
			}
			out = append(out, r)
		}
	}
	return out
}

// Accesses returns the summaries of the service's access records (reads and
// writes) in recording order.
func (s *Service) Accesses() []string {
	var out []string
	for _, r := range s.Records() {
		if r.Name == convention.EventPrefix+"read" || r.Name == convention.EventPrefix+"write" {
			out = append(out, r.Summary())
		}
	}
	return out
}

// Events decodes the records of every service's ended spans (see Decode).
func Events(t testing.TB, svcs ...*Service) []analysis.Event {
	t.Helper()
	var out []analysis.Event
	for _, s := range svcs {
		out = append(out, Decode(t, s.Rec.Ended())...)
	}
	return out
}

// Decode decodes the Raceway records of spans with the convention's
// Decoder, the service being each span's resource's service.name, failing
// the test on any record it rejects.
func Decode(t testing.TB, spans []sdktrace.ReadOnlySpan) []analysis.Event {
	t.Helper()
	var out []analysis.Event
	var d convention.Decoder
	for _, sp := range spans {
		src := convention.Source{TraceID: sp.SpanContext().TraceID(), SpanID: sp.SpanContext().SpanID()}
		if v, ok := sp.Resource().Set().Value("service.name"); ok {
			src.Service = v.AsString()
		}
		for _, ev := range sp.Events() {
			if !d.Reset(ev.Name, ev.Time, src) {
				continue
			}
			for _, kv := range ev.Attributes {
				switch kv.Value.Type() {
				case attribute.STRING:
					d.Str(string(kv.Key), kv.Value.AsString())
				case attribute.INT64:
					d.Int(string(kv.Key), kv.Value.AsInt64())
				case attribute.STRINGSLICE:
					for _, e := range kv.Value.AsStringSlice() {
						d.StrElem(string(kv.Key), e)
					}
				}
			}
			e, err := d.Event()
			if err != nil {
				t.Fatalf("span %q event %q: %v", sp.Name(), ev.Name, err)
			}
			// The Decoder reuses its slices for the next event.
			e.After, e.LocksHeld = slices.Clone(e.After), slices.Clone(e.LocksHeld)
			e.SharedLocks, e.SharedRLocks = slices.Clone(e.SharedLocks), slices.Clone(e.SharedRLocks)
			out = append(out, e)
		}
	}
	return out
}

// Races runs the analysis detector over evs and returns its races.
func Races(t testing.TB, evs []analysis.Event) []analysis.Race {
	t.Helper()
	d, err := analysis.NewDetector(analysis.Config{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, e := range evs {
		if err := d.Add(e, now); err != nil {
			t.Fatalf("detector rejected %s %s: %v", e.Kind, e.Epoch, err)
		}
	}
	d.Flush()
	return d.Drain()
}

// RacesOn returns the kinds of the races on variable v ("read/write",
// "write/write"), sorted, with " lost update" after a lost update's.
func RacesOn(t testing.TB, v string, svcs ...*Service) []string {
	t.Helper()
	var out []string
	for _, r := range Races(t, Events(t, svcs...)) {
		if r.Var != v {
			continue
		}
		k := r.Kind.String()
		if r.LostUpdate != nil {
			k += " lost update"
		}
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// WaitSpans waits until the service has ended n spans named name (a
// consumer's span ends after its handler returns), failing the test after
// 10 seconds.
func (s *Service) WaitSpans(t testing.TB, name string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := 0
		for _, sp := range s.Rec.Ended() {
			if sp.Name() == name {
				got++
			}
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s ended %d spans %q after 10s, want %d", s.Name, got, name, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
