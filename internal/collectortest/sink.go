package collectortest

import (
	"sync"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/raceway-otel/raceway/racewayotel/convention"
)

// Sink is what a test's OTLP backend received. It counts every span by the
// service.name of its resource, the raceway.race spans (convention.RaceEvent)
// apart. It keeps a copy of every log and metric export and of each
// resource's spans when the resource's service is one the Sink's keep
// function accepts (none: all), is the finding service
// (convention.FindingService), or the resource holds a raceway.race span. A
// flood of a million records then costs the test only counters.
//
// The zero Sink keeps every resource's spans and listens nowhere: a test's
// own server (OTLP/HTTP, say) feeds it through [Sink.AddTraces],
// [Sink.AddLogs] and [Sink.AddMetrics]. [StartSink] returns one served over
// OTLP/gRPC. A Sink is safe for concurrent use.
type Sink struct {
	keep func(service string) bool
	addr string

	mu        sync.Mutex
	spans     map[string]int // by service.name, without the raceway.race spans
	raceSpans int
	traces    []ptrace.Traces
	logs      []plog.Logs
	metrics   []pmetric.Metrics
}

// Addr is the host:port the Sink listens on ("" for a Sink that
// [StartSink] did not return).
func (s *Sink) Addr() string { return s.addr }

// AddTraces counts the spans of td and keeps a copy of the resources the
// Sink keeps. td is neither modified nor retained.
func (s *Sink) AddTraces(td ptrace.Traces) {
	var keep ptrace.Traces
	counts := map[string]int{}
	races := 0
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		svc := ""
		if v, ok := rs.Resource().Attributes().Get(convention.ServiceName); ok {
			svc = v.Str()
		}
		kept := svc == convention.FindingService || s.keep == nil || s.keep(svc)
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			spans := rs.ScopeSpans().At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				if spans.At(k).Name() == convention.RaceEvent {
					races++
					kept = true
				} else {
					counts[svc]++
				}
			}
		}
		if kept {
			if keep == (ptrace.Traces{}) {
				keep = ptrace.NewTraces()
			}
			rs.CopyTo(keep.ResourceSpans().AppendEmpty())
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.spans == nil {
		s.spans = map[string]int{}
	}
	for k, v := range counts {
		s.spans[k] += v
	}
	s.raceSpans += races
	if keep != (ptrace.Traces{}) {
		s.traces = append(s.traces, keep)
	}
}

// AddLogs keeps a copy of ld, which is neither modified nor retained.
func (s *Sink) AddLogs(ld plog.Logs) {
	c := plog.NewLogs()
	ld.CopyTo(c)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logs = append(s.logs, c)
}

// AddMetrics keeps a copy of md, which is neither modified nor retained.
func (s *Sink) AddMetrics(md pmetric.Metrics) {
	c := pmetric.NewMetrics()
	md.CopyTo(c)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.metrics = append(s.metrics, c)
}

// SpanCount is the number of spans received from service, raceway.race
// spans left out.
func (s *Sink) SpanCount(service string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.spans[service]
}

// RaceSpanCount is the number of raceway.race spans received.
func (s *Sink) RaceSpanCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.raceSpans
}

// Snapshot returns what the Sink has kept so far, one element per add
// (export), in the order received: trace exports with the resources kept
// (exports that kept none are left out), log and metric exports whole. The
// slices are the caller's; the pdata they hold is the Sink's and must not be
// modified.
func (s *Sink) Snapshot() ([]ptrace.Traces, []plog.Logs, []pmetric.Metrics) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ptrace.Traces(nil), s.traces...), append([]plog.Logs(nil), s.logs...), append([]pmetric.Metrics(nil), s.metrics...)
}
