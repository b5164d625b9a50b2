// The classic dashboard model (schemaVersion 42) is what every current
// Grafana imports and provisions; the SDK's v2 model needs Grafana 12's
// dynamic dashboards.
//lint:file-ignore SA1019 dashboard.Dashboard (v1) is deprecated in the SDK in favour of v2

package dashboards

import (
	"bytes"
	"encoding/json"

	"github.com/grafana/grafana-foundation-sdk/go/bargauge"
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/logs"
	"github.com/grafana/grafana-foundation-sdk/go/loki"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// UID is the dashboard's uid, stable so that provisioning, links and
// re-imports find the same dashboard.
const UID = "raceway-races"

// The data source variables. Every panel and every query variable takes its
// data source from one of them, so the dashboard works with whatever data
// sources (and uids) a Grafana has.
const (
	MetricsVar = "metrics" // Prometheus or Mimir: race counters, collector and library metrics
	LogsVar    = "logs"    // Loki: one race report per finding
	TracesVar  = "traces"  // Tempo (or Jaeger): the finding traces, opened from the race table
)

// The query variables.
const (
	variableVar  = "variable"  // raceway_race_var
	pairVar      = "pair"      // raceway_race_services
	collectorVar = "collector" // job of the collectors' own metrics
	serviceVar   = "service"   // job of the applications that use racewayotel
)

func dataSource(pluginType, variable string) common.DataSourceRef {
	uid := "${" + variable + "}"
	return common.DataSourceRef{Type: &pluginType, Uid: &uid}
}

var (
	metrics = dataSource("prometheus", MetricsVar)
	logsDS  = dataSource("loki", LogsVar)
)

// Selectors shared by the panels.
const (
	// raceSeries narrows the race counters to the chosen variables and
	// service pairs.
	raceSeries = `raceway_race_var=~"$variable", raceway_race_services=~"$pair"`
	// raceLog is every race log record of the chosen variables.
	raceLog = `{service_name="raceway"} | raceway_race_var=~"$variable"`
	// collectorSeries and serviceSeries narrow the collectors' and the
	// applications' own metrics.
	collectorSeries = `{job=~"$collector"}`
	serviceSeries   = `{job=~"$service"}`
)

// Raceway builds the dashboard.
func Raceway() (dashboard.Dashboard, error) {
	b := dashboard.NewDashboardBuilder("Raceway: distributed races").
		Uid(UID).
		Description("Races found by otelcol-raceway (race counters and Go-race-style reports), the health of its raceway processor and exporter, and what the racewayotel library could not record.").
		Tags([]string{"raceway", "opentelemetry", "races"}).
		Time("now-6h", "now").
		Refresh("1m").
		Timezone(common.TimeZoneBrowser).
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		WithVariable(dataSourceVariable(MetricsVar, "Metrics", "prometheus")).
		WithVariable(dataSourceVariable(LogsVar, "Logs", "loki")).
		WithVariable(dataSourceVariable(TracesVar, "Traces", "tempo")).
		WithVariable(queryVariable(variableVar, "Variable", `label_values(raceway_race_occurrences_total, raceway_race_var)`)).
		WithVariable(queryVariable(pairVar, "Service pair", `label_values(raceway_race_occurrences_total{raceway_race_var=~"$variable"}, raceway_race_services)`)).
		WithVariable(queryVariable(collectorVar, "Collector", `label_values(otelcol_processor_raceway_events_analysed_total, job)`)).
		WithVariable(queryVariable(serviceVar, "Service", `label_values(raceway_records_total, job)`))

	b.WithRow(dashboard.NewRowBuilder("Races"))
	b.WithPanel(counts("Race occurrences by variable and service pair",
		"Racing pairs found per interval (raceway.race.occurrences), by variable and by the pair of services whose accesses raced.", 9, 16,
		prom(`sum by (raceway_race_var, raceway_race_services) (increase(raceway_race_occurrences_total{`+raceSeries+`}[$__rate_interval]))`,
			"{{raceway_race_var}} ({{raceway_race_services}})")))
	b.WithPanel(bargauge.NewPanelBuilder().
		Title("Hottest variables").
		Description("The ten variables with the most race occurrences, as the collector counts them (since it started): where to look first. A variable that raced once is here too.").
		Height(9).Span(8).
		Datasource(metrics).
		Orientation(common.VizOrientationHorizontal).
		DisplayMode(common.BarGaugeDisplayModeGradient).
		Unit("short").Min(0).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Values(false)).
		WithTarget(prom(`topk(10, sum by (raceway_race_var) (max_over_time(raceway_race_occurrences_total{`+raceSeries+`}[$__range])))`,
			"{{raceway_race_var}}").Instant().RefId("A")))
	b.WithPanel(counts("Distinct races reported, by kind and severity",
		"Finding traces received by the raceway exporter (raceway.races): one per distinct race, and again when its count grows. Severity: warning = read/write, error = write/write, critical = lost update.", 8, 12,
		prom(`sum by (raceway_race_kind, raceway_race_severity) (increase(raceway_races_total{`+raceSeries+`}[$__rate_interval]))`,
			"{{raceway_race_kind}} {{raceway_race_severity}}")))
	b.WithPanel(counts("Lost updates",
		"Occurrences of races classified as lost updates (severity critical): two read-modify-writes from the same value, one write lost.", 8, 12,
		prom(`sum by (raceway_race_var, raceway_race_services) (increase(raceway_race_occurrences_total{raceway_race_severity="critical", `+raceSeries+`}[$__rate_interval]))`,
			"{{raceway_race_var}} ({{raceway_race_services}})")))

	b.WithRow(dashboard.NewRowBuilder("Race log"))
	b.WithPanel(timeseries.NewPanelBuilder().
		Title("Findings over time, by variable").
		Description("Race log records per interval: one per finding, however rarely a race happens (the counters above need two samples in an interval to show an increase).").
		Height(7).Span(24).
		Datasource(logsDS).
		DrawStyle(common.GraphDrawStyleBars).FillOpacity(80).
		Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNormal)).
		Unit("short").Min(0).
		Legend(common.NewVizLegendOptionsBuilder().ShowLegend(true).DisplayMode(common.LegendDisplayModeList).Placement(common.LegendPlacementBottom)).
		WithTarget(lokiQuery(`sum by (raceway_race_var) (count_over_time(` + raceLog + ` [$__auto]))`).LegendFormat("{{raceway_race_var}}")))
	b.WithPanel(reports("Race reports",
		"One Go-race-detector style report per finding (the log record's body). Open a record's details for its fields; trace_id is the finding trace.", 14, 14,
		raceLog))
	b.WithPanel(table.NewPanelBuilder().
		Title("Findings").
		Description("The same findings as a table; the trace id opens the finding trace (service raceway) in the traces data source.").
		Height(14).Span(10).
		Datasource(logsDS).
		Footer(common.NewTableFooterOptionsBuilder().Show(false).Reducer([]string{})).
		WithTarget(lokiQuery(raceLog)).
		WithTransformation(dashboard.DataTransformerConfig{Id: "extractFields", Options: map[string]any{"source": "labels"}}).
		WithTransformation(dashboard.DataTransformerConfig{Id: "filterFieldsByName", Options: map[string]any{
			"include": map[string]any{"names": findingColumns},
		}}).
		OverrideByName("trace_id", []dashboard.DynamicConfigValue{{Id: "links", Value: []dashboard.DashboardLink{traceLink}}}))
	b.WithPanel(reports("Lost update reports",
		"Reports of the races classified as lost updates; their last line gives the numbers (what both writers read, the final and the expected value).", 10, 24,
		`{service_name="raceway"} | raceway_race_lost_update="true" | raceway_race_var=~"$variable"`))

	b.WithRow(dashboard.NewRowBuilder("Collector health"))
	b.WithPanel(rates("Records analysed", "Raceway records the processor decoded and analysed, per second.", 8,
		prom(`sum by (job, instance) (rate(otelcol_processor_raceway_events_analysed_total`+collectorSeries+`[$__rate_interval]))`, "{{job}} {{instance}}")))
	b.WithPanel(rates("Decode errors, late and forced records",
		"Records dropped because they did not decode (decode errors); records that arrived after their place in happens-before order (late, still checked against history); records analysed before a predecessor arrived (forced: keep wait_duration above the time spans take to arrive).", 8,
		prom(`sum by (job, instance) (rate(otelcol_processor_raceway_decode_errors_total`+collectorSeries+`[$__rate_interval]))`, "decode errors {{job}} {{instance}}"),
		prom(`sum by (job, instance) (rate(otelcol_processor_raceway_late_events_total`+collectorSeries+`[$__rate_interval]))`, "late {{job}} {{instance}}"),
		prom(`sum by (job, instance) (rate(otelcol_processor_raceway_forced_events_total`+collectorSeries+`[$__rate_interval]))`, "forced {{job}} {{instance}}")))
	b.WithPanel(rates("Evictions", "Items evicted (oldest first) or dropped to stay within the processor's limits, by what was evicted. Any eviction can hide a race: raise the matching limit.", 8,
		prom(`sum by (evicted) (rate(otelcol_processor_raceway_evictions_total`+collectorSeries+`[$__rate_interval]))`, "{{evicted}}")))
	b.WithPanel(rates("Races found by the processor", "Racing pairs found (every occurrence), distinct races (one finding trace each) and raceway.race spans emitted into request traces, per second.", 8,
		prom(`sum(rate(otelcol_processor_raceway_races_found_total`+collectorSeries+`[$__rate_interval]))`, "racing pairs"),
		prom(`sum(rate(otelcol_processor_raceway_distinct_races_total`+collectorSeries+`[$__rate_interval]))`, "distinct races"),
		prom(`sum(rate(otelcol_processor_raceway_race_spans_total`+collectorSeries+`[$__rate_interval]))`, "raceway.race spans")))
	b.WithPanel(series("Records waiting", "Records the detector holds until their predecessors arrive (at most max_pending; past wait_duration they are analysed without them and counted as forced). Spans themselves are never held.", 8, 8,
		[]*prometheus.DataqueryBuilder{prom(`sum by (job, instance) (otelcol_processor_raceway_records_pending`+collectorSeries+`)`, "{{job}} {{instance}}")}))
	b.WithPanel(rates("Exporter", "Findings the raceway exporter turned into logs and metrics; batches its OTLP exporter refused; findings counted in the overflow series (max_series reached) or not written to the JSON-lines file.", 8,
		prom(`sum(rate(otelcol_raceway_exporter_findings_total`+collectorSeries+`[$__rate_interval]))`, "findings"),
		prom(`sum(rate(otelcol_raceway_exporter_send_failed_total`+collectorSeries+`[$__rate_interval]))`, "send failed"),
		prom(`sum(rate(otelcol_raceway_exporter_series_overflow_total`+collectorSeries+`[$__rate_interval]))`, "series overflow"),
		prom(`sum(rate(otelcol_raceway_exporter_file_dropped_total`+collectorSeries+`[$__rate_interval]))`, "file dropped")))

	b.WithRow(dashboard.NewRowBuilder("Library (racewayotel)"))
	b.WithPanel(rates("Records lost, dropped or skipped", "Records no recording span could carry (lost: sampled out or no SDK), span events the SDK discarded, inbound clocks dropped as garbled or oversized, and data-store operations a capture could not classify and skipped (by data store and reason), per application.", 12,
		prom(`sum by (job) (rate(raceway_records_lost_total`+serviceSeries+`[$__rate_interval]))`, "lost {{job}}"),
		prom(`sum by (job) (rate(raceway_sdk_events_dropped_total`+serviceSeries+`[$__rate_interval]))`, "SDK dropped events {{job}}"),
		prom(`sum by (job, raceway_reason) (rate(raceway_clocks_dropped_total`+serviceSeries+`[$__rate_interval]))`, "clocks {{raceway_reason}} {{job}}"),
		prom(`sum by (job, raceway_capture_system, raceway_reason) (rate(raceway_capture_skipped_total`+serviceSeries+`[$__rate_interval]))`, "skipped {{raceway_capture_system}} {{raceway_reason}} {{job}}")))
	b.WithPanel(rates("Records, carrier spans and implicit threads", "Records added to spans; spans started only to carry records (orphan: no span in the context; overflow: a span's event limit reached); threads forked because a context moved to another goroutine.", 12,
		prom(`sum by (job) (rate(raceway_records_total`+serviceSeries+`[$__rate_interval]))`, "records {{job}}"),
		prom(`sum by (job, raceway_span_kind) (rate(raceway_spans_total`+serviceSeries+`[$__rate_interval]))`, "{{raceway_span_kind}} spans {{job}}"),
		prom(`sum by (job) (rate(raceway_threads_implicit_total`+serviceSeries+`[$__rate_interval]))`, "implicit threads {{job}}")))

	d, err := b.Build()
	if err != nil {
		return d, err
	}
	// Rows and panels get ids 1, 2, ... in layout order (the SDK leaves
	// panels without one and gives every row 0).
	for i := range d.Panels {
		id := uint32(i + 1)
		switch p := d.Panels[i]; {
		case p.Panel != nil:
			p.Panel.Id = &id
		case p.RowPanel != nil:
			p.RowPanel.Id = id
		}
	}
	return d, nil
}

