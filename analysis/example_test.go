package analysis_test

import (
	"fmt"
	"time"

	"github.com/raceway-otel/raceway/analysis"
)

// Two concurrent transfers read the same balance, then write it: the
// second write overwrites the first (a lost update).
func Example() {
	d, err := analysis.NewDetector(analysis.Config{})
	if err != nil {
		panic(err)
	}
	t0 := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	transfer := func(thread analysis.ThreadID, trace byte, read, write int, newValue string, at time.Duration) []analysis.Event {
		base := analysis.Event{Service: "bank", Process: "bank-1", TraceID: [16]byte{trace}, Time: t0.Add(at)}
		start, r, w := base, base, base
		start.Kind, start.Epoch, start.Origin, start.ThreadName = analysis.KindStart, analysis.Epoch{Thread: thread, Seq: 1}, analysis.OriginRequest, "POST /transfer"
		r.Kind, r.Epoch, r.Var, r.New, r.HasValues = analysis.KindRead, analysis.Epoch{Thread: thread, Seq: 2}, "accounts.alice.balance", "1000", true
		r.Where = analysis.Location{File: "transfer.go", Line: read, Function: "main.transfer"}
		w.Kind, w.Epoch, w.Var, w.Old, w.New, w.HasValues = analysis.KindWrite, analysis.Epoch{Thread: thread, Seq: 3}, "accounts.alice.balance", "1000", newValue, true
		w.Where = analysis.Location{File: "transfer.go", Line: write, Function: "main.transfer"}
		return []analysis.Event{start, r, w}
	}
	events := append(transfer(0xa1, 1, 37, 42, "900", 0), transfer(0xb2, 2, 37, 42, "800", time.Millisecond)...)
	// Arrival order is arbitrary: deliver the second transfer's write first.
	for _, i := range []int{5, 0, 1, 2, 3, 4} {
		if err := d.Add(events[i], t0); err != nil {
			panic(err)
		}
	}
	d.Flush()
	for _, r := range d.Drain() {
		fmt.Printf("%s %s: %s vs %s", r.Var, r.Kind, r.Previous.Where, r.Current.Where)
		if lu := r.LostUpdate; lu != nil {
			fmt.Printf(" (lost update: read %s, final %s, expected %s)", lu.Read, lu.Final, lu.Expected)
		}
		fmt.Println()
	}
	// Output:
	// accounts.alice.balance read/write: transfer.go:42 vs transfer.go:37
	// accounts.alice.balance write/write: transfer.go:42 vs transfer.go:42 (lost update: read 1000, final 800, expected 700)
	// accounts.alice.balance read/write: transfer.go:37 vs transfer.go:42
}

// A race between two requests that wrote the same counter, rendered like
// the Go race detector's report.
func ExampleRace_Report() {
	d, err := analysis.NewDetector(analysis.Config{})
	if err != nil {
		panic(err)
	}
	t0 := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	for i, th := range []analysis.ThreadID{0xa1, 0xb2} {
		trace := [16]byte{15: byte(i + 1)}
		start := analysis.Event{
			Kind: analysis.KindStart, Epoch: analysis.Epoch{Thread: th, Seq: 1},
			Origin: analysis.OriginRequest, ThreadName: "POST /hit",
			Service: "web", Process: "web-1", TraceID: trace, Time: t0,
			Where: analysis.Location{File: "server.go", Line: 20},
		}
		write := analysis.Event{
			Kind: analysis.KindWrite, Epoch: analysis.Epoch{Thread: th, Seq: 2},
			Var: "hits", Old: "41", New: "42", HasValues: true,
			Service: "web", Process: "web-1", TraceID: trace, SpanID: [8]byte{7: byte(i + 1)},
			Time:  t0.Add(time.Duration(i+1) * time.Millisecond),
			Where: analysis.Location{File: "hits.go", Line: 12, Function: "main.hit"},
		}
		for _, e := range []analysis.Event{start, write} {
			if err := d.Add(e, t0); err != nil {
				panic(err)
			}
		}
	}
	d.Flush()
	for _, r := range d.Drain() {
		fmt.Print(r.Report())
	}
	// Output:
	// ==================
	// WARNING: RACE on hits (in web/web-1, write/write, lost update)
	// Write by web (thread 00000000000000b2 "POST /hit") at hits.go:12
	//   main.hit()
	//   value 41 -> 42, locks held: none
	//   trace 00000000000000000000000000000002 span 0000000000000002 epoch 00000000000000b2@2
	//
	// Previous write by web (thread 00000000000000a1 "POST /hit") at hits.go:12
	//   main.hit()
	//   value 41 -> 42, locks held: none
	//   trace 00000000000000000000000000000001 span 0000000000000001 epoch 00000000000000a1@2
	//
	// Thread 00000000000000b2 (web/web-1) started by request "POST /hit" at server.go:20
	// Thread 00000000000000a1 (web/web-1) started by request "POST /hit" at server.go:20
	//
	// Unordered: the accesses are in different traces (00000000000000000000000000000001 and 00000000000000000000000000000002) and no RPC, spawn, await or lock edge leads from one to the other; neither holds a lock
	// Lost update: both writers read 41; writes 42 and 42; final 42; expected 43
	// ==================
}
