// Package telemetry sets up OpenTelemetry and racewayotel for the example
// services the way an existing OTel application would: an SDK
// TracerProvider exporting OTLP/HTTP, W3C trace context and baggage
// propagation, and a racewayotel Tracker on top.
package telemetry

import (
	"context"
	"errors"
	"net/http"
	"os"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"

	"github.com/raceway-otel/raceway/racewayotel"
)

// Setup is one service's telemetry.
type Setup struct {
	Tracker  *racewayotel.Tracker
	Provider *sdktrace.TracerProvider
	// Client is an HTTP client whose calls carry trace context and the
	// Raceway clock, and record the response edge.
	Client *http.Client
}

// New sets up telemetry for service, exporting to the OTLP/HTTP endpoint
// in OTEL_EXPORTER_OTLP_ENDPOINT (default http://127.0.0.1:4318).
func New(ctx context.Context, service string) (*Setup, error) {
	endpoint := os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
	if endpoint == "" {
		endpoint = "http://127.0.0.1:4318"
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint+"/v1/traces"))
	if err != nil {
		return nil, err
	}
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
		Client:   &http.Client{Transport: rw.Transport(http.DefaultTransport), Timeout: 30 * time.Second},
	}, nil
}

// Handler wraps a service's routes: otelhttp outside (server spans,
// context extraction), the Raceway middleware inside (one logical thread
// per request).
func (s *Setup) Handler(mux http.Handler, operation string) http.Handler {
	return otelhttp.NewHandler(s.Tracker.Middleware(mux), operation)
}

// Shutdown flushes and stops the exporter, within ctx.
func (s *Setup) Shutdown(ctx context.Context) error {
	return errors.Join(s.Provider.ForceFlush(ctx), s.Provider.Shutdown(ctx))
}
