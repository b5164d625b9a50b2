package analysis_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/raceway-otel/raceway/analysis"
)

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// thr builds the events of one logical thread, numbering them.
type thr struct {
	id    analysis.ThreadID
	trace byte
	seq   uint64
	at    time.Duration
}

func (t *thr) ev(k analysis.Kind, v string, line int, after ...analysis.Epoch) analysis.Event {
	t.seq++
	t.at += time.Millisecond
	return analysis.Event{
		Kind: k, Epoch: analysis.Epoch{Thread: t.id, Seq: t.seq}, After: after,
		Var: v, Service: "svc", Process: "p1", TraceID: [16]byte{t.trace},
		Time: t0.Add(t.at), Where: analysis.Location{File: "f.go", Line: line},
	}
}

func mustDetector(t testing.TB, cfg analysis.Config) *analysis.Detector {
	t.Helper()
	d, err := analysis.NewDetector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func add(t *testing.T, d *analysis.Detector, now time.Time, evs ...analysis.Event) {
	t.Helper()
	for _, e := range evs {
		if err := d.Add(e, now); err != nil {
			t.Fatalf("Add(%v %s): %v", e.Kind, e.Epoch, err)
		}
	}
}

func pairs(rs []analysis.Race) []string {
	var out []string
	for _, r := range rs {
		out = append(out, fmt.Sprintf("%s %s %s~%s", r.Var, r.Kind, r.Previous.Epoch, r.Current.Epoch))
	}
	return out
}

func TestInvalidEventsAreCountedNotAnalysed(t *testing.T) {
	d := mustDetector(t, analysis.Config{})
	a := thr{id: 1}
	good := a.ev(analysis.KindWrite, "x", 1)
	bad := map[string]func(e *analysis.Event){
		"unknown kind":     func(e *analysis.Event) { e.Kind = 200 },
		"no epoch":         func(e *analysis.Event) { e.Epoch = analysis.Epoch{} },
		"no variable":      func(e *analysis.Event) { e.Var = "" },
		"edge to itself":   func(e *analysis.Event) { e.After = []analysis.Epoch{{Thread: 1, Seq: 1}} },
		"zero edge":        func(e *analysis.Event) { e.After = []analysis.Epoch{{}} },
		"too many edges":   func(e *analysis.Event) { e.After = make([]analysis.Epoch, analysis.MaxAfter+1) },
		"huge value":       func(e *analysis.Event) { e.New = strings.Repeat("v", 1<<20) },
		"huge name":        func(e *analysis.Event) { e.Var = strings.Repeat("n", analysis.MaxNameLen+1) },
		"release no sync":  func(e *analysis.Event) { e.Kind = analysis.KindRelease },
		"sync on a write":  func(e *analysis.Event) { e.Sync = analysis.Epoch{Thread: 9, Seq: 1} },
		"too many locks":   func(e *analysis.Event) { e.LocksHeld = make([]string, analysis.MaxLocksHeld+1) },
		"strand is thread": func(e *analysis.Event) { e.Kind, e.Sync = analysis.KindRelease, analysis.Epoch{Thread: 1, Seq: 1} },
		"half a strand":    func(e *analysis.Event) { e.Kind, e.Sync = analysis.KindRelease, analysis.Epoch{Thread: 9} },
		"too many shared":  func(e *analysis.Event) { e.SharedLocks = make([]string, analysis.MaxLocksHeld+1) },
		"too many rshared": func(e *analysis.Event) { e.SharedRLocks = make([]string, analysis.MaxLocksHeld+1) },
		"empty shared":     func(e *analysis.Event) { e.SharedRLocks = []string{"row/1", ""} },
		"huge shared":      func(e *analysis.Event) { e.SharedLocks = []string{strings.Repeat("n", analysis.MaxNameLen+1)} },
		"shared write":     func(e *analysis.Event) { e.LockShared = true },
		"shared strand half": func(e *analysis.Event) {
			e.Kind, e.LockShared, e.Sync = analysis.KindRelease, true, analysis.Epoch{Seq: 3}
		},
		"shared strand": func(e *analysis.Event) {
			e.Kind, e.LockShared, e.Sync = analysis.KindRelease, true, analysis.Epoch{Thread: 9, Seq: 3}
		},
	}
	for name, mutate := range bad {
		e := good
		mutate(&e)
		if err := d.Add(e, t0); !errors.Is(err, analysis.ErrInvalidEvent) {
			t.Errorf("%s: Add error = %v, want ErrInvalidEvent", name, err)
		}
	}
	if s := d.Stats(); s.Invalid != uint64(len(bad)) || s.Events != 0 || s.Accesses != 0 {
		t.Errorf("stats = %+v, want %d invalid and nothing analysed", s, len(bad))
	}
	add(t, d, t0, good)
	if s := d.Stats(); s.Accesses != 1 {
		t.Errorf("the good event was not analysed: %+v", s)
	}
	// A shared lock's release needs no strand epoch; a process lock's does.
	rel := a.ev(analysis.KindRelease, "", 2)
	rel.Lock, rel.LockShared = "postgres/bank/accounts/7", true
	add(t, d, t0, rel)
	if s := d.Stats(); s.Events != 2 || s.Late != 0 || s.Threads != 1 {
		t.Errorf("a shared lock's release: %+v, want it analysed as an ordinary event", s)
	}
}

// TestSharedLocksInReports: the exported accesses and the report show the
// shared locks held, and the reason says why they did not exclude the
// accesses.
func TestSharedLocksInReports(t *testing.T) {
	d := mustDetector(t, analysis.Config{})
	a, b := thr{id: 1, trace: 1}, thr{id: 2, trace: 2}
	wa := a.ev(analysis.KindWrite, "postgres/bank/accounts/7.balance", 10)
	wa.Shared, wa.LocksHeld, wa.SharedLocks = true, []string{"mu"}, []string{"postgres/bank/accounts/7"}
	wb := b.ev(analysis.KindWrite, "postgres/bank/accounts/7.balance", 20)
	wb.Shared, wb.SharedRLocks = true, []string{"pg_advisory/42"}
	add(t, d, t0, wa, wb)
	rs := d.Drain()
	if len(rs) != 1 {
		t.Fatalf("races = %v, want one", pairs(rs))
	}
	r := rs[0]
	if got := r.Previous.SharedLocks; len(got) != 1 || got[0] != "postgres/bank/accounts/7" || len(r.Previous.SharedRLocks) != 0 {
		t.Errorf("Previous: SharedLocks %q SharedRLocks %q", got, r.Previous.SharedRLocks)
	}
	if got := r.Current.SharedRLocks; len(got) != 1 || got[0] != "pg_advisory/42" || len(r.Current.SharedLocks) != 0 {
		t.Errorf("Current: SharedLocks %q SharedRLocks %q", r.Current.SharedLocks, got)
	}
	rep := r.Report()
	for _, want := range []string{
		"locks held: mu, shared postgres/bank/accounts/7\n",
		"locks held: shared pg_advisory/42 (read mode)\n",
		"no shared lock held by both (shared postgres/bank/accounts/7 vs shared pg_advisory/42 (read mode))",
	} {
		if !strings.Contains(rep, want) {
			t.Errorf("report lacks %q:\n%s", want, rep)
		}
	}
	// Both in read mode: they race, and the reason says why.
	c, e := thr{id: 3, trace: 3}, thr{id: 4, trace: 4}
	wc := c.ev(analysis.KindWrite, "cfg", 30)
	we := e.ev(analysis.KindWrite, "cfg", 40)
	wc.SharedRLocks, we.SharedRLocks = []string{"cfg/lock"}, []string{"cfg/lock"}
	add(t, d, t0, wc, we)
	rs = d.Drain()
	if len(rs) != 1 {
		t.Fatalf("read-mode writers: races %v, want one", pairs(rs))
	}
	if !strings.Contains(rs[0].Reason, "both hold shared cfg/lock only in read mode") {
		t.Errorf("read-mode writers: reason %q", rs[0].Reason)
	}
}

func TestEventsWaitForPredecessorsThenAreForced(t *testing.T) {
	d := mustDetector(t, analysis.Config{Wait: time.Second})
	a, b := thr{id: 1, trace: 1}, thr{id: 2, trace: 2}
	a1, a2, a3 := a.ev(analysis.KindStart, "", 0), a.ev(analysis.KindWrite, "x", 10), a.ev(analysis.KindWrite, "x", 11)
	b1, b2 := b.ev(analysis.KindStart, "", 0), b.ev(analysis.KindWrite, "x", 20)
	add(t, d, t0, a1, a3, b1, b2) // a2 is missing: a3 waits
	if s := d.Stats(); s.Pending != 1 || s.Accesses != 1 {
		t.Fatalf("after a gap: %+v, want a3 pending and only b's write analysed", s)
	}
	d.Advance(t0.Add(500 * time.Millisecond))
	if s := d.Stats(); s.Pending != 1 {
		t.Fatalf("a3 was analysed before its wait was over: %+v", s)
	}
	d.Advance(t0.Add(2 * time.Second))
	if s := d.Stats(); s.Pending != 0 || s.Forced != 1 {
		t.Fatalf("a3 not forced after the wait: %+v", s)
	}
	got := pairs(d.Drain())
	if len(got) != 1 || !strings.Contains(got[0], "write/write") {
		t.Fatalf("races = %v, want b2~a3 write/write", got)
	}
	// a2 arrives late: it is checked against the retained history.
	add(t, d, t0.Add(3*time.Second), a2)
	s := d.Stats()
	if s.Late != 1 {
		t.Errorf("Late = %d, want 1", s.Late)
	}
	late := d.Drain()
	if len(late) != 1 || !late[0].Late || late[0].Current.Epoch != a2.Epoch {
		t.Errorf("late races = %v, want one late race for %s", pairs(late), a2.Epoch)
	}
	// A duplicate is analysed once.
	add(t, d, t0.Add(4*time.Second), a2, b2)
	if s := d.Stats(); s.Duplicates != 2 || len(d.Drain()) != 0 {
		t.Errorf("duplicates: %+v", s)
	}
}

func TestRaceWindow(t *testing.T) {
	d := mustDetector(t, analysis.Config{Window: time.Minute})
	a, b := thr{id: 1, trace: 1}, thr{id: 2, trace: 2, at: time.Hour}
	add(t, d, t0, a.ev(analysis.KindWrite, "x", 1), b.ev(analysis.KindWrite, "x", 2))
	d.Flush()
	if rs := d.Drain(); len(rs) != 0 {
		t.Errorf("accesses an hour apart reported with a one-minute window: %v", pairs(rs))
	}
	if s := d.Stats(); s.OutsideWindow != 1 {
		t.Errorf("OutsideWindow = %d, want 1", s.OutsideWindow)
	}
}

func TestBoundsEvictOldestAndCount(t *testing.T) {
	d := mustDetector(t, analysis.Config{MaxVariables: 100, MaxThreads: 64, MaxPending: 10})
	const n = 10_000
	for i := range n {
		th := thr{id: analysis.ThreadID(i + 1), trace: byte(i)}
		add(t, d, t0, th.ev(analysis.KindWrite, fmt.Sprintf("v%d", i), 1))
	}
	s := d.Stats()
	if s.Variables > 100 || s.EvictedVariables != n-100 {
		t.Errorf("variables: %d tracked, %d evicted; want <= 100 and %d", s.Variables, s.EvictedVariables, n-100)
	}
	if s.Threads > 64 || s.EvictedThreads == 0 {
		t.Errorf("threads: %d tracked, %d evicted; want <= 64", s.Threads, s.EvictedThreads)
	}
	// A race on a recent variable is still found.
	x, y := thr{id: 1 << 40, trace: 1}, thr{id: 1<<40 + 1, trace: 2}
	add(t, d, t0, x.ev(analysis.KindWrite, "v9999", 2), y.ev(analysis.KindRead, "v9999", 3))
	if rs := d.Drain(); len(rs) != 3 { // with the flood's write of v9999
		t.Errorf("races on a retained variable = %v, want 3", pairs(rs))
	}
	// Pending is bounded: events waiting for a predecessor that never comes.
	for i := range 50 {
		th := thr{id: analysis.ThreadID(1<<50 + i), seq: 5}
		add(t, d, t0, th.ev(analysis.KindWrite, "w", 1))
	}
	if s := d.Stats(); s.Pending > 10 || s.EvictedPending != 40 {
		t.Errorf("pending: %d waiting, %d forced out; want <= 10 and 40", s.Pending, s.EvictedPending)
	}
}

func TestHistoryIsBounded(t *testing.T) {
	d := mustDetector(t, analysis.Config{MaxHistory: 4})
	for i := range 100 {
		th := thr{id: analysis.ThreadID(i + 1), trace: 1}
		add(t, d, t0, th.ev(analysis.KindRead, "x", i))
	}
	if s := d.Stats(); s.EvictedHistory == 0 {
		t.Errorf("EvictedHistory = 0 after 100 readers with MaxHistory 4")
	}
	w := thr{id: 1000, trace: 2}
	add(t, d, t0, w.ev(analysis.KindWrite, "x", 1000))
	if rs := d.Drain(); len(rs) == 0 {
		t.Errorf("a write concurrent with 100 reads found no race")
	}
}

func TestReadWriteLock(t *testing.T) {
	// Strands: W for writer releases, R for reader releases.
	const wStrand, rStrand = 100, 101
	d := mustDetector(t, analysis.Config{})
	w1, r1, r2, w2 := thr{id: 1, trace: 1}, thr{id: 2, trace: 2}, thr{id: 3, trace: 3}, thr{id: 4, trace: 4}
	var evs []analysis.Event
	// w1 writes under the write lock, releases (W@1).
	evs = append(evs, w1.ev(analysis.KindAcquire, "", 1), w1.ev(analysis.KindWrite, "x", 2))
	rel := w1.ev(analysis.KindRelease, "", 3)
	rel.Sync = analysis.Epoch{Thread: wStrand, Seq: 1}
	evs = append(evs, rel)
	// r1 and r2 read under the read lock, both after W@1, concurrently.
	for i, r := range []*thr{&r1, &r2} {
		evs = append(evs, r.ev(analysis.KindRAcquire, "", 10, analysis.Epoch{Thread: wStrand, Seq: 1}), r.ev(analysis.KindRead, "x", 11))
		rr := r.ev(analysis.KindRRelease, "", 12)
		rr.Sync = analysis.Epoch{Thread: rStrand, Seq: uint64(i + 1)}
		evs = append(evs, rr)
	}
	// w2 writes after both readers released (R@2) and after W@1.
	evs = append(evs, w2.ev(analysis.KindAcquire, "", 20, analysis.Epoch{Thread: wStrand, Seq: 1}, analysis.Epoch{Thread: rStrand, Seq: 2}),
		w2.ev(analysis.KindWrite, "x", 21))
	// Deliver in reverse: everything waits for its predecessors.
	for i := len(evs) - 1; i >= 0; i-- {
		add(t, d, t0, evs[i])
	}
	if s := d.Stats(); s.Pending != 0 {
		t.Fatalf("pending = %d after all events arrived", s.Pending)
	}
	if rs := d.Drain(); len(rs) != 0 {
		t.Errorf("correct read/write locking reported: %v", pairs(rs))
	}
	// A reader that writes under the read lock races with the other reader.
	r3 := thr{id: 5, trace: 5}
	add(t, d, t0, r3.ev(analysis.KindRAcquire, "", 30, analysis.Epoch{Thread: wStrand, Seq: 1}), r3.ev(analysis.KindWrite, "x", 31))
	got := pairs(d.Drain())
	if len(got) == 0 {
		t.Errorf("a write under a read lock was not reported")
	}
	for _, g := range got {
		if strings.Contains(g, "0000000000000001@") {
			t.Errorf("w1's write, ordered by W@1, reported: %s", g)
		}
	}
}

func TestGroupsCountRepeatedRaces(t *testing.T) {
	d := mustDetector(t, analysis.Config{})
	for i := range 10 {
		th := thr{id: analysis.ThreadID(i + 1), trace: byte(i)}
		add(t, d, t0, th.ev(analysis.KindWrite, fmt.Sprintf("orders/%d.total", i%2), 42))
	}
	rs := d.Drain()
	s := d.Stats()
	if s.Groups != 1 {
		t.Fatalf("Groups = %d, want 1 (same pattern orders/*.total, same locations)", s.Groups)
	}
	last := rs[len(rs)-1]
	if last.Count != len(rs) || last.Group != "orders/*.total write/write f.go:42 f.go:42" {
		t.Errorf("last race: count %d group %q; want count %d", last.Count, last.Group, len(rs))
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []analysis.Config{
		{Wait: -1}, {Window: -time.Second}, {MaxVariables: -1}, {MaxHistory: -1},
		{MaxThreads: -1}, {MaxPending: -5}, {MaxClockEntries: 2},
		{MaxVariables: analysis.MaxLimit + 1}, {MaxThreads: analysis.MaxLimit + 1}, {MaxPending: analysis.MaxLimit + 1},
	} {
		if _, err := analysis.NewDetector(c); err == nil {
			t.Errorf("NewDetector(%+v) accepted a bad config", c)
		}
	}
}

// TestRacesGroupByVarPattern: races on variables whose names differ only
// in their numbers, between the same locations, fall in one group named
// after the pattern (every run of digits replaced by "*"), which counts
// them all; a name without digits is its own pattern.
func TestRacesGroupByVarPattern(t *testing.T) {
	for _, c := range []struct {
		vars    []string
		pattern string
	}{
		{[]string{"accounts/42.balance", "accounts/43.balance", "accounts/7.balance"}, "accounts/*.balance"},
		{[]string{"postgres/shop/products/42.stock", "postgres/shop/products/1042.stock"}, "postgres/shop/products/*.stock"},
		{[]string{"a1b22c", "a333b4c"}, "a*b*c"},
		{[]string{"request_count"}, "request_count"},
		{[]string{"accounts.alice.balance"}, "accounts.alice.balance"},
	} {
		d := mustDetector(t, analysis.Config{})
		for i, v := range c.vars {
			a, b := thr{id: analysis.ThreadID(2*i + 1), trace: 1}, thr{id: analysis.ThreadID(2*i + 2), trace: 2}
			add(t, d, t0, a.ev(analysis.KindWrite, v, 1), b.ev(analysis.KindWrite, v, 2))
		}
		rs := d.Drain()
		if len(rs) != len(c.vars) {
			t.Fatalf("%v: %d races, want one per variable", c.vars, len(rs))
		}
		want := c.pattern + " write/write f.go:1 f.go:2"
		for i, r := range rs {
			if r.Group != want || r.Count != i+1 {
				t.Errorf("race on %s: group %q, count %d; want %q, %d", r.Var, r.Group, r.Count, want, i+1)
			}
		}
		if g := d.Stats().Groups; g != 1 {
			t.Errorf("%v: %d groups, want 1", c.vars, g)
		}
	}
}

// An edge may name an epoch its thread has since moved past (a detached
// job starts after its parent's write at @2, and the parent writes again at
// @3 before the job's events arrive): the job is ordered after @2 only.
func TestEdgeToAnEarlierEpoch(t *testing.T) {
	for _, order := range [][]int{{0, 1, 2, 3, 4}, {0, 1, 3, 4, 2}, {3, 4, 0, 1, 2}} {
		d := mustDetector(t, analysis.Config{})
		a, b := thr{id: 1, trace: 1}, thr{id: 2, trace: 1}
		a1, a2, a3 := a.ev(analysis.KindStart, "", 1), a.ev(analysis.KindWrite, "x", 2), a.ev(analysis.KindWrite, "x", 3)
		b1 := b.ev(analysis.KindStart, "", 10, a2.Epoch)
		b2 := b.ev(analysis.KindWrite, "x", 11)
		evs := []analysis.Event{a1, a2, a3, b1, b2}
		for _, i := range order {
			add(t, d, t0, evs[i])
		}
		d.Flush()
		got := pairs(d.Drain())
		if len(got) != 1 || got[0] != "x write/write 0000000000000001@3~0000000000000002@2" && got[0] != "x write/write 0000000000000002@2~0000000000000001@3" {
			t.Errorf("order %v: races %v, want only a@3 vs b@2", order, got)
		}
	}
}

// TestAccessKeepsItsOwnProcess: a thread id seen in two processes (a bug or
// a collision in the sender) scopes each access by the process it names, and
// the report shows that process, not the thread's first one.
func TestAccessKeepsItsOwnProcess(t *testing.T) {
	d := mustDetector(t, analysis.Config{})
	a, b := thr{id: 1, trace: 1}, thr{id: 2, trace: 2}
	a1, a2 := a.ev(analysis.KindStart, "", 0), a.ev(analysis.KindWrite, "x", 10)
	a2.Process = "p2"
	b1, b2 := b.ev(analysis.KindStart, "", 0), b.ev(analysis.KindWrite, "x", 20)
	b2.Process = "p2"
	b3 := b.ev(analysis.KindWrite, "x", 21) // process p1: another variable
	add(t, d, t0, a1, a2, b1, b2, b3)
	rs := d.Drain()
	if len(rs) != 1 {
		t.Fatalf("races = %v, want a2~b2 on p2's x only", pairs(rs))
	}
	if p, c := rs[0].Previous.Process, rs[0].Current.Process; p != "p2" || c != "p2" {
		t.Errorf("processes %q and %q, want p2 for both", p, c)
	}
	if strings.Contains(rs[0].Reason, "different processes") {
		t.Errorf("reason %q: both accesses are in p2", rs[0].Reason)
	}
}

// TestEvictedGroupStartsAgain: once a group is forgotten (more distinct
// races than MaxVariables), a new occurrence starts a new group with count
// 1, even on a variable that still remembers that group.
func TestEvictedGroupStartsAgain(t *testing.T) {
	d := mustDetector(t, analysis.Config{MaxVariables: 2})
	next := analysis.ThreadID(1000)
	race := func(v string, line int) []analysis.Race {
		t.Helper()
		next += 2
		x, y := thr{id: next, trace: 1}, thr{id: next + 1, trace: 2}
		add(t, d, t0, x.ev(analysis.KindWrite, v, line), y.ev(analysis.KindWrite, v, line))
		rs := d.Drain()
		if len(rs) == 0 {
			t.Fatalf("%s at line %d: no race", v, line)
		}
		return rs
	}
	if rs := race("x", 1); rs[0].Count != 1 {
		t.Fatalf("first race: count %d", rs[0].Count)
	}
	xWriters := []analysis.Epoch{{Thread: next, Seq: 1}, {Thread: next + 1, Seq: 1}}
	race("y", 2)
	// x is accessed again, after both its writes (no race), so that z's
	// arrival evicts y's state, not x's.
	after := thr{id: 1, trace: 3}
	add(t, d, t0, after.ev(analysis.KindRead, "x", 9, xWriters...))
	race("z", 3) // the third group: x's is forgotten
	if s := d.Stats(); s.EvictedGroups != 1 || s.EvictedVariables != 1 {
		t.Fatalf("want one group (x's) and one variable (y) evicted: %+v", s)
	}
	if rs := race("x", 1); rs[0].Count != 1 {
		t.Errorf("x's group again after it was forgotten: count %d, want 1 (a new group)", rs[0].Count)
	}
}

func TestDrainEachMatchesDrain(t *testing.T) {
	run := func(drain func(*analysis.Detector) []analysis.Race) []analysis.Race {
		d := mustDetector(t, analysis.Config{})
		for i := range 6 {
			th := thr{id: analysis.ThreadID(i + 1), trace: byte(i)}
			add(t, d, t0, th.ev(analysis.KindRead, "acct", 7), th.ev(analysis.KindWrite, "acct", 8))
		}
		return drain(d)
	}
	want := run((*analysis.Detector).Drain)
	got := run(func(d *analysis.Detector) []analysis.Race {
		var out []analysis.Race
		d.DrainEach(func(f analysis.Found) {
			var r analysis.Race
			f.Race(&r)
			prevTrace, prevSpan := f.Previous()
			curTrace, curSpan := f.Current()
			if f.Group() != r.Group || f.Count() != r.Count || prevTrace != r.Previous.TraceID || prevSpan != r.Previous.SpanID ||
				curTrace != r.Current.TraceID || curSpan != r.Current.SpanID {
				t.Errorf("Found's group %q, count %d, spans %x/%x and %x/%x disagree with its Race %q, %d, %x/%x and %x/%x",
					f.Group(), f.Count(), prevTrace, prevSpan, curTrace, curSpan,
					r.Group, r.Count, r.Previous.TraceID, r.Previous.SpanID, r.Current.TraceID, r.Current.SpanID)
			}
			out = append(out, r)
		})
		if again := d.Drain(); len(again) != 0 {
			t.Errorf("Drain after DrainEach returned %d races", len(again))
		}
		return out
	})
	if len(want) == 0 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("DrainEach gave %v, Drain %v", pairs(got), pairs(want))
	}
}

// TestEvictedLockStrandStartsANewLineage: a thread holding an earlier clock
// of a lock is known to be covered by the lock's later clocks without
// comparing entries, but only while the lock's strand is the same: once
// the strand was evicted and came back, its clocks no longer include what
// the thread's clock holds, and the join must keep both.
func TestEvictedLockStrandStartsANewLineage(t *testing.T) {
	const strand = analysis.ThreadID(0x5)
	d := mustDetector(t, analysis.Config{MaxThreads: 4})
	a, b, c := thr{id: 1, trace: 1}, thr{id: 2, trace: 1}, thr{id: 3, trace: 1}
	e, f := thr{id: 4, trace: 1}, thr{id: 6, trace: 1}
	release := func(x *thr, seq uint64) analysis.Event {
		ev := x.ev(analysis.KindRelease, "", 5)
		ev.Lock, ev.Sync = "mu", analysis.Epoch{Thread: strand, Seq: seq}
		return ev
	}
	acquire := func(x *thr, after analysis.Epoch) analysis.Event {
		ev := x.ev(analysis.KindAcquire, "", 4, after)
		ev.Lock = "mu"
		return ev
	}
	// a writes x, then publishes on the strand; b acquires after it.
	add(t, d, t0, a.ev(analysis.KindStart, "", 1), a.ev(analysis.KindWrite, "x", 2), release(&a, 1))
	add(t, d, t0, b.ev(analysis.KindStart, "", 10), acquire(&b, analysis.Epoch{Thread: strand, Seq: 1}))
	// More threads evict a, then the strand (least recently active), not
	// b, which stays active.
	add(t, d, t0, c.ev(analysis.KindStart, "", 20), e.ev(analysis.KindStart, "", 30),
		b.ev(analysis.KindCall, "", 12), f.ev(analysis.KindStart, "", 40))
	if st := d.Stats(); st.EvictedThreads != 2 {
		t.Fatalf("EvictedThreads = %d, want 2 (a and the strand)", st.EvictedThreads)
	}
	// The strand comes back with c's release (its predecessor forgotten,
	// so it is forced), and b acquires that later epoch.
	add(t, d, t0, release(&c, 2))
	d.Flush()
	add(t, d, t0, acquire(&b, analysis.Epoch{Thread: strand, Seq: 2}), b.ev(analysis.KindWrite, "x", 11))
	d.Flush()
	if got := pairs(d.Drain()); len(got) != 0 {
		t.Errorf("races %v, want none: a's write happens before b's through the first release", got)
	}
}

// TestEachPairOnce: n concurrent readers, then a writer. Every racing pair
// is reported once: exactly n pairs when the variable's bound keeps the n
// reads (KeptPerHistory × MaxHistory accesses not superseded), else
// exactly as many as it keeps, the others counted as evicted. (A fixed
// table of 24 visited accesses once reported pairs twice past 24 readers.)
func TestEachPairOnce(t *testing.T) {
	for _, n := range []int{4, 24, 30, 64, 200} {
		for _, history := range []int{1, analysis.DefaultMaxHistory, n} {
			t.Run(fmt.Sprintf("readers=%d/history=%d", n, history), func(t *testing.T) {
				d := mustDetector(t, analysis.Config{MaxHistory: history})
				for i := range n {
					r := thr{id: analysis.ThreadID(i + 1), trace: byte(i)}
					add(t, d, t0, r.ev(analysis.KindRead, "config", 10))
				}
				w := thr{id: 1000, trace: 255}
				add(t, d, t0, w.ev(analysis.KindWrite, "config", 20))
				kept := min(n, analysis.KeptPerHistory*history)
				rs := d.Drain()
				seen := map[analysis.Epoch]bool{}
				for _, r := range rs {
					if r.Current.Epoch.Thread != 1000 || r.Previous.Kind != analysis.KindRead || seen[r.Previous.Epoch] {
						t.Fatalf("unexpected or repeated pair %s~%s", r.Previous.Epoch, r.Current.Epoch)
					}
					seen[r.Previous.Epoch] = true
				}
				st := d.Stats()
				if len(rs) != kept || st.Races != uint64(kept) || st.Groups != 1 || rs[len(rs)-1].Count != kept {
					t.Errorf("%d pairs drained, Stats.Races %d, Groups %d, last Count %d; want %d pairs in one group",
						len(rs), st.Races, st.Groups, rs[len(rs)-1].Count, kept)
				}
				if (st.EvictedHistory == 0) != (kept == n) {
					t.Errorf("EvictedHistory = %d with %d of %d reads kept", st.EvictedHistory, kept, n)
				}
			})
		}
	}
}
