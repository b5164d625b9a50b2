package racewayotel_test

import (
	"context"
	"errors"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/raceway-otel/raceway/analysis"
	"github.com/raceway-otel/raceway/racewayotel"
)

// Records beyond a span's event limit continue on overflow child spans
// instead of being evicted by the SDK.
func TestEventLimit(t *testing.T) {
	s := newService(t, "svc")
	ctx, span := s.start(context.Background(), "busy")
	const n = 300
	for i := range n {
		s.rw.TrackStateChange(ctx, "x", i, i+1, racewayotel.Write)
	}
	span.End()

	overflow := 0
	for _, sp := range s.rec.Ended() {
		switch sp.Name() {
		case "busy":
			if len(sp.Events()) != racewayotel.DefaultSpanEventLimit || sp.DroppedEvents() != 0 {
				t.Errorf("span: %d events, %d dropped", len(sp.Events()), sp.DroppedEvents())
			}
		case "raceway.overflow":
			overflow++
			if sp.Parent().SpanID() != span.SpanContext().SpanID() {
				t.Error("overflow span is not a child of the full span")
			}
		}
	}
	writes := 0
	for _, e := range events(t, s) { // also checks seq 1..n+1 with no gap
		if e.Kind == analysis.KindWrite {
			writes++
		}
	}
	st := s.rw.Stats()
	if writes != n || overflow != 2 || st.OverflowSpans != 2 || st.Records != n+1 || st.SDKDroppedEvents != 0 {
		t.Errorf("writes %d, overflow spans %d, stats %+v", writes, overflow, st)
	}
}

// When the SDK's limit is lower than the Tracker's, the evicted events are
// counted.
func TestSDKEvictionCounted(t *testing.T) {
	s := newService(t, "svc", racewayotel.WithSpanEventLimit(1000))
	ctx, span := s.start(context.Background(), "busy")
	for i := range 200 {
		s.rw.TrackStateChange(ctx, "x", i, i+1, racewayotel.Write)
	}
	span.End()
	if got := s.rw.Stats().SDKDroppedEvents; got != 201-racewayotel.DefaultSpanEventLimit {
		t.Errorf("SDKDroppedEvents = %d, want %d", got, 201-racewayotel.DefaultSpanEventLimit)
	}
}

// A record with no recording span in its context is carried by an orphan
// span: a new trace with no span at all, the same trace after the span ended.
func TestNoSpan(t *testing.T) {
	s := newService(t, "svc")
	s.rw.TrackStateChange(context.Background(), "x", nil, 1, racewayotel.Write)
	ctx, span := s.start(context.Background(), "ended")
	span.End()
	s.rw.TrackStateChange(ctx, "x", 1, 2, racewayotel.Write)

	evs := events(t, s)
	if late := find(t, evs, analysis.KindWrite, "x", "2"); late.TraceID != span.SpanContext().TraceID() {
		t.Error("the record after the span ended left its trace")
	}
	orphans := 0
	for _, sp := range s.rec.Ended() {
		if sp.Name() == "raceway.orphan" {
			orphans++
		}
	}
	// One thread (this goroutine's): thread.start and two writes.
	if st := s.rw.Stats(); orphans != 3 || st.OrphanSpans != 3 || st.Lost != 0 {
		t.Errorf("%d orphan spans, stats %+v", orphans, st)
	}
}

// Records that no span can carry (the trace is sampled out) are counted.
func TestSampledOutCounted(t *testing.T) {
	s := newServiceWith(t, "svc", []sdktrace.TracerProviderOption{sdktrace.WithSampler(sdktrace.NeverSample())})
	ctx, span := s.start(context.Background(), "dropped")
	s.rw.TrackStateChange(ctx, "x", nil, 1, racewayotel.Write)
	span.End()
	if st := s.rw.Stats(); st.Lost != 2 || st.Records != 0 {
		t.Errorf("stats %+v, want 2 lost (start and write)", st)
	}
}

type failingExporter struct{}

func (failingExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error {
	time.Sleep(10 * time.Millisecond)
	return errors.New("collector down")
}
func (failingExporter) Shutdown(context.Context) error { return nil }

// A collector that is down never blocks tracking.
func TestCollectorDown(t *testing.T) {
	s := newServiceWith(t, "svc", []sdktrace.TracerProviderOption{sdktrace.WithBatcher(failingExporter{}, sdktrace.WithMaxQueueSize(16))})
	start := time.Now()
	for i := range 2000 {
		ctx, span := s.start(context.Background(), "req")
		s.rw.TrackStateChange(ctx, "x", i, i+1, racewayotel.Write)
		span.End()
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("2000 tracked requests took %s", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = s.tp.Shutdown(ctx)
}
