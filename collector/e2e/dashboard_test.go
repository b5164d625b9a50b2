package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/raceway-otel/raceway/internal/stack"
)

// TestDashboardCollectorMetricNames runs the demo configuration with the
// Grafana overlay on the lost update and checks the collector's own metrics,
// as it really names them, against the Grafana dashboard's queries
// (dashboards/raceway.json): every raceway processor and exporter metric on
// the Prometheus endpoint that the dashboard queries has exactly the queried
// name, never one without the _total the dashboard expects; and the same
// metrics pushed over OTLP (the overlay's periodic reader) are monotonic sums
// with units in braces, which Prometheus and Mimir store as <name>_total. (The
// dashboards module's tests check every query against the names the code
// declares; this checks the naming on a real collector.)
func TestDashboardCollectorMetricNames(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the collector")
	}
	board, err := os.ReadFile(filepath.Join(repoRoot(t), "dashboards", "raceway.json"))
	if err != nil {
		t.Fatal(err)
	}
	queried := map[string]bool{}
	for _, name := range regexp.MustCompile(`otelcol_[a-z0-9_]+`).FindAllString(string(board), -1) {
		queried[name] = true
	}

	bin := collectorBinary(t)
	s := startSink(t, "", nil)
	env := baseEnv(t, s.Addr())
	col := startCollector(t, bin, env, demoConfig(t, "otelcol-raceway.yaml"), demoConfig(t, "grafana.yaml"))
	client := dial(t, env["RACEWAY_OTLP_GRPC"])
	for i, td := range shuffledBatches(t, lostUpdate(), 3) {
		if err := exportTraces(client, td); err != nil {
			col.fatalf("exporting batch %d: %v", i, err)
		}
	}
	var m stack.Metrics
	waitFor(col, 30*time.Second, "the processor's and the exporter's counters after the lost update", func() (bool, string) {
		m = scrape(t, env)
		ours := ourSeries(m)
		return len(ours) > 0 && m.Sum(metricDistinct) >= 2 && m.Sum("otelcol_raceway_exporter_findings") >= 2, strings.Join(ours, ", ")
	})

	matched := 0
	for _, name := range ourSeries(m) {
		switch {
		case queried[name]:
			matched++
		case queried[name+"_total"]:
			t.Errorf("the collector exposes %s, but the dashboard queries %s_total (is without_type_suffix: false gone from collector/otelcol-raceway.yaml?)", name, name)
		}
	}
	if matched == 0 {
		t.Errorf("none of the collector's raceway metrics (%s) is queried by the dashboard", strings.Join(ourSeries(m), ", "))
	}

	t.Logf("%d of the collector's raceway series on its Prometheus endpoint are queried by the dashboard under the same name", matched)

	// Over OTLP: the periodic reader exports once more at shutdown.
	col.stop()
	_, _, pushed := s.Snapshot()
	matched = 0
	eachMetric(pushed, func(pm pmetric.Metric) {
		name := pm.Name()
		if !strings.HasPrefix(name, "otelcol_processor_raceway_") && !strings.HasPrefix(name, "otelcol_raceway_exporter_") {
			return
		}
		stored := name
		if pm.Type() == pmetric.MetricTypeSum && pm.Sum().IsMonotonic() {
			stored += "_total"
		}
		switch {
		case pm.Unit() != "" && !strings.HasPrefix(pm.Unit(), "{"):
			t.Errorf("%s has unit %q, which Prometheus appends to its name: the dashboard does not expect that", name, pm.Unit())
		case queried[stored]:
			matched++
		case queried[name] || queried[name+"_total"]:
			t.Errorf("over OTLP %s is stored as %s, but the dashboard queries another name", name, stored)
		}
	})
	t.Logf("%d raceway metrics pushed over OTLP are queried by the dashboard under their Prometheus names", matched)
	if matched == 0 {
		t.Errorf("none of the raceway metrics the collector pushed over OTLP is queried by the dashboard (%d metric requests)", len(pushed))
	}
}

// ourSeries lists the names of the raceway processor's and exporter's series
// in a scrape.
func ourSeries(m stack.Metrics) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range m {
		if (strings.HasPrefix(s.Name, "otelcol_processor_raceway_") || strings.HasPrefix(s.Name, "otelcol_raceway_exporter_")) && !seen[s.Name] {
			seen[s.Name] = true
			out = append(out, s.Name)
		}
	}
	return out
}
