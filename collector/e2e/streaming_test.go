package e2e

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/raceway-otel/raceway/internal/stack"
)

// TestStreamingToJaeger runs otelcol-raceway (the demo configuration,
// wait_duration 3s) in front of a real Jaeger v2 and checks through Jaeger's
// HTTP API what streaming promises, timing each step from the moment the
// collector accepted the span in question:
//
//   - spans without races, with Raceway records or without, reach Jaeger
//     with no added delay: well under wait_duration;
//   - a racing pair's raceway.race spans (children of the racing spans, in
//     both request traces) and its finding traces are in Jaeger within
//     wait_duration + 1s of the second access's span arriving: at once when
//     the records arrive in order, and after the detector's wait when the
//     second access's predecessors never arrive;
//   - a span arriving long after its partner (3 × wait_duration) still
//     yields the raceway.race spans of both and the findings.
func TestStreamingToJaeger(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs Jaeger and otelcol-raceway")
	}
	const wait = 3 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	s, err := stack.Start(ctx, stack.Options{Root: repoRoot(t), Progress: os.Stderr, FreePorts: true, Wait: wait})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	})
	client := dial(t, s.OTLPGRPC)
	send := func(what string, td ptrace.Traces) time.Time {
		t.Helper()
		if err := exportTraces(client, td); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return time.Now()
	}
	// inJaeger polls Jaeger every 25ms until cond holds, failing the test
	// after timeout; it returns how long after since cond first held.
	inJaeger := func(since time.Time, timeout time.Duration, what string, cond func() (bool, string)) time.Duration {
		t.Helper()
		for {
			ok, state := cond()
			if ok {
				return time.Since(since)
			}
			if time.Since(since) > timeout {
				t.Fatalf("%s: not in Jaeger %s after the span arrived (%s)\n--- otelcol-raceway output tail:\n%s",
					what, timeout, state, s.Collector.Output())
			}
			time.Sleep(25 * time.Millisecond)
		}
	}
	// spansIn reports whether Jaeger has every span of ids in trace.
	spansIn := func(trace string, ids ...string) (bool, string) {
		tr, err := s.Jaeger.Trace(ctx, trace)
		if err != nil {
			return false, err.Error()
		}
		var have []string
		for _, sp := range tr.Spans {
			have = append(have, sp.SpanID)
		}
		for _, id := range ids {
			if !slices.Contains(have, id) {
				return false, fmt.Sprintf("trace %s has spans %v, not %s", trace, have, id)
			}
		}
		return true, ""
	}
	// raced reports whether Jaeger has v's two findings (write/write and
	// read/write) and a raceway.race span under each racing span.
	raced := func(v string, racing map[string][]string) (bool, string) {
		fs, err := stack.Findings(ctx, s.Jaeger)
		if err != nil {
			return false, err.Error()
		}
		kinds := map[string]bool{}
		for _, f := range fs {
			if f.Var == v {
				kinds[f.Kind] = true
			}
		}
		if !kinds["write/write"] || !kinds["read/write"] {
			return false, fmt.Sprintf("findings on %s: %v", v, kinds)
		}
		for trace, parents := range racing {
			rs, err := stack.RaceSpans(ctx, s.Jaeger, trace)
			if err != nil {
				return false, err.Error()
			}
			for _, p := range parents {
				found := false
				for _, r := range rs {
					if r.Parent == p && r.Var == v && r.Finding.TraceID != "" {
						found = true
					}
				}
				if !found {
					return false, fmt.Sprintf("no raceway.race span under span %s of trace %s (%d there)", p, trace, len(rs))
				}
			}
		}
		return true, ""
	}
	pair := func(v string) (a, b request, ta, tb ptrace.Traces) {
		reqs := lostUpdate()
		ta, tb = requestsTraces(reqs[0]), requestsTraces(reqs[1])
		renameVar(ta, v)
		renameVar(tb, v)
		return reqs[0], reqs[1], ta, tb
	}
	// racingSpans are the spans that race in a lost update of a and b: both
	// reads race with the other's write, and the writes with each other.
	racingSpans := func(a, b request) map[string][]string {
		return map[string][]string{
			a.trace.String(): {a.read.String(), a.write.String()},
			b.trace.String(): {b.read.String(), b.write.String()},
		}
	}
	var results []string

	// Spans without races: a plain span and a request whose thread reads
	// and writes its own variable.
	quiet := plainSpans(1)
	plain := quiet.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	own, _, ownTraces, _ := pair("streaming.own")
	ownTraces.ResourceSpans().MoveAndAppendTo(quiet.ResourceSpans())
	at := send("spans without races", quiet)
	d := inJaeger(at, wait/2, "spans without races", func() (bool, string) {
		if ok, state := spansIn(plain.TraceID().String(), plain.SpanID().String()); !ok {
			return false, state
		}
		return spansIn(own.trace.String(), own.server.String(), own.read.String(), own.write.String())
	})
	results = append(results, fmt.Sprintf("spans without races (with and without records) in Jaeger %s after they arrived", d.Round(time.Millisecond)))

	// A racing pair, in order.
	a, b, ta, tb := pair("streaming.in_order")
	send("first request", ta)
	at = send("second request", tb)
	d = inJaeger(at, wait+time.Second, "an in-order racing pair's raceway.race spans and findings", func() (bool, string) {
		return raced("streaming.in_order", racingSpans(a, b))
	})
	results = append(results, fmt.Sprintf("in-order racing pair: raceway.race spans and findings in Jaeger %s after the second request arrived", d.Round(time.Millisecond)))

	// A racing pair whose second access's predecessors (its thread's start
	// and read) never arrive: its write is analysed once it waited
	// wait_duration, and races with both of the first request's accesses.
	a, b, ta, tb = pair("streaming.forced")
	send("first request", ta)
	write := ptrace.NewTraces()
	tb.ResourceSpans().At(2).CopyTo(write.ResourceSpans().AppendEmpty()) // the span of the write alone
	at = send("second request's write", write)
	d = inJaeger(at, wait+time.Second, "the raceway.race spans and findings of a pair whose second access waited", func() (bool, string) {
		return raced("streaming.forced", map[string][]string{
			a.trace.String(): {a.read.String(), a.write.String()},
			b.trace.String(): {b.write.String()},
		})
	})
	if d < wait-200*time.Millisecond {
		t.Errorf("the forced pair was reported %s after its write arrived, before the detector's wait (%s): did the write not wait for its predecessors?", d, wait)
	}
	results = append(results, fmt.Sprintf("racing pair whose second access's predecessors never arrive: in Jaeger %s after it arrived (wait_duration %s)", d.Round(time.Millisecond), wait))

	// A span arriving long after its partner.
	a, b, ta, tb = pair("streaming.late")
	send("first request", ta)
	inJaeger(time.Now(), wait/2, "the first request", func() (bool, string) { return spansIn(a.trace.String(), a.write.String()) })
	time.Sleep(3 * wait)
	at = send("second request, 3 × wait_duration later", tb)
	d = inJaeger(at, wait+time.Second, "the raceway.race spans and findings of a pair whose second request came late", func() (bool, string) {
		return raced("streaming.late", racingSpans(a, b))
	})
	results = append(results, fmt.Sprintf("second request %s after the first: raceway.race spans in both request traces and findings in Jaeger %s after it arrived", 3*wait, d.Round(time.Millisecond)))

	t.Logf("RESULT streaming (wait_duration %s): %s", wait, strings.Join(results, "; "))
}
