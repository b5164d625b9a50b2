package collectortest_test

import (
	"reflect"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/raceway-otel/raceway/analysis"
	"github.com/raceway-otel/raceway/internal/collectortest"
	"github.com/raceway-otel/raceway/racewayotel/convention"
)

// TestAddRecordRoundTrip: what AddRecord writes, convention.Decoder reads
// back as the event given, completed by the span's source.
func TestAddRecordRoundTrip(t *testing.T) {
	const th, other analysis.ThreadID = 0x77, 0x88
	where := analysis.Location{File: "bank.go", Line: 42, Function: "main.transfer"}
	events := []analysis.Event{
		{Kind: analysis.KindStart, Epoch: analysis.Epoch{Thread: th, Seq: 1}, Origin: analysis.OriginRequest,
			ThreadName: "POST /transfer", After: []analysis.Epoch{{Thread: other, Seq: 3}}},
		{Kind: analysis.KindWrite, Epoch: analysis.Epoch{Thread: th, Seq: 2}, Var: "accounts.alice.balance",
			Old: "1000", New: "900", HasValues: true, LocksHeld: []string{"mu", "audit"}, Process: "bank-2", Where: where},
		{Kind: analysis.KindRead, Epoch: analysis.Epoch{Thread: th, Seq: 3}, Var: "postgres/bank/accounts/1", Shared: true,
			New: "900", HasValues: true, SharedLocks: []string{"row 1"}, SharedRLocks: []string{"table"}, Where: where},
		{Kind: analysis.KindRelease, Epoch: analysis.Epoch{Thread: th, Seq: 4}, Lock: "mu", Sync: analysis.Epoch{Thread: other, Seq: 2}},
	}
	span := ptrace.NewSpan()
	span.SetTraceID(pcommon.TraceID{1, 2, 3})
	span.SetSpanID(pcommon.SpanID{4, 5, 6})
	span.Events().AppendEmpty().SetName("exception") // not a record: left alone
	at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	for i, e := range events {
		ev := collectortest.AddRecord(span, at.Add(time.Duration(i)*time.Millisecond), e)
		if got := span.Events().At(span.Events().Len() - 1); got != ev {
			t.Fatalf("record %d: AddRecord returned another event than the span's last", i)
		}
	}
	if n := span.Events().Len(); n != 1+len(events) {
		t.Fatalf("span has %d events, want %d", n, 1+len(events))
	}

	src := convention.Source{Service: "bank", Process: "bank-1", TraceID: span.TraceID(), SpanID: span.SpanID()}
	for i, e := range events {
		ev := span.Events().At(1 + i)
		var dec convention.Decoder // a fresh one: a reused Decoder's empty slices are not nil
		if want := convention.EventName(e.Kind); ev.Name() != want {
			t.Errorf("record %d is named %q, want %q", i, ev.Name(), want)
		}
		if !dec.Reset(ev.Name(), ev.Timestamp().AsTime(), src) {
			t.Fatalf("record %d (%s): not a record for the decoder", i, ev.Name())
		}
		decode(&dec, ev.Attributes())
		got, err := dec.Event()
		if err != nil {
			t.Fatalf("record %d (%s): %v", i, ev.Name(), err)
		}
		want := e
		want.Service, want.TraceID, want.SpanID = src.Service, src.TraceID, src.SpanID
		if want.Process == "" {
			want.Process = src.Process
		}
		if wantAt := at.Add(time.Duration(i) * time.Millisecond); !got.Time.Equal(wantAt) {
			t.Errorf("record %d: time %v, want %v", i, got.Time, wantAt)
		}
		got.Time = time.Time{}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("record %d: decoded\n%+v\nwant\n%+v", i, got, want)
		}
	}
}

// decode feeds the attributes of a span event to d, as the raceway
// processor does for the types AddRecord writes.
func decode(d *convention.Decoder, attrs pcommon.Map) {
	attrs.Range(func(k string, v pcommon.Value) bool {
		switch v.Type() {
		case pcommon.ValueTypeStr:
			d.Str(k, v.Str())
		case pcommon.ValueTypeInt:
			d.Int(k, v.Int())
		case pcommon.ValueTypeSlice:
			for i := 0; i < v.Slice().Len(); i++ {
				d.StrElem(k, v.Slice().At(i).Str())
			}
		default:
			d.Mistyped(k)
		}
		return true
	})
}
