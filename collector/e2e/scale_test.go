package e2e

import (
	"context"
	"fmt"
	"hash/fnv"
	"maps"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/raceway-otel/raceway/analysis"
	"github.com/raceway-otel/raceway/internal/proc"
	"github.com/raceway-otel/raceway/racewayotel/convention"
)

// TestScaleOut runs the scaled-out deployment of docs/scaling.md on
// loopback: two analysis instances (collector/scale/analysis.yaml), two
// routers (router.yaml) and the optional agent (agent.yaml), all the same
// otelcol-raceway binary, next to one reference collector with the demo
// configuration. The same traffic goes to the reference and, split over the
// routers and the agent, to the deployment; the two analysis instances
// together must report exactly the reference's distinct races, each once,
// both instances must report some, and the cross-trace lost update whose
// two traces entered through different routers must be among them.
func TestScaleOut(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs six collectors")
	}
	bin := collectorBinary(t)
	scaleCfg := func(name string) string { return filepath.Join(repoRoot(t), "collector", "scale", name) }
	port := func() string { return strings.TrimPrefix(freeAddr(t), "127.0.0.1:") }

	// The reference: one collector, the demo configuration.
	refSink := startSink(t, "", nil)
	refEnv := baseEnv(t, refSink.Addr())
	ref := startCollector(t, bin, refEnv, demoConfig(t, "otelcol-raceway.yaml"))
	ref.checkLoopbackOnly()

	// Tier 2: the analysis instances, each with its own sink for finding
	// traces, race logs and metrics.
	var analysisAddr [2]string
	var analysisSink [2]*sink
	var cols []*collector
	for i := range 2 {
		analysisSink[i] = startSink(t, "", nil)
		analysisAddr[i] = freeAddr(t)
		cols = append(cols, startScaleCollector(t, bin, fmt.Sprintf("analysis%d", i), map[string]string{
			"RACEWAY_OTLP_GRPC":         analysisAddr[i],
			"RACEWAY_JAEGER_OTLP":       analysisSink[i].Addr(),
			"RACEWAY_FINDINGS_PROTOCOL": "grpc",
			"RACEWAY_FINDINGS_OTLP":     analysisSink[i].Addr(),
			"RACEWAY_WAIT":              "1s",
			"RACEWAY_METRICS_PORT":      port(),
		}, scaleCfg("analysis.yaml"), analysisAddr[i]))
	}

	// Tier 1: the routers; the original spans go to the backend sink.
	backend := startSink(t, "", nil)
	var routerAddr [2]string
	for i := range 2 {
		routerAddr[i] = freeAddr(t)
		httpAddr := freeAddr(t)
		cols = append(cols, startScaleCollector(t, bin, fmt.Sprintf("router%d", i), map[string]string{
			"RACEWAY_OTLP_GRPC":      routerAddr[i],
			"RACEWAY_OTLP_HTTP":      httpAddr,
			"RACEWAY_ANALYSIS0_OTLP": analysisAddr[0],
			"RACEWAY_ANALYSIS1_OTLP": analysisAddr[1],
			"RACEWAY_JAEGER_OTLP":    backend.Addr(),
			"RACEWAY_METRICS_PORT":   port(),
		}, scaleCfg("router.yaml"), routerAddr[i], httpAddr))
	}

	// Tier 0 (optional): the agent, load_balancing by trace id over the routers.
	agentAddr, agentHTTP := freeAddr(t), freeAddr(t)
	cols = append(cols, startScaleCollector(t, bin, "agent", map[string]string{
		"RACEWAY_OTLP_GRPC":    agentAddr,
		"RACEWAY_OTLP_HTTP":    agentHTTP,
		"RACEWAY_ROUTER0_OTLP": routerAddr[0],
		"RACEWAY_ROUTER1_OTLP": routerAddr[1],
		"RACEWAY_METRICS_PORT": port(),
	}, scaleCfg("agent.yaml"), agentAddr, agentHTTP))
	for _, c := range cols {
		c.checkLoopbackOnly()
	}

	// The traffic, sent to the reference and to its entry point.
	refClient := dial(t, refEnv["RACEWAY_OTLP_GRPC"])
	entry := map[string]ptraceotlp.GRPCClient{
		"router0": dial(t, routerAddr[0]),
		"router1": dial(t, routerAddr[1]),
		"agent":   dial(t, agentAddr),
	}
	sends := scaleTraffic()
	sent := 0
	for i, s := range sends {
		for _, to := range []struct {
			name   string
			client ptraceotlp.GRPCClient
		}{{"reference", refClient}, {s.entry, entry[s.entry]}} {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := to.client.Export(ctx, ptraceotlp.NewExportRequestFromTraces(s.td))
			cancel()
			if err != nil {
				t.Fatalf("send %d (%s) to %s: %v", i, s.what, to.name, err)
			}
		}
		sent += s.td.SpanCount()
		time.Sleep(20 * time.Millisecond)
	}
	for v, sh := range scaleVariables() {
		t.Logf("variable %-40q shard %d of 2", v, sh)
	}

	// Wait until the analysis tier reports what the reference does.
	racy := map[string]bool{variable: true, scaleStock: true, scaleCart: true, "cache.size": true, "hits": true}
	var (
		want, got     map[scaleFinding]int
		wantRace      map[scaleRaceSpan]int
		gotRace       map[scaleRaceSpan]int
		perInstance   [2]map[scaleFinding]int
		other         [2]int
		logs          [2]map[string]int
		backendSpans  int
		problem       string
		settledSince  time.Time
		settle        = 3 * time.Second // longer than the detector's wait (1s) plus batching
		deadline      = time.Now().Add(90 * time.Second)
		lastDifferent string
	)
	for {
		refTraces, _, _ := refSink.Snapshot()
		want, _ = scaleFindings(refTraces)
		wantRace = scaleRaceSpans(refTraces)
		got, gotRace = map[scaleFinding]int{}, map[scaleRaceSpan]int{}
		for i := range 2 {
			tr, lg, _ := analysisSink[i].Snapshot()
			perInstance[i], other[i] = scaleFindings(tr)
			for k, n := range perInstance[i] {
				got[k] += n
			}
			for k, n := range scaleRaceSpans(tr) {
				gotRace[k] += n
			}
			logs[i] = scaleLogKeys(lg)
		}
		bt, _, _ := backend.Snapshot()
		backendSpans = 0
		eachSpan(bt, func(string, ptrace.Span) { backendSpans++ })

		problem = ""
		switch {
		case !scaleSameKeys(want, got):
			problem = "the analysis tier's findings differ from the reference's:\n" + scaleDiff(want, got)
		case !maps.Equal(wantRace, gotRace):
			problem = fmt.Sprintf("the analysis tier has %d raceway.race spans, the reference %d", len(gotRace), len(wantRace))
		case !scaleHasVars(want, racy):
			problem = fmt.Sprintf("the reference has not yet found races on all of %v: %v", scaleSorted(racy), want)
		case backendSpans < sent:
			problem = fmt.Sprintf("the backend has %d of the %d spans sent", backendSpans, sent)
		}
		if problem == "" {
			for i := range 2 {
				if len(logs[i]) != len(scaleVarKinds(perInstance[i])) {
					problem = fmt.Sprintf("analysis%d: race log records %v, finding spans %v", i, logs[i], perInstance[i])
				}
			}
		}
		if problem == "" {
			if settledSince.IsZero() {
				settledSince = time.Now()
			}
			if time.Since(settledSince) >= settle {
				break
			}
		} else {
			settledSince = time.Time{}
			lastDifferent = problem
		}
		if time.Now().After(deadline) {
			for i, c := range cols {
				t.Logf("collector %d output tail:\n%s", i, lastLines(c.p.Output(), 20))
			}
			t.Fatalf("after 90s: %s", problem)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if lastDifferent != "" {
		t.Logf("(while waiting: %s)", scaleFirstLine(lastDifferent))
	}

	// The same distinct races, each reported once, both shards used, nothing
	// on the ordered variables, the lost update among them.
	for k, n := range got {
		if n != 1 {
			t.Errorf("finding %v reported %d times by the analysis tier", k, n)
		}
	}
	for k, n := range want {
		if n != 1 {
			t.Errorf("finding %v reported %d times by the reference", k, n)
		}
	}
	// The same raceway.race spans in the request traces: the analysis
	// instances show the races inside the request traces too, although
	// the request spans reached the backend through the routers.
	for k, n := range wantRace {
		if gotRace[k] != n {
			t.Errorf("raceway.race spans %+v: %d from the reference, %d from the analysis tier", k, n, gotRace[k])
		}
	}
	for i := range 2 {
		if len(perInstance[i]) == 0 {
			t.Errorf("analysis instance %d found no race: both shards must be used", i)
		}
		if other[i] != 0 {
			t.Errorf("analysis instance %d forwarded %d spans that are not findings (forward_spans: false)", i, other[i])
		}
		t.Logf("analysis%d: %s", i, scaleDescribe(perInstance[i]))
	}
	lost := false
	for k := range got {
		if k.v == variable && k.kind == "write/write" && k.lost {
			lost = true
		}
		if !racy[k.v] {
			t.Errorf("race reported on %q, which the input orders (RPC, lock, spawn/await edges)", k.v)
		}
	}
	if !lost {
		t.Errorf("the cross-trace lost update on %s (trace A through router0, trace B through router1) was not found: %v", variable, got)
	}
	if backendSpans != sent {
		t.Errorf("the backend received %d spans, want the %d sent, each once", backendSpans, sent)
	}
	t.Logf("reference and analysis tier agree on %d distinct races and on the raceway.race spans of %d (request span, distinct race) pairs; backend got %d spans", len(want), len(wantRace), backendSpans)
}

// startScaleCollector runs bin with one config file and waits until it
// listens on every address in addrs.
func startScaleCollector(t *testing.T, bin, name string, env map[string]string, config string, addrs ...string) *collector {
	t.Helper()
	var vars []string
	for k, v := range env {
		vars = append(vars, k+"="+v)
	}
	p, err := proc.Start(name, "", vars, nil, bin, "--config", config)
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{t: t, p: p}
	t.Cleanup(c.stop)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, addr := range addrs {
		if err := p.WaitListening(ctx, addr); err != nil {
			c.fatalf("%s: %v", name, err)
		}
	}
	return c
}

// Variables of the scale-out traffic (besides e2e_test.go's lost update on
// accounts.alice.balance in bank/bank-1).
const (
	scaleStock = "postgres/shop/products/42.stock" // shared; orders and inventory race on it
	scaleCart  = "redis/carts/carol"               // shared; web and checkout race on it
	scaleX     = "postgres/app/settings/1.x"       // shared; ordered by RPC edges
)

// scaleVariables lists the variables of scaleTraffic with their shard out
// of 2, computed as docs/scaling.md says (FNV-1a 64 of the variable key).
func scaleVariables() map[string]int {
	shard := func(key string) int {
		h := fnv.New64a()
		_, _ = h.Write([]byte(key))
		return int(h.Sum64() % 2)
	}
	proc := func(svc, inst, name string) string { return svc + "\x00" + inst + "\x00" + name }
	return map[string]int{
		variable:     shard(proc("bank", "bank-1", variable)),
		scaleStock:   shard(scaleStock),
		scaleCart:    shard(scaleCart),
		"cache.size": shard(proc("web", "web-1", "cache.size")),
		"hits":       shard(proc("web", "web-1", "hits")),
		scaleX:       shard(scaleX),
		"requests":   shard(proc("svc-b", "b-1", "requests")),
		"reserved":   shard(proc("stock", "stock-1", "reserved")),
		"jobs.last":  shard(proc("jobs", "jobs-1", "jobs.last")),
	}
}

// scaleSend is one OTLP export of the traffic and where it enters the deployment.
type scaleSend struct {
	what  string
	entry string // router0, router1 or agent
	td    ptrace.Traces
}

// scaleRec is one Raceway record of the scale-out traffic.
type scaleRec struct {
	kind         string
	th           analysis.ThreadID
	seq          int64
	v            string
	shared       bool
	old, val     string
	after        []analysis.Epoch
	sync         analysis.Epoch
	lock         string
	locks        []string
	name, origin string
	line         int64
	at           time.Duration
}

// scaleSpan builds one export holding one span of service/instance with
// the given records, written the way racewayotel writes them.
func scaleSpan(service, instance string, trace pcommon.TraceID, span, parent pcommon.SpanID, name string, t0 time.Time, recs ...scaleRec) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", service)
	rs.Resource().Attributes().PutStr("service.instance.id", instance)
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("github.com/raceway-otel/raceway/racewayotel")
	sp := ss.Spans().AppendEmpty()
	sp.SetTraceID(trace)
	sp.SetSpanID(span)
	sp.SetParentSpanID(parent)
	sp.SetName(name)
	sp.SetKind(ptrace.SpanKindServer)
	end := t0
	if len(recs) > 0 {
		end = t0.Add(recs[len(recs)-1].at)
	}
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(t0))
	sp.SetEndTimestamp(pcommon.NewTimestampFromTime(end.Add(time.Millisecond)))
	sp.Attributes().PutStr("http.route", name)
	for _, r := range recs {
		addRecord(sp, t0.Add(r.at), r.event(service, instance))
	}
	return td
}

