package analysis_test

import (
	"bufio"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/raceway-otel/raceway/analysis"
)

// Scenario fixtures live in testdata/scenarios/NAME.txt, with their expected
// findings next to them, in the style of golang.org/x/tools/go/analysis
// tests. The DSL, one statement per line ('#' starts a comment):
//
//	thread T [svc=S] [proc=P] [trace=X]  a root thread T starts (KindStart)
//	spawn P C                            P spawns C (same process and trace)
//	end C                                C's last event (KindEnd)
//	await P C                            P joins C (C ends first if it has not)
//	send A B [svc=S] [proc=P]            A calls B, a new handler thread (same trace)
//	respond B                            B returns (KindRespond)
//	response A B                         A receives B's response (B responds first if needed)
//	lock T L / unlock T L                mutex L of T's process
//	wlock T L / wunlock T L              write side of RW lock L
//	rlock T L / runlock T L              read side of RW lock L
//	slock T N / sunlock T N              shared lock N (fleet-wide), exclusively
//	srlock T N / srunlock T N            shared lock N in read mode
//	T read VAR [shared] [=V] [@file:line]
//	T write VAR [shared] [OLD->NEW] [@file:line]
//	repeat A..B ... endrepeat            the lines between, for i = A..B (or down
//	                                     to B when B < A), with {i}, {i-1}, {i+1}
//	                                     replaced by numbers
//
// Directives:
//
//	# want: race VAR KIND LOC1 LOC2 [lostupdate [read=V] [final=V] [expected=V]]
//	# want: none
//	# want-pairs: N                      exactly N distinct racing pairs
//	# want-each-pair-involves: LOC       every reported pair has an access at LOC
//	# config: default | Key=Value ...    a detector configuration to run (each
//	                                     config line is one run; default if none)
//
// Every scenario is run with its events in their actual order, shuffled
// (all delivered, then Flush) and, for scenario 8, in shuffled batches with
// increasing arrival times and Advance between batches.

// scenarioFiles are the fixtures of docs/design.md, "Scenarios", that the
// analysis level covers.
var scenarioFiles = []string{
	"s01_bank_lost_update",
	"s02_bank_with_lock",
	"s03_raceway_sample",
	"s04_spawn_join",
	"s06_rpc_ordering",
	"s06b_rpc_concurrent",
	"s08_out_of_order",
	"s09_read_read",
	"s10_chain_and_fanout",
	"s11_lock_10k",
	"s12_process_scope",
	"rwlock",
	"shared_lock_rmw",
	"shared_lock_one_unlocked",
	"shared_lock_read_mode_writers",
	"shared_lock_reader_vs_writer",
	"shared_lock_pruning",
}

// finding is what a want line describes.
type finding struct {
	Var  string
	Kind analysis.RaceKind
	Locs locPair
	Lost bool
}

func (f finding) String() string {
	s := fmt.Sprintf("race %s %s %s %s", f.Var, f.Kind, f.Locs[0], f.Locs[1])
	if f.Lost {
		s += " lostupdate"
	}
	return s
}

type lostWant struct{ Read, Final, Expected string }

type scenario struct {
	name      string
	events    []analysis.Event
	wants     map[finding]bool
	lost      map[finding]lostWant
	wantNone  bool
	wantPairs int // -1: not checked
	involves  []string
	configs   []analysis.Config
}

type bThread struct {
	name      string
	id        analysis.ThreadID
	seq       uint64
	svc, proc string
	trace     [16]byte
	span      [8]byte
	held      []string
	shared    []string // shared locks held exclusively
	sharedR   []string // shared locks held in read mode
	ended     bool
	last      analysis.Epoch
	origin    analysis.Origin
	creator   analysis.Epoch
}

type bLock struct {
	w, r   analysis.ThreadID
	wn, rn uint64
}

// builder turns DSL statements into events in a global order.
type builder struct {
	rng     *rand.Rand
	threads map[string]*bThread
	locks   map[string]*bLock
	events  []analysis.Event
	used    map[analysis.ThreadID]bool
	base    time.Time
	step    time.Duration
}

