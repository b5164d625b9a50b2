package analysis

import (
	"fmt"
	"slices"
	"strings"
)

// Order is the result of comparing two vector clocks.
type Order int

// The possible orders between two vector clocks a and b.
const (
	Equal      Order = iota // a == b
	Before                  // a happens before b
	After                   // b happens before a
	Concurrent              // neither happens before the other
)

// String returns the name of o.
func (o Order) String() string {
	switch o {
	case Equal:
		return "equal"
	case Before:
		return "before"
	case After:
		return "after"
	case Concurrent:
		return "concurrent"
	}
	return fmt.Sprintf("Order(%d)", int(o))
}

// VectorClock maps logical threads to the number of their events that
// happened before (or at) some point. Missing threads count as 0. The zero
// value is an empty clock, ready to use. A VectorClock is a value: methods
// that change it have a pointer receiver, the others never change it.
type VectorClock struct {
	// entries is sorted by thread and holds no zero seq.
	entries []Epoch
}

// Get returns the component of thread t.
func (c VectorClock) Get(t ThreadID) uint64 {
	i, ok := slices.BinarySearchFunc(c.entries, t, cmpThread)
	if !ok {
		return 0
	}
	return c.entries[i].Seq
}

func cmpThread(e Epoch, t ThreadID) int {
	switch {
	case e.Thread < t:
		return -1
	case e.Thread > t:
		return 1
	}
	return 0
}

// Len returns the number of non-zero components.
func (c VectorClock) Len() int { return len(c.entries) }

// Epochs returns the non-zero components, sorted by thread.
func (c VectorClock) Epochs() []Epoch { return slices.Clone(c.entries) }

// Set sets the component of e.Thread to e.Seq (removing it when e.Seq is 0).
func (c *VectorClock) Set(e Epoch) {
	i, ok := slices.BinarySearchFunc(c.entries, e.Thread, cmpThread)
	switch {
	case ok && e.Seq == 0:
		c.entries = slices.Delete(c.entries, i, i+1)
	case ok:
		c.entries[i].Seq = e.Seq
	case e.Seq != 0:
		c.entries = slices.Insert(c.entries, i, e)
	}
}

// Tick advances the component of thread t by one and returns the new epoch.
func (c *VectorClock) Tick(t ThreadID) Epoch {
	e := Epoch{Thread: t, Seq: c.Get(t) + 1}
	c.Set(e)
	return e
}

// Join sets every component of c to the maximum of itself and o's.
func (c *VectorClock) Join(o VectorClock) {
	if len(o.entries) == 0 {
		return
	}
	out := make([]Epoch, 0, len(c.entries)+len(o.entries))
	i, j := 0, 0
	for i < len(c.entries) && j < len(o.entries) {
		a, b := c.entries[i], o.entries[j]
		switch {
		case a.Thread < b.Thread:
			out = append(out, a)
			i++
		case a.Thread > b.Thread:
			out = append(out, b)
			j++
		default:
			out = append(out, Epoch{Thread: a.Thread, Seq: max(a.Seq, b.Seq)})
			i++
			j++
		}
	}
	out = append(out, c.entries[i:]...)
	out = append(out, o.entries[j:]...)
	c.entries = out
}

// Covers reports whether event e happened before (or is) the point c
// describes: c[e.Thread] >= e.Seq.
func (c VectorClock) Covers(e Epoch) bool { return c.Get(e.Thread) >= e.Seq }

// Compare returns how c is ordered relative to o.
func (c VectorClock) Compare(o VectorClock) Order {
	less, greater := false, false
	i, j := 0, 0
	for i < len(c.entries) || j < len(o.entries) {
		var a, b uint64
		switch {
		case j == len(o.entries) || (i < len(c.entries) && c.entries[i].Thread < o.entries[j].Thread):
			a = c.entries[i].Seq
			i++
		case i == len(c.entries) || o.entries[j].Thread < c.entries[i].Thread:
			b = o.entries[j].Seq
			j++
		default:
			a, b = c.entries[i].Seq, o.entries[j].Seq
			i++
			j++
		}
		if a < b {
			less = true
		} else if a > b {
			greater = true
		}
	}
	switch {
	case less && greater:
		return Concurrent
	case less:
		return Before
	case greater:
		return After
	}
	return Equal
}

// HappensBefore reports whether c happens strictly before o.
func (c VectorClock) HappensBefore(o VectorClock) bool { return c.Compare(o) == Before }

// ConcurrentWith reports whether neither of c and o happens before the other.
func (c VectorClock) ConcurrentWith(o VectorClock) bool { return c.Compare(o) == Concurrent }

// String returns the text form: the components as epochs, sorted by thread
// and separated by commas, for example "000000000000000a@3,000000000000000b@1".
// The empty clock is "".
func (c VectorClock) String() string {
	var b []byte
	for i, e := range c.entries {
		if i > 0 {
			b = append(b, ',')
		}
		b = e.AppendText(b)
	}
	return string(b)
}

// ParseVectorClock parses the text form written by [VectorClock.String],
// accepting at most maxEntries components (so at most
// maxEntries*([MaxEpochTextLen]+1) bytes). It is meant for untrusted input:
// duplicates, zero components and anything malformed are errors.
func ParseVectorClock(s string, maxEntries int) (VectorClock, error) {
	if s == "" {
		return VectorClock{}, nil
	}
	if limit := maxEntries * (MaxEpochTextLen + 1); len(s) > limit {
		return VectorClock{}, fmt.Errorf("analysis: vector clock of %d bytes exceeds %d entries", len(s), maxEntries)
	}
	n := strings.Count(s, ",") + 1
	if n > maxEntries {
		return VectorClock{}, fmt.Errorf("analysis: vector clock has %d entries, more than %d", n, maxEntries)
	}
	entries := make([]Epoch, 0, n)
	for part := range strings.SplitSeq(s, ",") {
		e, err := ParseEpoch(part)
		if err != nil {
			return VectorClock{}, err
		}
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b Epoch) int { return cmpThread(a, b.Thread) })
	for i := 1; i < len(entries); i++ {
		if entries[i].Thread == entries[i-1].Thread {
			return VectorClock{}, fmt.Errorf("analysis: vector clock names thread %s twice", entries[i].Thread)
		}
	}
	return VectorClock{entries: entries}, nil
}
