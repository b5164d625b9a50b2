package racewayotel

import (
	"crypto/rand"
	"encoding/hex"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/raceway-otel/raceway/racewayotel/convention"
)

const instrumentationName = "github.com/raceway-otel/raceway/racewayotel"

// Version is the version of the racewayotel library, written as the
// instrumentation scope version of the spans and metrics it creates.
const Version = "0.1.0"

// processID identifies this process in raceway.process.id: random, chosen
// once per process.
var processID = func() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics instead)
	return hex.EncodeToString(b[:])
}()

// Tracker records Raceway events as span events on the application's spans.
// Create one per process with [New] and register its [SpanProcessor] with the
// TracerProvider. A Tracker is safe for concurrent use; all its methods are
// no-ops on a nil *Tracker, so that tracking can be switched off by leaving
// it nil.
type Tracker struct {
	cfg       config
	tracer    trace.Tracer
	processKV attribute.KeyValue
	counters  counters
	metrics   metric.Registration

	goroutines goroutineTable
	bindings   bindingTable
	spans      spanTable
	locks      lockTable
	skipped    skipTable
}

// New returns a Tracker configured by opts.
func New(opts ...Option) *Tracker {
	cfg := newConfig(opts)
	t := &Tracker{
		cfg:       cfg,
		tracer:    cfg.tracerProvider.Tracer(instrumentationName, trace.WithInstrumentationVersion(Version)),
		processKV: attribute.String(convention.ProcessID, cfg.processID),
	}
	reg, err := t.registerMetrics(cfg.meterProvider)
	if err != nil {
		otel.Handle(err)
	}
	t.metrics = reg
	return t
}