// JSON is the dashboard as raceway.json holds it.
func JSON() ([]byte, error) {
	d, err := Raceway()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep the links' "&" readable
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// findingColumns are the race log fields the Findings table shows.
var findingColumns = []string{
	"Time",
	"raceway_race_var",
	"raceway_race_kind",
	"raceway_race_severity",
	"raceway_race_current_service_name",
	"raceway_race_previous_service_name",
	"trace_id",
}

// traceLink opens the finding trace whose id is the cell's value in Explore,
// on the traces data source. The query is the trace id, which Tempo's and
// Jaeger's data sources both look up.
var traceLink = dashboard.DashboardLink{
	Title:       "Finding trace",
	Type:        dashboard.DashboardLinkTypeLink,
	Url:         cog.ToPtr(`/explore?schemaVersion=1&panes={"race":{"datasource":"${` + TracesVar + `}","queries":[{"refId":"A","datasource":{"uid":"${` + TracesVar + `}"},"query":"${__value.raw}"}],"range":{"from":"${__from}","to":"${__to}"}}}`),
	Tags:        []string{},
	TargetBlank: true,
}

func prom(expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().Datasource(metrics).Expr(expr).LegendFormat(legend)
}

func lokiQuery(expr string) *loki.DataqueryBuilder {
	return loki.NewDataqueryBuilder().Datasource(logsDS).Expr(expr).RefId("A")
}

// reports is a logs panel of race reports, newest first.
func reports(title, description string, height, span uint32, query string) *logs.PanelBuilder {
	return logs.NewPanelBuilder().
		Title(title).Description(description).
		Height(height).Span(span).
		Datasource(logsDS).
		ShowTime(true).WrapLogMessage(true).EnableLogDetails(true).
		SortOrder(common.LogsSortOrderDescending).
		WithTarget(lokiQuery(query))
}

// counts is a stacked bar chart of counts per interval.
func counts(title, description string, height, span uint32, targets ...*prometheus.DataqueryBuilder) *timeseries.PanelBuilder {
	return series(title, description, height, span, targets).
		DrawStyle(common.GraphDrawStyleBars).
		FillOpacity(80).
		Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNormal))
}

