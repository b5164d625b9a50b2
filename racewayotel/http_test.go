package racewayotel_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"

	"github.com/raceway-otel/raceway/analysis"
	"github.com/raceway-otel/raceway/racewayotel"
	"github.com/raceway-otel/raceway/racewayotel/convention"
)

var propagators = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// serve starts a loopback server running h behind s's Middleware and
// otelhttp's handler.
func serve(t testing.TB, s *service, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(otelhttp.NewHandler(s.rw.Middleware(h), s.name,
		otelhttp.WithTracerProvider(s.tp), otelhttp.WithPropagators(propagators)))
	t.Cleanup(srv.Close)
	return srv
}

// client returns an HTTP client whose transport is s's Transport.
func client(t testing.TB, s *service) *http.Client {
	t.Helper()
	base := &http.Transport{}
	t.Cleanup(base.CloseIdleConnections)
	return &http.Client{Transport: s.rw.Transport(base,
		otelhttp.WithTracerProvider(s.tp), otelhttp.WithPropagators(propagators))}
}

func get(t testing.TB, ctx context.Context, c *http.Client, url string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
}

const stock = "postgres/shop/products/42.stock"

// Scenario 6 across a real HTTP hop: A writes, calls B which writes, A writes
// again after B returns. The request edge orders A's first write before B's,
// the response edge B's before A's second.
func TestHTTPHopOrdering(t *testing.T) {
	a, b := newService(t, "a"), newService(t, "b")
	srv := serve(t, b, func(w http.ResponseWriter, r *http.Request) {
		b.rw.TrackSharedStateChange(r.Context(), stock, "a-pre", "b", racewayotel.Write)
		_, _ = io.WriteString(w, "ok")
		b.rw.TrackSharedStateChange(r.Context(), stock, "b", "b-late", racewayotel.Write) // after the respond
	})
	c := client(t, a)
	ctx, span := a.start(context.Background(), "caller")
	a.rw.TrackSharedStateChange(ctx, stock, nil, "a-pre", racewayotel.Write)
	get(t, ctx, c, srv.URL+"/write")
	a.rw.TrackSharedStateChange(ctx, stock, "b", "a-post", racewayotel.Write)
	span.End()
	srv.Close() // waits for the handler: its span has ended

	evs := events(t, a, b)
	h := newHB(evs)
	pre, inB, post := find(t, evs, analysis.KindWrite, stock, "a-pre"), find(t, evs, analysis.KindWrite, stock, "b"), find(t, evs, analysis.KindWrite, stock, "a-post")
	ordered(t, h, pre, inB)
	ordered(t, h, inB, post)
	concurrent(t, h, find(t, evs, analysis.KindWrite, stock, "b-late"), post)
	if pre.TraceID != inB.TraceID {
		t.Error("the callee's record is not in the caller's trace")
	}
	if st := starts(evs)[inB.Epoch.Thread]; st.Origin != analysis.OriginRequest || st.ThreadName != "GET /write" {
		t.Errorf("callee thread: origin %s name %q", st.Origin, st.ThreadName)
	}
	if got := racesOn(t, evs, stock); len(got) != 1 {
		t.Errorf("races %v, want one (b-late and a-post)", got)
	}
	if n := a.rw.Stats().ClocksGarbled + b.rw.Stats().ClocksGarbled; n != 0 {
		t.Errorf("%d garbled clocks", n)
	}
}

// Scenarios 1 and 5: two concurrent requests read-modify-write the same
// shared row: they are concurrent and their updates race.
func TestHTTPConcurrentRequests(t *testing.T) {
	a, b := newService(t, "a"), newService(t, "b")
	var inside sync.WaitGroup
	inside.Add(2)
	srv := serve(t, b, func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		b.rw.TrackSharedStateChange(ctx, stock, nil, "10", racewayotel.Read)
		inside.Done()
		inside.Wait()
		b.rw.TrackSharedStateChange(ctx, stock, "10", r.URL.Query().Get("v"), racewayotel.Write)
	})
	c := client(t, a)
	ctx, span := a.start(context.Background(), "caller")
	var tasks []*racewayotel.Task
	for _, v := range []string{"9", "8"} {
		tasks = append(tasks, a.rw.Go(ctx, func(ctx context.Context) { get(t, ctx, c, srv.URL+"/buy?v="+v) }))
	}
	for _, k := range tasks {
		_ = k.Wait(ctx)
	}
	span.End()
	srv.Close()

	evs := events(t, a, b)
	concurrent(t, newHB(evs), find(t, evs, analysis.KindWrite, stock, "9"), find(t, evs, analysis.KindWrite, stock, "8"))
	rs := races(t, evs)
	lost := false
	for _, r := range rs {
		lost = lost || r.LostUpdate != nil
	}
	if len(rs) == 0 || !lost {
		t.Errorf("races %d (lost update %v), want a lost update", len(rs), lost)
	}
}

// logBuffer returns a logger writing text to a buffer.
func logBuffer() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewTextHandler(&buf, nil)), &buf
}

