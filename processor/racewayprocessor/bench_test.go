package racewayprocessor

import (
	"context"
	"encoding/binary"
	"fmt"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/raceway-otel/raceway/processor/racewayprocessor/internal/metadata"
)

// Benchmark traffic: every batch holds benchTraces request traces of
// benchSpansPerTrace spans. The server span of each trace carries three
// Raceway records (thread.start, read, write of the session state); the
// other spans are ordinary client/database spans with a few attributes. One
// request in 100 touches a hot account, so races are found and shown.
const (
	benchTraces        = 20
	benchSpansPerTrace = 5
	benchSpans         = benchTraces * benchSpansPerTrace
)

func benchBatch(n int) ptrace.Traces {
	td := ptrace.NewTraces()
	at := base.Add(time.Duration(n) * 100 * time.Millisecond)
	for t := 0; t < benchTraces; t++ {
		req := uint64(n*benchTraces + t + 1)
		var tid pcommon.TraceID
		binary.BigEndian.PutUint64(tid[:8], req)
		binary.BigEndian.PutUint64(tid[8:], req*0x9e3779b97f4a7c15)
		rs := td.ResourceSpans().AppendEmpty()
		res := rs.Resource().Attributes()
		res.PutStr("service.name", "bank")
		res.PutStr("service.instance.id", "bank-1")
		res.PutStr("host.name", "bank-7d9f")
		res.PutStr("telemetry.sdk.language", "go")
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName("go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp")
		for s := 0; s < benchSpansPerTrace; s++ {
			span := ss.Spans().AppendEmpty()
			span.SetTraceID(tid)
			var sid pcommon.SpanID
			binary.BigEndian.PutUint64(sid[:], req<<3|uint64(s+1))
			span.SetSpanID(sid)
			start := at.Add(time.Duration(t) * time.Millisecond)
			span.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
			span.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(5 * time.Millisecond)))
			a := span.Attributes()
			if s > 0 {
				span.SetName("SELECT accounts")
				span.SetKind(ptrace.SpanKindClient)
				span.SetParentSpanID(pcommon.SpanID(binary.BigEndian.AppendUint64(nil, req<<3|1)))
				a.PutStr("db.system.name", "postgresql")
				a.PutStr("db.query.text", "SELECT balance FROM accounts WHERE id = $1")
				a.PutStr("server.address", "db.internal")
				a.PutInt("server.port", 5432)
				continue
			}
			span.SetName("POST /transfer")
			span.SetKind(ptrace.SpanKindServer)
			a.PutStr("http.request.method", "POST")
			a.PutStr("url.path", "/transfer")
			a.PutInt("http.response.status_code", 200)
			account := fmt.Sprintf("sessions.%d.state", req)
			if req%100 == 0 {
				account = "accounts.hot.balance"
			}
			thread := req * 0x9e3779b97f4a7c15
			if thread == 0 {
				thread = 1
			}
			for _, r := range []rec{
				{kind: "thread.start", thread: thread, seq: 1, origin: "request", name: "POST /transfer", file: "handler.go", line: 20, fn: "main.handleTransfer"},
				{kind: "read", thread: thread, seq: 2, v: account, val: str("1000"), file: "transfer.go", line: 37, fn: "main.transfer"},
				{kind: "write", thread: thread, seq: 3, v: account, old: str("1000"), val: str("900"), file: "transfer.go", line: 42, fn: "main.transfer"},
			} {
				r.proc = "bank-1"
				r.at = start.Sub(base) + time.Duration(r.seq)*time.Millisecond
				addRecord(span, r)
			}
		}
	}
	return td
}

// exporterSink stands for the rest of the pipeline: it marshals what it
// receives to OTLP protobuf, as the OTLP exporter does.
type exporterSink struct{ bytes int }

func (e *exporterSink) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

func (e *exporterSink) ConsumeTraces(_ context.Context, td ptrace.Traces) error {
	var m ptrace.ProtoMarshaler
	b, err := m.MarshalTraces(td)
	e.bytes += len(b)
	return err
}

