package analysis_test

import (
	"strings"
	"testing"

	"github.com/raceway-otel/raceway/analysis"
)

func ep(t analysis.ThreadID, s uint64) analysis.Epoch { return analysis.Epoch{Thread: t, Seq: s} }

func vc(eps ...analysis.Epoch) analysis.VectorClock {
	var c analysis.VectorClock
	for _, e := range eps {
		c.Set(e)
	}
	return c
}

func TestVectorClockTickSetGet(t *testing.T) {
	var c analysis.VectorClock
	if c.Len() != 0 || c.Get(1) != 0 || c.String() != "" {
		t.Fatalf("zero clock: Len %d Get %d String %q", c.Len(), c.Get(1), c.String())
	}
	if e := c.Tick(7); e != ep(7, 1) {
		t.Fatalf("first Tick = %v, want 7@1", e)
	}
	if e := c.Tick(7); e != ep(7, 2) {
		t.Fatalf("second Tick = %v, want 7@2", e)
	}
	c.Tick(3)
	if c.Get(7) != 2 || c.Get(3) != 1 || c.Get(5) != 0 || c.Len() != 2 {
		t.Fatalf("after ticks: %v", c)
	}
	if got := c.Epochs(); len(got) != 2 || got[0] != ep(3, 1) || got[1] != ep(7, 2) {
		t.Fatalf("Epochs not sorted by thread: %v", got)
	}
	// Epochs is a copy.
	got := c.Epochs()
	got[0].Seq = 99
	if c.Get(3) != 1 {
		t.Fatal("Epochs shares the clock's storage")
	}
	c.Set(ep(7, 0))
	if c.Get(7) != 0 || c.Len() != 1 {
		t.Fatalf("Set to zero does not remove the component: %v", c)
	}
	c.Set(ep(3, 10))
	if c.Get(3) != 10 {
		t.Fatalf("Set does not overwrite: %v", c)
	}
}

func TestVectorClockJoinIsMax(t *testing.T) {
	a := vc(ep(1, 3), ep(2, 1), ep(4, 2))
	b := vc(ep(2, 5), ep(3, 1), ep(4, 1))
	bCopy := b.String()
	j := a
	j.Join(b)
	want := "0000000000000001@3,0000000000000002@5,0000000000000003@1,0000000000000004@2"
	if j.String() != want {
		t.Fatalf("Join = %s, want %s", j, want)
	}
	if b.String() != bCopy {
		t.Fatal("Join changed its argument")
	}
	if j.Compare(a) != analysis.After || j.Compare(b) != analysis.After {
		t.Fatalf("join does not cover its inputs: %s %s", j.Compare(a), j.Compare(b))
	}
	var empty analysis.VectorClock
	k := a
	k.Join(empty)
	if k.Compare(a) != analysis.Equal {
		t.Fatal("joining the empty clock changed the clock")
	}
	empty.Join(a)
	if empty.Compare(a) != analysis.Equal {
		t.Fatal("empty joined with a is not a")
	}
}

func TestVectorClockCompareAndCovers(t *testing.T) {
	a := vc(ep(1, 1), ep(2, 2))
	b := vc(ep(1, 2), ep(2, 2))
	c := vc(ep(1, 1), ep(3, 1))
	for _, tc := range []struct {
		x, y analysis.VectorClock
		want analysis.Order
	}{
		{a, a, analysis.Equal},
		{a, b, analysis.Before},
		{b, a, analysis.After},
		{a, c, analysis.Concurrent},
		{c, a, analysis.Concurrent},
		{analysis.VectorClock{}, a, analysis.Before},
		{a, analysis.VectorClock{}, analysis.After},
		{analysis.VectorClock{}, analysis.VectorClock{}, analysis.Equal},
		{vc(ep(5, 1)), vc(ep(6, 1)), analysis.Concurrent},
	} {
		if got := tc.x.Compare(tc.y); got != tc.want {
			t.Errorf("%s.Compare(%s) = %s, want %s", tc.x, tc.y, got, tc.want)
		}
		if tc.x.HappensBefore(tc.y) != (tc.want == analysis.Before) || tc.x.ConcurrentWith(tc.y) != (tc.want == analysis.Concurrent) {
			t.Errorf("HappensBefore/ConcurrentWith disagree with Compare for %s, %s", tc.x, tc.y)
		}
	}
	if !b.Covers(ep(1, 2)) || !b.Covers(ep(1, 1)) || b.Covers(ep(1, 3)) || b.Covers(ep(9, 1)) {
		t.Error("Covers is not c[e.Thread] >= e.Seq")
	}
	for _, o := range []analysis.Order{analysis.Equal, analysis.Before, analysis.After, analysis.Concurrent, analysis.Order(9)} {
		if o.String() == "" {
			t.Errorf("Order(%d) has no name", int(o))
		}
	}
}

func TestVectorClockStringParseRoundTrip(t *testing.T) {
	c := vc(ep(0xb, 1), ep(0xa, 3), ep(0xffffffffffffffff, 1<<63))
	text := c.String()
	if !strings.HasPrefix(text, "000000000000000a@3,000000000000000b@1,") {
		t.Fatalf("String = %q, want components sorted by thread", text)
	}
	back, err := analysis.ParseVectorClock(text, 3)
	if err != nil || back.Compare(c) != analysis.Equal || back.String() != text {
		t.Fatalf("round trip: %q -> %v, %v", text, back, err)
	}
	// Unsorted input is accepted and sorted.
	back, err = analysis.ParseVectorClock("b@1,a@3", 2)
	if err != nil || back.String() != "000000000000000a@3,000000000000000b@1" {
		t.Fatalf("ParseVectorClock(unsorted) = %v, %v", back, err)
	}
	empty, err := analysis.ParseVectorClock("", 0)
	if err != nil || empty.Len() != 0 {
		t.Fatalf("ParseVectorClock(\"\") = %v, %v", empty, err)
	}
}

func TestParseVectorClockLimitsAndErrors(t *testing.T) {
	many := strings.Repeat("a@1,", 99) + "a@1"
	for _, tc := range []struct {
		s   string
		max int
	}{
		{"a@1,b@1,c@1", 2},                       // too many entries
		{"a@1", 0},                               // no entries allowed
		{"a@1,a@2", 4},                           // duplicate thread
		{"a@0", 4},                               // zero component
		{"0@1", 4},                               // zero thread
		{"a@1,,b@1", 4},                          // empty component
		{"a@1,", 4},                              // trailing comma
		{",", 4},                                 // nothing but a comma
		{"a@1;b@1", 4},                           // wrong separator
		{"a@1 ,b@1", 4},                          // space
		{many, 10},                               // long and too many
		{strings.Repeat("x", 1<<20), 8},          // 1 MB of garbage
		{strings.Repeat("a@1,", 1<<18), 1 << 20}, // 1 MB of duplicates
	} {
		c, err := analysis.ParseVectorClock(tc.s, tc.max)
		if err == nil {
			t.Errorf("ParseVectorClock(%.40q, %d) = %v, want an error", tc.s, tc.max, c)
		}
		if err != nil && len(err.Error()) > 300 {
			t.Errorf("error message for %d bytes of input is %d bytes long", len(tc.s), len(err.Error()))
		}
	}
	// Exactly at the limit is fine.
	if _, err := analysis.ParseVectorClock("a@1,b@1", 2); err != nil {
		t.Errorf("two entries with limit 2: %v", err)
	}
}