func newBuilder(seed uint64) *builder {
	return &builder{
		rng:     rand.New(rand.NewPCG(seed, 7)),
		threads: map[string]*bThread{},
		locks:   map[string]*bLock{},
		used:    map[analysis.ThreadID]bool{},
		base:    time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		step:    10 * time.Microsecond,
	}
}

func (b *builder) newID() analysis.ThreadID {
	for {
		v := analysis.ThreadID(b.rng.Uint64())
		if v != 0 && !b.used[v] {
			b.used[v] = true
			return v
		}
	}
}

func hash16(s string) (h [16]byte) {
	f := fnv.New128a()
	f.Write([]byte(s))
	copy(h[:], f.Sum(nil))
	return h
}

func (b *builder) startThread(name, svc, proc, trace string, origin analysis.Origin, creator analysis.Epoch) (*bThread, error) {
	if _, dup := b.threads[name]; dup {
		return nil, fmt.Errorf("thread %s declared twice", name)
	}
	t := &bThread{name: name, id: b.newID(), svc: svc, proc: proc, trace: hash16(trace), origin: origin, creator: creator}
	h := hash16("span/" + name)
	copy(t.span[:], h[:8])
	b.threads[name] = t
	e := analysis.Event{Kind: analysis.KindStart, ThreadName: name, Origin: origin}
	if !creator.IsZero() {
		e.After = []analysis.Epoch{creator}
	}
	b.emit(t, e)
	return t, nil
}

func (b *builder) emit(t *bThread, e analysis.Event) analysis.Epoch {
	t.seq++
	e.Epoch = analysis.Epoch{Thread: t.id, Seq: t.seq}
	e.Service, e.Process, e.TraceID, e.SpanID = t.svc, t.proc, t.trace, t.span
	if len(t.held) > 0 && e.LocksHeld == nil {
		e.LocksHeld = slices.Clone(t.held)
	}
	if e.Kind.IsAccess() {
		e.SharedLocks, e.SharedRLocks = slices.Clone(t.shared), slices.Clone(t.sharedR)
	}
	e.Time = b.base.Add(time.Duration(len(b.events)+1) * b.step)
	b.events = append(b.events, e)
	t.last = e.Epoch
	return e.Epoch
}

func (b *builder) thread(name string) (*bThread, error) {
	t, ok := b.threads[name]
	if !ok {
		return nil, fmt.Errorf("unknown thread %s", name)
	}
	if t.ended {
		return nil, fmt.Errorf("thread %s used after its end", name)
	}
	return t, nil
}

func (b *builder) lock(t *bThread, name string) *bLock {
	key := t.svc + "/" + t.proc + "/" + name
	l, ok := b.locks[key]
	if !ok {
		l = &bLock{w: b.newID(), r: b.newID()}
		b.locks[key] = l
	}
	return l
}

func (b *builder) end(t *bThread, kind analysis.Kind) {
	if !t.ended {
		b.emit(t, analysis.Event{Kind: kind})
		t.ended = true
	}
}

// kv parses key=value options.
func kv(fields []string) (map[string]string, error) {
	m := map[string]string{}
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("want key=value, got %q", f)
		}
		m[k] = v
	}
	return m, nil
}

func parseLoc(s string) (analysis.Location, error) {
	file, line, ok := strings.Cut(s, ":")
	n, err := strconv.Atoi(line)
	if !ok || err != nil {
		return analysis.Location{}, fmt.Errorf("bad location %q", s)
	}
	return analysis.Location{File: file, Line: n, Function: strings.TrimSuffix(file, ".go") + ".fn"}, nil
}

