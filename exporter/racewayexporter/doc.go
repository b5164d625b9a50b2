// Package racewayexporter is a traces exporter that turns Raceway finding
// spans (resource service.name "raceway", span attribute raceway.race.var)
// into one OTLP log record per race and race counters as OTLP metrics, and
// sends them through the collector's stock OTLP exporters (otlp_grpc or
// otlp_http), so that their queue, retry, TLS and auth settings apply. It can
// also append the findings to a JSON-lines file, for CI.
//
//go:generate mdatagen metadata.yaml
package racewayexporter // import "github.com/raceway-otel/raceway/exporter/racewayexporter"
