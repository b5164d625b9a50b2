package dashboards_test

import (
	"fmt"
	"sort"
	"strings"

	"github.com/prometheus/otlptranslator"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// stored is what Prometheus (or Mimir) and Loki store for the signals the
// code emits: the names a query may use, each with where it comes from.
type stored struct {
	series map[string]*series // Prometheus metric name -> its labels
	logs   logFields
}

// series is one Prometheus metric.
type series struct {
	from   string            // the code it comes from, for messages
	labels map[string]values // label name -> the values seen or declared
}

// values are the values a label or log field takes; nil means any (the value
// depends on the deployment, as job does).
type values map[string]bool

func (v values) add(s string) values {
	if v == nil {
		v = values{}
	}
	v[s] = true
	return v
}

// logFields are the Loki names of a log record's parts: stream (index)
// labels, and every field a label filter can use (stream labels, structured
// metadata).
type logFields struct {
	from   string
	stream map[string]values
	fields map[string]values
}

func newStored() *stored {
	return &stored{
		series: map[string]*series{},
		logs:   logFields{stream: map[string]values{}, fields: map[string]values{}},
	}
}

// The OTLP → Prometheus translation of Prometheus' own OTLP endpoint and of
// Mimir's (translation_strategy UnderscoreEscapingWithSuffixes, the default):
// dots and other characters become underscores, units in braces are dropped,
// other units are appended (By → bytes, s → seconds), monotonic sums get
// _total. The collector's own Prometheus endpoint (otel-go's Prometheus
// exporter) names its metrics the same way.
var (
	metricNamer = otlptranslator.NewMetricNamer("", otlptranslator.UnderscoreEscapingWithSuffixes)
	labelNamer  = otlptranslator.LabelNamer{}
)

func promName(name, unit string, typ otlptranslator.MetricType) string {
	n, err := metricNamer.Build(otlptranslator.Metric{Name: name, Unit: unit, Type: typ})
	if err != nil {
		panic(fmt.Sprintf("translating metric %q: %v", name, err))
	}
	return n
}

func promLabel(name string) string {
	n, err := labelNamer.Build(name)
	if err != nil {
		panic(fmt.Sprintf("translating label %q: %v", name, err))
	}
	return n
}

// targetLabels are the labels every series has besides its attributes: job
// and instance, set by the scrape for the collector's own metrics, and from
// the resource (service.namespace/service.name, service.instance.id) for
// metrics pushed over OTLP.
var targetLabels = []string{"job", "instance"}

// addSeries records the Prometheus metric of an OTLP metric.
func (s *stored) addSeries(from, otelName, unit string, typ otlptranslator.MetricType) *series {
	name := promName(otelName, unit, typ)
	if old, ok := s.series[name]; ok {
		return old
	}
	se := &series{from: from + ": " + otelName, labels: map[string]values{}}
	for _, l := range targetLabels {
		se.labels[l] = nil
	}
	s.series[name] = se
	return se
}

// addLabel records an attribute of a metric as a label, with its values
// (none for any).
func (se *series) addLabel(attr string, vals ...string) {
	l := promLabel(attr)
	v := se.labels[l]
	for _, s := range vals {
		v = v.add(s)
	}
	se.labels[l] = v
}

// addMetrics records every metric of md, with the attributes and values of
// its data points.
func (s *stored) addMetrics(from string, md pmetric.Metrics) {
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		sms := rms.At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				se := s.addSeries(from, m.Name(), m.Unit(), metricType(m))
				eachPointAttrs(m, func(attrs pcommon.Map) {
					attrs.Range(func(k string, v pcommon.Value) bool {
						se.addLabel(k, v.AsString())
						return true
					})
				})
			}
		}
	}
}

func metricType(m pmetric.Metric) otlptranslator.MetricType {
	switch m.Type() {
	case pmetric.MetricTypeSum:
		if m.Sum().IsMonotonic() {
			return otlptranslator.MetricTypeMonotonicCounter
		}
		return otlptranslator.MetricTypeNonMonotonicCounter
	case pmetric.MetricTypeGauge:
		return otlptranslator.MetricTypeGauge
	case pmetric.MetricTypeHistogram:
		return otlptranslator.MetricTypeHistogram
	case pmetric.MetricTypeExponentialHistogram:
		return otlptranslator.MetricTypeExponentialHistogram
	case pmetric.MetricTypeSummary:
		return otlptranslator.MetricTypeSummary
	}
	return otlptranslator.MetricTypeUnknown
}

func eachPointAttrs(m pmetric.Metric, f func(pcommon.Map)) {
	var points pmetric.NumberDataPointSlice
	switch m.Type() {
	case pmetric.MetricTypeSum:
		points = m.Sum().DataPoints()
	case pmetric.MetricTypeGauge:
		points = m.Gauge().DataPoints()
	default:
		return // the code emits none of the others
	}
	for i := 0; i < points.Len(); i++ {
		f(points.At(i).Attributes())
	}
}

// lokiIndexLabels are the resource attributes Loki's OTLP endpoint turns into
// stream labels by default (distributor otlp_config
// default_resource_attributes_as_index_labels); every other resource
// attribute, the scope, the log attributes and the record's own fields
// become structured metadata.
var lokiIndexLabels = map[string]bool{
	"cloud.availability_zone": true, "cloud.region": true, "container.name": true,
	"deployment.environment": true, "k8s.cluster.name": true, "k8s.container.name": true,
	"k8s.cronjob.name": true, "k8s.daemonset.name": true, "k8s.deployment.name": true,
	"k8s.job.name": true, "k8s.namespace.name": true, "k8s.pod.name": true,
	"k8s.replicaset.name": true, "k8s.statefulset.name": true,
	"service.instance.id": true, "service.name": true, "service.namespace": true,
}

// addLogs records the Loki names of every log record of ld. Loki replaces
// the characters a label name cannot hold (dots) with underscores, as
// Prometheus does, and stores trace and span ids as hex strings.
func (s *stored) addLogs(from string, ld plog.Logs) {
	s.logs.from = from
	field := func(name, value string) {
		s.logs.fields[name] = s.logs.fields[name].add(value)
	}
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		rl.Resource().Attributes().Range(func(k string, v pcommon.Value) bool {
			name := promLabel(k)
			if lokiIndexLabels[k] {
				s.logs.stream[name] = s.logs.stream[name].add(v.AsString())
			}
			field(name, v.AsString())
			return true
		})
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			sl := sls.At(j)
			if n := sl.Scope().Name(); n != "" {
				field("scope_name", n)
			}
			if v := sl.Scope().Version(); v != "" {
				field("scope_version", v)
			}
			sl.Scope().Attributes().Range(func(k string, v pcommon.Value) bool {
				field(promLabel(k), v.AsString())
				return true
			})
			lrs := sl.LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				lr := lrs.At(k)
				lr.Attributes().Range(func(k string, v pcommon.Value) bool {
					field(promLabel(k), v.AsString())
					return true
				})
				if !lr.TraceID().IsEmpty() {
					field("trace_id", lr.TraceID().String())
				}
				if !lr.SpanID().IsEmpty() {
					field("span_id", lr.SpanID().String())
				}
				if lr.SeverityText() != "" {
					field("severity_text", lr.SeverityText())
				}
				if lr.SeverityNumber() != plog.SeverityNumberUnspecified {
					field("severity_number", fmt.Sprint(int32(lr.SeverityNumber())))
				}
			}
		}
	}
}

// names lists a map's keys, sorted, for messages.
func names[V any](m map[string]V) string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}
