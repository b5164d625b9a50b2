package analysis

import (
	"fmt"
	"testing"
	"time"
)

// FuzzDetector feeds arbitrary sequences of events (any kinds, epochs,
// edges, strands, locks, times and arrival order) and of Advance, Flush and
// Drain calls to a Detector with small bounds. It must never panic, every
// bound must hold after every call, Stats must stay consistent with what
// was fed and drained, and every race must name two conflicting accesses
// that were fed.
//
//	go test -run '^$' -fuzz FuzzDetector -fuzztime 60s ./analysis/
func FuzzDetector(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2})
	// Two threads writing one variable, a lock, a spawn, out of order.
	f.Add([]byte("\x03\x02\x04\x05\x02\x07" + "\x02\x01\x01\x00\x00\x00\x00\x10\x00\x00\x00\x00" +
		"\x02\x02\x01\x00\x00\x00\x00\x20\x00\x00\x00\x00" + "\x04\x01\x02\x00\x00\x03\x01\x00\x01\x00\x00\x00" +
		"\x03\x02\x02\x01\x01\x00\x00\x00\x01\x00\x00\x00" + "\xf1" + "\x02\x03\x01\x00\x00\x00\x00\x30\x00\x00\x00\x00" + "\xf2"))
	// Four threads writing one variable with room for two threads: the
	// first two are evicted while the variable retains their accesses.
	f.Add([]byte("\x00\x00\x03\x00\x01\x00\x07" +
		"\x02\x01\x01\x00\x00\x01\x01\x00\x00\x00\x00\x00" + "\x02\x02\x01\x00\x00\x01\x01\x00\x00\x00\x00\x00" +
		"\x02\x03\x01\x00\x00\x01\x01\x00\x00\x00\x00\x00" + "\x02\x04\x01\x00\x00\x01\x01\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		in := fuzzInput{data: data}
		cfg := Config{
			Wait:            time.Duration(in.byte()%4) * time.Second,
			Window:          time.Duration(in.byte()%4) * 20 * time.Second,
			MaxVariables:    1 + int(in.byte()%4),
			MaxHistory:      1 + int(in.byte()%3),
			MaxThreads:      1 + int(in.byte()%8),
			MaxClockEntries: 4 + int(in.byte()%3),
			MaxPending:      1 + int(in.byte()%8),
		}
		d, err := NewDetector(cfg)
		if err != nil {
			t.Fatal(err)
		}
		fed := map[Epoch][]Event{} // the valid accesses fed, by epoch
		var adds, drained uint64
		now := time.Unix(1_800_000_000, 0)
		for steps := 0; !in.done() && steps < 500; steps++ {
			op := in.byte()
			switch {
			case op >= 0xf0 && op < 0xf4:
				now = now.Add(time.Duration(op-0xef) * time.Second)
				d.Advance(now)
			case op >= 0xf4 && op < 0xf8:
				d.Flush()
				if err := d.sched.drained(); err != nil {
					t.Fatalf("after Flush: %v", err)
				}
			case op >= 0xf8:
				for _, r := range d.Drain() {
					drained++
					checkFuzzRace(t, fed, &r)
				}
			default:
				e := in.event(op, now)
				adds++
				if d.Add(e, now) == nil && e.Kind.IsAccess() {
					fed[e.Epoch] = append(fed[e.Epoch], e)
				}
			}
			if err := d.checkBounds(); err != nil {
				t.Fatalf("step %d: %v", steps, err)
			}
			st := d.Stats()
			switch {
			case st.Events+st.Invalid != adds:
				t.Fatalf("Stats.Events %d + Invalid %d, %d events added", st.Events, st.Invalid, adds)
			case st.Races != drained+uint64(len(d.found)):
				t.Fatalf("Stats.Races %d, %d drained and %d undrained", st.Races, drained, len(d.found))
			case st.Groups > st.Races, st.Accesses > st.Events, st.Late+st.Duplicates > st.Events, st.Forced > st.Events:
				t.Fatalf("inconsistent Stats %+v", st)
			}
		}
		d.Flush()
		if err := d.sched.drained(); err != nil {
			t.Fatalf("after Flush: %v", err)
		}
		for _, r := range d.Drain() {
			checkFuzzRace(t, fed, &r)
		}
	})
}

