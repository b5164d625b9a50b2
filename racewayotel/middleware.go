package racewayotel

import (
	"context"
	"io"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/felixge/httpsnoop"
	"github.com/petermattis/goid"
	"go.opentelemetry.io/otel/baggage"

	"github.com/raceway-otel/raceway/analysis"
	"github.com/raceway-otel/raceway/racewayotel/convention"
)

// Middleware runs each request's handler as a new logical thread (origin
// request, named after the method and path) that starts after the caller's
// send: the epoch in the request's raceway.clock baggage member, if valid (an
// invalid one is dropped, counted and logged). When the handler responds (its
// first WriteHeader, Write, ReadFrom or Flush, or its return) the thread
// records a respond and puts its epoch in the Raceway-Clock response header,
// which [Tracker.Transport] turns into the response edge.
//
// Middleware is a func(http.Handler) http.Handler, usable for a whole mux or
// per route. Put it inside otelhttp's handler, which extracts the trace
// context and the baggage (its propagators must include
// propagation.Baggage):
//
//	handler := otelhttp.NewHandler(rw.Middleware(mux), "server")
func (t *Tracker) Middleware(next http.Handler) http.Handler {
	if t == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, respond := t.StartHandler(r.Context(), r.Method+" "+r.URL.Path)
		rs := &responder{respond: respond, header: w.Header()}
		defer rs.send()
		next.ServeHTTP(httpsnoop.Wrap(w, rs.hooks()), r.WithContext(ctx))
	})
}

// StartHandler runs the rest of a handler that [Tracker.Middleware] does not
// wrap (a gRPC method, a message consumer) as a new logical thread (origin
// request, named name) that starts after the sender's epoch: the
// raceway.clock member of ctx's baggage, which the propagators extracted
// from the incoming metadata or message headers (an invalid one is dropped,
// counted and logged). It returns the thread's context and respond, which
// records the thread's respond and returns its epoch: send it back to the
// caller (for an RPC, in the Raceway-Clock response metadata, which the
// caller passes to [Tracker.TrackResponseClock]); a consumer of a message
// need not call it. respond may be called more than once and returns the
// first epoch.
//
// With [Tracker.PropagationHeaders] on the producer's side, this also gives
// the produce → consume edge of a message queue.
func (t *Tracker) StartHandler(ctx context.Context, name string) (context.Context, func() string) {
	if t == nil {
		return ctx, func() string { return "" }
	}
	var caller analysis.Epoch
	bag := baggage.FromContext(ctx)
	if m := bag.Member(convention.BaggageMember); m.Key() != "" {
		caller, _ = t.inboundClock(m.Value(), sourceBaggage)
		// The caller's clock must not travel on with this thread's calls.
		ctx = baggage.ContextWithBaggage(ctx, bag.DeleteMember(convention.BaggageMember))
	}
	g := goid.Get()
	th := newThread(analysis.OriginRequest, cut(name, analysis.MaxNameLen), caller)
	th.owner.Store(g)
	th.g = t.goroutines.get(g)
	ctx = contextWithThread(ctx, th)
	t.start(ctx, th, g, nil, t.enter(th))
	var once sync.Once
	var epoch string
	return ctx, func() string {
		once.Do(func() { epoch = t.track(ctx, &record{kind: analysis.KindRespond}).String() })
		return epoch
	}
}

// responder records a request thread's respond, once, and sets the response
// header before the response leaves.
type responder struct {
	respond func() string
	header  http.Header
	done    atomic.Bool
}

func (rs *responder) send() {
	if rs.done.Swap(true) {
		return
	}
	rs.header.Set(convention.ResponseHeader, rs.respond())
}

func (rs *responder) hooks() httpsnoop.Hooks {
	return httpsnoop.Hooks{
		WriteHeader: func(next httpsnoop.WriteHeaderFunc) httpsnoop.WriteHeaderFunc {
			return func(code int) {
				if code >= http.StatusOK || code == http.StatusSwitchingProtocols {
					rs.send()
				}
				next(code)
			}
		},
		Write: func(next httpsnoop.WriteFunc) httpsnoop.WriteFunc {
			return func(b []byte) (int, error) {
				rs.send()
				return next(b)
			}
		},
		ReadFrom: func(next httpsnoop.ReadFromFunc) httpsnoop.ReadFromFunc {
			return func(src io.Reader) (int64, error) {
				rs.send()
				return next(src)
			}
		},
		Flush: func(next httpsnoop.FlushFunc) httpsnoop.FlushFunc {
			return func() {
				rs.send()
				next()
			}
		},
	}
}
