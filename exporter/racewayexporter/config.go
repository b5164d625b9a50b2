package racewayexporter // import "github.com/raceway-otel/raceway/exporter/racewayexporter"

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/exporter/otlpexporter"
	"go.opentelemetry.io/collector/exporter/otlphttpexporter"
)

// Protocols accepted by Config.Protocol.
const (
	ProtocolGRPC = "grpc" // send through the stock otlp_grpc exporter
	ProtocolHTTP = "http" // send through the stock otlp_http exporter
	ProtocolNone = "none" // send nothing over OTLP (only the file, if any)
)

// Defaults.
const (
	defaultMaxSeries       = 1000
	defaultMetricsInterval = 15 * time.Second
	defaultFileMaxBytes    = 64 << 20
)

// Config configures the raceway exporter.
//
// The OTLP sections are the stock exporters' own configuration types, filled
// with those factories' defaults before the user's settings are applied, so
// that every option of otlp_grpc / otlp_http (endpoint, tls, headers, auth,
// compression, timeout, sending_queue, retry_on_failure, ...) works here the
// same way. Only the section of the chosen protocol is kept (and validated).
type Config struct {
	// Protocol is "grpc" (default), "http" or "none".
	Protocol string `mapstructure:"protocol"`
	// GRPC configures the inner otlp_grpc exporter (Protocol "grpc").
	GRPC *otlpexporter.Config `mapstructure:"otlp_grpc"`
	// HTTP configures the inner otlp_http exporter (Protocol "http").
	HTTP *otlphttpexporter.Config `mapstructure:"otlp_http"`

	// Logs enables one log record per finding (default true).
	Logs bool `mapstructure:"logs"`
	// Metrics enables the race counters (default true).
	Metrics bool `mapstructure:"metrics"`
	// MaxSeries bounds the metric series (variable, kind, severity, service
	// pair) and the race groups remembered; findings beyond it are counted
	// in one overflow series.
	MaxSeries int `mapstructure:"max_series"`
	// MetricsInterval is how often every series is sent again with its
	// cumulative value, besides when a finding changes it, so that backends
	// keep it current: Prometheus forgets a series that has had no sample
	// for 5 minutes, and increase() needs two samples in its window.
	MetricsInterval time.Duration `mapstructure:"metrics_interval"`

	// File optionally appends every finding as one JSON line, for CI.
	File FileConfig `mapstructure:"file"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// FileConfig configures the optional JSON-lines file of findings.
type FileConfig struct {
	// Path of the file; empty disables it. The file is appended to.
	Path string `mapstructure:"path"`
	// MaxBytes bounds the file: once a line would take it past MaxBytes,
	// that finding and later ones are not written (and are counted).
	MaxBytes int64 `mapstructure:"max_bytes"`
}

func createDefaultConfig() *Config {
	return &Config{
		Protocol:        ProtocolGRPC,
		GRPC:            defaultGRPCConfig(),
		Logs:            true,
		Metrics:         true,
		MaxSeries:       defaultMaxSeries,
		MetricsInterval: defaultMetricsInterval,
		File:            FileConfig{MaxBytes: defaultFileMaxBytes},
	}
}

func defaultGRPCConfig() *otlpexporter.Config {
	return otlpexporter.NewFactory().CreateDefaultConfig().(*otlpexporter.Config)
}

func defaultHTTPConfig() *otlphttpexporter.Config {
	return otlphttpexporter.NewFactory().CreateDefaultConfig().(*otlphttpexporter.Config)
}

var _ confmap.Unmarshaler = (*Config)(nil)

// Unmarshal applies conf on top of the defaults: a section of an inner
// exporter starts from that exporter's own default config. The section of the
// protocol not chosen is dropped, so that it is neither validated nor used.
func (cfg *Config) Unmarshal(conf *confmap.Conf) error {
	if cfg.GRPC == nil && conf.IsSet("otlp_grpc") {
		cfg.GRPC = defaultGRPCConfig()
	}
	if cfg.HTTP == nil && conf.IsSet("otlp_http") {
		cfg.HTTP = defaultHTTPConfig()
	}
	type plain Config // no Unmarshal method: avoids recursion
	if err := conf.Unmarshal((*plain)(cfg)); err != nil {
		return err
	}
	switch cfg.Protocol {
	case ProtocolGRPC:
		cfg.HTTP = nil
	case ProtocolHTTP:
		cfg.GRPC = nil
		if cfg.HTTP == nil {
			cfg.HTTP = defaultHTTPConfig()
		}
	case ProtocolNone:
		cfg.GRPC, cfg.HTTP = nil, nil
	}
	return nil
}

// Validate checks the exporter's own settings; the chosen inner section is
// validated by its own Validate method.
func (cfg *Config) Validate() error {
	var errs []error
	switch cfg.Protocol {
	case ProtocolGRPC:
		if cfg.GRPC == nil {
			errs = append(errs, errors.New(`protocol "grpc" needs an "otlp_grpc" section`))
		}
	case ProtocolHTTP:
		if cfg.HTTP == nil {
			errs = append(errs, errors.New(`protocol "http" needs an "otlp_http" section`))
		}
	case ProtocolNone:
		if cfg.File.Path == "" {
			errs = append(errs, errors.New(`protocol "none" without "file.path" would export nothing`))
		}
	default:
		errs = append(errs, fmt.Errorf("protocol %q: want grpc, http or none", cfg.Protocol))
	}
	if cfg.Protocol != ProtocolNone && !cfg.Logs && !cfg.Metrics {
		errs = append(errs, errors.New(`"logs" and "metrics" are both off: nothing to send over OTLP`))
	}
	if cfg.MaxSeries < 1 {
		errs = append(errs, fmt.Errorf("max_series %d: must be at least 1", cfg.MaxSeries))
	}
	if cfg.Metrics && cfg.MetricsInterval <= 0 {
		errs = append(errs, fmt.Errorf("metrics_interval %s: must be positive", cfg.MetricsInterval))
	}
	if cfg.File.Path != "" && cfg.File.MaxBytes < 1 {
		errs = append(errs, fmt.Errorf("file.max_bytes %d: must be at least 1", cfg.File.MaxBytes))
	}
	return errors.Join(errs...)
}
