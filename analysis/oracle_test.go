package analysis_test

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/raceway-otel/raceway/analysis"
)

// This file holds the test oracle: Raceway's own method, comparing every
// pair of accesses (O(n²)), with exact vector clocks of unbounded size
// computed from the happens-before edges of the event model:
//
//   - program order: an event happens after the previous event of its thread;
//   - Event.After: every named epoch happens before the event;
//   - strands: the strand epoch a release publishes (Event.Sync) happens after
//     the release and after the previous epoch of the same strand.
//
// A pair of unordered conflicting accesses races unless their shared locks
// exclude each other: some name held exclusively (Event.SharedLocks) by one
// and in either mode by the other.
//
// Events are processed in a topological order of that graph (Kahn's
// algorithm), so the clock of every predecessor is known when an event is
// reached. It is deliberately simple: it is the reference the detector is
// checked against.

// varKey identifies a variable: process-scoped unless shared.
type varKey struct {
	Shared           bool
	Service, Process string
	Name             string
}

func (k varKey) String() string {
	if k.Shared {
		return "shared:" + k.Name
	}
	return k.Service + "/" + k.Process + ":" + k.Name
}

// keyOf returns the variable key of an access event.
func keyOf(e *analysis.Event) varKey {
	if e.Shared {
		return varKey{Shared: true, Name: e.Var}
	}
	return varKey{Service: e.Service, Process: e.Process, Name: e.Var}
}

// keyOfAccess returns the variable key of a reported access.
func keyOfAccess(name string, shared bool, a *analysis.Access) varKey {
	if shared {
		return varKey{Shared: true, Name: name}
	}
	return varKey{Service: a.Service, Process: a.Process, Name: name}
}

// epochPair is an unordered pair of epochs, stored smaller first.
type epochPair [2]analysis.Epoch

func cmpEpoch(a, b analysis.Epoch) int {
	if c := cmp.Compare(a.Thread, b.Thread); c != 0 {
		return c
	}
	return cmp.Compare(a.Seq, b.Seq)
}

func makePair(a, b analysis.Epoch) epochPair {
	if cmpEpoch(a, b) > 0 {
		a, b = b, a
	}
	return epochPair{a, b}
}

// locPair is an unordered pair of code locations (file:line), smaller first.
type locPair [2]string

func makeLocPair(a, b string) locPair {
	if a > b {
		a, b = b, a
	}
	return locPair{a, b}
}

// raceGroup identifies a distinct race the way a user sees it: the
// variable, the kind and the (unordered) pair of code locations.
type raceGroup struct {
	Key  varKey
	Kind analysis.RaceKind
	Locs locPair
}

func (g raceGroup) String() string {
	return fmt.Sprintf("%s %s %s %s", g.Key, g.Kind, g.Locs[0], g.Locs[1])
}

// clock is an immutable vector clock: epochs sorted by thread, no zero
// component. Clocks are shared between nodes and never modified.
type clock []analysis.Epoch

func (c clock) get(t analysis.ThreadID) uint64 {
	i, ok := slices.BinarySearchFunc(c, t, func(e analysis.Epoch, t analysis.ThreadID) int {
		return cmp.Compare(e.Thread, t)
	})
	if !ok {
		return 0
	}
	return c[i].Seq
}

