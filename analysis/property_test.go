package analysis_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/raceway-otel/raceway/analysis"
)

var genBase = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func newDetector(t testing.TB, cfg analysis.Config) *analysis.Detector {
	t.Helper()
	d, err := analysis.NewDetector(cfg)
	if err != nil {
		t.Fatalf("NewDetector(%+v): %v", cfg, err)
	}
	return d
}

func shuffled(events []analysis.Event, seed uint64) []analysis.Event {
	ev := slices.Clone(events)
	rng := rand.New(rand.NewPCG(seed, 0xdecafbad))
	rng.Shuffle(len(ev), func(i, j int) { ev[i], ev[j] = ev[j], ev[i] })
	return ev
}

// feedShuffled delivers all events in a random order at one arrival time,
// then flushes.
func feedShuffled(t testing.TB, d *analysis.Detector, events []analysis.Event, seed uint64, now time.Time) {
	t.Helper()
	for _, e := range shuffled(events, seed) {
		if err := d.Add(e, now); err != nil {
			t.Fatalf("Add(%s %s): %v", e.Kind, e.Epoch, err)
		}
	}
	d.Flush()
}

// feedBatches delivers the events in a random order, in batches arriving gap
// apart, calling Advance after each batch, then flushes.
func feedBatches(t testing.TB, d *analysis.Detector, events []analysis.Event, seed uint64, batches int, start time.Time, gap time.Duration) {
	t.Helper()
	ev := shuffled(events, seed)
	size := (len(ev) + batches - 1) / batches
	now := start
	for len(ev) > 0 {
		n := min(size, len(ev))
		for _, e := range ev[:n] {
			if err := d.Add(e, now); err != nil {
				t.Fatalf("Add(%s %s): %v", e.Kind, e.Epoch, err)
			}
		}
		ev = ev[n:]
		d.Advance(now)
		now = now.Add(gap)
	}
	d.Flush()
}

// arrivalModes are the arrival orders the property tests deliver
// executions in (see feed).
var arrivalModes = []string{"shuffled", "batches", "inorder"}

// feed delivers the events to d in one of arrivalModes: all shuffled then
// Flush; shuffled batches arriving over time with Advance between them; or
// the actual order, arriving as it happens. It then flushes.
func feed(t testing.TB, d *analysis.Detector, events []analysis.Event, seed uint64, mode string) {
	t.Helper()
	switch mode {
	case "shuffled":
		feedShuffled(t, d, events, seed, genBase)
	case "batches":
		feedBatches(t, d, events, seed, 5, genBase, 50*time.Millisecond)
	case "inorder":
		for _, e := range events {
			if err := d.Add(e, e.Time); err != nil {
				t.Fatalf("Add(%s %s): %v", e.Kind, e.Epoch, err)
			}
		}
		d.Flush()
	default:
		t.Fatalf("unknown arrival mode %q", mode)
	}
}

func indexByEpoch(events []analysis.Event) map[analysis.Epoch]*analysis.Event {
	m := make(map[analysis.Epoch]*analysis.Event, len(events))
	for i := range events {
		m[events[i].Epoch] = &events[i]
	}
	return m
}

