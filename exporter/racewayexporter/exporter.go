package racewayexporter // import "github.com/raceway-otel/raceway/exporter/racewayexporter"

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/otlpexporter"
	"go.opentelemetry.io/collector/exporter/otlphttpexporter"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"

	"github.com/raceway-otel/raceway/exporter/racewayexporter/internal/metadata"
)

// racewayExporter turns finding spans into logs and metrics and hands them to
// inner stock OTLP exporters.
type racewayExporter struct {
	cfg       *Config
	logger    *zap.Logger
	version   string
	telemetry *metadata.TelemetryBuilder

	logs    exporter.Logs    // nil when logs are off or protocol is none
	metrics exporter.Metrics // nil when metrics are off or protocol is none
	// counters are kept even without OTLP metrics: cheap, and bounded.
	counters *counters
	// stopResend stops the periodic export of the counters, started by
	// start when metrics are sent; resendDone is closed when it has stopped.
	stopResend, resendDone chan struct{}

	mu       sync.Mutex
	file     *jsonlFile
	fullOnce sync.Once
	now      func() time.Time
}

func newRacewayExporter(ctx context.Context, set exporter.Settings, cfg *Config) (*racewayExporter, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	e := &racewayExporter{
		cfg:       cfg,
		logger:    set.Logger,
		version:   set.BuildInfo.Version,
		telemetry: tb,
		now:       time.Now,
	}
	e.counters = newCounters(cfg.MaxSeries, e.now())
	var (
		factory  exporter.Factory
		innerCfg component.Config
	)
	switch cfg.Protocol {
	case ProtocolGRPC:
		if cfg.GRPC == nil {
			return nil, errors.New(`raceway exporter: protocol "grpc" needs an "otlp_grpc" section`)
		}
		factory, innerCfg = otlpexporter.NewFactory(), cfg.GRPC
	case ProtocolHTTP:
		if cfg.HTTP == nil {
			return nil, errors.New(`raceway exporter: protocol "http" needs an "otlp_http" section`)
		}
		factory, innerCfg = otlphttpexporter.NewFactory(), cfg.HTTP
	default:
		return e, nil
	}
	name := "raceway"
	if n := set.ID.Name(); n != "" {
		name += "_" + n
	}
	innerSet := exporter.Settings{
		ID:                component.NewIDWithName(factory.Type(), name),
		TelemetrySettings: set.TelemetrySettings,
		BuildInfo:         set.BuildInfo,
	}
	innerSet.Logger = set.Logger.With(zap.String("inner_exporter", innerSet.ID.String()))
	if cfg.Logs {
		if e.logs, err = factory.CreateLogs(ctx, innerSet, innerCfg); err != nil {
			return nil, fmt.Errorf("raceway exporter: creating %s logs exporter: %w", factory.Type(), err)
		}
	}
	if cfg.Metrics {
		if e.metrics, err = factory.CreateMetrics(ctx, innerSet, innerCfg); err != nil {
			return nil, fmt.Errorf("raceway exporter: creating %s metrics exporter: %w", factory.Type(), err)
		}
	}
	return e, nil
}

func (e *racewayExporter) start(ctx context.Context, host component.Host) error {
	if e.cfg.File.Path != "" {
		f, err := openJSONL(e.cfg.File.Path, e.cfg.File.MaxBytes)
		if err != nil {
			return fmt.Errorf("raceway exporter: opening findings file: %w", err)
		}
		e.mu.Lock()
		e.file = f
		e.mu.Unlock()
	}
	// The host is passed through: the inner exporters look up their auth
	// extensions (bearertokenauth, oauth2client, ...) in it.
	if e.logs != nil {
		if err := e.logs.Start(ctx, host); err != nil {
			return err
		}
	}
	if e.metrics != nil {
		if err := e.metrics.Start(ctx, host); err != nil {
			return err
		}
		e.stopResend, e.resendDone = make(chan struct{}), make(chan struct{})
		go e.resend(e.cfg.MetricsInterval)
	}
	return nil
}

// resend sends every counter series again each period until stopResend is
// closed (see Config.MetricsInterval).
func (e *racewayExporter) resend(period time.Duration) {
	defer close(e.resendDone)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-e.stopResend:
			return
		case <-t.C:
			e.sendMetrics(context.Background(), e.counters.all(e.version, e.now()))
		}
	}
}

// sendMetrics hands md to the inner metrics exporter, if it has points. A
// failure is logged and counted, not returned (see pushTraces).
func (e *racewayExporter) sendMetrics(ctx context.Context, md pmetric.Metrics) {
	if md.DataPointCount() == 0 {
		return
	}
	if err := e.metrics.ConsumeMetrics(ctx, md); err != nil {
		e.telemetry.RacewayExporterSendFailed.Add(ctx, 1)
		e.logger.Warn("sending race metrics failed", zap.Error(err))
	}
}

func (e *racewayExporter) shutdown(ctx context.Context) error {
	if e.stopResend != nil {
		close(e.stopResend)
		<-e.resendDone
		e.stopResend = nil
	}
	var errs []error
	if e.logs != nil {
		errs = append(errs, e.logs.Shutdown(ctx))
	}
	if e.metrics != nil {
		errs = append(errs, e.metrics.Shutdown(ctx))
	}
	e.mu.Lock()
	if e.file != nil {
		errs = append(errs, e.file.close())
		e.file = nil
	}
	e.mu.Unlock()
	if e.telemetry != nil {
		e.telemetry.Shutdown()
	}
	return errors.Join(errs...)
}

// pushTraces handles one batch of traces. Spans other than findings are
// ignored (the same pipeline's other exporters send them on). Failures of the
// inner exporters are logged and counted but not returned: returning them
// would make the receiver refuse the application's spans, which the other
// exporters of the pipeline have already accepted.
func (e *racewayExporter) pushTraces(ctx context.Context, td ptrace.Traces) error {
	fs := findings(td)
	if len(fs) == 0 {
		return nil
	}
	now := e.now()
	e.telemetry.RacewayExporterFindings.Add(ctx, int64(len(fs)))

	e.mu.Lock()
	file := e.file
	e.mu.Unlock()
	if file != nil {
		dropped, err := file.write(fs)
		if dropped > 0 {
			e.telemetry.RacewayExporterFileDropped.Add(ctx, int64(dropped))
			if err == nil {
				e.fullOnce.Do(func() {
					e.logger.Warn("findings file reached file.max_bytes; further findings are not written to it",
						zap.String("path", e.cfg.File.Path), zap.Int64("max_bytes", e.cfg.File.MaxBytes))
				})
			}
		}
		if err != nil {
			e.logger.Warn("writing findings file failed", zap.String("path", e.cfg.File.Path), zap.Error(err))
		}
	}

	md, overflowed := e.counters.add(fs, fs[0].resource, e.version, now)
	if overflowed > 0 {
		e.telemetry.RacewayExporterSeriesOverflow.Add(ctx, int64(overflowed))
	}
	if e.logs != nil {
		ld := plog.NewLogs()
		appendLogs(ld, fs, e.version, now)
		if err := e.logs.ConsumeLogs(ctx, ld); err != nil {
			e.telemetry.RacewayExporterSendFailed.Add(ctx, 1)
			e.logger.Warn("sending race log records failed", zap.Int("findings", len(fs)), zap.Error(err))
		}
	}
	if e.metrics != nil {
		e.sendMetrics(ctx, md)
	}
	return nil
}
