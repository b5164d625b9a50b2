// Package racewayprocessor finds data races in Raceway span events: it
// decodes them into analysis events, runs the race detector, annotates the
// spans that took part with a raceway.race span event and emits one finding
// trace (service "raceway") per distinct race. In shard mode it is instead
// the stateless router stage of a scaled-out deployment (docs/scaling.md):
// it keeps one analysis shard's view of the records.
//
//go:generate mdatagen metadata.yaml
package racewayprocessor // import "github.com/raceway-otel/raceway/processor/racewayprocessor"
