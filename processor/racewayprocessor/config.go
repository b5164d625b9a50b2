package racewayprocessor // import "github.com/raceway-otel/raceway/processor/racewayprocessor"

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"

	"github.com/raceway-otel/raceway/analysis"
)

// Defaults of [Config].
const (
	DefaultWaitDuration     = 10 * time.Second
	DefaultRaceWindow       = analysis.DefaultWindow // 10m
	DefaultMaxTraces        = 10_000
	DefaultMaxSpansPerTrace = 1_000
	DefaultMaxVariables     = analysis.DefaultMaxVariables // 1,000,000
	DefaultMaxHistory       = analysis.DefaultMaxHistory   // 8
	DefaultMaxThreads       = analysis.DefaultMaxThreads   // 65,536
	DefaultMaxPending       = analysis.DefaultMaxPending   // 1,000,000

	// minWaitDuration keeps the ticker (wait/10) from spinning.
	minWaitDuration = 10 * time.Millisecond
)

// Config configures the raceway processor.
type Config struct {
	// WaitDuration is how long the spans of a trace that carry Raceway
	// records are held after the first of them arrived, so that the races
	// they take part in can be annotated on them before they are passed on.
	// Records whose predecessors are still missing are analysed anyway after
	// 80% of it. Default 10s; at least 10ms.
	WaitDuration time.Duration `mapstructure:"wait_duration"`
	// RaceWindow bounds how far apart in wall time two accesses may be and
	// still be reported as a race (TSan's history). Default 10m.
	RaceWindow time.Duration `mapstructure:"race_window"`
	// MaxTraces bounds the traces held at once; when it is reached, the
	// oldest held trace is released early (without annotations for races
	// found later; their finding traces are still emitted), counted in
	// otelcol_processor_raceway_evictions{evicted="traces"}. Default 10,000.
	MaxTraces int `mapstructure:"max_traces"`
	// MaxSpansPerTrace bounds the spans held for one trace; a trace that
	// reaches it is released early, counted as evicted="spans".
	// Default 1,000.
	MaxSpansPerTrace int `mapstructure:"max_spans_per_trace"`
	// MaxVariables bounds the variables the detector tracks; the least
	// recently accessed are evicted first (evicted="variables").
	// Default 1,000,000.
	MaxVariables int `mapstructure:"max_variables"`
	// MaxHistory bounds the recent accesses retained per variable (used to
	// report every racing pair and to check late records); older ones are
	// dropped first (evicted="history"). Default 8.
	MaxHistory int `mapstructure:"max_history"`
	// MaxThreads bounds the logical threads whose clocks are kept; the least
	// recently active are evicted first (evicted="threads"). Default 65,536.
	MaxThreads int `mapstructure:"max_threads"`
	// MaxPending bounds the records waiting for a predecessor; past it the
	// oldest is analysed at once (evicted="pending"). Default 1,000,000.
	MaxPending int `mapstructure:"max_pending"`

	// prevent unkeyed literal initialization
	_ struct{}
}

var _ component.Config = (*Config)(nil)

func createDefaultConfig() component.Config {
	return &Config{
		WaitDuration:     DefaultWaitDuration,
		RaceWindow:       DefaultRaceWindow,
		MaxTraces:        DefaultMaxTraces,
		MaxSpansPerTrace: DefaultMaxSpansPerTrace,
		MaxVariables:     DefaultMaxVariables,
		MaxHistory:       DefaultMaxHistory,
		MaxThreads:       DefaultMaxThreads,
		MaxPending:       DefaultMaxPending,
	}
}

// Validate checks the configuration.
func (cfg *Config) Validate() error {
	var errs []error
	if cfg.WaitDuration < minWaitDuration {
		errs = append(errs, fmt.Errorf("wait_duration must be at least %s (got %s)", minWaitDuration, cfg.WaitDuration))
	}
	if cfg.RaceWindow <= 0 {
		errs = append(errs, fmt.Errorf("race_window must be positive (got %s)", cfg.RaceWindow))
	}
	positive := func(name string, v int) {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive (got %d)", name, v))
		}
	}
	positive("max_traces", cfg.MaxTraces)
	positive("max_spans_per_trace", cfg.MaxSpansPerTrace)
	positive("max_variables", cfg.MaxVariables)
	positive("max_history", cfg.MaxHistory)
	positive("max_threads", cfg.MaxThreads)
	positive("max_pending", cfg.MaxPending)
	if len(errs) == 0 {
		if err := cfg.detectorConfig().Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// detectorWait is the detector's wait: a little shorter than the hold time
// so that records are analysed (and races annotated) before their trace is
// released.
func (cfg *Config) detectorWait() time.Duration {
	return cfg.WaitDuration * 8 / 10
}

func (cfg *Config) detectorConfig() analysis.Config {
	return analysis.Config{
		Wait:         cfg.detectorWait(),
		Window:       cfg.RaceWindow,
		MaxVariables: cfg.MaxVariables,
		MaxHistory:   cfg.MaxHistory,
		MaxThreads:   cfg.MaxThreads,
		MaxPending:   cfg.MaxPending,
	}
}
