package stack

import (
	"os"
	"strings"
	"testing"
)

func TestParseMetrics(t *testing.T) {
	const text = `# HELP otelcol_processor_raceway_evictions_total Items evicted.
# TYPE otelcol_processor_raceway_evictions_total counter
otelcol_processor_raceway_evictions_total{evicted="variables",processor="raceway"} 900001
otelcol_processor_raceway_evictions_total{evicted="traces",processor="raceway"} 98002
otelcol_processor_raceway_spans_held{processor="raceway"} 4
otelcol_process_memory_rss 4.9205248e+07
odd{v="a \"quoted\", comma"} 1 1700000000000
`
	m, err := ParseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"otelcol_processor_raceway_evictions", []string{"evicted", "variables"}, 900001},
		{"otelcol_processor_raceway_evictions", nil, 998003},
		{"otelcol_processor_raceway_spans_held", nil, 4},
		{"otelcol_process_memory_rss", nil, 49205248},
		{"odd", []string{"v", `a "quoted", comma`}, 1},
		{"missing", nil, 0},
	} {
		if got := m.Sum(c.name, c.labels...); got != c.want {
			t.Errorf("Sum(%s, %v) = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	for _, c := range []struct {
		name   string
		labels []string
		found  bool
	}{
		{"otelcol_processor_raceway_evictions", []string{"evicted", "traces"}, true},
		{"otelcol_processor_raceway_evictions", []string{"evicted", "history"}, false},
		{"missing", nil, false},
	} {
		if _, found := m.Find(c.name, c.labels...); found != c.found {
			t.Errorf("Find(%s, %v) found %v, want %v", c.name, c.labels, found, c.found)
		}
	}
	if _, err := ParseMetrics(strings.NewReader("broken{x=1} 2\n")); err == nil {
		t.Error("a malformed label parsed")
	}
}

func TestReadProcMemory(t *testing.T) {
	m, err := ReadProcMemory(os.Getpid())
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	if m.RSS <= 0 || m.Peak < m.RSS {
		t.Errorf("RSS %d, peak %d", m.RSS, m.Peak)
	}
	if cpu, err := ProcCPU(os.Getpid()); err != nil || cpu < 0 {
		t.Errorf("ProcCPU: %v, %v", cpu, err)
	}
}