// checkRaceShape checks that every reported race describes two accesses of
// the input faithfully and consistently.
func checkRaceShape(t testing.TB, events []analysis.Event, races []analysis.Race) {
	t.Helper()
	byEpoch := indexByEpoch(events)
	for i := range races {
		r := &races[i]
		p, c := byEpoch[r.Previous.Epoch], byEpoch[r.Current.Epoch]
		if p == nil || c == nil || !p.Kind.IsAccess() || !c.Kind.IsAccess() {
			t.Errorf("race %d names epochs %s and %s that are not accesses of the input", i, r.Previous.Epoch, r.Current.Epoch)
			continue
		}
		if r.Previous.Epoch.Thread == r.Current.Epoch.Thread {
			t.Errorf("race %d: both accesses on thread %s", i, r.Current.Epoch.Thread)
		}
		for _, side := range []struct {
			a *analysis.Access
			e *analysis.Event
		}{{&r.Previous, p}, {&r.Current, c}} {
			if side.a.Kind != side.e.Kind || side.a.Where != side.e.Where || side.a.Service != side.e.Service ||
				side.a.Process != side.e.Process || side.a.TraceID != side.e.TraceID || !side.a.Time.Equal(side.e.Time) {
				t.Errorf("race %d: access %s reported as %s at %s (%s/%s), input is %s at %s (%s/%s)", i, side.e.Epoch,
					side.a.Kind, side.a.Where, side.a.Service, side.a.Process, side.e.Kind, side.e.Where, side.e.Service, side.e.Process)
			}
			if side.e.Var != r.Var || side.e.Shared != r.Shared || keyOf(side.e) != keyOfAccess(r.Var, r.Shared, side.a) {
				t.Errorf("race %d on %q (shared=%v) names access %s to %s", i, r.Var, r.Shared, side.e.Epoch, keyOf(side.e))
			}
		}
		if keyOf(p) != keyOf(c) {
			t.Errorf("race %d between different variables %s and %s", i, keyOf(p), keyOf(c))
		}
		if want := raceKindOf(p.Kind == analysis.KindWrite, c.Kind == analysis.KindWrite); r.Kind != want || (p.Kind == analysis.KindRead && c.Kind == analysis.KindRead) {
			t.Errorf("race %d: kind %s for %s/%s", i, r.Kind, p.Kind, c.Kind)
		}
		wantSev := analysis.SeverityWarning
		switch {
		case r.LostUpdate != nil:
			wantSev = analysis.SeverityCritical
			if r.Kind != analysis.WriteWrite {
				t.Errorf("race %d: lost update on a %s race", i, r.Kind)
			}
		case r.Kind == analysis.WriteWrite:
			wantSev = analysis.SeverityError
		}
		if r.Severity != wantSev {
			t.Errorf("race %d: severity %s, want %s", i, r.Severity, wantSev)
		}
		if r.Count < 1 || r.Group == "" {
			t.Errorf("race %d: Count %d, Group %q", i, r.Count, r.Group)
		}
		if rep := r.Report(); !strings.Contains(rep, "RACE") || !strings.Contains(rep, r.Var) ||
			!strings.Contains(rep, p.Where.String()) || !strings.Contains(rep, c.Where.String()) {
			t.Errorf("race %d: report does not name the race, variable and both locations:\n%s", i, rep)
		}
	}
}

// checkNoFalsePositives: every reported pair is a race per the oracle.
func checkNoFalsePositives(t testing.TB, orc *oracleResult, races []analysis.Race) {
	t.Helper()
	bad := 0
	for i := range races {
		r := &races[i]
		kind, ok := orc.Pairs[makePair(r.Previous.Epoch, r.Current.Epoch)]
		switch {
		case !ok:
			bad++
			if bad <= 5 {
				t.Errorf("false positive: %s %s between %s (%s %s) and %s (%s %s): ordered or not conflicting per the oracle (reason given: %q)",
					r.Var, r.Kind, r.Previous.Epoch, r.Previous.Kind, r.Previous.Where, r.Current.Epoch, r.Current.Kind, r.Current.Where, r.Reason)
			}
		case kind != r.Kind:
			t.Errorf("race %s/%s reported as %s, oracle says %s", r.Previous.Epoch, r.Current.Epoch, r.Kind, kind)
		}
	}
	if bad > 5 {
		t.Errorf("... %d false positives in all", bad)
	}
}

// checkOncePerPair: no pair is reported twice.
func checkOncePerPair(t testing.TB, races []analysis.Race) {
	t.Helper()
	seen := map[epochPair]int{}
	for i := range races {
		seen[makePair(races[i].Previous.Epoch, races[i].Current.Epoch)]++
	}
	dups := 0
	for p, n := range seen {
		if n > 1 {
			if dups++; dups <= 5 {
				t.Errorf("pair %s/%s reported %d times", p[0], p[1], n)
			}
		}
	}
	if dups > 5 {
		t.Errorf("... %d pairs reported more than once in all", dups)
	}
}

// checkExactPairs: the reported pairs are exactly the oracle's, each once.
func checkExactPairs(t testing.TB, orc *oracleResult, races []analysis.Race) {
	t.Helper()
	checkOncePerPair(t, races)
	got := map[epochPair]bool{}
	for i := range races {
		got[makePair(races[i].Previous.Epoch, races[i].Current.Epoch)] = true
	}
	missed := 0
	for p := range orc.Pairs {
		if !got[p] {
			if missed++; missed <= 5 {
				t.Errorf("missed pair %s/%s (%s)", p[0], p[1], orc.Pairs[p])
			}
		}
	}
	if missed > 0 || len(got) != len(orc.Pairs) {
		t.Errorf("%d distinct pairs reported, %d missed; the oracle has %d", len(got), missed, len(orc.Pairs))
	}
}

