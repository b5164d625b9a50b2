package racewayexporter

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configcompression"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/raceway-otel/raceway/exporter/racewayexporter/internal/metadata"
	"github.com/raceway-otel/raceway/internal/collectortest"
	"github.com/raceway-otel/raceway/racewayotel/convention"
)

var (
	accessTraceA = pcommon.TraceID{0xa1, 1}
	accessSpanA  = pcommon.SpanID{0xa1, 2}
	accessTraceB = pcommon.TraceID{0xb2, 1}
	accessSpanB  = pcommon.SpanID{0xb2, 2}
)

// findingTraces builds what the raceway processor emits for a race, plus an
// ordinary request span that the exporter must ignore.
func findingTraces(kind, severity string, count int64) ptrace.Traces {
	td := ptrace.NewTraces()

	app := td.ResourceSpans().AppendEmpty()
	app.Resource().Attributes().PutStr(convention.ServiceName, "bank")
	s := app.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	s.SetName("GET /transfer")
	s.Attributes().PutStr(convention.RaceVar, "not a finding: wrong service")

	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr(convention.ServiceName, convention.FindingService)
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	spans.AppendEmpty().SetName("no raceway.race.var: ignored")
	f := spans.AppendEmpty()
	f.SetName("race accounts.alice.balance " + kind)
	f.SetTraceID(pcommon.TraceID{0xf1, byte(count), kind[0]})
	f.SetSpanID(pcommon.SpanID{0xf2, byte(count), kind[0]})
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f.SetStartTimestamp(pcommon.NewTimestampFromTime(t0))
	f.SetEndTimestamp(pcommon.NewTimestampFromTime(t0.Add(time.Millisecond)))
	for _, l := range []struct {
		t pcommon.TraceID
		s pcommon.SpanID
	}{{accessTraceA, accessSpanA}, {accessTraceB, accessSpanB}} {
		link := f.Links().AppendEmpty()
		link.SetTraceID(l.t)
		link.SetSpanID(l.s)
	}
	a := f.Attributes()
	a.PutStr(convention.RaceVar, "accounts.alice.balance")
	a.PutStr(convention.RaceScope, convention.ScopeProcess)
	a.PutStr(convention.RaceKind, kind)
	a.PutStr(convention.RaceSeverity, severity)
	a.PutStr(convention.RaceGroup, "g-"+kind)
	a.PutInt(convention.RaceCount, count)
	a.PutStr(convention.RaceReport, "WARNING: RACE on accounts.alice.balance\nWrite by bank at transfer.go:42\nPrevious write by bank at transfer.go:42\n")
	a.PutStr(convention.RacePrevious+convention.RaceService, "bank")
	a.PutStr(convention.RaceCurrent+convention.RaceService, "audit")
	a.PutStr(convention.RaceCurrent+convention.RaceFile, "transfer.go")
	a.PutInt(convention.RaceCurrent+convention.RaceLine, 42)
	a.PutStr("not.raceway", "dropped from the log record")
	return td
}

func readBody(t *testing.T, r *http.Request) []byte {
	var rd io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			t.Errorf("gzip: %v", err)
			return nil
		}
		rd = zr
	}
	body, err := io.ReadAll(rd)
	if err != nil {
		t.Errorf("reading body: %v", err)
	}
	return body
}

