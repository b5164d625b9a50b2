package analysis_test

import (
	"strings"
	"testing"

	"github.com/raceway-otel/raceway/analysis"
)

func TestThreadIDText(t *testing.T) {
	if s := analysis.ThreadID(0xdeadbeef).String(); s != "00000000deadbeef" {
		t.Fatalf("String = %q", s)
	}
	for _, tc := range []struct {
		in   string
		want analysis.ThreadID
	}{
		{"1", 1}, {"DeadBeef", 0xdeadbeef}, {"ffffffffffffffff", ^analysis.ThreadID(0)}, {"0000000000000010", 16},
	} {
		got, err := analysis.ParseThreadID(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseThreadID(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{
		"", "0", "0000000000000000", "10000000000000000", "g", "-1", "+1", "0x1", " 1", "1 ", "é",
		strings.Repeat("f", 1<<20),
	} {
		if id, err := analysis.ParseThreadID(bad); err == nil {
			t.Errorf("ParseThreadID(%.40q) = %v, want an error", bad, id)
		} else if len(err.Error()) > 200 {
			t.Errorf("ParseThreadID error for %d bytes is %d bytes long", len(bad), len(err.Error()))
		}
	}
}

func TestEpochText(t *testing.T) {
	e := analysis.Epoch{Thread: 0xdeadbeef, Seq: 12}
	if s := e.String(); s != "00000000deadbeef@12" {
		t.Fatalf("String = %q", s)
	}
	longest := analysis.Epoch{Thread: ^analysis.ThreadID(0), Seq: ^uint64(0)}
	if n := len(longest.String()); n != analysis.MaxEpochTextLen {
		t.Fatalf("longest epoch is %d bytes, MaxEpochTextLen is %d", n, analysis.MaxEpochTextLen)
	}
	for _, x := range []analysis.Epoch{e, longest, {Thread: 1, Seq: 1}} {
		back, err := analysis.ParseEpoch(x.String())
		if err != nil || back != x {
			t.Errorf("round trip of %#v: %#v, %v", x, back, err)
		}
	}
	if !(analysis.Epoch{}).IsZero() || e.IsZero() {
		t.Error("IsZero")
	}
	if got, err := analysis.ParseEpoch("A@7"); err != nil || got != (analysis.Epoch{Thread: 10, Seq: 7}) {
		t.Errorf("ParseEpoch(A@7) = %v, %v", got, err)
	}
}

func TestParseEpochErrors(t *testing.T) {
	for _, bad := range []string{
		"", "@", "a", "a@", "@1", "0@1", "a@0", "a@-1", "a@+1", "a@1@2", "a@1x", "a@ 1", " a@1",
		"a@18446744073709551616", "10000000000000000@1", "g@1", "a@1,b@1",
		strings.Repeat("1", analysis.MaxEpochTextLen) + "@1",
		strings.Repeat("a", 1<<20),        // 1 MB of garbage
		"a@" + strings.Repeat("9", 1<<20), // 1 MB number
		strings.Repeat("\xff", 1000),
	} {
		got, err := analysis.ParseEpoch(bad)
		if err == nil {
			t.Errorf("ParseEpoch(%.40q) = %v, want an error", bad, got)
			continue
		}
		if len(err.Error()) > 200 {
			t.Errorf("ParseEpoch error for %d bytes of input is %d bytes long", len(bad), len(err.Error()))
		}
	}
}
