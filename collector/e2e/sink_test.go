package e2e

import (
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/raceway-otel/raceway/internal/collectortest"
	"github.com/raceway-otel/raceway/racewayotel/convention"
)

// sink is the tests' OTLP/gRPC backend: a collectortest.Sink with the
// Raceway views (findings, race logs) the tests check.
type sink struct{ *collectortest.Sink }

// startSink starts a sink on addr ("" for a free loopback port; a reserved
// address lets a test start the backend after the collector) that keeps the
// spans of the services keep accepts (nil: all), stopped at the end of the
// test (see collectortest.StartSink).
func startSink(t testing.TB, addr string, keep func(service string) bool) *sink {
	t.Helper()
	return &sink{collectortest.StartSink(t, addr, keep)}
}

// findings returns the names of the finding spans received, with their
// number.
func (s *sink) findings() map[string]int {
	tds, _, _ := s.Snapshot()
	out := map[string]int{}
	eachSpan(tds, func(svc string, sp ptrace.Span) {
		if svc == convention.FindingService {
			out[sp.Name()]++
		}
	})
	return out
}

// raceLogs returns the number of race log records received per variable.
func (s *sink) raceLogs() map[string]int {
	_, lds, _ := s.Snapshot()
	out := map[string]int{}
	eachLogRecord(lds, func(lr plog.LogRecord) {
		if v, ok := lr.Attributes().Get(convention.RaceVar); ok {
			out[v.Str()]++
		}
	})
	return out
}

// eachSpan calls fn for every span received, with its resource's service.name.
func eachSpan(tds []ptrace.Traces, fn func(service string, span ptrace.Span)) {
	for _, td := range tds {
		for i := 0; i < td.ResourceSpans().Len(); i++ {
			rs := td.ResourceSpans().At(i)
			svc := ""
			if v, ok := rs.Resource().Attributes().Get("service.name"); ok {
				svc = v.Str()
			}
			for j := 0; j < rs.ScopeSpans().Len(); j++ {
				spans := rs.ScopeSpans().At(j).Spans()
				for k := 0; k < spans.Len(); k++ {
					fn(svc, spans.At(k))
				}
			}
		}
	}
}

func eachLogRecord(lds []plog.Logs, fn func(lr plog.LogRecord)) {
	for _, ld := range lds {
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			sls := ld.ResourceLogs().At(i).ScopeLogs()
			for j := 0; j < sls.Len(); j++ {
				lrs := sls.At(j).LogRecords()
				for k := 0; k < lrs.Len(); k++ {
					fn(lrs.At(k))
				}
			}
		}
	}
}

func eachMetric(mds []pmetric.Metrics, fn func(m pmetric.Metric)) {
	for _, md := range mds {
		for i := 0; i < md.ResourceMetrics().Len(); i++ {
			sms := md.ResourceMetrics().At(i).ScopeMetrics()
			for j := 0; j < sms.Len(); j++ {
				ms := sms.At(j).Metrics()
				for k := 0; k < ms.Len(); k++ {
					fn(ms.At(k))
				}
			}
		}
	}
}