// startHTTPSink starts an OTLP/HTTP server for logs and metrics, feeding a
// collectortest.Sink.
func startHTTPSink(t *testing.T) (*collectortest.Sink, string) {
	t.Helper()
	sink := &collectortest.Sink{}
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/logs", func(w http.ResponseWriter, r *http.Request) {
		body := readBody(t, r)
		req := plogotlp.NewExportRequest()
		if err := req.UnmarshalProto(body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		sink.AddLogs(req.Logs())
		out, _ := plogotlp.NewExportResponse().MarshalProto()
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	})
	mux.HandleFunc("/v1/metrics", func(w http.ResponseWriter, r *http.Request) {
		body := readBody(t, r)
		req := pmetricotlp.NewExportRequest()
		if err := req.UnmarshalProto(body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		sink.AddMetrics(req.Metrics())
		out, _ := pmetricotlp.NewExportResponse().MarshalProto()
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	})
	srv := httptest.NewServer(mux) // binds 127.0.0.1
	t.Cleanup(srv.Close)
	return sink, srv.URL
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 10s waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func runExporter(t *testing.T, cfg *Config, batches ...ptrace.Traces) {
	t.Helper()
	require.NoError(t, cfg.Validate())
	ctx := context.Background()
	exp, err := NewFactory().CreateTraces(ctx, exportertest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(ctx, componenttest.NewNopHost()))
	for _, td := range batches {
		require.NoError(t, exp.ConsumeTraces(ctx, td))
	}
	require.NoError(t, exp.Shutdown(ctx)) // drains the inner queues
}

func checkLogs(t *testing.T, logs []plog.Logs, want int) {
	t.Helper()
	var records []plog.LogRecord
	for _, ld := range logs {
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			rl := ld.ResourceLogs().At(i)
			svc, _ := rl.Resource().Attributes().Get(convention.ServiceName)
			assert.Equal(t, convention.FindingService, svc.Str())
			for j := 0; j < rl.ScopeLogs().Len(); j++ {
				sl := rl.ScopeLogs().At(j)
				assert.Equal(t, metadata.ScopeName, sl.Scope().Name())
				for k := 0; k < sl.LogRecords().Len(); k++ {
					records = append(records, sl.LogRecords().At(k))
				}
			}
		}
	}
	require.Len(t, records, want)
	var lr plog.LogRecord
	for _, r := range records {
		if r.TraceID() == (pcommon.TraceID{0xf1, 1, 'w'}) {
			lr = r
		}
	}
	require.NotEqual(t, plog.LogRecord{}, lr, "no log record for the first finding")
	assert.Contains(t, lr.Body().Str(), "WARNING: RACE on accounts.alice.balance")
	assert.Equal(t, EventName, lr.EventName())
	assert.Equal(t, plog.SeverityNumberError, lr.SeverityNumber())
	assert.Equal(t, "ERROR", lr.SeverityText())
	assert.Equal(t, pcommon.TraceID{0xf1, 1, 'w'}, lr.TraceID())
	assert.Equal(t, pcommon.SpanID{0xf2, 1, 'w'}, lr.SpanID())
	attrs := lr.Attributes().AsRaw()
	assert.Equal(t, "accounts.alice.balance", attrs[convention.RaceVar])
	assert.Equal(t, "write/write", attrs[convention.RaceKind])
	assert.EqualValues(t, 42, attrs[convention.RaceCurrent+convention.RaceLine])
	assert.NotContains(t, attrs, convention.RaceReport, "the report is the body")
	assert.NotContains(t, attrs, "not.raceway")
	assert.Equal(t, []any{accessTraceA.String(), accessTraceB.String()}, attrs[AttrLinkedTraceIDs])
	assert.Equal(t, []any{accessSpanA.String(), accessSpanB.String()}, attrs[AttrLinkedSpanIDs])
}

// lastPoints returns the latest (for cumulative counters: the highest) value
// of each metric's data points, keyed by metric name and the point's
// attributes. Batches may arrive out of order through the inner queue.
func lastPoints(metrics []pmetric.Metrics) map[string]int64 {
	out := map[string]int64{}
	for _, md := range metrics {
		rms := md.ResourceMetrics()
		for i := 0; i < rms.Len(); i++ {
			sms := rms.At(i).ScopeMetrics()
			for j := 0; j < sms.Len(); j++ {
				ms := sms.At(j).Metrics()
				for k := 0; k < ms.Len(); k++ {
					m := ms.At(k)
					dps := m.Sum().DataPoints()
					for d := 0; d < dps.Len(); d++ {
						key := seriesName(m.Name(), dps.At(d).Attributes())
						out[key] = max(out[key], dps.At(d).IntValue())
					}
				}
			}
		}
	}
	return out
}

