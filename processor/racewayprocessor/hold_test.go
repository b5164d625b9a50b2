package racewayprocessor

import (
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/raceway-otel/raceway/processor/racewayprocessor/internal/metadatatest"
)

// held is a span with one record, of trace tr, span id sp.
func held(tr, sp byte) spanSpec {
	return spanSpec{service: "s", instance: "i", trace: tr, span: sp, name: "t", recs: []rec{
		{kind: "call", thread: uint64(tr), seq: int64(sp), fn: "f"},
	}}
}

// releasedSpans lists the trace and span id bytes ("tr/sp") of the spans
// the sink received, sorted; it fails on an empty span (a hole left behind).
func releasedSpans(t *testing.T, h *harness) []string {
	t.Helper()
	var out []string
	for _, td := range h.sink.AllTraces() {
		out = append(out, spanIDs(t, td)...)
	}
	sort.Strings(out)
	return out
}

func spanIDs(t *testing.T, td ptrace.Traces) []string {
	t.Helper()
	var out []string
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		require.Positive(t, sss.Len(), "no empty resource")
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			require.Positive(t, spans.Len(), "no empty scope")
			for k := 0; k < spans.Len(); k++ {
				s := spans.At(k)
				require.False(t, s.TraceID().IsEmpty(), "no empty span")
				out = append(out, string([]byte{'0' + s.TraceID()[0], '/', '0' + s.SpanID()[0]}))
			}
		}
	}
	return out
}

// TestHoldAcrossBatches: a trace is released wait_duration after its first
// span arrived, with its spans that arrived in later batches, while the
// other spans of those batches stay held for their own trace's wait.
func TestHoldAcrossBatches(t *testing.T) {
	h := newHarness(t, nil)
	h.consume(batch(held(1, 1), held(2, 1)))
	h.advance(4 * time.Second)
	h.consume(batch(held(1, 2), held(3, 1)))
	h.advance(6 * time.Second) // trace 1 and 2's wait is over, not 3's
	assert.Equal(t, []string{"1/1", "1/2", "2/1"}, releasedSpans(t, h))
	h.advance(0)
	metadatatest.AssertEqualProcessorRacewayTracesHeld(t, h.tt, []metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorRacewaySpansHeld(t, h.tt, []metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp())
	h.advance(3 * time.Second)
	assert.Len(t, releasedSpans(t, h), 3, "trace 3 still held")
	h.advance(time.Second)
	assert.Equal(t, []string{"1/1", "1/2", "2/1", "3/1"}, releasedSpans(t, h))
	h.finish()
	assert.Len(t, releasedSpans(t, h), 4, "each span released once")
}

// TestEarlyReleaseFromSharedBatch: traces evicted by max_traces leave the
// batch they arrived in, the rest of which stays held.
func TestEarlyReleaseFromSharedBatch(t *testing.T) {
	all := []string{"1/1", "2/1", "2/2", "3/1"}
	early := map[int][]string{1: all[:3], 2: all[:1], 3: nil}
	for maxTraces, want := range early {
		h := newHarness(t, func(c *Config) { c.MaxTraces = maxTraces })
		h.consume(batch(held(1, 1), held(2, 1), held(3, 1), held(2, 2)))
		evicted := 3 - maxTraces
		assert.Equal(t, want, releasedSpans(t, h), "max_traces %d", maxTraces)
		h.advance(time.Second)
		if evicted > 0 {
			metadatatest.AssertEqualProcessorRacewayEvictions(t, h.tt, evictionPoints(map[string]int64{"traces": int64(evicted)}), metricdatatest.IgnoreTimestamp())
		}
		metadatatest.AssertEqualProcessorRacewayTracesHeld(t, h.tt, []metricdata.DataPoint[int64]{{Value: int64(maxTraces)}}, metricdatatest.IgnoreTimestamp())
		h.finish()
		assert.Equal(t, all, releasedSpans(t, h), "max_traces %d", maxTraces)
	}
}

// TestHeldResourcesMerged: held spans of one batch are kept under one copy
// of each distinct resource and scope.
func TestHeldResourcesMerged(t *testing.T) {
	h := newHarness(t, nil)
	td := batch(held(1, 1), held(2, 1), held(3, 1), held(4, 1), held(5, 1))
	rss := td.ResourceSpans()
	rss.At(2).Resource().Attributes().PutStr("host.name", "other")
	rss.At(3).ScopeSpans().At(0).Scope().SetVersion("v2")
	h.consume(td)
	h.finish()
	got := h.output()
	assert.Equal(t, []string{"1/1", "2/1", "3/1", "4/1", "5/1"}, spanIDs(t, got))
	out := got.ResourceSpans()
	require.Equal(t, 3, out.Len(), "runs of equal resources merged")
	var scopes []int
	for i := 0; i < out.Len(); i++ {
		var n []int
		for j := 0; j < out.At(i).ScopeSpans().Len(); j++ {
			n = append(n, out.At(i).ScopeSpans().At(j).Spans().Len())
		}
		scopes = append(scopes, len(n))
		_, other := out.At(i).Resource().Attributes().Get("host.name")
		assert.Equal(t, i == 1, other)
	}
	assert.Equal(t, []int{1, 1, 2}, scopes)
}
