package jaegertest_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/raceway-otel/raceway/internal/jaegertest"
)

const repoRoot = "../.."

func randHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// otlpSpan is a minimal span for the OTLP/HTTP JSON payload.
type otlpSpan struct {
	service, name, spanID, parentID string
	start, end                      time.Time
}

// otlpJSON renders an ExportTraceServiceRequest with one resourceSpans per
// span (each span comes from its own service).
func otlpJSON(traceID string, spans []otlpSpan) []byte {
	var rs []string
	for _, s := range spans {
		parent := ""
		if s.parentID != "" {
			parent = fmt.Sprintf(`"parentSpanId": %q,`, s.parentID)
		}
		rs = append(rs, fmt.Sprintf(`{
  "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": %q}}]},
  "scopeSpans": [{
    "scope": {"name": "jaegertest"},
    "spans": [{
      "traceId": %q, "spanId": %q, %s
      "name": %q, "kind": 2,
      "startTimeUnixNano": "%d", "endTimeUnixNano": "%d",
      "attributes": [{"key": "raceway.test", "value": {"stringValue": "yes"}},
                     {"key": "raceway.n", "value": {"intValue": "42"}}],
      "events": [{"timeUnixNano": "%d", "name": "checkpoint",
                  "attributes": [{"key": "k", "value": {"stringValue": "v"}}]}]
    }]
  }]
}`, s.service, traceID, s.spanID, parent, s.name, s.start.UnixNano(), s.end.UnixNano(), s.start.UnixNano()+1000))
	}
	return []byte(`{"resourceSpans": [` + strings.Join(rs, ",") + `]}`)
}

func TestJaeger(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs Jaeger (minutes on a cold cache)")
	}
	buildCtx, cancel := context.WithTimeout(t.Context(), 20*time.Minute)
	defer cancel()
	bin, err := jaegertest.Build(buildCtx, repoRoot, t.Output())
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	inst, err := jaegertest.Start(ctx, bin, filepath.Join(repoRoot, jaegertest.ConfigPath))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := inst.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
		if t.Failed() {
			t.Logf("jaeger output:\n%s", inst.Output())
		}
	})
	for _, ep := range []string{inst.QueryURL(), inst.OTLPHTTPEndpoint(), inst.OTLPGRPCEndpoint()} {
		if !strings.Contains(ep, "127.0.0.1:") {
			t.Errorf("endpoint %q is not on 127.0.0.1", ep)
		}
	}

	// gateway -> orders -> inventory, one trace.
	traceID := randHex(t, 16)
	gw, ord, inv := randHex(t, 8), randHex(t, 8), randHex(t, 8)
	now := time.Now().Add(-time.Second)
	spans := []otlpSpan{
		{"gateway", "GET /checkout", gw, "", now, now.Add(30 * time.Millisecond)},
		{"orders", "POST /orders", ord, gw, now.Add(5 * time.Millisecond), now.Add(25 * time.Millisecond)},
		{"inventory", "reserve", inv, ord, now.Add(10 * time.Millisecond), now.Add(20 * time.Millisecond)},
	}
	if err := inst.PostOTLPJSON(ctx, otlpJSON(traceID, spans)); err != nil {
		t.Fatal(err)
	}

	services, err := inst.Services(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"gateway", "orders", "inventory"} {
		if !slices.Contains(services, want) {
			t.Errorf("services = %v, missing %q", services, want)
		}
	}

	traces, err := inst.Traces(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	if len(traces) != 1 || traces[0].TraceID != traceID {
		t.Fatalf("traces for orders = %+v, want one trace %s", traces, traceID)
	}
	tr := traces[0]
	if len(tr.Spans) != 3 {
		t.Fatalf("trace has %d spans, want 3: %+v", len(tr.Spans), tr.Spans)
	}
	byID := map[string]jaegertest.Span{}
	for _, s := range tr.Spans {
		byID[s.SpanID] = s
	}
	o, ok := byID[ord]
	if !ok {
		t.Fatalf("span %s missing from %+v", ord, tr.Spans)
	}
	if o.OperationName != "POST /orders" || tr.ServiceName(o) != "orders" {
		t.Errorf("orders span: operation %q service %q", o.OperationName, tr.ServiceName(o))
	}
	if len(o.References) != 1 || o.References[0].RefType != "CHILD_OF" || o.References[0].SpanID != gw {
		t.Errorf("orders span references = %+v, want CHILD_OF %s", o.References, gw)
	}
	if v, ok := jaegertest.Tag(o.Tags, "raceway.test"); !ok || v != "yes" {
		t.Errorf("tag raceway.test = %v, %v; tags %+v", v, ok, o.Tags)
	}
	if len(o.Logs) != 1 {
		t.Errorf("orders span logs = %+v, want one event", o.Logs)
	} else if v, _ := jaegertest.Tag(o.Logs[0].Fields, "event"); v != "checkpoint" {
		t.Errorf("event fields = %+v", o.Logs[0].Fields)
	}
	if got := tr.ServiceName(byID[inv]); got != "inventory" {
		t.Errorf("inventory span service = %q", got)
	}

	one, err := inst.Trace(ctx, traceID)
	if err != nil {
		t.Fatal(err)
	}
	if len(one.Spans) != 3 {
		t.Errorf("GET /api/traces/%s: %d spans, want 3", traceID, len(one.Spans))
	}

	deps, err := inst.Dependencies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	edges := map[string]uint64{}
	for _, d := range deps {
		edges[d.Parent+"->"+d.Child] = d.CallCount
	}
	for _, want := range []string{"gateway->orders", "orders->inventory"} {
		if edges[want] != 1 {
			t.Errorf("dependencies = %+v, want edge %s with callCount 1", deps, want)
		}
	}
}

func TestStartPortTaken(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs Jaeger (minutes on a cold cache)")
	}
	buildCtx, cancel := context.WithTimeout(t.Context(), 20*time.Minute)
	defer cancel()
	bin, err := jaegertest.Build(buildCtx, repoRoot, t.Output())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	first, err := jaegertest.Start(ctx, bin, filepath.Join(repoRoot, jaegertest.ConfigPath))
	if err != nil {
		t.Fatal(err)
	}
	defer first.Stop()

	// An explicitly requested port that is in use is not retried: Start
	// fails with the process's output.
	_, err = jaegertest.Start(ctx, bin, filepath.Join(repoRoot, jaegertest.ConfigPath),
		jaegertest.Ports{OTLPHTTP: first.Ports.OTLPHTTP})
	if err == nil {
		t.Fatal("second Start on a taken port succeeded")
	}
	if !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("error does not mention the taken port: %v", err)
	}
}
