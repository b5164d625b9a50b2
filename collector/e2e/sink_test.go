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
)

// sink is a local OTLP/gRPC backend that keeps everything it receives.
type sink struct {
	addr string

	mu      sync.Mutex
	traces  []ptrace.Traces
	logs    []plog.Logs
	metrics []pmetric.Metrics
}

type traceService struct {
	ptraceotlp.UnimplementedGRPCServer
	s *sink
}

func (ts *traceService) Export(_ context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	td := ptrace.NewTraces()
	req.Traces().CopyTo(td)
	ts.s.mu.Lock()
	ts.s.traces = append(ts.s.traces, td)
	ts.s.mu.Unlock()
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

// startSink starts a sink on a free loopback port, stopped at test end.
func startSink(t *testing.T) *sink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{addr: ln.Addr().String()}
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

// snapshot returns what the sink has received so far.
func (s *sink) snapshot() ([]ptrace.Traces, []plog.Logs, []pmetric.Metrics) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ptrace.Traces(nil), s.traces...), append([]plog.Logs(nil), s.logs...), append([]pmetric.Metrics(nil), s.metrics...)
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