// join returns the component-wise maximum of a and b (sharing a or b when
// one covers the other is not attempted: simplicity first).
func join(a, b clock) clock {
	if len(b) == 0 {
		return a
	}
	if len(a) == 0 {
		return b
	}
	out := make(clock, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i].Thread < b[j].Thread:
			out = append(out, a[i])
			i++
		case a[i].Thread > b[j].Thread:
			out = append(out, b[j])
			j++
		default:
			out = append(out, analysis.Epoch{Thread: a[i].Thread, Seq: max(a[i].Seq, b[j].Seq)})
			i++
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

// with returns c with the component of e.Thread raised to e.Seq.
func (c clock) with(e analysis.Epoch) clock {
	return join(c, clock{e})
}

// oracleAccess is one read or write as the oracle sees it.
type oracleAccess struct {
	Index int // into the events
	Epoch analysis.Epoch
	Key   int32 // interned varKey
	Write bool
	Time  time.Time
	// base is the clock of everything that happens before the access, from
	// other threads (own-thread order is decided by Epoch.Seq).
	base clock
}

// oracle is the result of analysing a set of events.
type oracle struct {
	Events   []analysis.Event
	Accesses []oracleAccess // in a topological order of happens-before
	Keys     []varKey       // by interned id
	window   time.Duration
	excluded int // unordered conflicting pairs that shared locks exclude (counted by each)
}

// newOracle computes exact vector clocks for events. It fails on duplicate
// epochs, edges naming unknown epochs, strands published twice, and cycles.
func newOracle(events []analysis.Event, window time.Duration) (*oracle, error) {
	n := len(events)
	// Nodes 0..n-1 are events; nodes n.. are strand epochs.
	node := make(map[analysis.Epoch]int, n)
	byThread := make(map[analysis.ThreadID][]int)
	for i := range events {
		e := &events[i]
		if _, dup := node[e.Epoch]; dup {
			return nil, fmt.Errorf("oracle: duplicate epoch %s", e.Epoch)
		}
		node[e.Epoch] = i
		byThread[e.Epoch.Thread] = append(byThread[e.Epoch.Thread], i)
	}
	type strandNode struct {
		epoch   analysis.Epoch
		release int
	}
	var strands []strandNode
	byStrand := make(map[analysis.ThreadID][]int) // node ids
	for i := range events {
		e := &events[i]
		if e.Sync.IsZero() {
			continue
		}
		if _, dup := node[e.Sync]; dup {
			return nil, fmt.Errorf("oracle: strand epoch %s published twice (or is an event)", e.Sync)
		}
		id := n + len(strands)
		strands = append(strands, strandNode{epoch: e.Sync, release: i})
		node[e.Sync] = id
		byStrand[e.Sync.Thread] = append(byStrand[e.Sync.Thread], id)
	}
	total := n + len(strands)
	epochOf := func(id int) analysis.Epoch {
		if id < n {
			return events[id].Epoch
		}
		return strands[id-n].epoch
	}
	preds := make([][]int, total)
	// Program order (and strand order): the previous epoch present.
	for _, ids := range []map[analysis.ThreadID][]int{byThread, byStrand} {
		for _, list := range ids {
			slices.SortFunc(list, func(a, b int) int { return cmp.Compare(epochOf(a).Seq, epochOf(b).Seq) })
			for k := 1; k < len(list); k++ {
				preds[list[k]] = append(preds[list[k]], list[k-1])
			}
		}
	}
	for _, s := range strands {
		id := node[s.epoch]
		preds[id] = append(preds[id], s.release)
	}
	for i := range events {
		for _, a := range events[i].After {
			p, ok := node[a]
			if !ok {
				return nil, fmt.Errorf("oracle: event %s names unknown epoch %s", events[i].Epoch, a)
			}
			preds[i] = append(preds[i], p)
		}
	}
	// Kahn's algorithm.
	succs := make([][]int, total)
	indeg := make([]int, total)
	for id, ps := range preds {
		indeg[id] = len(ps)
		for _, p := range ps {
			succs[p] = append(succs[p], id)
		}
	}
	queue := make([]int, 0, total)
	for id := range total {
		if indeg[id] == 0 {
			queue = append(queue, id)
		}
	}
	// full[id] is the whole clock of node id, its own epoch included. For
	// events it is computed from base on demand (own component added).
	base := make([]clock, total)
	full := func(id int) clock { return base[id].with(epochOf(id)) }
	o := &oracle{Events: events, window: window}
	keyID := make(map[varKey]int32)
	for head := 0; head < len(queue); head++ {
		id := queue[head]
		var c clock
		for _, p := range preds[id] {
			if p < n && id < n && events[p].Epoch.Thread == events[id].Epoch.Thread {
				c = join(c, base[p]) // program order: own thread is ordered by Seq
			} else {
				c = join(c, full(p))
			}
		}
		base[id] = c
		if id < n && events[id].Kind.IsAccess() {
			e := &events[id]
			k := keyOf(e)
			kid, ok := keyID[k]
			if !ok {
				kid = int32(len(o.Keys))
				keyID[k] = kid
				o.Keys = append(o.Keys, k)
			}
			o.Accesses = append(o.Accesses, oracleAccess{
				Index: id, Epoch: e.Epoch, Key: kid, Write: e.Kind == analysis.KindWrite, Time: e.Time, base: c,
			})
		}
		for _, s := range succs[id] {
			if indeg[s]--; indeg[s] == 0 {
				queue = append(queue, s)
			}
		}
	}
	if len(queue) != total {
		return nil, fmt.Errorf("oracle: happens-before graph has a cycle (%d of %d nodes ordered)", len(queue), total)
	}
	return o, nil
}

// happensBefore reports whether a happens before b, given that a comes
// before b in the oracle's topological order (so b cannot happen before a).
func happensBefore(a, b *oracleAccess) bool {
	if a.Epoch.Thread == b.Epoch.Thread {
		return a.Epoch.Seq < b.Epoch.Seq
	}
	return b.base.get(a.Epoch.Thread) >= a.Epoch.Seq
}

// each calls f for every racing pair: all pairs of accesses, the earlier
// (in topological order) first.
func (o *oracle) each(f func(a, b *oracleAccess)) {
	acc := o.Accesses
	for i := range acc {
		b := &acc[i]
		for j := range i {
			a := &acc[j]
			if a.Key != b.Key || a.Epoch.Thread == b.Epoch.Thread || !(a.Write || b.Write) {
				continue
			}
			if d := b.Time.Sub(a.Time); d > o.window || -d > o.window {
				continue
			}
			if happensBefore(a, b) {
				continue
			}
			if sharedLocksExclude(&o.Events[a.Index], &o.Events[b.Index]) {
				o.excluded++
				continue
			}
			f(a, b)
		}
	}
}

// sharedLocksExclude reports whether accesses a and b cannot overlap: a
// shared lock is held exclusively by one and in either mode by the other.
func sharedLocksExclude(a, b *analysis.Event) bool {
	for _, n := range a.SharedLocks {
		if slices.Contains(b.SharedLocks, n) || slices.Contains(b.SharedRLocks, n) {
			return true
		}
	}
	for _, n := range b.SharedLocks {
		if slices.Contains(a.SharedRLocks, n) {
			return true
		}
	}
	return false
}

// oracleResult is every racing pair and what follows from them.
type oracleResult struct {
	Pairs  map[epochPair]analysis.RaceKind
	Vars   map[varKey]bool
	Groups map[raceGroup]int // occurrences
	// Excluded counts the unordered conflicting pairs that shared locks
	// keep from racing.
	Excluded int
}

func raceKindOf(aWrite, bWrite bool) analysis.RaceKind {
	if aWrite && bWrite {
		return analysis.WriteWrite
	}
	return analysis.ReadWrite
}

// races runs the all-pairs comparison.
func (o *oracle) races() *oracleResult {
	r := &oracleResult{
		Pairs:  make(map[epochPair]analysis.RaceKind),
		Vars:   make(map[varKey]bool),
		Groups: make(map[raceGroup]int),
	}
	o.each(func(a, b *oracleAccess) {
		kind := raceKindOf(a.Write, b.Write)
		r.Pairs[makePair(a.Epoch, b.Epoch)] = kind
		key := o.Keys[a.Key]
		r.Vars[key] = true
		g := raceGroup{Key: key, Kind: kind, Locs: makeLocPair(o.Events[a.Index].Where.String(), o.Events[b.Index].Where.String())}
		r.Groups[g]++
	})
	r.Excluded = o.excluded
	return r
}

// runOracle analyses events and returns every race.
func runOracle(events []analysis.Event, window time.Duration) (*oracleResult, error) {
	o, err := newOracle(events, window)
	if err != nil {
		return nil, err
	}
	return o.races(), nil
}