// checkRacyVarsCovered: every variable the oracle finds racy is reported.
func checkRacyVarsCovered(t testing.TB, orc *oracleResult, races []analysis.Race) {
	t.Helper()
	got := map[varKey]bool{}
	for i := range races {
		got[keyOfAccess(races[i].Var, races[i].Shared, &races[i].Current)] = true
	}
	for k := range orc.Vars {
		if !got[k] {
			t.Errorf("missed race: variable %s is racy per the oracle but never reported", k)
		}
	}
}

func genConfigFor(seed uint64) genConfig {
	c := defaultGen
	c.Services = 1 + int(seed%3)
	c.Procs = 1 + int(seed/3%2)
	c.Roots = 1 + int(seed%5)
	c.MaxThreads = 6 + int(seed%31)
	c.LocksPerProc = int(seed % 4)
	c.Budget = 4 + int(seed%13)
	return c
}

// TestPropertyAgainstOracle generates many random executions, delivers
// them shuffled (all at once, and in batches over time) and in their actual
// order, and checks the
// detector against the all-pairs oracle: no false positive, no racy
// variable missed. It logs the share of the oracle's distinct races
// (variable, kind, location pair) that were reported.
func TestPropertyAgainstOracle(t *testing.T) {
	seeds := 400
	if testing.Short() {
		seeds = 80
	}
	var oracleGroups, reportedGroups, oraclePairs, reportedPairs, racySeeds, lockedAccesses, failed int
	var sharedAccesses, sharedReadAccesses, excludedPairs int
	for seed := range uint64(seeds) {
		cfg := genConfigFor(seed)
		events := generate(seed, cfg, genBase)
		for _, e := range events {
			if e.Kind.IsAccess() && len(e.LocksHeld) > 0 {
				lockedAccesses++
			}
			if len(e.SharedLocks) > 0 {
				sharedAccesses++
			}
			if len(e.SharedRLocks) > 0 {
				sharedReadAccesses++
			}
		}
		orc, err := runOracle(events, analysis.DefaultWindow)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if len(orc.Pairs) > 0 {
			racySeeds++
		}
		excludedPairs += orc.Excluded
		for _, mode := range arrivalModes {
			ok := t.Run(fmt.Sprintf("seed=%d/%s", seed, mode), func(t *testing.T) {
				d := newDetector(t, analysis.Config{Wait: time.Hour})
				feed(t, d, events, seed, mode)
				races := d.Drain()
				checkRaceShape(t, events, races)
				checkNoFalsePositives(t, orc, races)
				checkRacyVarsCovered(t, orc, races)
				checkOncePerPair(t, races)
				st := d.Stats()
				if st.Races != uint64(len(races)) {
					t.Errorf("Stats.Races = %d, %d races drained", st.Races, len(races))
				}
				if st.Forced != 0 || st.Late != 0 {
					t.Errorf("Stats.Forced = %d, Late = %d with Wait 1h", st.Forced, st.Late)
				}
				if st.Events != uint64(len(events)) || st.Invalid != 0 {
					t.Errorf("Stats.Events = %d, Invalid = %d; fed %d valid events", st.Events, st.Invalid, len(events))
				}
				groups := map[raceGroup]bool{}
				pairs := map[epochPair]bool{}
				for i := range races {
					r := &races[i]
					groups[raceGroup{Key: keyOfAccess(r.Var, r.Shared, &r.Current), Kind: r.Kind,
						Locs: makeLocPair(r.Previous.Where.String(), r.Current.Where.String())}] = true
					pairs[makePair(r.Previous.Epoch, r.Current.Epoch)] = true
				}
				oracleGroups += len(orc.Groups)
				oraclePairs += len(orc.Pairs)
				for g := range groups {
					if orc.Groups[g] > 0 {
						reportedGroups++
					}
				}
				for p := range pairs {
					if _, ok := orc.Pairs[p]; ok {
						reportedPairs++
					}
				}
			})
			if !ok {
				// Keep going to show several seeds, but not hundreds.
				if failed++; failed > 10 {
					t.Fatal("too many failing seeds")
				}
			}
		}
	}
	if racySeeds < seeds/4 || racySeeds == seeds {
		t.Errorf("generator: %d of %d executions racy; want a mix", racySeeds, seeds)
	}
	if lockedAccesses == 0 || sharedAccesses == 0 || sharedReadAccesses == 0 {
		t.Errorf("generator: %d lock-protected accesses, %d under an exclusive shared lock, %d under a read-mode one; want some of each",
			lockedAccesses, sharedAccesses, sharedReadAccesses)
	}
	if excludedPairs == 0 {
		t.Error("no unordered conflicting pair was excluded by shared locks: the lockset rule is not exercised")
	}
	t.Logf("%d executions (%d racy), %d lock-protected accesses, %d (%d in read mode) under shared locks, %d pairs excluded by them",
		seeds, racySeeds, lockedAccesses, sharedAccesses, sharedReadAccesses, excludedPairs)
	if oracleGroups > 0 {
		t.Logf("location-pair coverage: %d of %d oracle race groups reported (%.1f%%)",
			reportedGroups, oracleGroups, 100*float64(reportedGroups)/float64(oracleGroups))
	}
	if oraclePairs > 0 {
		t.Logf("pair coverage: %d of %d oracle racing pairs reported (%.1f%%)",
			reportedPairs, oraclePairs, 100*float64(reportedPairs)/float64(oraclePairs))
	}
}

