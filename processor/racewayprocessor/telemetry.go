package racewayprocessor // import "github.com/raceway-otel/raceway/processor/racewayprocessor"

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/raceway-otel/raceway/processor/racewayprocessor/internal/metadata"
)

var (
	evictedAttrs = attrOptions("evicted", "traces", "spans", "annotations", "variables", "history", "threads", "clock_entries", "pending", "groups", "snapshots")
	reasonAttrs  = attrOptions("reason", reasonMalformed, reasonNoProcess)
)

// The reasons of otelcol_processor_raceway_decode_errors.
const (
	reasonMalformed = "malformed"
	reasonNoProcess = "no_process_identity"
)

// attrOptions returns, for each value, the option that sets attribute key
// to it.
func attrOptions(key string, values ...string) map[string]metric.AddOption {
	m := make(map[string]metric.AddOption, len(values))
	for _, v := range values {
		m[v] = metric.WithAttributeSet(attribute.NewSet(attribute.String(key, v)))
	}
	return m
}

// exportZeros adds 0 to every counter that the processor updates in its
// mode (shard mode or not), under each of its attribute values, and records
// the gauges at 0, so that they are exported from the start: a backend can
// then tell "nothing rejected" from "not exported".
func exportZeros(tel *metadata.TelemetryBuilder, shard bool) {
	ctx := context.Background()
	if shard {
		tel.ProcessorRacewayShardDroppedSpans.Add(ctx, 0)
		tel.ProcessorRacewayShardPlaceholders.Add(ctx, 0)
		return
	}
	for _, c := range []metric.Int64Counter{
		tel.ProcessorRacewayEventsAnalysed, tel.ProcessorRacewayRacesFound, tel.ProcessorRacewayDistinctRaces,
		tel.ProcessorRacewayLateEvents, tel.ProcessorRacewayForcedEvents,
	} {
		c.Add(ctx, 0)
	}
	for _, o := range reasonAttrs {
		tel.ProcessorRacewayDecodeErrors.Add(ctx, 0, o)
	}
	for _, o := range evictedAttrs {
		tel.ProcessorRacewayEvictions.Add(ctx, 0, o)
	}
	tel.ProcessorRacewayTracesHeld.Record(ctx, 0)
	tel.ProcessorRacewaySpansHeld.Record(ctx, 0)
}
