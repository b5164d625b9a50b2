package analysis_test

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/raceway-otel/raceway/analysis"
)

// The benchmark workload: request threads in a few processes of one
// service, 64 in flight at a time, each doing 4 read-modify-writes. A
// request works on one shard of accounts (one customer): its account
// read-modify-writes are done under that shard's lock, as the code means
// them to be (they never race, but every acquire joins the previous
// holder's clock: the growth trap of docs/design.md, "Bounds"). One
// read-modify-write in eight is on a pool of statistics counters that the
// code forgot to lock: those race. The execution is simulated in a global
// order so that the locks really exclude each other. The events are
// simulated again on every run, from the same seed, and expanded into
// Events without allocating: the benchmark keeps no memory that grows with
// n (a million stored events would raise the garbage collector's heap goal
// for whatever runs beside them, and so change its pacing: the detector's
// garbage collection would not be the same at every size). Simulating and
// expanding are part of the measured time. Every race is turned into its
// report, as the collector does.

const (
	wlProcs     = 4
	wlVars      = 1024 // accounts per process
	wlLocks     = 64   // shards (and shard locks) per process
	wlSlots     = 64   // requests in flight
	wlRMWs      = 4    // per request
	wlValueMods = 1000
)

// wlEvent is an event of the workload in compact form.
type wlEvent struct {
	kind   analysis.Kind
	proc   uint8
	loc    uint8
	thread analysis.ThreadID
	seq    uint32
	v      int32 // variable or lock index
	val    int32 // New (read value, or value written)
	old    int32
	edge   analysis.Epoch // After (at most one in this workload) or Sync
}

// workload is the deterministic workload with n accesses: the names its
// events use, and the buffers fill reuses.
type workload struct {
	n        int // accesses
	counters int // unlocked counters per process
	procs    []string
	vars     []string
	locks    []string
	values   []string
	locs     []analysis.Location
	base     time.Time
	step     time.Duration
	held     [1]string
	after    [1]analysis.Epoch
}

// newWorkload returns the workload with n accesses.
func newWorkload(n int) *workload {
	w := &workload{n: n, base: time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC), step: time.Microsecond}
	for p := range wlProcs {
		w.procs = append(w.procs, fmt.Sprintf("shop-%d", p))
	}
	for v := range wlVars {
		w.vars = append(w.vars, fmt.Sprintf("accounts/%d.balance", v))
	}
	// Unlocked counters per process: as many as keep each one at about five
	// accesses whatever n, so that the share of racing accesses (and so the
	// work of reporting) does not grow with n and ns/access compares like
	// with like.
	w.counters = max(64, n/160)
	for v := range w.counters {
		w.vars = append(w.vars, fmt.Sprintf("stats/%d.count", v))
	}
	for l := range wlLocks {
		w.locks = append(w.locks, fmt.Sprintf("shard%d.mu", l))
	}
	for v := range wlValueMods {
		w.values = append(w.values, strconv.Itoa(v))
	}
	w.locs = []analysis.Location{
		{File: "bank.go", Line: 37, Function: "bank.Transfer"},
		{File: "bank.go", Line: 42, Function: "bank.Transfer"},
		{File: "bank.go", Line: 51, Function: "bank.Deposit"},
		{File: "bank.go", Line: 52, Function: "bank.Deposit"},
		{File: "bank.go", Line: 20, Function: "bank.Handler"},
	}
	return w
}