// Garbled and oversized inbound clocks are dropped, counted and logged; the
// request still runs, as a thread with no creator edge.
func TestInboundClockDropped(t *testing.T) {
	for _, tc := range []struct {
		reason, value string
		stats         func(racewayotel.Stats) uint64
	}{
		{"garbled", "zz@1", func(s racewayotel.Stats) uint64 { return s.ClocksGarbled }},
		{"garbled", "0000000000000000@1", func(s racewayotel.Stats) uint64 { return s.ClocksGarbled }},
		{"oversized", strings.Repeat("a", 300) + "@1", func(s racewayotel.Stats) uint64 { return s.ClocksOversized }},
	} {
		log, buf := logBuffer()
		b := newService(t, "b", racewayotel.WithLogger(log))
		var member string
		srv := serve(t, b, func(w http.ResponseWriter, r *http.Request) {
			member = baggage.FromContext(r.Context()).Member(convention.BaggageMember).Value()
			b.rw.TrackStateChange(r.Context(), "x", nil, 1, racewayotel.Write)
		})
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		req.Header.Set("baggage", "other=1,"+convention.BaggageMember+"="+tc.value)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		srv.Close()
		if got := tc.stats(b.rw.Stats()); got != 1 {
			t.Errorf("%s %.20q: counted %d, want 1", tc.reason, tc.value, got)
		}
		if !strings.Contains(buf.String(), "reason="+tc.reason) {
			t.Errorf("%s: log %q", tc.reason, buf.String())
		}
		if member != "" {
			t.Errorf("the handler's baggage still carries %q", member)
		}
		for _, e := range events(t, b) {
			if e.Kind == analysis.KindStart && len(e.After) != 0 {
				t.Errorf("%s: thread started after %v", tc.reason, e.After)
			}
		}
		if resp.Header.Get(convention.ResponseHeader) == "" {
			t.Error("no Raceway-Clock response header")
		}
	}
}

// A garbled Raceway-Clock response header is dropped and counted; the
// response is recorded without the edge.
func TestResponseClockDropped(t *testing.T) {
	a := newService(t, "a")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(convention.ResponseHeader, "not a clock")
	}))
	defer srv.Close()
	ctx, span := a.start(context.Background(), "caller")
	get(t, ctx, client(t, a), srv.URL)
	span.End()
	if n := a.rw.Stats().ClocksGarbled; n != 1 {
		t.Errorf("ClocksGarbled = %d, want 1", n)
	}
	if e := find(t, events(t, a), analysis.KindResponse, "", ""); len(e.After) != 0 {
		t.Errorf("response after %v", e.After)
	}
}

// WithPropagationHosts keeps the clock from other hosts.
func TestPropagationHosts(t *testing.T) {
	for _, allowed := range []string{"127.0.0.1", "elsewhere.example"} {
		a, b := newService(t, "a", racewayotel.WithPropagationHosts(allowed)), newService(t, "b")
		srv := serve(t, b, func(w http.ResponseWriter, r *http.Request) {})
		ctx, span := a.start(context.Background(), "caller")
		// A stale clock in the caller's baggage must not leak either.
		m, _ := baggage.NewMemberRaw(convention.BaggageMember, "00000000000000aa@1")
		bag, _ := baggage.New(m)
		get(t, baggage.ContextWithBaggage(ctx, bag), client(t, a), srv.URL)
		span.End()
		srv.Close()
		var sends []analysis.Epoch
		for _, e := range events(t, a) {
			if e.Kind == analysis.KindSend {
				sends = append(sends, e.Epoch)
			}
		}
		var callee []analysis.Epoch
		for _, e := range events(t, b) {
			if e.Kind == analysis.KindStart {
				callee = e.After
			}
		}
		if allowed == "127.0.0.1" {
			if len(sends) != 1 || len(callee) != 1 || callee[0] != sends[0] {
				t.Errorf("allowed: sends %v, callee started after %v", sends, callee)
			}
		} else if len(sends) != 0 || len(callee) != 0 {
			t.Errorf("not allowed: sends %v, callee started after %v", sends, callee)
		}
	}
}

// PropagationHeaders records a send whose epoch rides in the baggage header,
// next to the trace context.
func TestPropagationHeaders(t *testing.T) {
	a := newService(t, "a", racewayotel.WithPropagators(propagators))
	ctx, span := a.start(context.Background(), "caller")
	h := a.rw.PropagationHeaders(ctx)
	a.rw.TrackResponseClock(ctx, "00000000000000bb@3")
	span.End()
	evs := events(t, a)
	send := find(t, evs, analysis.KindSend, "", "")
	bag, err := baggage.Parse(h["baggage"])
	if err != nil || bag.Member(convention.BaggageMember).Value() != send.Epoch.String() {
		t.Errorf("baggage %q (%v), want %s=%s", h["baggage"], err, convention.BaggageMember, send.Epoch)
	}
	if h["traceparent"] == "" {
		t.Error("no traceparent")
	}
	resp := find(t, evs, analysis.KindResponse, "", "")
	if len(resp.After) != 1 || resp.After[0].String() != "00000000000000bb@3" {
		t.Errorf("response after %v", resp.After)
	}
}