// exec runs one statement.
func (b *builder) exec(f []string) error {
	need := func(n int) error {
		if len(f) < n {
			return fmt.Errorf("%s: want at least %d fields", f[0], n)
		}
		return nil
	}
	switch f[0] {
	case "thread":
		if err := need(2); err != nil {
			return err
		}
		opt, err := kv(f[2:])
		if err != nil {
			return err
		}
		svc := cmp2(opt["svc"], "svc")
		proc := cmp2(opt["proc"], svc+"-1")
		_, err = b.startThread(f[1], svc, proc, cmp2(opt["trace"], "trace-"+f[1]), analysis.OriginRoot, analysis.Epoch{})
		return err
	case "spawn", "send":
		if err := need(3); err != nil {
			return err
		}
		p, err := b.thread(f[1])
		if err != nil {
			return err
		}
		opt, err := kv(f[3:])
		if err != nil {
			return err
		}
		kind, origin := analysis.KindSpawn, analysis.OriginSpawn
		svc, proc := p.svc, p.proc
		if f[0] == "send" {
			kind, origin = analysis.KindSend, analysis.OriginRequest
			if s, ok := opt["svc"]; ok {
				svc, proc = s, s+"-1"
			}
			proc = cmp2(opt["proc"], proc)
		}
		ep := b.emit(p, analysis.Event{Kind: kind})
		c, err := b.startThread(f[2], svc, proc, "", origin, ep)
		if err != nil {
			return err
		}
		c.trace = p.trace
		b.events[len(b.events)-1].TraceID = p.trace
		return nil
	case "end", "respond":
		if err := need(2); err != nil {
			return err
		}
		c, err := b.thread(f[1])
		if err != nil {
			return err
		}
		kind := analysis.KindEnd
		if f[0] == "respond" {
			kind = analysis.KindRespond
		}
		b.end(c, kind)
		return nil
	case "await", "response":
		if err := need(3); err != nil {
			return err
		}
		p, err := b.thread(f[1])
		if err != nil {
			return err
		}
		c, ok := b.threads[f[2]]
		if !ok {
			return fmt.Errorf("unknown thread %s", f[2])
		}
		kind, endKind := analysis.KindAwait, analysis.KindEnd
		if f[0] == "response" {
			kind, endKind = analysis.KindResponse, analysis.KindRespond
		}
		b.end(c, endKind)
		b.emit(p, analysis.Event{Kind: kind, After: []analysis.Epoch{c.last}})
		return nil
	case "lock", "wlock", "rlock", "unlock", "wunlock", "runlock":
		if err := need(3); err != nil {
			return err
		}
		t, err := b.thread(f[1])
		if err != nil {
			return err
		}
		l := b.lock(t, f[2])
		rw := f[0] != "lock" && f[0] != "unlock"
		switch f[0] {
		case "lock", "wlock":
			var after []analysis.Epoch
			if l.wn > 0 {
				after = append(after, analysis.Epoch{Thread: l.w, Seq: l.wn})
			}
			if rw && l.rn > 0 {
				after = append(after, analysis.Epoch{Thread: l.r, Seq: l.rn})
			}
			b.emit(t, analysis.Event{Kind: analysis.KindAcquire, Lock: f[2], After: after})
			t.held = append(t.held, f[2])
		case "rlock":
			var after []analysis.Epoch
			if l.wn > 0 {
				after = append(after, analysis.Epoch{Thread: l.w, Seq: l.wn})
			}
			b.emit(t, analysis.Event{Kind: analysis.KindRAcquire, Lock: f[2], After: after})
			t.held = append(t.held, f[2])
		case "unlock", "wunlock":
			l.wn++
			b.emit(t, analysis.Event{Kind: analysis.KindRelease, Lock: f[2], Sync: analysis.Epoch{Thread: l.w, Seq: l.wn}})
			t.held = slices.DeleteFunc(t.held, func(s string) bool { return s == f[2] })
		case "runlock":
			l.rn++
			b.emit(t, analysis.Event{Kind: analysis.KindRRelease, Lock: f[2], Sync: analysis.Epoch{Thread: l.r, Seq: l.rn}})
			t.held = slices.DeleteFunc(t.held, func(s string) bool { return s == f[2] })
		}
		return nil
	case "slock", "srlock", "sunlock", "srunlock":
		if err := need(3); err != nil {
			return err
		}
		t, err := b.thread(f[1])
		if err != nil {
			return err
		}
		held := &t.shared
		if f[0] == "srlock" || f[0] == "srunlock" {
			held = &t.sharedR
		}
		e := analysis.Event{Lock: f[2], LockShared: true}
		switch f[0] {
		case "slock":
			e.Kind = analysis.KindAcquire
		case "srlock":
			e.Kind = analysis.KindRAcquire
		case "sunlock":
			e.Kind = analysis.KindRelease
		case "srunlock":
			e.Kind = analysis.KindRRelease
		}
		b.emit(t, e)
		if e.Kind == analysis.KindAcquire || e.Kind == analysis.KindRAcquire {
			*held = append(*held, f[2])
		} else {
			*held = slices.DeleteFunc(*held, func(s string) bool { return s == f[2] })
		}
		return nil
	}
	// T read|write VAR ...
	if err := need(3); err != nil {
		return err
	}
	t, err := b.thread(f[0])
	if err != nil {
		return err
	}
	e := analysis.Event{Var: f[2]}
	switch f[1] {
	case "read":
		e.Kind = analysis.KindRead
	case "write":
		e.Kind = analysis.KindWrite
	default:
		return fmt.Errorf("unknown statement %q", strings.Join(f, " "))
	}
	for _, tok := range f[3:] {
		switch {
		case tok == "shared":
			e.Shared = true
		case strings.HasPrefix(tok, "@"):
			if e.Where, err = parseLoc(tok[1:]); err != nil {
				return err
			}
		case e.Kind == analysis.KindRead && strings.HasPrefix(tok, "="):
			e.New, e.HasValues = tok[1:], true
		case e.Kind == analysis.KindWrite && strings.Contains(tok, "->"):
			e.Old, e.New, _ = strings.Cut(tok, "->")
			e.HasValues = true
		default:
			return fmt.Errorf("bad token %q", tok)
		}
	}
	b.emit(t, e)
	return nil
}

