package racewayotel

import (
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/baggage"

	"github.com/raceway-otel/raceway/analysis"
	"github.com/raceway-otel/raceway/racewayotel/convention"
)

// Transport returns an http.RoundTripper that wraps
// otelhttp.NewTransport(base, opts...) and carries the clock of each
// request's calling thread:
//   - before the request leaves, the calling thread records an RPC send,
//     whose epoch rides in the raceway.clock baggage member (otelhttp's
//     propagators must include propagation.Baggage);
//   - when the response arrives, the calling thread records an RPC response
//     that happens after the callee's respond, named by the Raceway-Clock
//     response header (see [Tracker.Middleware]), if valid.
//
// Requests to hosts excluded by [WithPropagationHosts] carry no clock, record
// nothing and their response header is ignored.
func (t *Tracker) Transport(base http.RoundTripper, opts ...otelhttp.Option) http.RoundTripper {
	return &transport{t: t, next: otelhttp.NewTransport(base, opts...)}
}

type transport struct {
	t    *Tracker
	next http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (tr *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	t := tr.t
	if t == nil {
		return tr.next.RoundTrip(req)
	}
	ctx := req.Context()
	bag := baggage.FromContext(ctx)
	if !t.cfg.propagates(req) {
		if bag.Member(convention.BaggageMember).Key() != "" {
			req = req.WithContext(baggage.ContextWithBaggage(ctx, bag.DeleteMember(convention.BaggageMember)))
		}
		return tr.next.RoundTrip(req)
	}
	send := t.track(ctx, &record{kind: analysis.KindSend})
	resp, err := tr.next.RoundTrip(req.WithContext(baggage.ContextWithBaggage(ctx, withClock(bag, send))))
	if resp != nil {
		if v := resp.Header.Values(convention.ResponseHeader); len(v) > 0 {
			t.response(ctx, v[0], nil)
		}
	}
	return resp, err
}