// fuzzInput turns fuzz bytes into values; past the end it reads zeros.
type fuzzInput struct {
	data []byte
	pos  int
}

func (in *fuzzInput) done() bool { return in.pos >= len(in.data) }

func (in *fuzzInput) byte() byte {
	if in.done() {
		return 0
	}
	in.pos++
	return in.data[in.pos-1]
}

// event reads one event of kind k (taken modulo the kinds, invalid ones
// included) from 11 bytes: thread, seq, edges, edge, strand, variable and
// scope, locks, shared locks, lock, time, values.
func (in *fuzzInput) event(k byte, now time.Time) Event {
	e := Event{Kind: Kind(k % byte(kindCount+1))}
	e.Epoch = Epoch{Thread: ThreadID(in.byte() % 6), Seq: uint64(in.byte() % 10)}
	nAfter, edge := in.byte(), in.byte()
	for i := range int(nAfter % 3) {
		e.After = append(e.After, Epoch{Thread: ThreadID((edge + byte(i)) % 8), Seq: uint64(edge/8%10) + uint64(i)})
	}
	if s := in.byte(); s%4 == 0 {
		e.Sync = Epoch{Thread: ThreadID(6 + s/4%3), Seq: uint64(s / 16 % 6)}
	}
	v := in.byte()
	e.Var = [...]string{"", "x", "y", "accounts/1.balance"}[v%4]
	e.Shared = v&4 != 0
	e.Service, e.Process = "svc", [...]string{"p1", "p2"}[v>>3%2]
	locks := in.byte()
	for i, name := range []string{"mu", "rw", ""} {
		if locks&(1<<i) != 0 {
			e.LocksHeld = append(e.LocksHeld, name)
		}
	}
	shared := in.byte()
	for i, name := range []string{"row/1", "row/2", ""} {
		if shared&(1<<i) != 0 {
			e.SharedLocks = append(e.SharedLocks, name)
		}
		if shared&(8<<i) != 0 {
			e.SharedRLocks = append(e.SharedRLocks, name)
		}
	}
	lock := in.byte()
	e.Lock, e.LockShared = [...]string{"mu", "row/1"}[lock%2], lock&2 != 0
	if at := in.byte(); at != 0 {
		e.Time = now.Add(time.Duration(int(at)-128) * time.Second)
	}
	if val := in.byte(); val != 0 {
		e.HasValues, e.Old, e.New = true, fmt.Sprint(val%3), fmt.Sprint(val/3%3)
	}
	e.Where = Location{File: "f.go", Line: int(k % 4)}
	return e
}

// checkFuzzRace checks that r names two conflicting accesses that were fed
// (an epoch fed twice may carry different records), of different threads,
// to the same variable.
func checkFuzzRace(t *testing.T, fed map[Epoch][]Event, r *Race) {
	t.Helper()
	if r.Previous.Epoch.Thread == r.Current.Epoch.Thread {
		t.Fatalf("race within thread %s", r.Current.Epoch.Thread)
	}
	for _, p := range fed[r.Previous.Epoch] {
		for _, c := range fed[r.Current.Epoch] {
			if (p.Kind == KindWrite || c.Kind == KindWrite) && p.Var == r.Var && c.Var == r.Var && p.Shared == r.Shared && c.Shared == r.Shared {
				return
			}
		}
	}
	t.Fatalf("race on %q between %s and %s: no two conflicting accesses of that variable were fed with these epochs", r.Var, r.Previous.Epoch, r.Current.Epoch)
}