// seriesName names a metric's series by its kind, severity, services and
// overflow attributes.
func seriesName(metric string, a pcommon.Map) string {
	key := metric
	for _, name := range []string{convention.RaceKind, convention.RaceSeverity, AttrServices, AttrOverflow} {
		if v, ok := a.Get(name); ok {
			key += " " + v.AsString()
		}
	}
	return key
}

func TestExportGRPC(t *testing.T) {
	sink := collectortest.StartSink(t, "", nil)
	cfg := createDefaultConfig()
	cfg.GRPC.ClientConfig.Endpoint = sink.Addr()
	cfg.GRPC.ClientConfig.TLS.Insecure = true
	cfg.File.Path = filepath.Join(t.TempDir(), "findings.jsonl")

	runExporter(t, cfg,
		findingTraces("write/write", "error", 1),
		findingTraces("write/write", "error", 3), // group count 1 -> 3: two more occurrences
		findingTraces("read/write", "warning", 1),
		ptrace.NewTraces(), // nothing to do
	)
	waitFor(t, "3 log records and the metrics at the sink", func() bool {
		_, logs, metrics := sink.Snapshot()
		n := 0
		for _, l := range logs {
			n += l.LogRecordCount()
		}
		return n == 3 && len(metrics) == 3
	})
	_, logs, metrics := sink.Snapshot()
	checkLogs(t, logs, 3)
	for _, m := range metrics {
		sum := m.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Sum()
		assert.True(t, sum.IsMonotonic())
		assert.Equal(t, pmetric.AggregationTemporalityCumulative, sum.AggregationTemporality())
	}
	pts := lastPoints(metrics)
	assert.Equal(t, map[string]int64{
		MetricRaces + " write/write error audit,bank":        2,
		MetricOccurrences + " write/write error audit,bank":  3,
		MetricRaces + " read/write warning audit,bank":       1,
		MetricOccurrences + " read/write warning audit,bank": 1,
	}, pts)

	// the JSON-lines file has one finding a line
	f, err := os.Open(cfg.File.Path)
	require.NoError(t, err)
	defer f.Close()
	var recs []FileRecord
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r FileRecord
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r))
		recs = append(recs, r)
	}
	require.Len(t, recs, 3)
	assert.Equal(t, "accounts.alice.balance", recs[0].Var)
	assert.Equal(t, "write/write", recs[0].Kind)
	assert.Equal(t, "error", recs[0].Severity)
	assert.Contains(t, recs[0].Report, "transfer.go:42")
	assert.Equal(t, pcommon.TraceID{0xf1, 1, 'w'}.String(), recs[0].TraceID)
	assert.Len(t, recs[0].Links, 2)
	assert.EqualValues(t, 3, recs[1].Attributes[convention.RaceCount])
}

func TestExportHTTP(t *testing.T) {
	sink, url := startHTTPSink(t)
	cfg := createDefaultConfig()
	cfg.Protocol, cfg.GRPC = ProtocolHTTP, nil
	cfg.HTTP = defaultHTTPConfig()
	cfg.HTTP.ClientConfig.Endpoint = url
	cfg.HTTP.ClientConfig.Compression = configcompression.TypeGzip
	cfg.HTTP.QueueConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
	runExporter(t, cfg, findingTraces("write/write", "error", 1))
	_, logs, metrics := sink.Snapshot()
	checkLogs(t, logs, 1)
	assert.Equal(t, map[string]int64{
		MetricRaces + " write/write error audit,bank":       1,
		MetricOccurrences + " write/write error audit,bank": 1,
	}, lastPoints(metrics))
}

