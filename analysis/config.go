package analysis

import (
	"errors"
	"fmt"
	"time"
)

// Config bounds a [Detector]. The zero value of every field selects its
// default.
type Config struct {
	// Wait is how long an event may wait for a missing predecessor (an
	// earlier event of its thread, or an epoch it names) before it is
	// analysed anyway. Default 5s.
	Wait time.Duration
	// Window is the race window: two accesses further apart in wall time are
	// never reported, as TSan's history bounds how far back it looks.
	// Default 10m.
	Window time.Duration
	// MaxVariables bounds the variables tracked; the least recently
	// accessed are evicted first. Default 1,000,000.
	MaxVariables int
	// MaxHistory bounds what a variable keeps beside its last write and
	// last read: its most recent MaxHistory accesses, which let a race be
	// reported with every one of its pairs and late events be checked; and
	// at most [KeptPerHistory] × MaxHistory accesses that no later access
	// supersedes (concurrent reads, racing writes), against which every
	// access is checked. Past the second bound the oldest are dropped and
	// counted in Stats.EvictedHistory. Default 8.
	MaxHistory int
	// MaxThreads bounds the logical threads (and lock strands) whose clocks
	// are kept, and the published clocks (spawn, send, respond, end) kept
	// until the edge that names them is analysed; the least recently active
	// are evicted first. Default 65,536.
	MaxThreads int
	// MaxClockEntries bounds the components of one vector clock; the
	// components of the least recently active threads are dropped first and
	// their earlier accesses are from then on assumed ordered (never
	// reported). Beside them a clock holds the few entries joined in since
	// it was last rebuilt. Default 64.
	MaxClockEntries int
	// MaxPending bounds the events waiting for predecessors; past it the
	// oldest is analysed at once. Default 1,000,000.
	MaxPending int
}

// MaxLimit is the largest MaxVariables, MaxThreads and MaxPending a
// [Config] may set: the detector indexes its tables by 32-bit numbers.
const MaxLimit = 1 << 26

// Defaults of [Config].
const (
	DefaultWait            = 5 * time.Second
	DefaultWindow          = 10 * time.Minute
	DefaultMaxVariables    = 1_000_000
	DefaultMaxHistory      = 8
	DefaultMaxThreads      = 1 << 16
	DefaultMaxClockEntries = 64
	DefaultMaxPending      = 1_000_000
)

// Validate reports a field set to a value the detector cannot use.
func (c Config) Validate() error {
	var errs []error
	check := func(name string, v int) {
		if v < 0 {
			errs = append(errs, fmt.Errorf("analysis: %s must not be negative (got %d)", name, v))
		}
	}
	if c.Wait < 0 {
		errs = append(errs, fmt.Errorf("analysis: Wait must not be negative (got %s)", c.Wait))
	}
	if c.Window < 0 {
		errs = append(errs, fmt.Errorf("analysis: Window must not be negative (got %s)", c.Window))
	}
	// The tables index their entries by int32 (see recency). A table holds
	// at most its bound, the thread table MaxThreads and the threads that
	// pending events wait for (1 + MaxAfter each at most): MaxLimit keeps
	// every table under 2^30 entries.
	limited := func(name string, v int) {
		check(name, v)
		if v > MaxLimit {
			errs = append(errs, fmt.Errorf("analysis: %s must be at most %d (got %d)", name, MaxLimit, v))
		}
	}
	limited("MaxVariables", c.MaxVariables)
	check("MaxHistory", c.MaxHistory)
	limited("MaxThreads", c.MaxThreads)
	limited("MaxPending", c.MaxPending)
	check("MaxClockEntries", c.MaxClockEntries)
	if c.MaxClockEntries != 0 && c.MaxClockEntries < 4 {
		errs = append(errs, fmt.Errorf("analysis: MaxClockEntries must be at least 4 (got %d)", c.MaxClockEntries))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	if c.Wait == 0 {
		c.Wait = DefaultWait
	}
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	def(&c.MaxVariables, DefaultMaxVariables)
	def(&c.MaxHistory, DefaultMaxHistory)
	def(&c.MaxThreads, DefaultMaxThreads)
	def(&c.MaxClockEntries, DefaultMaxClockEntries)
	def(&c.MaxPending, DefaultMaxPending)
	return c
}
