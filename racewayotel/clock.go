package racewayotel

import (
	"go.opentelemetry.io/otel/baggage"

	"github.com/raceway-otel/raceway/analysis"
	"github.com/raceway-otel/raceway/racewayotel/convention"
)

// Sources of inbound clocks, as logged.
const (
	sourceBaggage = "baggage"
	sourceHeader  = "response header"
	// sourceLockToken is a shared lock's release token (AfterRelease).
	sourceLockToken = "lock token"
)

// inboundClock parses a clock received from another process. A clock that
// is not one epoch of at most analysis.MaxEpochTextLen bytes is dropped:
// counted (Stats.ClocksGarbled, Stats.ClocksOversized) and logged, with the
// 1st, 2nd, 4th, 8th… drop of each reason.
func (t *Tracker) inboundClock(v, source string) (analysis.Epoch, bool) {
	e, err := analysis.ParseEpoch(v)
	if err == nil {
		return e, true
	}
	reason, n := "garbled", uint64(0)
	if len(v) > analysis.MaxEpochTextLen {
		reason, n = "oversized", t.counters.oversized.Add(1)
	} else {
		n = t.counters.garbled.Add(1)
	}
	if n&(n-1) == 0 {
		t.cfg.logger.Warn("racewayotel: dropped inbound clock",
			"reason", reason, "source", source, "bytes", len(v), "count", n, "error", err)
	}
	return analysis.Epoch{}, false
}

// withClock returns bag with the clock member set to e.
func withClock(bag baggage.Baggage, e analysis.Epoch) baggage.Baggage {
	m, err := baggage.NewMemberRaw(convention.BaggageMember, e.String())
	if err != nil {
		return bag
	}
	if b, err := bag.SetMember(m); err == nil {
		return b
	}
	return bag
}
