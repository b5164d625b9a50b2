package racewayotel

import (
	"context"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"

	"github.com/raceway-otel/raceway/analysis"
)

// PropagationHeaders records an RPC send on the calling thread and returns
// the headers to put on the outgoing request, for clients that do not use
// [Tracker.Transport]: what the propagators (see [WithPropagators]) inject,
// trace context included, with the send's epoch in the raceway.clock member
// of the baggage header. Pass the response's Raceway-Clock header to
// [Tracker.TrackResponseClock] when it arrives.
func (t *Tracker) PropagationHeaders(ctx context.Context) map[string]string {
	if t == nil {
		return map[string]string{}
	}
	// Located at the first caller outside racewayotel: the application's
	// call, also when it goes through racewaynats or racewayamqp.
	send := t.track(ctx, &record{kind: analysis.KindSend, loc: callerOutside(nil)})
	bag := withClock(baggage.FromContext(ctx), send)
	carrier := propagation.MapCarrier{}
	t.cfg.propagators.Inject(baggage.ContextWithBaggage(ctx, bag), carrier)
	if carrier.Get("baggage") == "" {
		carrier.Set("baggage", bag.String())
	}
	return carrier
}

// TrackResponseClock records the arrival of an RPC response on the calling
// thread, after the callee's respond epoch clock: the value of the response's
// Raceway-Clock header. An empty clock records nothing; a malformed one is
// dropped, counted and logged, and the response recorded without the edge.
func (t *Tracker) TrackResponseClock(ctx context.Context, clock string) {
	if t == nil || clock == "" {
		return
	}
	t.response(ctx, clock, callerLocation(1))
}

func (t *Tracker) response(ctx context.Context, clock string, loc *location) {
	r := record{kind: analysis.KindResponse, loc: loc}
	if e, ok := t.inboundClock(clock, sourceHeader); ok {
		r.addAfter(e)
	}
	t.track(ctx, &r)
}
