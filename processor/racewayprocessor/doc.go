// Package racewayprocessor finds data races in Raceway span events: it
// passes every span on at once, decodes the events into analysis events for
// the race detector, and shows every race it finds, whenever it finds it,
// as a raceway.race child span of each racing span and, once per distinct
// race, as a finding trace (service "raceway"). In shard mode it is instead
// the stateless router stage of a scaled-out deployment (docs/scaling.md):
// it keeps one analysis shard's view of the records.
//
//go:generate mdatagen metadata.yaml
package racewayprocessor // import "github.com/raceway-otel/raceway/processor/racewayprocessor"
