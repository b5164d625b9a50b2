// Package stack builds and runs the parts of a Raceway deployment on
// loopback: otelcol-raceway (built by the stock OpenTelemetry Collector
// Builder from builder-config.yaml), Jaeger v2 (see internal/jaegertest)
// and the example services, and reads findings back through Jaeger's HTTP
// API. The demo (go run ./dev demo) and the end-to-end tests use it.
//
// It uses only the standard library and the project's own packages.
package stack
