package racewayprocessor

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/raceway-otel/raceway/processor/racewayprocessor/internal/metadatatest"
)

// TestAnnotatedKeepsTheMostRecentlySeen: the set forgets the least recently
// seen annotation first; seeing one again makes it the most recent.
func TestAnnotatedKeepsTheMostRecentlySeen(t *testing.T) {
	a, b, c := annotation{group: "a"}, annotation{group: "b"}, annotation{group: "c", role: roleCurrent}
	s := newAnnotated(2)
	assert.True(t, s.add(a))
	assert.True(t, s.add(b))
	assert.False(t, s.add(a), "a is known, and now the most recent")
	assert.True(t, s.add(c), "c is new: b, the least recently seen, goes")
	assert.Equal(t, int64(1), s.evicted)
	assert.False(t, s.add(a))
	assert.False(t, s.add(c))
	assert.True(t, s.add(b), "b was forgotten")
	assert.Equal(t, int64(2), s.evicted)
	assert.Len(t, s.byKey, 2)
	assert.Equal(t, 2, s.recency.Len())
	assert.True(t, s.add(annotation{group: "a", role: roleCurrent}), "the role is part of the key")
}

// TestForgottenAnnotationsCounted: annotations forgotten to stay within the
// bound are counted as evicted="annotations".
func TestForgottenAnnotationsCounted(t *testing.T) {
	h := newHarness(t, nil)
	h.p.annotated = newAnnotated(1)
	h.consume(batch(lostUpdateSpans()...))
	h.advance(time.Second)
	// Three racing pairs, six raceway.race spans, each remembered in turn.
	metadatatest.AssertEqualProcessorRacewayRaceSpans(t, h.tt, []metricdata.DataPoint[int64]{{Value: 6}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorRacewayEvictions(t, h.tt, evictionPoints(map[string]int64{"annotations": 5}), metricdatatest.IgnoreTimestamp())
	h.finish()
}