// BenchmarkProcessor measures collector CPU per span for the same traffic
// through a pipeline without the processor (OTLP unmarshal as the receiver
// does, then OTLP marshal as the exporter does) and with the processor in
// front of the exporter. Each iteration is one batch of benchSpans spans;
// the batches (with fresh trace and thread ids) are generated with the timer
// stopped (see wireBatches). Beside the wall time per span it reports the
// garbage collector's CPU per span, which runs beside the timed goroutine:
// the difference between the two pipelines' figures is what collecting the
// detector's state costs (batch generation adds the same to both).
func BenchmarkProcessor(b *testing.B) {
	// perSpan reports the figures per span; gc0 is gcCPU when the loop
	// began (batch generation included).
	perSpan := func(b *testing.B, sink *exporterSink, gc0 float64) {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchSpans), "ns/span")
		b.ReportMetric((gcCPU()-gc0)*1e9/float64(b.N*benchSpans), "gc-cpu-ns/span")
		b.ReportMetric(float64(sink.bytes)/float64(b.N*benchSpans), "out-B/span")
	}

	b.Run("without", func(b *testing.B) {
		sink := &exporterSink{}
		var u ptrace.ProtoUnmarshaler
		wire := wireBatches{b: b}
		b.ReportAllocs()
		b.ResetTimer()
		gc0 := gcCPU()
		for i := 0; i < b.N; i++ {
			td, err := u.UnmarshalTraces(wire.at(i))
			if err != nil {
				b.Fatal(err)
			}
			if err := sink.ConsumeTraces(context.Background(), td); err != nil {
				b.Fatal(err)
			}
		}
		perSpan(b, sink, gc0)
	})

	b.Run("with", func(b *testing.B) {
		sink := &exporterSink{}
		cfg := createDefaultConfig().(*Config)
		p, err := newProcessor(processortest.NewNopSettings(metadata.Type), cfg, sink)
		require.NoError(b, err)
		now := base.Add(time.Hour)
		p.now = func() time.Time { return now }
		var u ptrace.ProtoUnmarshaler
		ctx := context.Background()
		wire := wireBatches{b: b}
		b.ReportAllocs()
		b.ResetTimer()
		gc0 := gcCPU()
		for i := 0; i < b.N; i++ {
			td, err := u.UnmarshalTraces(wire.at(i))
			if err != nil {
				b.Fatal(err)
			}
			if err := p.ConsumeTraces(ctx, td); err != nil {
				b.Fatal(err)
			}
			// 10 batches a second; the ticker runs every 100ms.
			now = now.Add(100 * time.Millisecond)
			p.tick(ctx, now)
		}
		if err := p.Shutdown(ctx); err != nil {
			b.Fatal(err)
		}
		perSpan(b, sink, gc0)
		b.StopTimer()
		s := p.det.Stats()
		b.ReportMetric(float64(s.Races)/float64(b.N), "races/batch")
		if s.Events != uint64(b.N*benchTraces*3) {
			b.Fatalf("analysed %d events, want %d", s.Events, b.N*benchTraces*3)
		}
	})
}

// BenchmarkProcessorInterleaved runs every batch through both pipelines in
// turn (without, then with the processor), timing each, so that load on the
// machine and GC affect both alike; it reports ns/span for each and their
// ratio.
func BenchmarkProcessorInterleaved(b *testing.B) {
	wire := wireBatches{b: b}
	plain := &exporterSink{}
	sink := &exporterSink{}
	p, err := newProcessor(processortest.NewNopSettings(metadata.Type), createDefaultConfig().(*Config), sink)
	require.NoError(b, err)
	now := base.Add(time.Hour)
	p.now = func() time.Time { return now }
	var u ptrace.ProtoUnmarshaler
	ctx := context.Background()
	var without, with time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buf := wire.at(i)
		t0 := time.Now()
		td, err := u.UnmarshalTraces(buf)
		if err != nil {
			b.Fatal(err)
		}
		if err := plain.ConsumeTraces(ctx, td); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		td, err = u.UnmarshalTraces(buf)
		if err != nil {
			b.Fatal(err)
		}
		if err := p.ConsumeTraces(ctx, td); err != nil {
			b.Fatal(err)
		}
		now = now.Add(100 * time.Millisecond)
		p.tick(ctx, now)
		t2 := time.Now()
		without += t1.Sub(t0)
		with += t2.Sub(t1)
	}
	t0 := time.Now()
	if err := p.Shutdown(ctx); err != nil {
		b.Fatal(err)
	}
	with += time.Since(t0)
	b.StopTimer()
	spans := float64(b.N * benchSpans)
	b.ReportMetric(float64(without.Nanoseconds())/spans, "ns/span-without")
	b.ReportMetric(float64(with.Nanoseconds())/spans, "ns/span-with")
	b.ReportMetric(float64(with)/float64(without), "ratio")
	if sink.bytes < plain.bytes {
		b.Fatalf("the processor exported %d bytes, less than the %d received", sink.bytes, plain.bytes)
	}
}

// wireBatches hands out the benchmark's batches in OTLP protobuf, distinct
// for each iteration (benchBatch(i)). It generates them 64 at a time with
// the timer stopped and keeps only those: all b.N of them stored at once
// (about 50 KB each) would raise the garbage collector's heap goal far above
// the detector's state, so that collections would be rare and what marking
// that state costs would not show.
type wireBatches struct {
	b     *testing.B
	first int
	block [][]byte
}

// at returns batch i; i only grows from one call to the next.
func (w *wireBatches) at(i int) []byte {
	if i >= w.first+len(w.block) {
		w.b.StopTimer()
		var m ptrace.ProtoMarshaler
		w.first, w.block = i, w.block[:0]
		for j := i; j < min(i+64, w.b.N); j++ {
			buf, err := m.MarshalTraces(benchBatch(j))
			require.NoError(w.b, err)
			w.block = append(w.block, buf)
		}
		w.b.StartTimer()
	}
	return w.block[i-w.first]
}

// gcCPU returns the CPU time, in seconds, the garbage collector has spent
// since the process started (runtime/metrics' estimate, all goroutines).
func gcCPU() float64 {
	s := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(s)
	return s[0].Value.Float64()
}