// event is r as the analysis.Event the process instance of service
// records.
func (r scaleRec) event(service, instance string) analysis.Event {
	kind, ok := analysis.ParseKind(r.kind)
	if !ok {
		panic("unknown record kind " + r.kind)
	}
	e := analysis.Event{
		Kind: kind, Epoch: analysis.Epoch{Thread: r.th, Seq: uint64(r.seq)}, After: r.after, Sync: r.sync,
		Var: r.v, Shared: r.shared, Old: r.old, New: r.val, HasValues: r.old != "" || r.val != "",
		Lock: r.lock, LocksHeld: r.locks, Process: instance, ThreadName: r.name,
	}
	e.Origin, _ = analysis.ParseOrigin(r.origin)
	if r.line != 0 {
		e.Where = analysis.Location{File: "/src/" + service + "/main.go", Line: int(r.line), Function: "main.handle"}
	}
	return e
}

// scaleRMW is a request thread that reads v and writes it back.
func scaleRMW(th analysis.ThreadID, name, v string, shared bool, read, write string, line int64) []scaleRec {
	return []scaleRec{
		{kind: "thread.start", th: th, seq: 1, origin: "request", name: name},
		{kind: "read", th: th, seq: 2, v: v, shared: shared, val: read, line: line, at: time.Millisecond},
		{kind: "write", th: th, seq: 3, v: v, shared: shared, old: read, val: write, line: line + 2, at: 2 * time.Millisecond},
	}
}

