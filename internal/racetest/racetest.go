// Package racetest runs the detector over what racewayotel Trackers
// recorded, for tests that simulate several services in one process: the
// spans' Raceway records are decoded as the collector's processor decodes
// them (package convention) and analysed by analysis.Detector.
package racetest

import (
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/raceway-otel/raceway/analysis"
	"github.com/raceway-otel/raceway/racewayotel/convention"
)

// Decode turns the Raceway records of spans into events, failing the test
// on any record the convention's Decoder rejects.
func Decode(t testing.TB, spans []sdktrace.ReadOnlySpan) []analysis.Event {
	t.Helper()
	var out []analysis.Event
	var d convention.Decoder
	for _, s := range spans {
		src := convention.Source{TraceID: s.SpanContext().TraceID(), SpanID: s.SpanContext().SpanID()}
		if v, ok := s.Resource().Set().Value("service.name"); ok {
			src.Service = v.AsString()
		}
		for _, ev := range s.Events() {
			if !d.Reset(ev.Name, ev.Time, src) {
				continue
			}
			for _, kv := range ev.Attributes {
				switch kv.Value.Type() {
				case attribute.STRING:
					d.Str(string(kv.Key), kv.Value.AsString())
				case attribute.INT64:
					d.Int(string(kv.Key), kv.Value.AsInt64())
				case attribute.STRINGSLICE:
					for _, e := range kv.Value.AsStringSlice() {
						d.StrElem(string(kv.Key), e)
					}
				}
			}
			e, err := d.Event()
			if err != nil {
				t.Fatalf("span %q event %q: %v", s.Name(), ev.Name, err)
			}
			// The Decoder reuses its slices.
			e.After, e.LocksHeld = slices.Clone(e.After), slices.Clone(e.LocksHeld)
			e.SharedLocks, e.SharedRLocks = slices.Clone(e.SharedLocks), slices.Clone(e.SharedRLocks)
			out = append(out, e)
		}
	}
	return out
}

// Races runs a detector with the default configuration over evs, in the
// order given, and returns its races.
func Races(t testing.TB, evs []analysis.Event) []analysis.Race {
	t.Helper()
	d, err := analysis.NewDetector(analysis.Config{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, e := range evs {
		if err := d.Add(e, now); err != nil {
			t.Fatalf("detector rejected %s %s: %v", e.Kind, e.Epoch, err)
		}
	}
	d.Flush()
	return d.Drain()
}
