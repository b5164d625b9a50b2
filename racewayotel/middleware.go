package racewayotel

import (
	"context"
	"io"
	"net/http"
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
		ctx := r.Context()
		var caller analysis.Epoch
		bag := baggage.FromContext(ctx)
		if m := bag.Member(convention.BaggageMember); m.Key() != "" {
			caller, _ = t.inboundClock(m.Value(), sourceBaggage)
			// The caller's clock must not travel on with this thread's calls.
			ctx = baggage.ContextWithBaggage(ctx, bag.DeleteMember(convention.BaggageMember))
		}
		g := goid.Get()
		th := newThread(analysis.OriginRequest, cut(r.Method+" "+r.URL.Path, analysis.MaxNameLen), caller)
		th.owner.Store(g)
		th.g = t.goroutines.get(g)
		ctx = contextWithThread(ctx, th)
		t.start(ctx, th, g, nil, t.enter(th))

		rs := &responder{t: t, ctx: ctx, header: w.Header()}
		defer rs.respond()
		next.ServeHTTP(httpsnoop.Wrap(w, rs.hooks()), r.WithContext(ctx))
	})
}

// responder records a request thread's respond, once, and sets the response
// header before the response leaves.
type responder struct {
	t      *Tracker
	ctx    context.Context
	header http.Header
	done   atomic.Bool
}

func (rs *responder) respond() {
	if rs.done.Swap(true) {
		return
	}
	e := rs.t.track(rs.ctx, &record{kind: analysis.KindRespond})
	rs.header.Set(convention.ResponseHeader, e.String())
}

func (rs *responder) hooks() httpsnoop.Hooks {
	return httpsnoop.Hooks{
		WriteHeader: func(next httpsnoop.WriteHeaderFunc) httpsnoop.WriteHeaderFunc {
			return func(code int) {
				if code >= http.StatusOK || code == http.StatusSwitchingProtocols {
					rs.respond()
				}
				next(code)
			}
		},
		Write: func(next httpsnoop.WriteFunc) httpsnoop.WriteFunc {
			return func(b []byte) (int, error) {
				rs.respond()
				return next(b)
			}
		},
		ReadFrom: func(next httpsnoop.ReadFromFunc) httpsnoop.ReadFromFunc {
			return func(src io.Reader) (int64, error) {
				rs.respond()
				return next(src)
			}
		},
		Flush: func(next httpsnoop.FlushFunc) httpsnoop.FlushFunc {
			return func() {
				rs.respond()
				next()
			}
		},
	}
}
