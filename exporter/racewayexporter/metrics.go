package racewayexporter // import "github.com/raceway-otel/raceway/exporter/racewayexporter"

import (
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/raceway-otel/raceway/racewayotel/convention"
)

// Metric names.
const (
	// MetricRaces counts findings (finding spans) by variable, kind,
	// severity and service pair: monotonic, cumulative.
	MetricRaces = "raceway.races"
	// MetricOccurrences counts race occurrences (the growth of each group's
	// raceway.race.count) by the same attributes: monotonic, cumulative.
	MetricOccurrences = "raceway.race.occurrences"
)

type seriesKey struct {
	variable, kind, severity, services string
	overflow                           bool
}

type series struct {
	start       pcommon.Timestamp
	races       int64
	occurrences int64
}

// counters holds the cumulative race counters, bounded by max series and max
// remembered groups.
//
// A series starts (its start timestamp) at the latest moment the counters
// knew it to be zero: the latest export before its first finding, or the
// exporter's start. With exports at least every metrics_interval, that is
// shortly before the first finding, so a backend that turns start
// timestamps into a sample of zero (Prometheus with
// created-timestamp-zero-ingestion, for one) sees the first finding as an
// increase within a short window.
type counters struct {
	mu     sync.Mutex
	max    int
	zero   pcommon.Timestamp // the start of a series created now (see above)
	res    pcommon.Resource  // of the latest findings: the resource every export carries
	series map[seriesKey]*series
	order  []seriesKey      // the series in the order they were created
	groups map[string]int64 // group -> highest raceway.race.count seen
}

func newCounters(maxSeries int, now time.Time) *counters {
	return &counters{
		max:    maxSeries,
		zero:   pcommon.NewTimestampFromTime(now),
		res:    pcommon.NewResource(),
		series: make(map[seriesKey]*series),
		groups: make(map[string]int64),
	}
}

// add counts the findings and returns the metrics of the series they touched
// (cumulative values), and how many findings went to the overflow series.
func (c *counters) add(fs []finding, res pcommon.Resource, version string, now time.Time) (pmetric.Metrics, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	res.CopyTo(c.res)
	touched := make(map[seriesKey]bool, len(fs))
	var order []seriesKey
	overflowed := 0
	for _, f := range fs {
		k := seriesKey{
			variable: f.str(convention.RaceVar),
			kind:     f.str(convention.RaceKind),
			severity: f.str(convention.RaceSeverity),
			services: f.services(),
		}
		s, ok := c.series[k]
		if !ok {
			if len(c.series) >= c.max {
				k = seriesKey{overflow: true}
				overflowed++
				s = c.series[k]
			}
			if s == nil {
				// (A concurrent export may have moved zero past now.)
				s = &series{start: min(c.zero, pcommon.NewTimestampFromTime(now))}
				c.series[k] = s
				c.order = append(c.order, k)
			}
		}
		s.races++
		// Occurrences: the growth of the group's cumulative count. A group
		// not remembered (new, or beyond the bound) counts its whole count
		// the first time.
		g, n := f.group(), f.count()
		prev, known := c.groups[g]
		switch {
		case known && n > prev:
			s.occurrences += n - prev
			c.groups[g] = n
		case known:
			// an older or repeated report of the group: nothing new
		default:
			s.occurrences += n
			if len(c.groups) < c.max {
				c.groups[g] = n
			}
		}
		if !touched[k] {
			touched[k] = true
			order = append(order, k)
		}
	}
	return c.metrics(order, version, now), overflowed
}

// all returns the metrics of every series (cumulative values), for the
// periodic export that keeps them current in backends.
func (c *counters) all(version string, now time.Time) pmetric.Metrics {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.metrics(c.order, version, now)
}

// metrics returns the cumulative values of the series keys at now (empty
// Metrics if keys is empty), and makes now the start of the series created
// after it. c.mu must be held.
func (c *counters) metrics(keys []seriesKey, version string, now time.Time) pmetric.Metrics {
	ts := pcommon.NewTimestampFromTime(now)
	c.zero = max(c.zero, ts)
	md := pmetric.NewMetrics()
	if len(keys) == 0 {
		return md
	}
	rm := md.ResourceMetrics().AppendEmpty()
	c.res.CopyTo(rm.Resource())
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName(scopeName)
	sm.Scope().SetVersion(version)
	races := newSum(sm.Metrics().AppendEmpty(), MetricRaces, "Races found, by variable, kind, severity and service pair.", "{race}")
	occ := newSum(sm.Metrics().AppendEmpty(), MetricOccurrences, "Race occurrences (raceway.race.count growth), by variable, kind, severity and service pair.", "{occurrence}")
	for _, k := range keys {
		s := c.series[k]
		putPoint(races.DataPoints().AppendEmpty(), k, s.start, ts, s.races)
		putPoint(occ.DataPoints().AppendEmpty(), k, s.start, ts, s.occurrences)
	}
	return md
}

func newSum(m pmetric.Metric, name, desc, unit string) pmetric.Sum {
	m.SetName(name)
	m.SetDescription(desc)
	m.SetUnit(unit)
	sum := m.SetEmptySum()
	sum.SetIsMonotonic(true)
	sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	return sum
}

func putPoint(dp pmetric.NumberDataPoint, k seriesKey, start, ts pcommon.Timestamp, v int64) {
	dp.SetStartTimestamp(start)
	dp.SetTimestamp(ts)
	dp.SetIntValue(v)
	a := dp.Attributes()
	if k.overflow {
		a.PutBool(AttrOverflow, true)
		return
	}
	a.PutStr(convention.RaceVar, k.variable)
	a.PutStr(convention.RaceKind, k.kind)
	a.PutStr(convention.RaceSeverity, k.severity)
	a.PutStr(AttrServices, k.services)
}