// rates is a line chart of per-second rates.
func rates(title, description string, span uint32, targets ...*prometheus.DataqueryBuilder) *timeseries.PanelBuilder {
	return series(title, description, 8, span, targets)
}

func series(title, description string, height, span uint32, targets []*prometheus.DataqueryBuilder) *timeseries.PanelBuilder {
	p := timeseries.NewPanelBuilder().
		Title(title).Description(description).
		Height(height).Span(span).
		Datasource(metrics).
		Unit("short").Min(0).
		Legend(common.NewVizLegendOptionsBuilder().
			ShowLegend(true).
			DisplayMode(common.LegendDisplayModeList).
			Placement(common.LegendPlacementBottom)).
		Tooltip(common.NewVizTooltipOptionsBuilder().
			Mode(common.TooltipDisplayModeMulti).
			Sort(common.SortOrderDescending))
	for i, t := range targets {
		p.WithTarget(t.RefId(string(rune('A' + i))))
	}
	return p
}

func dataSourceVariable(name, label, pluginType string) *dashboard.DatasourceVariableBuilder {
	return dashboard.NewDatasourceVariableBuilder(name).Label(label).Type(pluginType)
}

// queryVariable is a multi-value variable of label values, "All" by default.
func queryVariable(name, label, query string) *dashboard.QueryVariableBuilder {
	return dashboard.NewQueryVariableBuilder(name).
		Label(label).
		Datasource(metrics).
		Query(dashboard.StringOrMap{String: &query}).
		Definition(query).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortAlphabeticalAsc).
		Multi(true).
		IncludeAll(true).
		AllValue(".*").
		Current(dashboard.VariableOption{
			Text:  dashboard.StringOrArrayOfString{String: cog.ToPtr("All")},
			Value: dashboard.StringOrArrayOfString{String: cog.ToPtr("$__all")},
		})
}
