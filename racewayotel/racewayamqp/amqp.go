// Package racewayamqp carries Raceway's clock through RabbitMQ messages
// (github.com/rabbitmq/amqp091-go), so that a consumer's logical thread
// starts after the producer's publish: what the producer did before
// publishing happens before what the consumer does with the message, and
// two consumers of one queue are concurrent with each other.
//
//	err := racewayamqp.Publish(ctx, rw, ch, "", "orders", false, false, amqp.Publishing{Body: body})
//
//	for d := range deliveries {
//		ctx, end := racewayamqp.Consume(ctx, rw, d)
//		handle(ctx, d)
//		end()
//		_ = d.Ack(false)
//	}
//
// The clock rides in the message's headers table, with the trace context,
// as racewayotel's PropagationHeaders writes them for HTTP: the producer
// records an RPC send on a "send <destination>" span (kind producer) and
// the consumer's thread (origin request, named "process <destination>")
// starts after it, on a "process <destination>" span (kind consumer) in
// the producer's trace. The destination is the exchange, or the routing
// key (the queue) for the default exchange.
//
// A header the propagators read that is not text (another client may write
// a table or a number under "baggage") cannot be classified: the delivery
// is consumed without that header, and counted with Tracker.CountSkipped
// (system "rabbitmq", reason "unreadable header"). A delivery without the
// clock (from a producer without Raceway) gets a consumer thread with no
// producer edge; one whose clock is garbled too, and the Tracker counts the
// clock (Stats.ClocksGarbled).
package racewayamqp

import (
	"context"
	"maps"
	"slices"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
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

func destination(exchange, key string) broker.Destination {
	d := broker.Destination{System: "rabbitmq", Name: exchange}
	if exchange == "" {
		d.Name = key
	}
	if key != "" {
		d.Attrs = append(d.Attrs, semconv.MessagingRabbitMQDestinationRoutingKey(key))
	}
	return d
}

// Publish publishes msg on ch (Channel.PublishWithContext) from the calling
// thread: it starts the producer span, records the send and adds the clock
// and trace context to a copy of msg's headers.
func Publish(ctx context.Context, rw *racewayotel.Tracker, ch *amqp.Channel, exchange, key string, mandatory, immediate bool, msg amqp.Publishing, opts ...Option) error {
	headers := make(amqp.Table, len(msg.Headers)+2)
	maps.Copy(headers, msg.Headers)
	msg.Headers = headers
	ctx, span := broker.Send(ctx, rw, broker.NewConfig(opts), destination(exchange, key), &tableCarrier{t: headers})
	defer span.End()
	return ch.PublishWithContext(ctx, exchange, key, mandatory, immediate, msg)
}

// Consume starts the consumer span of d and a logical thread that starts
// after d's publish; call end when d is handled.
func Consume(ctx context.Context, rw *racewayotel.Tracker, d amqp.Delivery, opts ...Option) (_ context.Context, end func()) {
	tc := tableCarrier{t: d.Headers}
	ctx, end = broker.Receive(ctx, rw, broker.NewConfig(opts), destination(d.Exchange, d.RoutingKey), &tc)
	if tc.unreadable {
		rw.CountSkipped("rabbitmq", "unreadable header")
	}
	return ctx, end
}

// tableCarrier adapts an amqp.Table to the propagators. Values it reads
// that are neither strings nor byte slices are unreadable.
type tableCarrier struct {
	t          amqp.Table
	unreadable bool
}

func (c *tableCarrier) Get(key string) string {
	switch v := c.t[key].(type) {
	case nil:
		return ""
	case string:
		return v
	case []byte:
		return string(v)
	}
	c.unreadable = true
	return ""
}

func (c *tableCarrier) Set(key, value string) { c.t[key] = value }

func (c *tableCarrier) Keys() []string { return slices.Collect(maps.Keys(c.t)) }