// events simulates the workload and calls f with each event in turn, and
// its index: the same events on every call.
func (w *workload) events(f func(i int, e *wlEvent)) {
	rng := rand.New(rand.NewPCG(uint64(w.n), 2026))
	type step struct {
		kind analysis.Kind
		v    int32
		loc  uint8
	}
	type req struct {
		thread  analysis.ThreadID
		proc    uint8
		seq     uint32
		steps   []step // in buf
		next    int    // the next step
		readVal int32
		buf     [2 + 4*wlRMWs]step
	}
	type lockState struct {
		strand analysis.ThreadID
		n      uint32
		held   bool
	}
	locks := make([]lockState, wlProcs*wlLocks)
	for i := range locks {
		locks[i].strand = analysis.ThreadID(rng.Uint64() | 1)
	}
	nvars := wlVars + w.counters
	values := make([]int32, wlProcs*nvars)
	newReq := func(r *req) {
		*r = req{proc: uint8(rng.IntN(wlProcs)), thread: analysis.ThreadID(rng.Uint64() | 1)}
		r.steps = append(r.buf[:0], step{kind: analysis.KindStart, loc: 4})
		shard := rng.IntN(wlLocks)
		for range wlRMWs {
			if rng.IntN(8) == 0 {
				v := int32(wlVars + rng.IntN(w.counters))
				r.steps = append(r.steps, step{analysis.KindRead, v, 0}, step{analysis.KindWrite, v, 1})
				continue
			}
			v := int32(shard + wlLocks*rng.IntN(wlVars/wlLocks))
			l := int32(shard) + int32(r.proc)*wlLocks
			r.steps = append(r.steps, step{analysis.KindAcquire, l, 4},
				step{analysis.KindRead, v, 2}, step{analysis.KindWrite, v, 3}, step{analysis.KindRelease, l, 4})
		}
		r.steps = append(r.steps, step{kind: analysis.KindEnd, loc: 4})
	}
	var slots [wlSlots]req
	for i := range slots {
		newReq(&slots[i])
	}
	for i, accesses := 0, 0; accesses < w.n; {
		r := &slots[rng.IntN(wlSlots)]
		s := r.steps[r.next]
		if s.kind == analysis.KindAcquire && locks[s.v].held {
			continue // blocked: another request holds the lock
		}
		r.next++
		r.seq++
		e := wlEvent{kind: s.kind, proc: r.proc, loc: s.loc, thread: r.thread, seq: r.seq, v: s.v}
		switch s.kind {
		case analysis.KindAcquire:
			l := &locks[s.v]
			l.held = true
			if l.n > 0 {
				e.edge = analysis.Epoch{Thread: l.strand, Seq: uint64(l.n)}
			}
		case analysis.KindRelease:
			l := &locks[s.v]
			l.held = false
			l.n++
			e.edge = analysis.Epoch{Thread: l.strand, Seq: uint64(l.n)}
		case analysis.KindRead:
			r.readVal = values[int(r.proc)*nvars+int(s.v)]
			e.val = r.readVal
			accesses++
		case analysis.KindWrite:
			e.old = r.readVal
			e.val = r.readVal + 1 + int32(rng.IntN(100))
			values[int(r.proc)*nvars+int(s.v)] = e.val
			accesses++
		}
		f(i, &e)
		i++
		if r.next == len(r.steps) {
			newReq(r)
		}
	}
}

// fill expands event r, the i-th, into e, reusing w's buffers for its
// slices (the detector keeps no reference to them).
func (w *workload) fill(i int, r *wlEvent, e *analysis.Event) {
	id := r.thread
	*e = analysis.Event{
		Kind:    r.kind,
		Epoch:   analysis.Epoch{Thread: id, Seq: uint64(r.seq)},
		Service: "shop",
		Process: w.procs[r.proc],
		Time:    w.base.Add(time.Duration(i) * w.step),
		Where:   w.locs[r.loc],
	}
	binary.LittleEndian.PutUint64(e.TraceID[:], uint64(id))
	binary.LittleEndian.PutUint64(e.SpanID[:], uint64(id))
	switch r.kind {
	case analysis.KindStart:
		e.Origin = analysis.OriginRequest
	case analysis.KindAcquire:
		e.Lock = w.locks[int(r.v)%wlLocks]
		if !r.edge.IsZero() {
			w.after[0] = r.edge
			e.After = w.after[:]
		}
	case analysis.KindRelease:
		e.Lock = w.locks[int(r.v)%wlLocks]
		e.Sync = r.edge
	case analysis.KindRead, analysis.KindWrite:
		e.Var = w.vars[r.v]
		e.HasValues = true
		e.New = w.values[int(r.val)%wlValueMods]
		if r.kind == analysis.KindWrite {
			e.Old = w.values[int(r.old)%wlValueMods]
		}
		if r.loc >= 2 {
			w.held[0] = w.locks[int(r.v)%wlLocks]
			e.LocksHeld = w.held[:]
		}
	}
}

