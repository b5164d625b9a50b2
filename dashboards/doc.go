// Package dashboards builds Raceway's Grafana dashboard with the
// schema-checked Grafana Foundation SDK. raceway.json is its output,
// regenerated with
//
//	go run ./cmd/racewaydashboard > raceway.json
//
// The queries use the names that Prometheus (or Mimir) and Loki store for
// what the raceway exporter, the raceway processor and the racewayotel
// library emit over OTLP; README.md gives the translation, and the tests
// check every query against the names the code actually emits.
//
// This is its own Go module so that the SDK never enters the module graph of
// racewayotel's users.
package dashboards