func cmp2(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// expand unrolls repeat blocks (which may nest).
func expand(lines []string) ([]string, error) {
	var out []string
	for i := 0; i < len(lines); i++ {
		f := strings.Fields(lines[i])
		if len(f) == 0 || f[0] != "repeat" {
			if len(f) > 0 && f[0] == "endrepeat" {
				return nil, fmt.Errorf("endrepeat without repeat")
			}
			out = append(out, lines[i])
			continue
		}
		if len(f) != 2 {
			return nil, fmt.Errorf("want repeat A..B")
		}
		from, to, ok := strings.Cut(f[1], "..")
		a, err1 := strconv.Atoi(from)
		z, err2 := strconv.Atoi(to)
		if !ok || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("bad range %q", f[1])
		}
		depth, j := 1, i+1
		for ; j < len(lines); j++ {
			g := strings.Fields(lines[j])
			if len(g) > 0 && g[0] == "repeat" {
				depth++
			}
			if len(g) > 0 && g[0] == "endrepeat" {
				if depth--; depth == 0 {
					break
				}
			}
		}
		if j == len(lines) {
			return nil, fmt.Errorf("repeat without endrepeat")
		}
		body := lines[i+1 : j]
		dir := 1
		if z < a {
			dir = -1
		}
		for k := a; ; k += dir {
			r := strings.NewReplacer("{i}", strconv.Itoa(k), "{i-1}", strconv.Itoa(k-1), "{i+1}", strconv.Itoa(k+1))
			var sub []string
			for _, l := range body {
				sub = append(sub, r.Replace(l))
			}
			x, err := expand(sub)
			if err != nil {
				return nil, err
			}
			out = append(out, x...)
			if k == z {
				break
			}
		}
		i = j
	}
	return out, nil
}

func parseKind(s string) (analysis.RaceKind, error) {
	switch s {
	case "read/write":
		return analysis.ReadWrite, nil
	case "write/write":
		return analysis.WriteWrite, nil
	}
	return 0, fmt.Errorf("bad race kind %q", s)
}