// materialize returns the workload as independent Events (for the oracle).
func (w *workload) materialize() []analysis.Event {
	var out []analysis.Event
	w.events(func(i int, r *wlEvent) {
		var e analysis.Event
		w.fill(i, r, &e)
		e.After = slices.Clone(e.After)
		e.LocksHeld = slices.Clone(e.LocksHeld)
		out = append(out, e)
	})
	return out
}

// reported is what the benchmark does with each race drained: what a
// driver needs to build its output.
func reported(f analysis.Found) {
	var r analysis.Race
	f.Race(&r)
	if r.Group == "" || r.Reason == "" || r.Previous.Epoch.IsZero() || r.Current.Epoch.IsZero() {
		panic(fmt.Sprintf("incomplete race %+v", r))
	}
}

// detect analyses the workload with a new detector and returns it.
func detect(b *testing.B, w *workload) *analysis.Detector {
	d := mustDetector(b, analysis.Config{})
	var e analysis.Event
	w.events(func(i int, r *wlEvent) {
		w.fill(i, r, &e)
		if err := d.Add(e, e.Time); err != nil {
			b.Fatal(err)
		}
		if i%4096 == 4095 {
			d.DrainEach(reported)
		}
	})
	d.Flush()
	d.DrainEach(reported)
	st := d.Stats()
	if st.Accesses != uint64(w.n) || st.Forced != 0 {
		b.Fatalf("Stats: %d accesses analysed of %d, %d forced", st.Accesses, w.n, st.Forced)
	}
	return d
}

// BenchmarkDetector times a new detector on the workload at each size,
// after one untimed run: with -benchtime=1x the timed run would otherwise
// also pay for the process's heap growing to the detector's size, which a
// long-running collector pays once. The untimed run also gives the
// detector's live heap at its end (live-MB). cpu-ns/access is the process's
// CPU time (the garbage collector's included), steadier than wall time on
// a shared machine.
func BenchmarkDetector(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("accesses=%d", n), func(b *testing.B) {
			w := newWorkload(n)
			live := retained(func() *analysis.Detector { return detect(b, w) })
			var races uint64
			runtime.GC()
			cpu0 := cpuTime()
			b.ResetTimer()
			for range b.N {
				races = detect(b, w).Stats().Races
			}
			b.StopTimer()
			total := float64(b.N) * float64(w.n)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/total, "ns/access")
			if cpu := cpuTime() - cpu0; cpu > 0 {
				b.ReportMetric(float64(cpu)/total, "cpu-ns/access")
			}
			b.ReportMetric(float64(races), "races")
			b.ReportMetric(live/1e6, "live-MB")
		})
	}
}

// BenchmarkDetectorFlat runs the workload with 10,000, 100,000 and
// 1,000,000 accesses in turn, 100, 10 and 1 times (so that each size
// analyses a million accesses), and reports the CPU time per access at each
// size and the ratios of 1M's to the others, all sizes seeing the same
// machine: the goal is a ratio within 0.75–1.25. The runs of a size follow
// each other with no forced collection between them, after one untimed run
// (the heap grows to the size's once, as in a long-running collector), so
// that each size pays for the garbage collections its own allocations
// cause, paced by its own live heap.
func BenchmarkDetectorFlat(b *testing.B) {
	sizes := []struct {
		n, runs int
		name    string
	}{{10_000, 100, "10k"}, {100_000, 10, "100k"}, {1_000_000, 1, "1M"}}
	cpu := make([]int64, len(sizes))
	for range b.N {
		for i, s := range sizes {
			w := newWorkload(s.n)
			detect(b, w)
			runtime.GC()
			c := cpuTime()
			for range s.runs {
				detect(b, w)
			}
			cpu[i] += cpuTime() - c
		}
	}
	per := make([]float64, len(sizes))
	for i, s := range sizes {
		per[i] = float64(cpu[i]) / float64(b.N*s.runs*s.n)
		b.ReportMetric(per[i], "cpu-ns/access@"+s.name)
	}
	if per[0] > 0 && per[1] > 0 {
		b.ReportMetric(per[2]/per[0], "1M/10k")
		b.ReportMetric(per[2]/per[1], "1M/100k")
	}
}