func scaleEpoch(th analysis.ThreadID, seq uint64) analysis.Epoch {
	return analysis.Epoch{Thread: th, Seq: seq}
}

// scaleTraffic is the input: races on variables of both shards, including
// the cross-trace lost update with its two traces entering through
// different routers and a cross-service race on a shared row; and accesses
// ordered by RPC, lock and spawn/await edges, some split over the routers,
// which must not race.
func scaleTraffic() []scaleSend {
	var out []scaleSend
	add := func(what, entry string, tds ...ptrace.Traces) {
		for _, td := range tds {
			out = append(out, scaleSend{what: what, entry: entry, td: td})
		}
	}
	one := func(rss ...ptrace.ResourceSpans) ptrace.Traces {
		td := ptrace.NewTraces()
		for _, rs := range rss {
			rs.CopyTo(td.ResourceSpans().AppendEmpty())
		}
		return td
	}

	// (a) The cross-trace lost update (e2e_test.go's): trace A through
	// router0, trace B through router1.
	lu := lostUpdate()
	add("lost update, trace A", "router0", one(lu[0].spans()...))
	add("lost update, trace B", "router1", one(lu[1].spans()...))

	t0 := time.Now().Add(-time.Second)

	// (b) Cross-service race on a shared row, the two services through
	// different routers.
	add("stock, orders", "router1", scaleSpan("orders", "orders-1", randomTrace(), randomSpan(), pcommon.SpanID{}, "POST /order", t0,
		scaleRMW(randomThread(), "POST /order", scaleStock, true, "10", "9", 10)...))
	add("stock, inventory", "router0", scaleSpan("inventory", "inventory-7", randomTrace(), randomSpan(), pcommon.SpanID{}, "POST /restock", t0.Add(time.Millisecond),
		scaleRMW(randomThread(), "POST /restock", scaleStock, true, "10", "30", 20)...))

	// (c) More races, through the agent: a shared cart written by two
	// services, and two web threads that each read-modify-write two
	// process variables (which fall in different shards, so every thread
	// reaches each analysis instance as real accesses and placeholders).
	add("cart, web", "agent", scaleSpan("web", "web-1", randomTrace(), randomSpan(), pcommon.SpanID{}, "POST /cart", t0,
		scaleRMW(randomThread(), "POST /cart", scaleCart, true, "2 items", "3 items", 30)...))
	add("cart, checkout", "agent", scaleSpan("checkout", "checkout-1", randomTrace(), randomSpan(), pcommon.SpanID{}, "POST /checkout", t0.Add(time.Millisecond),
		scaleRMW(randomThread(), "POST /checkout", scaleCart, true, "2 items", "0 items", 40)...))
	for j := range 2 {
		th := randomThread()
		add(fmt.Sprintf("web thread %d", j), "agent", scaleSpan("web", "web-1", randomTrace(), randomSpan(), pcommon.SpanID{}, "GET /page", t0.Add(time.Duration(j)*time.Millisecond),
			scaleRec{kind: "thread.start", th: th, seq: 1, origin: "request", name: "GET /page"},
			scaleRec{kind: "read", th: th, seq: 2, v: "cache.size", val: "5", line: 50, at: time.Millisecond},
			scaleRec{kind: "write", th: th, seq: 3, v: "cache.size", old: "5", val: fmt.Sprint(6 + j), line: 52, at: 2 * time.Millisecond},
			scaleRec{kind: "read", th: th, seq: 4, v: "hits", val: "100", line: 60, at: 3 * time.Millisecond},
			scaleRec{kind: "write", th: th, seq: 5, v: "hits", old: "100", val: "101", line: 62, at: 4 * time.Millisecond},
		))
	}

	// (d) Ordered accesses. RPC: A writes x, calls B (which writes x and
	// its own counter), writes x again after B's response; the caller's span
	// through router0, the callee's through router1.
	rpcTrace, aSpan, bSpan := randomTrace(), randomSpan(), randomSpan()
	a, b := randomThread(), randomThread()
	add("rpc caller", "router0", scaleSpan("svc-a", "a-1", rpcTrace, aSpan, pcommon.SpanID{}, "GET /a", t0,
		scaleRec{kind: "thread.start", th: a, seq: 1, origin: "request", name: "GET /a"},
		scaleRec{kind: "write", th: a, seq: 2, v: scaleX, shared: true, old: "0", val: "1", line: 70, at: time.Millisecond},
		scaleRec{kind: "rpc.send", th: a, seq: 3, at: 2 * time.Millisecond},
		scaleRec{kind: "rpc.response", th: a, seq: 4, after: []analysis.Epoch{scaleEpoch(b, 4)}, at: 6 * time.Millisecond},
		scaleRec{kind: "write", th: a, seq: 5, v: scaleX, shared: true, old: "2", val: "3", line: 74, at: 7 * time.Millisecond},
	))
	add("rpc callee", "router1", scaleSpan("svc-b", "b-1", rpcTrace, bSpan, aSpan, "GET /b", t0.Add(3*time.Millisecond),
		scaleRec{kind: "thread.start", th: b, seq: 1, origin: "request", name: "GET /b", after: []analysis.Epoch{scaleEpoch(a, 3)}},
		scaleRec{kind: "write", th: b, seq: 2, v: "requests", old: "0", val: "1", line: 80, at: time.Millisecond},
		scaleRec{kind: "write", th: b, seq: 3, v: scaleX, shared: true, old: "1", val: "2", line: 82, at: time.Millisecond},
		scaleRec{kind: "rpc.respond", th: b, seq: 4, at: 2 * time.Millisecond},
	))
	// Lock: two requests of one process read-modify-write under mu, through
	// different routers.
	strand := randomThread()
	locked := func(th analysis.ThreadID, after []analysis.Epoch, sync uint64, start time.Time, newVal string) ptrace.Traces {
		return scaleSpan("stock", "stock-1", randomTrace(), randomSpan(), pcommon.SpanID{}, "POST /reserve", start,
			scaleRec{kind: "thread.start", th: th, seq: 1, origin: "request", name: "POST /reserve"},
			scaleRec{kind: "lock.acquire", th: th, seq: 2, lock: "mu", after: after, at: time.Millisecond},
			scaleRec{kind: "read", th: th, seq: 3, v: "reserved", val: "1", locks: []string{"mu"}, line: 90, at: 2 * time.Millisecond},
			scaleRec{kind: "write", th: th, seq: 4, v: "reserved", old: "1", val: newVal, locks: []string{"mu"}, line: 92, at: 3 * time.Millisecond},
			scaleRec{kind: "lock.release", th: th, seq: 5, lock: "mu", sync: scaleEpoch(strand, sync), at: 4 * time.Millisecond},
		)
	}
	add("lock 1", "router1", locked(randomThread(), nil, 1, t0, "2"))
	add("lock 2", "router0", locked(randomThread(), []analysis.Epoch{scaleEpoch(strand, 1)}, 2, t0.Add(10*time.Millisecond), "3"))
	// Spawn and await: a job writes, spawns a child that writes, awaits it
	// and writes again; parent and child spans through the agent.
	jobTrace, pSpan := randomTrace(), randomSpan()
	parent, child := randomThread(), randomThread()
	add("job child", "agent", scaleSpan("jobs", "jobs-1", jobTrace, randomSpan(), pSpan, "child", t0.Add(2*time.Millisecond),
		scaleRec{kind: "thread.start", th: child, seq: 1, origin: "spawn", name: "child", after: []analysis.Epoch{scaleEpoch(parent, 3)}},
		scaleRec{kind: "write", th: child, seq: 2, v: "jobs.last", old: "1", val: "2", line: 102, at: time.Millisecond},
		scaleRec{kind: "thread.end", th: child, seq: 3, at: 2 * time.Millisecond},
	))
	add("job parent", "agent", scaleSpan("jobs", "jobs-1", jobTrace, pSpan, pcommon.SpanID{}, "job", t0,
		scaleRec{kind: "thread.start", th: parent, seq: 1, origin: "root", name: "job"},
		scaleRec{kind: "write", th: parent, seq: 2, v: "jobs.last", old: "0", val: "1", line: 100, at: time.Millisecond},
		scaleRec{kind: "thread.spawn", th: parent, seq: 3, at: 2 * time.Millisecond},
		scaleRec{kind: "thread.await", th: parent, seq: 4, after: []analysis.Epoch{scaleEpoch(child, 3)}, at: 5 * time.Millisecond},
		scaleRec{kind: "write", th: parent, seq: 5, v: "jobs.last", old: "2", val: "3", line: 104, at: 6 * time.Millisecond},
	))

	// Spans without records: to the backend only.
	add("health", "agent", scaleSpan("web", "web-1", randomTrace(), randomSpan(), pcommon.SpanID{}, "GET /health", t0))
	add("health", "router0", scaleSpan("bank", "bank-1", randomTrace(), randomSpan(), pcommon.SpanID{}, "GET /health", t0))
	return out
}

