package racewayprocessor // import "github.com/raceway-otel/raceway/processor/racewayprocessor"

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"

	"github.com/raceway-otel/raceway/analysis"
)

// Defaults of [Config].
const (
	DefaultWaitDuration = 10 * time.Second
	DefaultRaceWindow   = analysis.DefaultWindow       // 10m
	DefaultMaxVariables = analysis.DefaultMaxVariables // 1,000,000
	DefaultMaxHistory   = analysis.DefaultMaxHistory   // 8
	DefaultMaxThreads   = analysis.DefaultMaxThreads   // 65,536
	DefaultMaxPending   = analysis.DefaultMaxPending   // 1,000,000
	DefaultMode         = ModeAnalyze
	DefaultShardCount   = 1
	DefaultForwardSpans = true

	// minWaitDuration keeps the ticker from spinning.
	minWaitDuration = 10 * time.Millisecond
)

// Config configures the raceway processor.
type Config struct {
	// WaitDuration is how long a Raceway record may wait for a missing
	// predecessor (an earlier record of its thread, or an epoch it names)
	// before the detector analyses it without it, counted in
	// otelcol_processor_raceway_forced_events. Spans are never held: they
	// pass on at once, and only their decoded records wait. Keep it above
	// the time spans take to reach the collector (a long-running handler's
	// span arrives when it ends). Default 10s; at least 10ms.
	WaitDuration time.Duration `mapstructure:"wait_duration"`
	// RaceWindow bounds how far apart in wall time two accesses may be and
	// still be reported as a race (TSan's history). Default 10m.
	RaceWindow time.Duration `mapstructure:"race_window"`
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

	// Mode is what the processor does: ModeAnalyze ("analyze", the default;
	// an empty value means the same) runs the race detector; ModeShard
	// ("shard") makes it a stateless first-tier router stage for one
	// analysis shard (see docs/scaling.md): it drops spans without Raceway
	// records, strips the others to their records, and turns the accesses
	// of variables that other shards own into placeholder records.
	Mode string `mapstructure:"mode"`
	// Shard selects, in shard mode, the shard this pipeline feeds: accesses
	// whose variable key hashes (FNV-1a 64, modulo Count) to Index are kept.
	// Only valid in shard mode.
	Shard ShardConfig `mapstructure:"shard"`
	// ForwardSpans (analyze mode; default true) says whether the spans
	// received are passed on. With false the processor only analyses them
	// and emits what it finds (raceway.race spans and finding traces): the
	// analysis tier of a scaled-out deployment, whose routers already sent
	// the spans to the trace backend. Nil means the default.
	ForwardSpans *bool `mapstructure:"forward_spans"`

	// removed lists the options of earlier versions found in the
	// configuration, for Validate to say what replaced them.
	removed []string

	// prevent unkeyed literal initialization
	_ struct{}
}

// removedOptions are options of earlier versions, with what replaced them.
// They bounded the spans held for wait_duration, and spans are no longer
// held.
var removedOptions = []struct{ key, replacement string }{
	{"max_traces", "spans are no longer held (each passes on at once); the records waiting for the detector are bounded by max_pending"},
	{"max_spans_per_trace", "spans are no longer held (each passes on at once); the records waiting for the detector are bounded by max_pending"},
}

// Modes of the processor (Config.Mode).
const (
	ModeAnalyze = "analyze"
	ModeShard   = "shard"
)

// ShardConfig selects one analysis shard out of Count.
type ShardConfig struct {
	// Index of this shard, 0 <= Index < Count. Default 0.
	Index int `mapstructure:"index"`
	// Count of shards (analysis instances). Default 1; 0 means the default.
	Count int `mapstructure:"count"`
}

// count is the effective shard count.
func (s ShardConfig) count() int {
	if s.Count == 0 {
		return DefaultShardCount
	}
	return s.Count
}