// BenchmarkOracle runs the all-pairs oracle (Raceway's own method) and the
// detector on the same workload, in turn in each iteration, and reports
// both and their ratio. The ratio is information, not a goal: the oracle
// is O(n²), so it grows with n by construction. Run it with
// -benchtime=1x (at 100k the oracle takes about 4 s).
func BenchmarkOracle(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("accesses=%d", n), func(b *testing.B) {
			w := newWorkload(n)
			events := w.materialize()
			pairs := func() int {
				o, err := newOracle(events, analysis.DefaultWindow)
				if err != nil {
					b.Fatal(err)
				}
				races := 0
				o.each(func(a, b *oracleAccess) { races++ })
				return races
			}
			pairs()
			detect(b, w)
			var oracle, detector time.Duration
			b.ResetTimer()
			for range b.N {
				runtime.GC()
				start := time.Now()
				pairs()
				oracle += time.Since(start)
				runtime.GC()
				start = time.Now()
				detect(b, w)
				detector += time.Since(start)
			}
			total := float64(b.N) * float64(w.n)
			b.ReportMetric(float64(oracle.Nanoseconds())/total, "oracle-ns/access")
			b.ReportMetric(float64(detector.Nanoseconds())/total, "detector-ns/access")
			b.ReportMetric(float64(oracle)/float64(detector), "oracle/detector")
		})
	}
}

// BenchmarkBytesPerVariable tracks N distinct variables, each written once
// (by one of 100 threads, at one interned location), and reports the heap
// the detector retains per variable: the common, epoch-only state. The
// variable names are made inside the measurement and not kept by the
// benchmark, so whatever the detector keeps of them counts.
func BenchmarkBytesPerVariable(b *testing.B) {
	const n, threads = 100_000, 100
	loc := analysis.Location{File: "store.go", Line: 10, Function: "store.Put"}
	var perVar float64
	for range b.N {
		perVar = retained(func() *analysis.Detector {
			d := mustDetector(b, analysis.Config{})
			now := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
			for t := range threads {
				id := analysis.ThreadID(0x1000 + t)
				e := analysis.Event{Kind: analysis.KindStart, Epoch: analysis.Epoch{Thread: id, Seq: 1},
					Service: "store", Process: "store-1", Time: now, Where: loc}
				if err := d.Add(e, now); err != nil {
					b.Fatal(err)
				}
				for k := range n / threads {
					e.Kind = analysis.KindWrite
					e.Epoch.Seq = uint64(k + 2)
					e.Var = "kv/" + strconv.Itoa(t*(n/threads)+k)
					if err := d.Add(e, now); err != nil {
						b.Fatal(err)
					}
				}
			}
			d.Flush()
			if races := d.Drain(); len(races) != 0 {
				b.Fatalf("%d races among distinct variables", len(races))
			}
			if st := d.Stats(); st.Variables != n {
				b.Fatalf("Stats.Variables = %d, want %d", st.Variables, n)
			}
			return d
		}) / n
	}
	b.ReportMetric(perVar, "B/var")
}

// retained returns the bytes of heap that the detector build returns
// keeps alive, allocations made by build and freed not counted.
func retained(build func() *analysis.Detector) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	d := build()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(d)
	return float64(after.HeapAlloc) - float64(before.HeapAlloc)
}
