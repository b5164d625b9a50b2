// Package racewayprocessor finds data races in Raceway span events: it
// decodes them into analysis events, runs the race detector, annotates the
// spans that took part with a raceway.race span event and emits one finding
// trace (service "raceway") per distinct race.
//
//go:generate mdatagen metadata.yaml
package racewayprocessor // import "github.com/raceway-otel/raceway/processor/racewayprocessor"