// exactConfig bounds the detector loosely enough that no bound bites on the
// generated executions: every variable keeps all its accesses, no clock
// drops an entry.
var exactConfig = analysis.Config{Wait: time.Hour, MaxHistory: 1 << 12, MaxClockEntries: 1 << 10}

// TestPropertyExactPairs: when no bound bites, the detector reports
// exactly the oracle's racing pairs, each once, whatever the arrival
// order (all shuffled, shuffled batches over time, the actual order).
func TestPropertyExactPairs(t *testing.T) {
	seeds := 300
	if testing.Short() {
		seeds = 60
	}
	failed, pairs := 0, 0
	for seed := range uint64(seeds) {
		events := generate(7000+seed, genConfigFor(seed), genBase)
		orc, err := runOracle(events, analysis.DefaultWindow)
		if err != nil {
			t.Fatal(err)
		}
		pairs += len(orc.Pairs)
		for _, mode := range arrivalModes {
			ok := t.Run(fmt.Sprintf("seed=%d/%s", seed, mode), func(t *testing.T) {
				d := newDetector(t, exactConfig)
				feed(t, d, events, seed, mode)
				races := d.Drain()
				checkNoFalsePositives(t, orc, races)
				checkExactPairs(t, orc, races)
				if st := d.Stats(); st.EvictedHistory+st.EvictedClockEntries+st.AssumedOrdered != 0 {
					t.Errorf("a bound bit: %+v", st)
				}
			})
			if !ok {
				if failed++; failed > 10 {
					t.Fatal("too many failing seeds")
				}
			}
		}
	}
	t.Logf("%d executions, %d racing pairs", seeds, pairs)
}

// TestOrderIndependence: a detector with the default Config finds the same
// racy variables whatever the arrival order, and they are the oracle's.
func TestOrderIndependence(t *testing.T) {
	seeds := 100
	if testing.Short() {
		seeds = 25
	}
	for seed := range uint64(seeds) {
		events := generate(1000+seed, genConfigFor(seed), genBase)
		orc, err := runOracle(events, analysis.DefaultWindow)
		if err != nil {
			t.Fatal(err)
		}
		var sets [3]map[varKey]bool
		for i := range sets {
			d := newDetector(t, analysis.Config{})
			feedShuffled(t, d, events, seed*31+uint64(i), genBase)
			sets[i] = map[varKey]bool{}
			for _, r := range d.Drain() {
				sets[i][keyOfAccess(r.Var, r.Shared, &r.Current)] = true
			}
		}
		for i := 1; i < len(sets); i++ {
			if !mapsEqual(sets[0], sets[i]) {
				t.Errorf("seed %d: racy variables depend on arrival order: %v vs %v", seed, keys(sets[0]), keys(sets[i]))
			}
		}
		if !mapsEqual(sets[0], orc.Vars) {
			t.Errorf("seed %d: racy variables %v, oracle %v", seed, keys(sets[0]), keys(orc.Vars))
		}
	}
}

