package collectortest

import (
	"context"
	"net"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	_ "google.golang.org/grpc/encoding/gzip" // the collector's OTLP exporters compress with gzip
)

// maxRecvMsgSize is the largest export the Sink's server accepts: 4 MiB,
// like the default of OTLP receivers, so that a configuration whose batches
// pass the Sink passes a real backend too.
const maxRecvMsgSize = 4 << 20

// StartSink starts a [Sink] served over OTLP/gRPC (the trace, log and metric
// services) and stops it at the end of the test: gracefully, or at once
// when in-flight exports take more than 5 s.
//
// addr is "" for a free port on 127.0.0.1, or a loopback host:port that is
// free, which lets a test reserve the backend's address and start it after
// the client that sends to it; StartSink fails the test otherwise. The Sink
// keeps the spans of the services keep accepts (nil: all; see [Sink]). The
// server accepts exports of up to 4 MiB, gzip-compressed or not; opts (an
// interceptor, say) are added after these options.
func StartSink(t testing.TB, addr string, keep func(service string) bool, opts ...grpc.ServerOption) *Sink {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	if host, _, err := net.SplitHostPort(addr); err != nil {
		t.Fatalf("collectortest: sink address: %v", err)
	} else if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		t.Fatalf("collectortest: sink address %q is not a loopback address", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("collectortest: %v", err)
	}
	s := &Sink{addr: ln.Addr().String(), keep: keep}
	srv := grpc.NewServer(append([]grpc.ServerOption{grpc.MaxRecvMsgSize(maxRecvMsgSize)}, opts...)...)
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

type traceService struct {
	ptraceotlp.UnimplementedGRPCServer
	s *Sink
}

func (ts *traceService) Export(_ context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	ts.s.AddTraces(req.Traces())
	return ptraceotlp.NewExportResponse(), nil
}

type logService struct {
	plogotlp.UnimplementedGRPCServer
	s *Sink
}

func (ls *logService) Export(_ context.Context, req plogotlp.ExportRequest) (plogotlp.ExportResponse, error) {
	ls.s.AddLogs(req.Logs())
	return plogotlp.NewExportResponse(), nil
}

type metricService struct {
	pmetricotlp.UnimplementedGRPCServer
	s *Sink
}

func (ms *metricService) Export(_ context.Context, req pmetricotlp.ExportRequest) (pmetricotlp.ExportResponse, error) {
	ms.s.AddMetrics(req.Metrics())
	return pmetricotlp.NewExportResponse(), nil
}
