package collectortest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/status"

	"github.com/raceway-otel/raceway/internal/collectortest"
	"github.com/raceway-otel/raceway/internal/proc"
	"github.com/raceway-otel/raceway/racewayotel/convention"
)

// traces builds one export: per resource, its service and span names.
func traces(resources ...[]string) ptrace.Traces {
	td := ptrace.NewTraces()
	for _, r := range resources {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr(convention.ServiceName, r[0])
		spans := rs.ScopeSpans().AppendEmpty().Spans()
		for _, name := range r[1:] {
			spans.AppendEmpty().SetName(name)
		}
	}
	return td
}

func services(td ptrace.Traces) []string {
	var out []string
	for i := 0; i < td.ResourceSpans().Len(); i++ {
		v, _ := td.ResourceSpans().At(i).Resource().Attributes().Get(convention.ServiceName)
		out = append(out, v.Str())
	}
	return out
}

// TestSinkOverGRPC exports traces, logs and metrics to a started Sink
// through the OTLP gRPC clients, gzip-compressed, and checks what it counts
// and keeps.
func TestSinkOverGRPC(t *testing.T) {
	s := collectortest.StartSink(t, "", func(svc string) bool { return svc == "bank" })
	if !strings.HasPrefix(s.Addr(), "127.0.0.1:") || strings.HasSuffix(s.Addr(), ":0") {
		t.Fatalf("Addr() = %q, want 127.0.0.1 and the port bound", s.Addr())
	}
	conn, err := grpc.NewClient(s.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.UseCompressor(gzip.Name)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	exportTraces := func(td ptrace.Traces) error {
		_, err := ptraceotlp.NewGRPCClient(conn).Export(ctx, ptraceotlp.NewExportRequestFromTraces(td))
		return err
	}
	for _, td := range []ptrace.Traces{
		traces([]string{"bank", "GET /a", "SELECT"},
			[]string{"shop", "GET /b", "SELECT", "UPDATE"},
			[]string{"shop", "POST /c", convention.RaceEvent},
			[]string{convention.FindingService, "race accounts.alice.balance write/write"}),
		traces([]string{"shop", "GET /d"}), // nothing kept: no Traces in the snapshot
	} {
		if err := exportTraces(td); err != nil {
			t.Fatal(err)
		}
	}

	ld := plog.NewLogs()
	ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr("WARNING: RACE")
	if _, err := plogotlp.NewGRPCClient(conn).Export(ctx, plogotlp.NewExportRequestFromLogs(ld)); err != nil {
		t.Fatal(err)
	}
	md := pmetric.NewMetrics()
	md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty().SetName("raceway.races")
	if _, err := pmetricotlp.NewGRPCClient(conn).Export(ctx, pmetricotlp.NewExportRequestFromMetrics(md)); err != nil {
		t.Fatal(err)
	}

	for svc, want := range map[string]int{"bank": 2, "shop": 5, convention.FindingService: 1, "other": 0} {
		if got := s.SpanCount(svc); got != want {
			t.Errorf("SpanCount(%q) = %d, want %d", svc, got, want)
		}
	}
	if got := s.RaceSpanCount(); got != 1 {
		t.Errorf("RaceSpanCount() = %d, want 1", got)
	}
	tds, lds, mds := s.Snapshot()
	if len(tds) != 1 {
		t.Fatalf("%d trace exports kept, want 1", len(tds))
	}
	if got, want := strings.Join(services(tds[0]), ","), "bank,shop,"+convention.FindingService; got != want {
		t.Errorf("kept the resources of %s, want %s", got, want)
	}
	if len(lds) != 1 || lds[0].LogRecordCount() != 1 ||
		lds[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Body().Str() != "WARNING: RACE" {
		t.Errorf("kept %d log exports, want the one sent", len(lds))
	}
	if len(mds) != 1 || mds[0].MetricCount() != 1 ||
		mds[0].ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Name() != "raceway.races" {
		t.Errorf("kept %d metric exports, want the one sent", len(mds))
	}

	// Exports over 4 MiB are refused.
	big := traces([]string{"bank", strings.Repeat("x", 5<<20)})
	if err := exportTraces(big); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("a 5 MiB export: %v, want ResourceExhausted", err)
	}
}

// TestSinkReservedAddr: a Sink starts on the loopback address it is given.
func TestSinkReservedAddr(t *testing.T) {
	addrs, err := proc.FreeAddrs(1)
	if err != nil {
		t.Fatal(err)
	}
	if s := collectortest.StartSink(t, addrs[0], nil); s.Addr() != addrs[0] {
		t.Errorf("Addr() = %q, want %q", s.Addr(), addrs[0])
	}
}

// TestZeroSink: the zero Sink keeps copies of all it is given.
func TestZeroSink(t *testing.T) {
	var s collectortest.Sink
	td := traces([]string{"bank", "GET /a"})
	s.AddTraces(td)
	ld := plog.NewLogs()
	ld.ResourceLogs().AppendEmpty()
	s.AddLogs(ld)
	md := pmetric.NewMetrics()
	md.ResourceMetrics().AppendEmpty()
	s.AddMetrics(md)
	// Later changes to what was added do not reach the Sink.
	td.ResourceSpans().AppendEmpty()
	ld.ResourceLogs().AppendEmpty()
	md.ResourceMetrics().AppendEmpty()

	if s.Addr() != "" || s.SpanCount("bank") != 1 {
		t.Errorf("Addr() = %q, SpanCount(bank) = %d, want \"\" and 1", s.Addr(), s.SpanCount("bank"))
	}
	tds, lds, mds := s.Snapshot()
	if len(tds) != 1 || tds[0].ResourceSpans().Len() != 1 || len(lds) != 1 || lds[0].ResourceLogs().Len() != 1 ||
		len(mds) != 1 || mds[0].ResourceMetrics().Len() != 1 {
		t.Errorf("Snapshot() has %d traces, %d logs, %d metrics, or not the copies added", len(tds), len(lds), len(mds))
	}
}
