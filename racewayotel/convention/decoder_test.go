package convention_test

import (
	"errors"
	"testing"
	"time"

	"github.com/raceway-otel/raceway/analysis"
	"github.com/raceway-otel/raceway/racewayotel/convention"
)

// attr is one span event attribute, of any type.
type attr struct {
	key   string
	value any
}

// decode feeds attrs to a Decoder the way an adapter does: strings to Str,
// integers to Int, string arrays element by element to StrElem, anything
// else to Mistyped.
func decode(name string, src convention.Source, attrs ...attr) (analysis.Event, error) {
	var d convention.Decoder
	if !d.Reset(name, time.Unix(1, 0), src) {
		return analysis.Event{}, convention.ErrNotRecord
	}
	for _, a := range attrs {
		switch v := a.value.(type) {
		case string:
			d.Str(a.key, v)
		case int:
			d.Int(a.key, int64(v))
		case []string:
			for _, e := range v {
				d.StrElem(a.key, e)
			}
		default:
			d.Mistyped(a.key)
		}
	}
	return d.Event()
}

// write is a valid process-scoped write record without a process identity.
func write(extra ...attr) []attr {
	return append([]attr{
		{convention.ThreadID, "2ed5205f8aeffe5e"},
		{convention.Seq, 5},
		{convention.VarName, "cache.size"},
	}, extra...)
}

func TestDecoderProcessIdentity(t *testing.T) {
	resource := convention.Source{Service: "catalog", Process: "catalog-1"}
	anonymous := convention.Source{Service: "catalog"}
	for _, c := range []struct {
		name    string
		event   string
		src     convention.Source
		attrs   []attr
		process string // "" when ErrNoProcess is expected
	}{
		{"attribute", "raceway.write", anonymous, write(attr{convention.ProcessID, "8b1a9953c4611296"}), "8b1a9953c4611296"},
		{"attribute wins over the resource", "raceway.write", resource, write(attr{convention.ProcessID, "8b1a9953c4611296"}), "8b1a9953c4611296"},
		{"resource", "raceway.write", resource, write(), "catalog-1"},
		{"empty attribute falls back to the resource", "raceway.write", resource, write(attr{convention.ProcessID, ""}), "catalog-1"},
		{"read without either", "raceway.read", anonymous, write(), ""},
		{"write without either", "raceway.write", anonymous, write(), ""},
		{"explicit process scope without either", "raceway.write", anonymous, write(attr{convention.VarScope, convention.ScopeProcess}), ""},
		{"empty attribute and no resource identity", "raceway.write", anonymous, write(attr{convention.ProcessID, ""}), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, err := decode(c.event, c.src, c.attrs...)
			if c.process == "" {
				if !errors.Is(err, convention.ErrNoProcess) {
					t.Fatalf("got %+v, %v; want ErrNoProcess", e, err)
				}
				return
			}
			if err != nil || e.Process != c.process {
				t.Fatalf("got process %q, %v; want %q", e.Process, err, c.process)
			}
		})
	}
	// Records that key nothing by process need no identity.
	for _, c := range []struct {
		event string
		attrs []attr
	}{
		{"raceway.write", write(attr{convention.VarScope, convention.ScopeShared})},
		{"raceway.thread.start", []attr{{convention.ThreadID, "2ed5205f8aeffe5e"}, {convention.Seq, 1}, {convention.Origin, "root"}}},
		{"raceway.lock.release", []attr{{convention.ThreadID, "2ed5205f8aeffe5e"}, {convention.Seq, 2}, {convention.LockID, "mu"}, {convention.Sync, "9039ad6c7441b05d@1"}}},
	} {
		if _, err := decode(c.event, anonymous, c.attrs...); err != nil {
			t.Errorf("%s without a process identity: %v", c.event, err)
		}
	}
}

func TestDecoderTypes(t *testing.T) {
	src := convention.Source{Service: "bank", Process: "bank-1"}
	ok := func(extra ...attr) {
		t.Helper()
		if _, err := decode("raceway.write", src, write(extra...)...); err != nil {
			t.Errorf("%v: %v", extra, err)
		}
	}
	bad := func(extra ...attr) {
		t.Helper()
		if e, err := decode("raceway.write", src, write(extra...)...); err == nil {
			t.Errorf("%v accepted: %+v", extra, e)
		}
	}
	// Unknown attributes of any type are ignored; so are known ones the
	// processor does not read.
	ok(attr{"app.tenant", 7}, attr{"app.flag", true}, attr{"app.tags", []string{"a"}})
	ok(attr{convention.GoroutineID, 118}, attr{convention.DurationNS, "12"})
	// Arrays may be empty, or a single string where an array is expected.
	ok(attr{convention.After, []string{}}, attr{convention.LocksHeld, []string{}},
		attr{convention.LocksShared, []string{}}, attr{convention.RLocksShared, []string{}})
	ok(attr{convention.After, "9039ad6c7441b05d@4"}, attr{convention.LocksHeld, "mu"},
		attr{convention.LocksShared, "postgres/bank/accounts/7"}, attr{convention.RLocksShared, "pg_advisory/42"})
	// Values as strings.
	ok(attr{convention.ValueOld, "1000"}, attr{convention.ValueNew, "900"})

	// Known attributes of another type are rejected.
	bad(attr{convention.ValueOld, 1000})
	bad(attr{convention.ValueNew, 1.5})
	bad(attr{convention.ProcessID, 42})
	bad(attr{convention.VarScope, true})
	bad(attr{convention.VarName, []string{"cache.size"}})
	bad(attr{convention.Seq, "5"})
	bad(attr{convention.CodeLineNumber, "42"})
	bad(attr{convention.After, 3})
	bad(attr{convention.LocksHeld, 3.5})
	bad(attr{convention.ThreadID, 0x2ed5})
	bad(attr{convention.LocksShared, 7})
	bad(attr{convention.RLocksShared, true})
	bad(attr{convention.LockScope, []string{"shared"}})

	// Limits.
	many := func(n int, f func(i int) string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	edge := func(i int) string { return analysis.Epoch{Thread: analysis.ThreadID(i + 1), Seq: 1}.String() }
	ok(attr{convention.After, many(analysis.MaxAfter, edge)})
	bad(attr{convention.After, many(analysis.MaxAfter+1, edge)})
	lock := func(i int) string { return string(rune('a' + i)) }
	ok(attr{convention.LocksHeld, many(analysis.MaxLocksHeld, lock)})
	bad(attr{convention.LocksHeld, many(analysis.MaxLocksHeld+1, lock)})
	long := string(make([]byte, analysis.MaxNameLen+1))
	bad(attr{convention.ProcessID, long})
	bad(attr{convention.ValueNew, long})
	bad(attr{convention.After, "2ed5205f8aeffe5e@5"}) // an edge from its own thread
}
