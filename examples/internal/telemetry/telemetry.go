// Package telemetry sets up OpenTelemetry and racewayotel for the example
// services the way an existing OTel application would: an SDK
// TracerProvider exporting OTLP/HTTP, W3C trace context and baggage
// propagation, and a racewayotel Tracker on top.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/raceway-otel/raceway/racewayotel"
)

// Setup is one service's telemetry.
type Setup struct {
	Tracker  *racewayotel.Tracker
	Provider *sdktrace.TracerProvider
	// Client is an HTTP client whose calls carry trace context and the
	// Raceway clock, and record the response edge.
	Client *http.Client

	exporter *countingExporter
	service  string
}

// countingExporter counts the spans its exporter delivered and those whose
// export failed (after the OTLP exporter's own retries): the spans dropped,
// for example while the collector is down. The application never waits for
// them: the SDK exports in the background.
type countingExporter struct {
	sdktrace.SpanExporter
	exported, dropped atomic.Int64
}

func (c *countingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := c.SpanExporter.ExportSpans(ctx, spans)
	if err != nil {
		c.dropped.Add(int64(len(spans)))
	} else {
		c.exported.Add(int64(len(spans)))
	}
	return err
}

// New sets up telemetry for service, exporting to the OTLP/HTTP endpoint
// in OTEL_EXPORTER_OTLP_ENDPOINT (default http://127.0.0.1:4318).
func New(ctx context.Context, service string) (*Setup, error) {
	endpoint := os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
	if endpoint == "" {
		endpoint = "http://127.0.0.1:4318"
	}
	otlp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint+"/v1/traces"))
	if err != nil {
		return nil, err
	}
	exp := &countingExporter{SpanExporter: otlp}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(semconv.ServiceName(service)))
	if err != nil {
		return nil, err
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(200*time.Millisecond)),
		sdktrace.WithResource(res),
	)
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	rw := racewayotel.New(racewayotel.WithTracerProvider(tp), racewayotel.WithPropagationHosts("127.0.0.1"))
	tp.RegisterSpanProcessor(rw.SpanProcessor())
	return &Setup{
		Tracker:  rw,
		Provider: tp,
		exporter: exp,
		service:  service,
		Client:   &http.Client{Transport: rw.Transport(http.DefaultTransport), Timeout: 30 * time.Second},
	}, nil
}

// Handler wraps a service's routes: otelhttp outside (server spans,
// context extraction), the Raceway middleware inside (one logical thread
// per request).
func (s *Setup) Handler(mux http.Handler, operation string) http.Handler {
	return otelhttp.NewHandler(s.Tracker.Middleware(mux), operation)
}

// Shutdown flushes and stops the exporter, within ctx, and reports on
// stderr what was exported and dropped, and racewayotel's own counters.
func (s *Setup) Shutdown(ctx context.Context) error {
	err := errors.Join(s.Provider.ForceFlush(ctx), s.Provider.Shutdown(ctx))
	st := s.Tracker.Stats()
	fmt.Fprintf(os.Stderr, "%s telemetry: %d spans exported, %d dropped; raceway records %d, lost %d, orphan spans %d, overflow spans %d, SDK-dropped events %d, data-store operations skipped %d\n",
		s.service, s.exporter.exported.Load(), s.exporter.dropped.Load(),
		st.Records, st.Lost, st.OrphanSpans, st.OverflowSpans, st.SDKDroppedEvents, st.CaptureSkipped)
	return err
}

// Call POSTs to url in ctx's trace and fails on a transport error or a
// status other than 2xx.
func (s *Setup) Call(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		return err
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("POST %s: %s", url, resp.Status)
	}
	return nil
}

// Post is Call in a trace of its own, whose root span is named name: one
// client request, as a load driver sends it.
func (s *Setup) Post(ctx context.Context, name, url string) error {
	ctx, span := s.Provider.Tracer("load").Start(ctx, name, trace.WithNewRoot())
	defer span.End()
	return s.Call(ctx, url)
}

// Serve serves mux (wrapped by Handler) on listen, a loopback address,
// until ctx is done; then it shuts the server down and flushes telemetry.
func (s *Setup) Serve(ctx context.Context, listen string, mux http.Handler, operation string) error {
	host, _, err := net.SplitHostPort(listen)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("listen %q: want a loopback address such as 127.0.0.1:8081", listen)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is the port taken?)", listen, err)
	}
	srv := &http.Server{Handler: s.Handler(mux, operation), ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Printf("%s listening on http://%s\n", operation, ln.Addr())
	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if serr := srv.Shutdown(sctx); serr != nil && err == nil {
		err = serr
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return errors.Join(err, s.Shutdown(sctx))
}