// mode is the effective mode.
func (cfg *Config) mode() string {
	if cfg.Mode == "" {
		return DefaultMode
	}
	return cfg.Mode
}

// forwardSpans is the effective forward_spans.
func (cfg *Config) forwardSpans() bool {
	if cfg.ForwardSpans == nil {
		return DefaultForwardSpans
	}
	return *cfg.ForwardSpans
}

var (
	_ component.Config    = (*Config)(nil)
	_ confmap.Unmarshaler = (*Config)(nil)
)

func createDefaultConfig() component.Config {
	return &Config{
		WaitDuration: DefaultWaitDuration,
		RaceWindow:   DefaultRaceWindow,
		MaxVariables: DefaultMaxVariables,
		MaxHistory:   DefaultMaxHistory,
		MaxThreads:   DefaultMaxThreads,
		MaxPending:   DefaultMaxPending,
	}
}

// Unmarshal decodes conf into cfg. The options of earlier versions are
// taken out and noted, so that Validate can say what replaced them rather
// than the decoder only calling them invalid keys.
func (cfg *Config) Unmarshal(conf *confmap.Conf) error {
	if conf == nil {
		return nil
	}
	for _, o := range removedOptions {
		if conf.IsSet(o.key) {
			cfg.removed = append(cfg.removed, o.key)
			conf.Delete(o.key)
		}
	}
	return conf.Unmarshal(cfg)
}

// Validate checks the configuration.
func (cfg *Config) Validate() error {
	var errs []error
	for _, o := range removedOptions {
		if slices.Contains(cfg.removed, o.key) {
			errs = append(errs, fmt.Errorf("%s is no longer supported: %s", o.key, o.replacement))
		}
	}
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
	// (The detector's own bound, named as in this configuration.)
	limited := func(name string, v int) {
		positive(name, v)
		if v > analysis.MaxLimit {
			errs = append(errs, fmt.Errorf("%s must be at most %d (got %d)", name, analysis.MaxLimit, v))
		}
	}
	limited("max_variables", cfg.MaxVariables)
	positive("max_history", cfg.MaxHistory)
	limited("max_threads", cfg.MaxThreads)
	limited("max_pending", cfg.MaxPending)
	switch cfg.mode() {
	case ModeAnalyze:
		if cfg.Shard != (ShardConfig{}) {
			errs = append(errs, errors.New("shard is only valid with mode: shard"))
		}
	case ModeShard:
		if cfg.Shard.Count < 0 {
			errs = append(errs, fmt.Errorf("shard.count must be positive (got %d)", cfg.Shard.Count))
		} else if n := cfg.Shard.count(); cfg.Shard.Index < 0 || cfg.Shard.Index >= n {
			errs = append(errs, fmt.Errorf("shard.index must be in [0, %d) (got %d)", n, cfg.Shard.Index))
		}
		if cfg.ForwardSpans != nil {
			errs = append(errs, errors.New("forward_spans is only valid with mode: analyze"))
		}
	default:
		errs = append(errs, fmt.Errorf("mode must be %q or %q (got %q)", ModeAnalyze, ModeShard, cfg.Mode))
	}
	if len(errs) == 0 {
		if err := cfg.detectorConfig().Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// tickPeriod is how often the processor lets the detector analyse the
// records whose wait is over and records its metrics: a tenth of the wait,
// at most 100ms, so that a record forced through after its wait is
// analysed, and its races emitted, at most 100ms later.
func (cfg *Config) tickPeriod() time.Duration {
	return min(max(cfg.WaitDuration/10, time.Millisecond), 100*time.Millisecond)
}

func (cfg *Config) detectorConfig() analysis.Config {
	return analysis.Config{
		Wait:         cfg.WaitDuration,
		Window:       cfg.RaceWindow,
		MaxVariables: cfg.MaxVariables,
		MaxHistory:   cfg.MaxHistory,
		MaxThreads:   cfg.MaxThreads,
		MaxPending:   cfg.MaxPending,
	}
}