func TestExportNoneFileBounded(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.Protocol, cfg.GRPC = ProtocolNone, nil
	cfg.File.Path = filepath.Join(t.TempDir(), "findings.jsonl")
	one, err := json.Marshal(fileRecord(findings(findingTraces("write/write", "error", 1))[0]))
	require.NoError(t, err)
	cfg.File.MaxBytes = int64(len(one)+1) * 2 // room for two lines
	runExporter(t, cfg,
		findingTraces("write/write", "error", 1),
		findingTraces("write/write", "error", 2),
		findingTraces("write/write", "error", 3),
	)
	data, err := os.ReadFile(cfg.File.Path)
	require.NoError(t, err)
	assert.Equal(t, 2, strings.Count(string(data), "\n"))
	assert.LessOrEqual(t, int64(len(data)), cfg.File.MaxBytes)
}

func TestSeverity(t *testing.T) {
	for in, want := range map[string]plog.SeverityNumber{
		"critical": plog.SeverityNumberError3,
		"error":    plog.SeverityNumberError,
		"warning":  plog.SeverityNumberWarn,
		"":         plog.SeverityNumberWarn,
	} {
		got, _ := severity(in)
		assert.Equal(t, want, got, in)
	}
}

func TestCountersBounded(t *testing.T) {
	c := newCounters(2, time.Now())
	res := pcommon.NewResource()
	var fs []finding
	for i := range 5 {
		td := findingTraces("write/write", "error", 1)
		f := findings(td)[0]
		f.span.Attributes().PutStr(convention.RaceVar, "v"+string(rune('a'+i)))
		f.span.Attributes().PutStr(convention.RaceGroup, "g"+string(rune('a'+i)))
		fs = append(fs, f)
	}
	md, overflowed := c.add(fs, res, "test", time.Now())
	assert.Equal(t, 3, overflowed)
	assert.Len(t, c.series, 3) // two series and the overflow series
	assert.LessOrEqual(t, len(c.groups), 2)
	pts := lastPoints([]pmetric.Metrics{md})
	assert.EqualValues(t, 3, pts[MetricRaces+" true"])
	// a repeated report of a known group adds a race but no occurrence
	md, _ = c.add(fs[:1], res, "test", time.Now())
	pts = lastPoints([]pmetric.Metrics{md})
	assert.EqualValues(t, 2, pts[MetricRaces+" write/write error audit,bank"])
	assert.EqualValues(t, 1, pts[MetricOccurrences+" write/write error audit,bank"])
}

// points returns each data point of md by metric name and series (as
// lastPoints keys them).
func points(md pmetric.Metrics) map[string]pmetric.NumberDataPoint {
	out := map[string]pmetric.NumberDataPoint{}
	ms := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	for k := 0; k < ms.Len(); k++ {
		dps := ms.At(k).Sum().DataPoints()
		for d := 0; d < dps.Len(); d++ {
			out[seriesName(ms.At(k).Name(), dps.At(d).Attributes())] = dps.At(d)
		}
	}
	return out
}

