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

// TestAddRecord: AddRecord appends to the span, after its other events, one
// event per record, named after its kind, at the time given, with the
// attributes convention.Encode writes.
func TestAddRecord(t *testing.T) {
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

	for i, e := range events {
		ev := span.Events().At(1 + i)
		if want := convention.EventName(e.Kind); ev.Name() != want {
			t.Errorf("record %d is named %q, want %q", i, ev.Name(), want)
		}
		if wantAt := at.Add(time.Duration(i) * time.Millisecond); !ev.Timestamp().AsTime().Equal(wantAt) {
			t.Errorf("record %d: time %v, want %v", i, ev.Timestamp().AsTime(), wantAt)
		}
		want := rawAttrs{}
		convention.Encode(&e, want)
		if got := ev.Attributes().AsRaw(); !reflect.DeepEqual(got, map[string]any(want)) {
			t.Errorf("record %d: attributes\n%v\nwant what convention.Encode writes\n%v", i, got, want)
		}
	}
}

// rawAttrs takes what convention.Encode writes in the form of
// pcommon.Map.AsRaw. (The processor's tests decode AddRecord's records with
// the processor's own decoder.)
type rawAttrs map[string]any

func (m rawAttrs) Str(k, v string)       { m[k] = v }
func (m rawAttrs) Int(k string, v int64) { m[k] = v }
func (m rawAttrs) StrSlice(k string, v []string) {
	s := make([]any, len(v))
	for i, e := range v {
		s[i] = e
	}
	m[k] = s
}
