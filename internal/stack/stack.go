package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/raceway-otel/raceway/internal/jaegertest"
	"github.com/raceway-otel/raceway/internal/proc"
)

// Options configure Start.
type Options struct {
	// Root is the repository root.
	Root string
	// Progress receives build progress and status lines.
	Progress io.Writer
	// Log, if not nil, receives the collector's and Jaeger's output.
	Log io.Writer
	// FreePorts picks free loopback ports; otherwise the well-known ports
	// of DemoPorts are used (and must be free).
	FreePorts bool
	// Wait is the raceway processor's wait_duration. Default 2s.
	Wait time.Duration
}

// DemoPorts are the loopback ports the demo uses unless told to pick free
// ones: Jaeger's usual query port, the usual OTLP ports for the collector.
var DemoPorts = struct {
	JaegerQuery, JaegerQueryGRPC, JaegerOTLPGRPC, JaegerOTLPHTTP, JaegerHealth int
	CollectorGRPC, CollectorHTTP, CollectorMetrics                             int
}{16686, 16685, 14317, 14318, 13133, 4317, 4318, 8888}

// Stack is a running Jaeger and otelcol-raceway pair: applications send
// OTLP to the collector, which analyses it and exports traces (with the
// finding traces) to Jaeger.
type Stack struct {
	Jaeger    *jaegertest.Instance
	Collector *proc.Process
	// OTLPHTTP is the collector's OTLP/HTTP base URL (for
	// OTEL_EXPORTER_OTLP_ENDPOINT); OTLPGRPC its OTLP/gRPC host:port.
	OTLPHTTP, OTLPGRPC string
	// MetricsURL serves the collector's own metrics (Prometheus format).
	MetricsURL string
	// FindingsFile is where the raceway exporter writes JSON lines.
	FindingsFile string
}

// Start builds what is missing and starts Jaeger, then the collector.
func Start(ctx context.Context, o Options) (s *Stack, err error) {
	if o.Wait == 0 {
		o.Wait = 2 * time.Second
	}
	jbin, err := jaegertest.Build(ctx, o.Root, o.Progress)
	if err != nil {
		return nil, fmt.Errorf("building Jaeger: %w", err)
	}
	cbin, err := BuildCollector(ctx, o.Root, o.Progress)
	if err != nil {
		return nil, fmt.Errorf("building otelcol-raceway: %w", err)
	}
	var jp jaegertest.Ports
	grpcAddr, httpAddr, metricsAddr := "", "", ""
	if o.FreePorts {
		addrs, err := proc.FreeAddrs(3)
		if err != nil {
			return nil, err
		}
		grpcAddr, httpAddr, metricsAddr = addrs[0], addrs[1], addrs[2]
	} else {
		p := DemoPorts
		jp = jaegertest.Ports{OTLPGRPC: p.JaegerOTLPGRPC, OTLPHTTP: p.JaegerOTLPHTTP, QueryHTTP: p.JaegerQuery, QueryGRPC: p.JaegerQueryGRPC, Health: p.JaegerHealth}
		grpcAddr, httpAddr, metricsAddr = addr(p.CollectorGRPC), addr(p.CollectorHTTP), addr(p.CollectorMetrics)
		for _, port := range []int{p.JaegerQuery, p.JaegerQueryGRPC, p.JaegerOTLPGRPC, p.JaegerOTLPHTTP, p.JaegerHealth, p.CollectorGRPC, p.CollectorHTTP, p.CollectorMetrics} {
			if err := CheckFree(addr(port)); err != nil {
				return nil, err
			}
		}
	}
	fmt.Fprintln(o.Progress, "starting Jaeger on 127.0.0.1")
	s = &Stack{}
	if s.Jaeger, err = jaegertest.Start(ctx, jbin, filepath.Join(o.Root, jaegertest.ConfigPath), jp); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, s.Stop())
		}
	}()
	_, metricsPort, _ := net.SplitHostPort(metricsAddr)
	s.FindingsFile = filepath.Join(o.Root, ".bin", "findings.jsonl")
	env := []string{
		"RACEWAY_OTLP_GRPC=" + grpcAddr,
		"RACEWAY_OTLP_HTTP=" + httpAddr,
		"RACEWAY_JAEGER_OTLP=" + s.Jaeger.OTLPGRPCEndpoint(),
		"RACEWAY_FINDINGS_PROTOCOL=none",
		"RACEWAY_FINDINGS_FILE=" + s.FindingsFile,
		"RACEWAY_WAIT=" + o.Wait.String(),
		"RACEWAY_METRICS_PORT=" + metricsPort,
		"RACEWAY_LOG_LEVEL=warn",
	}
	fmt.Fprintln(o.Progress, "starting otelcol-raceway on 127.0.0.1")
	s.Collector, err = proc.Start("otelcol-raceway", o.Root, env, o.Log, cbin, "--config", filepath.Join(o.Root, "collector", "otelcol-raceway.yaml"))
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, a := range []string{grpcAddr, httpAddr} {
		if err := s.Collector.WaitListening(wctx, a); err != nil {
			return nil, err
		}
	}
	s.OTLPHTTP, s.OTLPGRPC, s.MetricsURL = "http://"+httpAddr, grpcAddr, "http://"+metricsAddr+"/metrics"
	return s, nil
}

// Stop stops the collector (which flushes what it holds to Jaeger) and
// then Jaeger.
func (s *Stack) Stop() error {
	var errs []error
	if s.Collector != nil {
		errs = append(errs, s.Collector.Stop())
	}
	if s.Jaeger != nil {
		errs = append(errs, s.Jaeger.Stop())
	}
	return errors.Join(errs...)
}

func addr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }
