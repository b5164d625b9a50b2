package racewayprocessor

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/raceway-otel/raceway/processor/racewayprocessor/internal/metadatatest"
)

// TestCountersExportedAtZero: a processor that has seen nothing exports
// every counter of its mode at 0, under every attribute value, so that
// "nothing rejected" can be told from "not exported"; the counters of the
// other mode are not exported.
func TestCountersExportedAtZero(t *testing.T) {
	zero := []metricdata.DataPoint[int64]{{Value: 0}}
	ignore := metricdatatest.IgnoreTimestamp()
	t.Run("analyze", func(t *testing.T) {
		h := newHarness(t, nil)
		tt := h.tt
		metadatatest.AssertEqualProcessorRacewayDecodeErrors(t, tt, decodeErrorPoints(0, 0), ignore)
		metadatatest.AssertEqualProcessorRacewayEvictions(t, tt, evictionPoints(nil), ignore)
		metadatatest.AssertEqualProcessorRacewayEventsAnalysed(t, tt, zero, ignore)
		metadatatest.AssertEqualProcessorRacewayRacesFound(t, tt, zero, ignore)
		metadatatest.AssertEqualProcessorRacewayDistinctRaces(t, tt, zero, ignore)
		metadatatest.AssertEqualProcessorRacewayLateEvents(t, tt, zero, ignore)
		metadatatest.AssertEqualProcessorRacewayForcedEvents(t, tt, zero, ignore)
		metadatatest.AssertEqualProcessorRacewayTracesHeld(t, tt, zero, ignore)
		metadatatest.AssertEqualProcessorRacewaySpansHeld(t, tt, zero, ignore)
		for _, name := range []string{"otelcol_processor_raceway_shard_dropped_spans", "otelcol_processor_raceway_shard_placeholders"} {
			_, err := tt.GetMetric(name)
			require.Error(t, err, "%s is a shard-mode counter", name)
		}
		h.finish()
	})
	t.Run("shard", func(t *testing.T) {
		tt := componenttest.NewTelemetry()
		t.Cleanup(func() { require.NoError(t, tt.Shutdown(context.Background())) })
		p := newShard(t, tt, 0, 2, new(consumertest.TracesSink))
		metadatatest.AssertEqualProcessorRacewayShardDroppedSpans(t, tt, zero, ignore)
		metadatatest.AssertEqualProcessorRacewayShardPlaceholders(t, tt, zero, ignore)
		_, err := tt.GetMetric("otelcol_processor_raceway_decode_errors")
		require.Error(t, err, "the shard stage decodes nothing")
		require.NoError(t, p.Shutdown(context.Background()))
	})
}