// scaleFinding is a distinct finding: variable, kind, the unordered pair of
// code locations, lost update or not.
type scaleFinding struct {
	v, kind    string
	locA, locB string
	lost       bool
}

func (k scaleFinding) String() string {
	lost := ""
	if k.lost {
		lost = " (lost update)"
	}
	return fmt.Sprintf("%s %s %s %s%s", k.v, k.kind, k.locA, k.locB, lost)
}

// scaleFindings counts the finding spans of tds by scaleFinding, and the
// spans that are neither findings nor raceway.race spans.
func scaleFindings(tds []ptrace.Traces) (map[scaleFinding]int, int) {
	keys := map[scaleFinding]int{}
	other := 0
	eachSpan(tds, func(svc string, sp ptrace.Span) {
		if sp.Name() == convention.RaceEvent {
			return
		}
		if svc != convention.FindingService {
			other++
			return
		}
		a := sp.Attributes()
		get := func(k string) string {
			if v, ok := a.Get(k); ok {
				return v.AsString()
			}
			return ""
		}
		loc := func(prefix string) string {
			return get(prefix+convention.RaceFile) + ":" + get(prefix+convention.RaceLine)
		}
		x, y := loc(convention.RacePrevious), loc(convention.RaceCurrent)
		if y < x {
			x, y = y, x
		}
		lost, _ := a.Get(convention.RaceLostUpdate)
		keys[scaleFinding{v: get(convention.RaceVar), kind: get(convention.RaceKind), locA: x, locB: y, lost: lost.Bool()}]++
	})
	return keys, other
}

