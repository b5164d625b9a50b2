// Package broker is what the message-broker helpers (racewaynats,
// racewayamqp) share: a producer span that records the send and carries
// the clock in the message's headers, and a consumer span whose logical
// thread starts after that send.
package broker

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/raceway-otel/raceway/racewayotel"
	"github.com/raceway-otel/raceway/racewayotel/convention"
)

// scope is the instrumentation scope of the spans the helpers start.
const scope = "github.com/raceway-otel/raceway/racewayotel/broker"

// Config is a helper's configuration: where its spans go and how headers
// are read. Zero fields select OpenTelemetry's globals.
type Config struct {
	TracerProvider trace.TracerProvider
	// Propagators extract the producer's context from a message's headers;
	// the producer's side injects with the Tracker's (see
	// racewayotel.WithPropagators), so both should be the same.
	Propagators propagation.TextMapPropagator
}

// Option configures a helper; the helpers' packages name it as their own
// Option.
type Option func(*Config)

// WithTracerProvider sets the TracerProvider of the producer and consumer
// spans (default: otel.GetTracerProvider()).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *Config) { c.TracerProvider = tp }
}

// WithPropagators sets the propagators that read a message's headers
// (default: otel.GetTextMapPropagator()); the producer writes them with the
// Tracker's (racewayotel.WithPropagators). The clock's baggage is read even
// if they lack Baggage.
func WithPropagators(p propagation.TextMapPropagator) Option {
	return func(c *Config) { c.Propagators = p }
}

// NewConfig applies opts.
func NewConfig(opts []Option) Config {
	var c Config
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	return c
}

func (c Config) tracer() trace.Tracer {
	tp := c.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	return tp.Tracer(scope, trace.WithInstrumentationVersion(racewayotel.Version))
}

func (c Config) propagators() propagation.TextMapPropagator {
	if c.Propagators != nil {
		return c.Propagators
	}
	return otel.GetTextMapPropagator()
}

// Destination names where a message goes, for span names and messaging
// attributes.
type Destination struct {
	System string // messaging.system: "nats", "rabbitmq"
	Name   string // messaging.destination.name: a subject, an exchange
	// Attrs are more attributes of both spans (a routing key).
	Attrs []attribute.KeyValue
}

func (d Destination) attrs(op attribute.KeyValue, opName string) []attribute.KeyValue {
	return append([]attribute.KeyValue{
		semconv.MessagingSystemKey.String(d.System),
		semconv.MessagingDestinationName(d.Name),
		op,
		semconv.MessagingOperationName(opName),
	}, d.Attrs...)
}

// Send starts the producer span of a message about to be sent to d and,
// on it, records the send on the calling thread (rw.PropagationHeaders),
// writing the trace context and the baggage with the send's epoch into
// headers. The caller sends the message and ends the span. With a nil rw
// only the trace context and baggage travel.
func Send(ctx context.Context, rw *racewayotel.Tracker, c Config, d Destination, headers propagation.TextMapCarrier) (context.Context, trace.Span) {
	ctx, span := c.tracer().Start(ctx, "send "+d.Name, trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(d.attrs(semconv.MessagingOperationTypeSend, "send")...))
	if rw == nil {
		c.propagators().Inject(ctx, headers)
		return ctx, span
	}
	for k, v := range rw.PropagationHeaders(ctx) {
		headers.Set(k, v)
	}
	return ctx, span
}

// Receive starts the consumer span of a message received from d, a child
// of the producer's span read from headers, and on it a logical thread
// (racewayotel's StartHandler) that starts after the producer's send: two
// messages consumed concurrently are concurrent, a message's consumer
// happens after what its producer did before sending it. end ends the
// span.
func Receive(ctx context.Context, rw *racewayotel.Tracker, c Config, d Destination, headers propagation.TextMapCarrier) (_ context.Context, end func()) {
	ctx = c.propagators().Extract(ctx, headers)
	if baggage.FromContext(ctx).Member(convention.BaggageMember).Key() == "" {
		// The producer's Tracker writes the baggage header even when its
		// propagators lack Baggage; read it whatever ours are.
		ctx = propagation.Baggage{}.Extract(ctx, headers)
	}
	ctx, span := c.tracer().Start(ctx, "process "+d.Name, trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(d.attrs(semconv.MessagingOperationTypeProcess, "process")...))
	ctx, _ = rw.StartHandler(ctx, "process "+d.Name)
	return ctx, func() { span.End() }
}
