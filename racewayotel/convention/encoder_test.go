package convention_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/raceway-otel/raceway/analysis"
	"github.com/raceway-otel/raceway/racewayotel/convention"
)

// attrs is an AttributeWriter that keeps the attributes in order, as
// decode (decoder_test.go) reads them.
type attrs []attr

func (a *attrs) Str(key, v string)               { *a = append(*a, attr{key, v}) }
func (a *attrs) Int(key string, v int64)         { *a = append(*a, attr{key, int(v)}) }
func (a *attrs) StrSlice(key string, v []string) { *a = append(*a, attr{key, v}) }

// randomEvent returns a valid event of a random kind with random fields.
func randomEvent(rng *rand.Rand) analysis.Event {
	thread := func() analysis.ThreadID { return analysis.ThreadID(rng.Uint64() | 1) }
	str := func(prefix string) string {
		if rng.IntN(3) == 0 {
			return ""
		}
		return fmt.Sprintf("%s%d", prefix, rng.IntN(1000))
	}
	kinds := []analysis.Kind{analysis.KindRead, analysis.KindWrite, analysis.KindAcquire, analysis.KindRelease,
		analysis.KindRAcquire, analysis.KindRRelease, analysis.KindStart, analysis.KindSpawn, analysis.KindEnd,
		analysis.KindAwait, analysis.KindSend, analysis.KindRespond, analysis.KindResponse, analysis.KindCall,
		analysis.KindReturn, analysis.KindError}
	e := analysis.Event{
		Kind:  kinds[rng.IntN(len(kinds))],
		Epoch: analysis.Epoch{Thread: thread(), Seq: 1 + rng.Uint64N(1<<40)},
		Where: analysis.Location{File: str("/src/f"), Line: rng.IntN(500), Function: str("main.f")},
	}
	e.Process = str("proc-")
	for range rng.IntN(analysis.MaxAfter + 1) {
		e.After = append(e.After, analysis.Epoch{Thread: thread(), Seq: 1 + rng.Uint64N(100)})
	}
	switch e.Kind {
	case analysis.KindRead, analysis.KindWrite:
		e.Var = "v" + str("x")
		e.Shared = rng.IntN(2) == 0
		if rng.IntN(2) == 0 {
			e.HasValues, e.New = true, str("")
			if e.Kind == analysis.KindWrite {
				e.Old = str("")
			}
		}
		for range rng.IntN(3) {
			e.LocksHeld = append(e.LocksHeld, str("mu"))
		}
		for range rng.IntN(3) {
			e.SharedLocks = append(e.SharedLocks, "postgres/shop/products/"+str("row"))
		}
		for range rng.IntN(2) {
			e.SharedRLocks = append(e.SharedRLocks, "redis/lock/"+str("key"))
		}
	case analysis.KindAcquire, analysis.KindRAcquire:
		e.Lock = "mu" + str("")
		e.LockShared = rng.IntN(2) == 0
	case analysis.KindRelease, analysis.KindRRelease:
		e.Lock = "mu" + str("")
		if e.LockShared = rng.IntN(2) == 0; !e.LockShared {
			e.Sync = analysis.Epoch{Thread: thread(), Seq: 1 + rng.Uint64N(100)}
		}
	case analysis.KindStart:
		e.Origin = analysis.Origin(1 + rng.IntN(5))
		e.ThreadName = str("GET /")
	}
	return e
}

// TestEncodeRoundTrip: whatever valid event is encoded, the Decoder reads the
// same event back, given the span's source and the event's time.
func TestEncodeRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	src := convention.Source{Service: "bank", Process: "bank-default", TraceID: [16]byte{1, 2}, SpanID: [8]byte{3}}
	for i := range 2000 {
		want := randomEvent(rng)
		if err := want.Validate(); err != nil {
			t.Fatalf("event %d: the generator made an invalid event: %v", i, err)
		}
		var a attrs
		convention.Encode(&want, &a)
		got, err := decode(convention.EventName(want.Kind), src, a...)
		if err != nil {
			t.Fatalf("event %d %+v: decoding its encoding: %v", i, want, err)
		}
		want.Service, want.TraceID, want.SpanID, want.Time = src.Service, src.TraceID, src.SpanID, time.Unix(1, 0)
		if want.Process == "" {
			want.Process = src.Process
		}
		if len(got.After) == 0 {
			got.After = nil
		}
		for _, l := range []*[]string{&got.LocksHeld, &got.SharedLocks, &got.SharedRLocks} {
			if len(*l) == 0 {
				*l = nil
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("event %d: round trip\n got %+v\nwant %+v", i, got, want)
		}
	}
}

func ExampleEncode() {
	e := analysis.Event{
		Kind:      analysis.KindWrite,
		Epoch:     analysis.Epoch{Thread: 0x2a, Seq: 3},
		After:     []analysis.Epoch{{Thread: 0x7, Seq: 2}},
		Var:       "postgres/shop/products/42.stock",
		Shared:    true,
		Old:       "10",
		New:       "9",
		HasValues: true,
		Where:     analysis.Location{File: "orders.go", Line: 42, Function: "main.order"},
	}
	var a attrs
	convention.Encode(&e, &a)
	sort.Slice(a, func(i, j int) bool { return a[i].key < a[j].key })
	fmt.Println(convention.EventName(e.Kind))
	for _, kv := range a {
		if s, ok := kv.value.([]string); ok {
			kv.value = "[" + strings.Join(s, " ") + "]"
		}
		fmt.Printf("  %s = %v\n", kv.key, kv.value)
	}
	// Output:
	// raceway.write
	//   code.file.path = orders.go
	//   code.function.name = main.order
	//   code.line.number = 42
	//   raceway.after = [0000000000000007@2]
	//   raceway.seq = 3
	//   raceway.thread.id = 000000000000002a
	//   raceway.value.new = 9
	//   raceway.value.old = 10
	//   raceway.var.name = postgres/shop/products/42.stock
	//   raceway.var.scope = shared
}
