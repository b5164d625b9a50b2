package analysis_test

import (
	"strings"
	"testing"

	"github.com/raceway-otel/raceway/analysis"
)

// The parsers read untrusted text (baggage members, response headers): they
// must never panic, and whatever they accept must print back to text they
// parse to the same value. Seed corpora are below and in
// testdata/fuzz/FuzzXxx/.

func FuzzParseEpoch(f *testing.F) {
	for _, s := range []string{
		"00000000deadbeef@12", "a@1", "A@1", "ffffffffffffffff@18446744073709551615",
		"0@1", "1@0", "1@", "@1", "1@+1", "1@-1", "1@01", "1@18446744073709551616",
		"1@1@1", "", "@", "g@1", "00000000000000001@1", "1 @1", "1@1 ", "\x00@1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := analysis.ParseEpoch(s)
		if err != nil {
			if e != (analysis.Epoch{}) {
				t.Fatalf("ParseEpoch(%q) failed (%v) but returned %v", s, err, e)
			}
			return
		}
		if e.Thread == 0 || e.Seq == 0 {
			t.Fatalf("ParseEpoch(%q) accepted a zero component: %#v", s, e)
		}
		text := e.String()
		if len(text) > analysis.MaxEpochTextLen {
			t.Fatalf("%#v prints as %d bytes, more than MaxEpochTextLen", e, len(text))
		}
		back, err := analysis.ParseEpoch(text)
		if err != nil || back != e {
			t.Fatalf("ParseEpoch(%q) = %#v; String() = %q parses to %#v, %v", s, e, text, back, err)
		}
		if string(e.AppendText([]byte("x"))) != "x"+text {
			t.Fatalf("AppendText and String disagree for %#v", e)
		}
	})
}

func FuzzParseThreadID(f *testing.F) {
	for _, s := range []string{
		"1", "0", "", "deadbeef", "DEADBEEF", "ffffffffffffffff", "10000000000000000",
		"0000000000000000", "000000000000000a", "-1", "+1", "0x1", " 1", "é",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := analysis.ParseThreadID(s)
		if err != nil {
			if id != 0 {
				t.Fatalf("ParseThreadID(%q) failed (%v) but returned %v", s, err, id)
			}
			return
		}
		if id == 0 {
			t.Fatalf("ParseThreadID(%q) accepted zero", s)
		}
		text := id.String()
		if len(text) != 16 || strings.ToLower(text) != text {
			t.Fatalf("%d prints as %q, want 16 lowercase hex digits", uint64(id), text)
		}
		back, err := analysis.ParseThreadID(text)
		if err != nil || back != id {
			t.Fatalf("ParseThreadID(%q) = %v; String() = %q parses to %v, %v", s, id, text, back, err)
		}
	})
}