func parseConfig(s string) (analysis.Config, error) {
	var c analysis.Config
	if strings.TrimSpace(s) == "default" {
		return c, nil
	}
	opt, err := kv(strings.Fields(s))
	if err != nil {
		return c, err
	}
	for k, v := range opt {
		n, err := strconv.Atoi(v)
		if err != nil && k != "Wait" && k != "Window" {
			return c, fmt.Errorf("config %s: %v", k, err)
		}
		switch k {
		case "MaxClockEntries":
			c.MaxClockEntries = n
		case "MaxHistory":
			c.MaxHistory = n
		case "MaxThreads":
			c.MaxThreads = n
		case "Wait", "Window":
			d, err := time.ParseDuration(v)
			if err != nil {
				return c, err
			}
			if k == "Wait" {
				c.Wait = d
			} else {
				c.Window = d
			}
		default:
			return c, fmt.Errorf("unknown config key %s", k)
		}
	}
	return c, nil
}

func loadScenario(path string) (*scenario, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := &scenario{
		name: strings.TrimSuffix(filepath.Base(path), ".txt"), wants: map[finding]bool{},
		lost: map[finding]lostWant{}, wantPairs: -1,
	}
	var lines []string
	s := bufio.NewScanner(f)
	for n := 1; s.Scan(); n++ {
		line := strings.TrimSpace(s.Text())
		if body, ok := strings.CutPrefix(line, "#"); ok {
			dir, arg, _ := strings.Cut(strings.TrimSpace(body), ":")
			arg = strings.TrimSpace(arg)
			switch dir {
			case "want":
				if err := sc.parseWant(arg); err != nil {
					return nil, fmt.Errorf("%s:%d: %v", path, n, err)
				}
			case "want-pairs":
				if sc.wantPairs, err = strconv.Atoi(arg); err != nil {
					return nil, fmt.Errorf("%s:%d: %v", path, n, err)
				}
			case "want-each-pair-involves":
				sc.involves = append(sc.involves, arg)
			case "config":
				c, err := parseConfig(arg)
				if err != nil {
					return nil, fmt.Errorf("%s:%d: %v", path, n, err)
				}
				sc.configs = append(sc.configs, c)
			}
			continue
		}
		if line != "" {
			lines = append(lines, line)
		}
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	if sc.wantNone == (len(sc.wants) > 0) {
		return nil, fmt.Errorf("%s: want either '# want: none' or race lines", path)
	}
	if len(sc.configs) == 0 {
		sc.configs = []analysis.Config{{}}
	}
	lines, err = expand(lines)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	b := newBuilder(fnv64(sc.name))
	for _, l := range lines {
		if err := b.exec(strings.Fields(l)); err != nil {
			return nil, fmt.Errorf("%s: %q: %v", path, l, err)
		}
	}
	sc.events = b.events
	return sc, nil
}

func fnv64(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

func (sc *scenario) parseWant(arg string) error {
	f := strings.Fields(arg)
	if len(f) == 1 && f[0] == "none" {
		sc.wantNone = true
		return nil
	}
	if len(f) < 5 || f[0] != "race" {
		return fmt.Errorf("want: race VAR KIND LOC1 LOC2 [lostupdate ...] or none")
	}
	kind, err := parseKind(f[2])
	if err != nil {
		return err
	}
	fd := finding{Var: f[1], Kind: kind, Locs: makeLocPair(f[3], f[4])}
	var lw lostWant
	for _, tok := range f[5:] {
		k, v, _ := strings.Cut(tok, "=")
		switch k {
		case "lostupdate":
			fd.Lost = true
		case "read":
			lw.Read = v
		case "final":
			lw.Final = v
		case "expected":
			lw.Expected = v
		default:
			return fmt.Errorf("bad want token %q", tok)
		}
	}
	sc.wants[fd] = true
	if lw != (lostWant{}) {
		if !fd.Lost {
			return fmt.Errorf("lost-update values without lostupdate")
		}
		sc.lost[fd] = lw
	}
	return nil
}

// oracleLimit bounds the events on which scenarios consult the all-pairs
// oracle (scenario 11 is checked by its own invariant instead).
const oracleLimit = 20000

func TestScenarioFixtures(t *testing.T) {
	for _, name := range scenarioFiles {
		t.Run(name, func(t *testing.T) {
			sc, err := loadScenario(filepath.Join("testdata", "scenarios", name+".txt"))
			if err != nil {
				t.Fatal(err)
			}
			runScenario(t, sc)
		})
	}
	// Every fixture on disk is listed (none silently skipped).
	files, _ := filepath.Glob(filepath.Join("testdata", "scenarios", "*.txt"))
	for _, f := range files {
		if !slices.Contains(scenarioFiles, strings.TrimSuffix(filepath.Base(f), ".txt")) {
			t.Errorf("fixture %s is not listed in scenarioFiles", f)
		}
	}
}

func runScenario(t *testing.T, sc *scenario) {
	events := sc.events
	// Every event is valid and every epoch that travels fits the bound.
	for i := range events {
		e := &events[i]
		if err := e.Validate(); err != nil {
			t.Fatalf("fixture produced an invalid event %+v: %v", e, err)
		}
		for _, ep := range append([]analysis.Epoch{e.Epoch, e.Sync}, e.After...) {
			if n := len(ep.String()); n > analysis.MaxEpochTextLen {
				t.Fatalf("epoch %s is %d bytes, more than MaxEpochTextLen %d", ep, n, analysis.MaxEpochTextLen)
			}
		}
	}
	var orc *oracleResult
	if len(events) <= oracleLimit {
		var err error
		if orc, err = runOracle(events, analysis.DefaultWindow); err != nil {
			t.Fatal(err)
		}
		// The fixture's expectations agree with the oracle.
		got := map[finding]bool{}
		for g := range orc.Groups {
			got[finding{Var: g.Key.Name, Kind: g.Kind, Locs: g.Locs}] = true
		}
		want := map[finding]bool{}
		for f := range sc.wants {
			f.Lost = false
			want[f] = true
		}
		if !mapsEqual(got, want) {
			t.Fatalf("oracle disagrees with the fixture's want lines:\noracle: %v\nwant:   %v", keys(got), keys(want))
		}
		if sc.wantPairs >= 0 && len(orc.Pairs) != sc.wantPairs {
			t.Fatalf("oracle finds %d racing pairs, fixture wants %d", len(orc.Pairs), sc.wantPairs)
		}
	}
	seeds := []uint64{1, 2, 3}
	if len(events) > oracleLimit {
		seeds = seeds[:1]
	}
	for ci, cfg := range sc.configs {
		t.Run(fmt.Sprintf("config%d/inorder", ci), func(t *testing.T) {
			d := newDetector(t, cfg)
			feed(t, d, events, 0, "inorder")
			checkScenarioRaces(t, sc, d, orc)
		})
		for _, seed := range seeds {
			t.Run(fmt.Sprintf("config%d/shuffled%d", ci, seed), func(t *testing.T) {
				d := newDetector(t, cfg)
				feedShuffled(t, d, events, seed, time.Now())
				checkScenarioRaces(t, sc, d, orc)
			})
		}
		// Scenario 8: shuffled batches arriving over time, each batch late by
		// more than the batch interval, Wait larger than all the lateness.
		t.Run(fmt.Sprintf("config%d/batches", ci), func(t *testing.T) {
			c := cfg
			const batches, gap = 8, 100 * time.Millisecond
			c.Wait = 4 * batches * gap
			d := newDetector(t, c)
			feedBatches(t, d, events, 42, batches, time.Now(), gap)
			checkScenarioRaces(t, sc, d, orc)
			if st := d.Stats(); st.Forced != 0 || st.Late != 0 {
				t.Errorf("Wait %s exceeds all lateness, yet Stats.Forced=%d Late=%d", c.Wait, st.Forced, st.Late)
			}
		})
	}
}

func checkScenarioRaces(t *testing.T, sc *scenario, d *analysis.Detector, orc *oracleResult) {
	t.Helper()
	races := d.Drain()
	checkRaceShape(t, sc.events, races)
	if orc != nil {
		checkNoFalsePositives(t, orc, races)
	}
	byEpoch := indexByEpoch(sc.events)
	got := map[finding]bool{}
	lostOf := map[finding][]*analysis.Race{}
	pairs := map[epochPair]bool{}
	groupNames := map[finding]map[string]bool{}
	for i := range races {
		r := &races[i]
		pairs[makePair(r.Previous.Epoch, r.Current.Epoch)] = true
		f := finding{Var: r.Var, Kind: r.Kind, Locs: makeLocPair(r.Previous.Where.String(), r.Current.Where.String())}
		lostOf[f] = append(lostOf[f], r)
		if groupNames[f] == nil {
			groupNames[f] = map[string]bool{}
		}
		groupNames[f][r.Group] = true
		for _, loc := range sc.involves {
			if r.Previous.Where.String() != loc && r.Current.Where.String() != loc {
				pe, ce := byEpoch[r.Previous.Epoch], byEpoch[r.Current.Epoch]
				t.Errorf("reported pair %s (%s) / %s (%s) involves no access at %s (false positive)",
					r.Previous.Epoch, pe.Where, r.Current.Epoch, ce.Where, loc)
			}
		}
	}
	for f, rs := range lostOf {
		lost := 0
		for _, r := range rs {
			if r.LostUpdate != nil {
				lost++
			}
		}
		if lost > 0 && lost < len(rs) {
			t.Errorf("%v: %d of %d races classified as lost update (want all or none)", f, lost, len(rs))
		}
		f.Lost = lost > 0
		got[f] = true
		if lw, ok := sc.lost[f]; ok {
			for _, r := range rs {
				lu := r.LostUpdate
				if lu.Read != lw.Read || lu.Final != lw.Final || lu.Expected != lw.Expected {
					t.Errorf("%v: LostUpdate %+v, want read=%s final=%s expected=%s", f, *lu, lw.Read, lw.Final, lw.Expected)
				}
			}
		}
	}
	if !mapsEqual(got, sc.wants) {
		t.Errorf("findings differ from the want lines:\ngot:  %v\nwant: %v", keys(got), keys(sc.wants))
	}
	for f, names := range groupNames {
		if len(names) != 1 {
			t.Errorf("%v: one distinct race reported under several Race.Group values %v", f, keys(names))
		}
	}
	if sc.wantPairs >= 0 && len(pairs) != sc.wantPairs {
		t.Errorf("%d distinct racing pairs reported, want %d", len(pairs), sc.wantPairs)
	}
}

func mapsEqual[K comparable](a, b map[K]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func keys[K comparable](m map[K]bool) []string {
	var out []string
	for k := range m {
		out = append(out, fmt.Sprint(k))
	}
	slices.Sort(out)
	return out
}

// TestScenarioChainAndFanoutExact checks scenario 10 beyond the fixture's
// groups: the detector reports no pair the oracle does not have, and the
// epochs that travel stay within MaxEpochTextLen however long the chain.
func TestScenarioChainAndFanoutExact(t *testing.T) {
	sc, err := loadScenario(filepath.Join("testdata", "scenarios", "s10_chain_and_fanout.txt"))
	if err != nil {
		t.Fatal(err)
	}
	hops, spawns := 0, 0
	for _, e := range sc.events {
		switch e.Kind {
		case analysis.KindSend:
			hops++
		case analysis.KindSpawn:
			spawns++
		}
	}
	if hops != 50 || spawns != 200 {
		t.Fatalf("fixture has %d hops and %d spawns, want 50 and 200", hops, spawns)
	}
	orc, err := runOracle(sc.events, analysis.DefaultWindow)
	if err != nil {
		t.Fatal(err)
	}
	d := newDetector(t, analysis.Config{})
	feedShuffled(t, d, sc.events, 99, time.Now())
	races := d.Drain()
	checkNoFalsePositives(t, orc, races)
	checkRacyVarsCovered(t, orc, races)
	if len(races) == 0 {
		t.Fatal("no race reported among 200 concurrent writers")
	}
}