// checkBounds reports the first bound that does not hold, or a broken
// invariant of the detector's state.
func (d *Detector) checkBounds() error {
	cfg := d.cfg
	switch {
	case d.sched.n > cfg.MaxPending:
		return fmt.Errorf("%d events pending, bound %d", d.sched.n, cfg.MaxPending)
	case d.vars.len() > cfg.MaxVariables:
		return fmt.Errorf("%d variables, bound %d", d.vars.len(), cfg.MaxVariables)
	case d.threads.len() > cfg.MaxThreads+len(d.sched.waiting):
		return fmt.Errorf("%d threads, bound %d (+%d waited for)", d.threads.len(), cfg.MaxThreads, len(d.sched.waiting))
	case d.snaps.byEpoch.len() > cfg.MaxThreads:
		return fmt.Errorf("%d snapshots, bound %d", d.snaps.byEpoch.len(), cfg.MaxThreads)
	case d.groups.byID.len() > cfg.MaxVariables:
		return fmt.Errorf("%d groups, bound %d", d.groups.byID.len(), cfg.MaxVariables)
	case len(d.found) > maxUndrained:
		return fmt.Errorf("%d undrained races", len(d.found))
	case len(d.intern.procs) > cfg.MaxVariables || len(d.intern.locs) > cfg.MaxVariables || len(d.intern.lockSets) > cfg.MaxVariables:
		return fmt.Errorf("interning tables beyond %d", cfg.MaxVariables)
	}
	if d.sched.n != len(d.sched.byEpoch) {
		return fmt.Errorf("%d pending counted, %d indexed", d.sched.n, len(d.sched.byEpoch))
	}
	for name, err := range map[string]error{
		"threads": d.threads.check(), "variables": d.vars.check(),
		"snapshots": d.snaps.byEpoch.check(), "groups": d.groups.byID.check(),
	} {
		if err != nil {
			return fmt.Errorf("table of %s: %v", name, err)
		}
	}
	for _, p := range d.threads.all() {
		t := *p
		if err := t.clk.checkEntries(cfg.MaxClockEntries); err != nil {
			return fmt.Errorf("thread %s: %v", t.id, err)
		}
		if t.past.len() > maxPastClocks {
			return fmt.Errorf("thread %s: %d past clocks", t.id, t.past.len())
		}
	}
	for k, v := range d.vars.all() {
		if err := v.check(cfg); err != nil {
			return fmt.Errorf("variable %q: %v", k.name, err)
		}
		for p := range v.accesses() {
			if err := d.keepsNoEvictedClock(p); err != nil {
				return fmt.Errorf("variable %q: %v", k.name, err)
			}
		}
	}
	return nil
}

// keepsNoEvictedClock reports an error if retained access p keeps the
// clocks of a thread the detector no longer tracks: MaxThreads bounds the
// threads whose clocks are kept.
func (d *Detector) keepsNoEvictedClock(p *access) error {
	t := p.thread
	if d.thread(t.id) == t {
		return nil
	}
	if !t.evicted || t.clk.base != nil || t.clk.extra != nil || t.past.len() > 0 {
		return fmt.Errorf("access %s keeps the clocks of its evicted thread", p.epoch())
	}
	return nil
}

// check checks the bounds of a variable's state and that exactly the
// accesses in w, r and live are marked live.
func (v *variable) check(cfg Config) error {
	live := map[*access]bool{}
	for _, p := range [...]*access{v.w, v.r} {
		if p != nil {
			live[p] = true
		}
	}
	if v.more != nil {
		m := v.more
		if len(m.live) > KeptPerHistory*cfg.MaxHistory || m.recent.len() > cfg.MaxHistory {
			return fmt.Errorf("%d live and %d recent accesses, bounds %d and %d", len(m.live), m.recent.len(), KeptPerHistory*cfg.MaxHistory, cfg.MaxHistory)
		}
		for _, p := range m.live {
			if live[p] {
				return fmt.Errorf("access %s held twice", p.epoch())
			}
			live[p] = true
		}
		for i := range m.recent.len() {
			if p := m.recent.at(i); p.live != live[p] {
				return fmt.Errorf("recent access %s marked live=%v", p.epoch(), p.live)
			}
		}
	}
	for p := range live {
		if !p.live {
			return fmt.Errorf("access %s held but not marked live", p.epoch())
		}
	}
	return nil
}

// drained reports an error unless no event waits and no epoch is waited
// for (as after Flush).
func (s *scheduler) drained() error {
	if s.n != 0 || len(s.byEpoch) != 0 || len(s.bySync) != 0 || len(s.waiting) != 0 || s.nextReady() != nil {
		return fmt.Errorf("scheduler not empty: %d pending, %d by epoch, %d by strand, %d threads waited for",
			s.n, len(s.byEpoch), len(s.bySync), len(s.waiting))
	}
	return nil
}