// scaleRaceSpan is a raceway.race span: the request span it is a child of,
// its trace and service, and the distinct race. (Not the role: which of two
// accesses was analysed first depends on the order they arrived in.)
type scaleRaceSpan struct {
	traceID       pcommon.TraceID
	parent        pcommon.SpanID
	service, race string
}

// scaleRaceSpans counts the raceway.race spans of tds.
func scaleRaceSpans(tds []ptrace.Traces) map[scaleRaceSpan]int {
	m := map[scaleRaceSpan]int{}
	eachSpan(tds, func(svc string, sp ptrace.Span) {
		if sp.Name() != convention.RaceEvent {
			return
		}
		a := sp.Attributes()
		get := func(k string) string {
			v, _ := a.Get(k)
			return v.AsString()
		}
		m[scaleRaceSpan{parent: sp.ParentSpanID(), traceID: sp.TraceID(), service: svc, race: get(convention.RaceGroup)}]++
	})
	return m
}

// scaleLogKeys counts the race log records by "var kind".
func scaleLogKeys(lds []plog.Logs) map[string]int {
	m := map[string]int{}
	eachLogRecord(lds, func(lr plog.LogRecord) {
		v, _ := lr.Attributes().Get(convention.RaceVar)
		k, _ := lr.Attributes().Get(convention.RaceKind)
		m[v.AsString()+" "+k.AsString()]++
	})
	return m
}

func scaleVarKinds(keys map[scaleFinding]int) map[string]bool {
	m := map[string]bool{}
	for k := range keys {
		m[k.v+" "+k.kind] = true
	}
	return m
}

func scaleSameKeys(a, b map[scaleFinding]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return true
}

func scaleDiff(want, got map[scaleFinding]int) string {
	var lines []string
	for k := range want {
		if _, ok := got[k]; !ok {
			lines = append(lines, "  only in the reference: "+k.String())
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			lines = append(lines, "  only in the analysis tier: "+k.String())
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func scaleHasVars(keys map[scaleFinding]int, vars map[string]bool) bool {
	seen := map[string]bool{}
	for k := range keys {
		seen[k.v] = true
	}
	for v := range vars {
		if !seen[v] {
			return false
		}
	}
	return true
}

func scaleSorted(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func scaleDescribe(keys map[scaleFinding]int) string {
	var out []string
	for k := range keys {
		out = append(out, k.String())
	}
	sort.Strings(out)
	return fmt.Sprintf("%d distinct races: %s", len(out), strings.Join(out, "; "))
}

func scaleFirstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