func TestCountersStartAtTheLatestExportAndAllAreSent(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	c := newCounters(10, t0)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	assert.Zero(t, c.all("test", at(1)).DataPointCount(), "no series yet: nothing to send")

	res := pcommon.NewResource()
	res.Attributes().PutStr(convention.ServiceName, convention.FindingService)
	ww := findings(findingTraces("write/write", "error", 1))
	rw := findings(findingTraces("read/write", "warning", 2))
	md, _ := c.add(ww, res, "test", at(2))
	assert.Len(t, points(md), 2, "the touched series: races and occurrences of write/write")
	assert.Equal(t, 2, c.all("test", at(3)).DataPointCount(), "the periodic export sends the one series")
	md, _ = c.add(rw, res, "test", at(4))
	require.Len(t, points(md), 2, "only the series the batch touched")
	assert.Contains(t, points(md), MetricRaces+" read/write warning audit,bank")

	all := c.all("test", at(10))
	svc, _ := all.ResourceMetrics().At(0).Resource().Attributes().Get(convention.ServiceName)
	assert.Equal(t, convention.FindingService, svc.Str())
	pts := points(all)
	want := map[string]struct {
		v     int64
		start time.Time // the latest export before the series' first finding
	}{
		MetricRaces + " write/write error audit,bank":        {1, at(1)},
		MetricOccurrences + " write/write error audit,bank":  {1, at(1)},
		MetricRaces + " read/write warning audit,bank":       {1, at(3)},
		MetricOccurrences + " read/write warning audit,bank": {2, at(3)},
	}
	require.Len(t, pts, len(want))
	for name, w := range want {
		p := pts[name]
		assert.Equal(t, w.v, p.IntValue(), name)
		assert.Equal(t, w.start, p.StartTimestamp().AsTime(), name)
		assert.Equal(t, at(10), p.Timestamp().AsTime(), name)
	}

	// Without any export before it, a series starts with the counters.
	fresh := newCounters(10, t0)
	md, _ = fresh.add(ww, res, "test", at(5))
	assert.Equal(t, t0, points(md)[MetricRaces+" write/write error audit,bank"].StartTimestamp().AsTime())
}

func TestMetricsResentEachInterval(t *testing.T) {
	sink := collectortest.StartSink(t, "", nil)
	cfg := createDefaultConfig()
	cfg.GRPC.ClientConfig.Endpoint = sink.Addr()
	cfg.GRPC.ClientConfig.TLS.Insecure = true
	cfg.Logs = false
	cfg.MetricsInterval = 20 * time.Millisecond
	// No queue: each send reaches the sink before the next one starts, so
	// the periodic sends arrive in the order they were made. (Through a
	// queue of several consumers two exports can arrive out of order; see
	// the README.)
	cfg.GRPC.QueueConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
	require.NoError(t, cfg.Validate())

	ctx := context.Background()
	exp, err := NewFactory().CreateTraces(ctx, exportertest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(ctx, componenttest.NewNopHost()))
	time.Sleep(5 * cfg.MetricsInterval)
	_, _, before := sink.Snapshot()
	assert.Empty(t, before, "no series yet: nothing sent")

	require.NoError(t, exp.ConsumeTraces(ctx, findingTraces("write/write", "error", 1)))
	require.NoError(t, exp.ConsumeTraces(ctx, findingTraces("read/write", "warning", 1)))
	// Every export from here on is periodic. The first may have been taken
	// before the second finding (the ticker runs beside ConsumeTraces), so
	// the check starts after it.
	_, _, sent := sink.Snapshot()
	from := len(sent) + 1
	waitFor(t, "both series sent again three times after the findings", func() bool {
		_, _, metrics := sink.Snapshot()
		return len(metrics) >= from+3
	})
	require.NoError(t, exp.Shutdown(ctx))
	_, _, metrics := sink.Snapshot()
	var stamps []pcommon.Timestamp
	start := map[string]pcommon.Timestamp{}
	for _, md := range metrics[from:] {
		pts := points(md)
		require.Len(t, pts, 4, "every series, not only the touched ones")
		for name, p := range pts {
			assert.EqualValues(t, 1, p.IntValue(), name)
			if start[name] == 0 {
				start[name] = p.StartTimestamp()
			}
			assert.Equal(t, start[name], p.StartTimestamp(), "%s keeps its start", name)
			assert.Less(t, p.StartTimestamp(), p.Timestamp(), name)
		}
		stamps = append(stamps, pts[MetricRaces+" write/write error audit,bank"].Timestamp())
	}
	for i := 1; i < len(stamps); i++ {
		assert.Less(t, stamps[i-1], stamps[i], "each export is a new sample")
	}

	time.Sleep(5 * cfg.MetricsInterval)
	_, _, after := sink.Snapshot()
	assert.Len(t, after, len(metrics), "nothing sent after Shutdown")
}
