package e2e

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	_ "google.golang.org/grpc/encoding/gzip" // the collector's OTLP exporters compress with gzip

	"github.com/raceway-otel/raceway/racewayotel/convention"
)

// sink is the tests' OTLP/gRPC backend (traces, logs and metrics). It counts
// every span it receives, by service.name, the raceway.race spans apart; it
// keeps a copy of the resources of the services that keep accepts (nil: all),
// of every finding trace (service raceway) and raceway.race span, and of
// every log and metric export. A flood of a million records then costs the
// test process only counters.
type sink struct {
	addr string
	keep func(service string) bool

	mu        sync.Mutex
	spans     map[string]int // by service.name, without the raceway.race spans
	raceSpans int
	traces    []ptrace.Traces
	logs      []plog.Logs
	metrics   []pmetric.Metrics
}

type traceService struct {
	ptraceotlp.UnimplementedGRPCServer
	s *sink
}

func (ts *traceService) Export(_ context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	s := ts.s
	var keep ptrace.Traces
	counts := map[string]int{}
	races := 0
	rss := req.Traces().ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		svc := ""
		if v, ok := rs.Resource().Attributes().Get("service.name"); ok {
			svc = v.Str()
		}
		kept := svc == convention.FindingService || s.keep == nil || s.keep(svc)
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			spans := rs.ScopeSpans().At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				if spans.At(k).Name() == convention.RaceEvent {
					races++
					kept = true
				} else {
					counts[svc]++
				}
			}
		}
		if kept {
			if keep == (ptrace.Traces{}) {
				keep = ptrace.NewTraces()
			}
			rs.CopyTo(keep.ResourceSpans().AppendEmpty())
		}
	}
	s.mu.Lock()
	for k, v := range counts {
		s.spans[k] += v
	}
	s.raceSpans += races
	if keep != (ptrace.Traces{}) {
		s.traces = append(s.traces, keep)
	}
	s.mu.Unlock()
	return ptraceotlp.NewExportResponse(), nil
}

type logService struct {
	plogotlp.UnimplementedGRPCServer
	s *sink
}

func (ls *logService) Export(_ context.Context, req plogotlp.ExportRequest) (plogotlp.ExportResponse, error) {
	ld := plog.NewLogs()
	req.Logs().CopyTo(ld)
	ls.s.mu.Lock()
	ls.s.logs = append(ls.s.logs, ld)
	ls.s.mu.Unlock()
	return plogotlp.NewExportResponse(), nil
}

type metricService struct {
	pmetricotlp.UnimplementedGRPCServer
	s *sink
}

func (ms *metricService) Export(_ context.Context, req pmetricotlp.ExportRequest) (pmetricotlp.ExportResponse, error) {
	md := pmetric.NewMetrics()
	req.Metrics().CopyTo(md)
	ms.s.mu.Lock()
	ms.s.metrics = append(ms.s.metrics, md)
	ms.s.mu.Unlock()
	return pmetricotlp.NewExportResponse(), nil
}

// startSink starts a sink on addr ("" for a free loopback port; a reserved
// address lets a test start the backend after the collector) that keeps the
// spans of the services keep accepts (nil: all), stopped at the end of the
// test.
func startSink(t testing.TB, addr string, keep func(service string) bool) *sink {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{addr: ln.Addr().String(), keep: keep, spans: map[string]int{}}
	// 4 MiB, like the default of OTLP receivers: the demo configuration's
	// batch sizes must keep exports under it.
	srv := grpc.NewServer(grpc.MaxRecvMsgSize(4 << 20))
	ptraceotlp.RegisterGRPCServer(srv, &traceService{s: s})
	plogotlp.RegisterGRPCServer(srv, &logService{s: s})
	pmetricotlp.RegisterGRPCServer(srv, &metricService{s: s})
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		stopped := make(chan struct{})
		go func() { srv.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(5 * time.Second):
			srv.Stop()
		}
	})
	return s
}

// count is the number of spans received from service, raceway.race spans
// left out.
func (s *sink) count(service string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.spans[service]
}

// raceSpanCount is the number of raceway.race spans received.
func (s *sink) raceSpanCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.raceSpans
}

// snapshot returns what the sink has kept so far.
func (s *sink) snapshot() ([]ptrace.Traces, []plog.Logs, []pmetric.Metrics) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ptrace.Traces(nil), s.traces...), append([]plog.Logs(nil), s.logs...), append([]pmetric.Metrics(nil), s.metrics...)
}

// findings returns the names of the finding spans received, with their
// number.
func (s *sink) findings() map[string]int {
	tds, _, _ := s.snapshot()
	out := map[string]int{}
	eachSpan(tds, func(svc string, sp ptrace.Span) {
		if svc == convention.FindingService {
			out[sp.Name()]++
		}
	})
	return out
}

// raceLogs returns the number of race log records received per variable.
func (s *sink) raceLogs() map[string]int {
	_, lds, _ := s.snapshot()
	out := map[string]int{}
	eachLogRecord(lds, func(lr plog.LogRecord) {
		if v, ok := lr.Attributes().Get(convention.RaceVar); ok {
			out[v.Str()]++
		}
	})
	return out
}

// eachSpan calls fn for every span received, with its resource's service.name.
func eachSpan(tds []ptrace.Traces, fn func(service string, span ptrace.Span)) {
	for _, td := range tds {
		for i := 0; i < td.ResourceSpans().Len(); i++ {
			rs := td.ResourceSpans().At(i)
			svc := ""
			if v, ok := rs.Resource().Attributes().Get("service.name"); ok {
				svc = v.Str()
			}
			for j := 0; j < rs.ScopeSpans().Len(); j++ {
				spans := rs.ScopeSpans().At(j).Spans()
				for k := 0; k < spans.Len(); k++ {
					fn(svc, spans.At(k))
				}
			}
		}
	}
}

func eachLogRecord(lds []plog.Logs, fn func(lr plog.LogRecord)) {
	for _, ld := range lds {
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			sls := ld.ResourceLogs().At(i).ScopeLogs()
			for j := 0; j < sls.Len(); j++ {
				lrs := sls.At(j).LogRecords()
				for k := 0; k < lrs.Len(); k++ {
					fn(lrs.At(k))
				}
			}
		}
	}
}

func eachMetric(mds []pmetric.Metrics, fn func(m pmetric.Metric)) {
	for _, md := range mds {
		for i := 0; i < md.ResourceMetrics().Len(); i++ {
			sms := md.ResourceMetrics().At(i).ScopeMetrics()
			for j := 0; j < sms.Len(); j++ {
				ms := sms.At(j).Metrics()
				for k := 0; k < ms.Len(); k++ {
					fn(ms.At(k))
				}
			}
		}
	}
}