// TestOracleSanity checks the oracle itself on a case whose answer is known:
// mutex- and RW-lock-protected accesses are ordered, an unprotected write
// races with them, read/read never races; and a cycle is rejected.
func TestOracleSanity(t *testing.T) {
	// Two threads, each: lock L, write v, unlock; one more thread writes v
	// without the lock. Only the pairs with the unlocked write race.
	b := newBuilder(1)
	for _, l := range []string{
		"thread A", "thread B", "thread C",
		"lock A L", "A write v @a.go:1", "unlock A L",
		"lock B L", "B write v @b.go:1", "unlock B L",
		"C write v @c.go:1",
		"rlock A R", "A read w @a.go:2", "runlock A R",
		"rlock B R", "B read w @b.go:2", "runlock B R",
		"wlock C R", "C write w @c.go:2", "wunlock C R",
	} {
		if err := b.exec(strings.Fields(l)); err != nil {
			t.Fatal(err)
		}
	}
	orc, err := runOracle(b.events, analysis.DefaultWindow)
	if err != nil {
		t.Fatal(err)
	}
	if len(orc.Pairs) != 2 {
		t.Fatalf("oracle: %d racing pairs, want 2 (a.go:1/c.go:1 and b.go:1/c.go:1): %v", len(orc.Pairs), orc.Groups)
	}
	for g := range orc.Groups {
		if g.Locs[1] != "c.go:1" {
			t.Errorf("oracle: unexpected race group %v", g)
		}
	}
	// A cycle is detected.
	ev := slices.Clone(b.events)
	ev[0].After = []analysis.Epoch{ev[len(ev)-1].Epoch}
	if _, err := runOracle(ev, analysis.DefaultWindow); err == nil {
		t.Error("oracle accepted a cyclic happens-before graph")
	}
}

// TestPropertyBoundsNeverInventRaces: with tiny bounds (clock entries,
// history, variables) and a short race window, the detector may miss races
// but must never report a pair the oracle (with the same window) does not
// have (an evicted clock component means "assumed ordered"), nor a pair
// twice. With a Wait shorter than the time between batches of arrivals,
// events are forced and late: then a race may be invented (design.md,
// "Forced events may invent a race"), but no pair is reported twice and
// every race names two conflicting accesses of the input.
func TestPropertyBoundsNeverInventRaces(t *testing.T) {
	seeds := 150
	if testing.Short() {
		seeds = 40
	}
	configs := []analysis.Config{
		{Wait: time.Hour, MaxClockEntries: 4},
		{Wait: time.Hour, MaxHistory: 1},
		{Wait: time.Hour, MaxVariables: 2},
		{Wait: time.Hour, MaxClockEntries: 4, MaxHistory: 2, MaxVariables: 3, Window: 50 * time.Millisecond},
		{Wait: time.Hour, Window: 20 * time.Millisecond},
		{Wait: time.Hour, MaxThreads: 3},
		{Wait: time.Hour, MaxThreads: 8, MaxClockEntries: 4, MaxHistory: 2},
	}
	// Fed in feed's "batches" mode, 50ms apart: events wait one batch at
	// most before they are forced.
	forcedConfigs := []analysis.Config{
		{Wait: 10 * time.Millisecond},
		{Wait: 10 * time.Millisecond, MaxThreads: 8, MaxClockEntries: 4, MaxHistory: 2},
	}
	failed := 0
	run := func(name string, f func(t *testing.T)) {
		if !t.Run(name, f) {
			if failed++; failed > 10 {
				t.Fatal("too many failures")
			}
		}
	}
	var forced, late uint64
	for seed := range uint64(seeds) {
		cfg := genConfigFor(seed)
		cfg.MaxThreads += 10
		events := generate(5000+seed, cfg, genBase)
		for ci, c := range configs {
			orc, err := runOracle(events, c.Window|time.Duration(boolInt(c.Window == 0))*analysis.DefaultWindow)
			if err != nil {
				t.Fatal(err)
			}
			run(fmt.Sprintf("seed=%d/config=%d", seed, ci), func(t *testing.T) {
				d := newDetector(t, c)
				feedShuffled(t, d, events, seed, genBase)
				races := d.Drain()
				checkRaceShape(t, events, races)
				checkNoFalsePositives(t, orc, races)
				checkOncePerPair(t, races)
			})
		}
		for ci, c := range forcedConfigs {
			run(fmt.Sprintf("seed=%d/forced=%d", seed, ci), func(t *testing.T) {
				d := newDetector(t, c)
				feed(t, d, events, seed, "batches")
				races := d.Drain()
				checkRaceShape(t, events, races)
				checkOncePerPair(t, races)
				st := d.Stats()
				forced += st.Forced
				late += st.Late
			})
		}
	}
	if forced == 0 || late == 0 {
		t.Errorf("with a short Wait, %d events forced and %d late: want some of each", forced, late)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
