// Package racewaynats carries Raceway's clock through NATS messages
// (github.com/nats-io/nats.go), so that a consumer's logical thread starts
// after the producer's publish: what the producer did before publishing
// happens before what the consumer does with the message, and two
// consumers of one subject or queue group are concurrent with each other.
//
//	err := racewaynats.Publish(ctx, rw, nc, &nats.Msg{Subject: "orders", Data: body})
//
//	sub, err := nc.QueueSubscribe("orders", "workers", racewaynats.Handler(rw,
//		func(ctx context.Context, msg *nats.Msg) { … }))
//
// The clock rides in the message's headers, with the trace context, as
// racewayotel's PropagationHeaders writes them for HTTP: the producer
// records an RPC send on a "send <subject>" span (kind producer) and the
// consumer's thread (origin request, named "process <subject>") starts
// after it, on a "process <subject>" span (kind consumer) in the
// producer's trace. [Inject] and [Extract] do the same for messages the
// helpers do not send or deliver (JetStream's jetstream.Msg, whose
// Headers() is a nats.Header).
//
// Status messages (a "Status" header and no data: no responders,
// JetStream heartbeats and flow control) are not application messages:
// Handler passes them on without a consumer thread and counts them with
// Tracker.CountSkipped (system "nats", reason "status message"). A message
// without the clock (from a producer without Raceway) gets a consumer
// thread with no producer edge; one whose clock is garbled too, and the
// Tracker counts the clock (Stats.ClocksGarbled).
package racewaynats

import (
	"context"
	"maps"
	"slices"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/raceway-otel/raceway/racewayotel"
	"github.com/raceway-otel/raceway/racewayotel/internal/broker"
)

// Option configures the helpers: [WithTracerProvider], [WithPropagators].
type Option = broker.Option

// WithTracerProvider sets the TracerProvider of the producer and consumer
// spans (default: otel.GetTracerProvider()).
func WithTracerProvider(tp trace.TracerProvider) Option { return broker.WithTracerProvider(tp) }

// WithPropagators sets the propagators that read a message's headers
// (default: otel.GetTextMapPropagator()); the producer writes them with the
// Tracker's. The clock's baggage is read even if they lack Baggage.
func WithPropagators(p propagation.TextMapPropagator) Option { return broker.WithPropagators(p) }

func destination(subject string) broker.Destination {
	return broker.Destination{System: "nats", Name: subject}
}

// Inject starts the producer span of a message to subject, records the
// send on the calling thread and writes the clock and trace context into
// h (which must not be nil). Send the message with the returned context
// and end the span.
func Inject(ctx context.Context, rw *racewayotel.Tracker, subject string, h nats.Header, opts ...Option) (context.Context, trace.Span) {
	return broker.Send(ctx, rw, broker.NewConfig(opts), destination(subject), headerCarrier(h))
}

// Extract starts the consumer span of a message received on subject with
// headers h, and a logical thread that starts after the producer's send;
// call end when the message is handled.
func Extract(ctx context.Context, rw *racewayotel.Tracker, subject string, h nats.Header, opts ...Option) (_ context.Context, end func()) {
	return broker.Receive(ctx, rw, broker.NewConfig(opts), destination(subject), headerCarrier(h))
}

// Publish publishes msg on nc from the calling thread (see [Inject]),
// adding headers to it.
func Publish(ctx context.Context, rw *racewayotel.Tracker, nc *nats.Conn, msg *nats.Msg, opts ...Option) error {
	if msg.Header == nil {
		msg.Header = nats.Header{}
	}
	_, span := Inject(ctx, rw, msg.Subject, msg.Header, opts...)
	defer span.End()
	return nc.PublishMsg(msg)
}

// Handler returns a nats.MsgHandler, for Subscribe and QueueSubscribe,
// that runs h for each message on a logical thread of its own that starts
// after the message's publish (see [Extract]).
func Handler(rw *racewayotel.Tracker, h func(context.Context, *nats.Msg), opts ...Option) nats.MsgHandler {
	c := broker.NewConfig(opts)
	return func(msg *nats.Msg) {
		if isStatus(msg) {
			rw.CountSkipped("nats", "status message")
			h(context.Background(), msg)
			return
		}
		ctx, end := broker.Receive(context.Background(), rw, c, destination(msg.Subject), headerCarrier(msg.Header))
		defer end()
		h(ctx, msg)
	}
}

// isStatus reports whether msg is a status message of the server or the
// client library rather than an application's.
func isStatus(msg *nats.Msg) bool {
	return len(msg.Data) == 0 && msg.Header.Get("Status") != ""
}

// headerCarrier adapts a nats.Header, whose keys are case-sensitive, to
// the propagators.
type headerCarrier nats.Header

func (c headerCarrier) Get(key string) string { return nats.Header(c).Get(key) }
func (c headerCarrier) Set(key, value string) { nats.Header(c).Set(key, value) }
func (c headerCarrier) Keys() []string        { return slices.Collect(maps.Keys(c)) }
