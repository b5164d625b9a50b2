package analysis

import (
	"fmt"
	"iter"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// TestRecency drives a recency map with random uses, removals and
// evictions (some entries spared) and compares it after every step with a
// plain list in order of use: the same entries, in the same order, with
// the values last stored, and every free slot cleared.
func TestRecency(t *testing.T) {
	type val struct {
		n int
		s *string // a pointer, which a freed slot must not keep
	}
	rng := rand.New(rand.NewPCG(1, 2))
	r := newRecency[int, val]()
	var order []int // most recently used first
	want := map[int]int{}
	for step := range 20_000 {
		switch op := rng.IntN(10); {
		case op < 6:
			k := rng.IntN(2000)
			v, added := r.use(k)
			if _, ok := want[k]; added == ok {
				t.Fatalf("step %d: use(%d) added = %v", step, k, added)
			}
			s := "x"
			*v = val{n: step, s: &s}
			want[k] = step
			order = slices.Insert(slices.DeleteFunc(order, func(x int) bool { return x == k }), 0, k)
		case op < 9:
			k := rng.IntN(2000)
			r.remove(k)
			delete(want, k)
			order = slices.DeleteFunc(order, func(x int) bool { return x == k })
		default:
			limit := max(0, len(order)-rng.IntN(50))
			keep := func(v *val) bool { return v.n%3 == 0 }
			var dropped []int
			n := r.evict(limit, keep, func(v *val) { dropped = append(dropped, v.n) })
			var wantDropped []int
			for i := len(order) - 1; i >= 0 && len(order) > limit; i-- {
				if k := order[i]; want[k]%3 != 0 {
					wantDropped = append(wantDropped, want[k])
					delete(want, k)
					order = slices.Delete(order, i, i+1)
				}
			}
			if n != len(wantDropped) || !slices.Equal(dropped, wantDropped) {
				t.Fatalf("step %d: evict(%d) dropped %v (%d), want %v", step, limit, dropped, n, wantDropped)
			}
		}
		if err := r.check(); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		var got []int
		for k, v := range r.all() {
			if v.n != want[k] {
				t.Fatalf("step %d: %d holds %d, want %d", step, k, v.n, want[k])
			}
			got = append(got, k)
		}
		if !slices.Equal(got, order) || r.len() != len(order) {
			t.Fatalf("step %d: entries %v (len %d), want %v", step, got, r.len(), order)
		}
		for i := r.free; i >= 0; i = r.entry(i).next {
			if e := *r.entry(i); e.key != 0 || !reflect.ValueOf(e.val).IsZero() {
				t.Fatalf("step %d: free slot %d keeps %+v", step, i, e)
			}
		}
	}
	if len(r.chunks) < 2 {
		t.Fatalf("the test never filled a chunk: %d", len(r.chunks))
	}
}

// check checks the recency map's invariants: its list holds exactly the
// entries of its map, linked both ways, and every other slot is on the free
// list. (TestRecency checks that a freed slot is cleared.)
func (r *recency[K, V]) check() error {
	n, prev := 0, int32(-1)
	for i := r.head; i >= 0; i = r.entry(i).next {
		e := r.entry(i)
		if j, ok := r.byKey[e.key]; !ok || j != i {
			return fmt.Errorf("listed entry %v is not the map's", e.key)
		}
		if e.prev != prev {
			return fmt.Errorf("entry %v links back to slot %d, not %d", e.key, e.prev, prev)
		}
		if n++; n > len(r.byKey) {
			return fmt.Errorf("more entries listed than the map's %d", len(r.byKey))
		}
		prev = i
	}
	if n != len(r.byKey) || r.tail != prev {
		return fmt.Errorf("%d entries listed ending at slot %d, %d in the map ending at %d", n, prev, len(r.byKey), r.tail)
	}
	slots, free := len(r.chunks)*recencyChunk, 0
	for i := r.free; i >= 0 && n+free <= slots; i = r.entry(i).next {
		free++
	}
	if n+free != slots {
		return fmt.Errorf("%d slots used and %d or more free, of %d", n, free, slots)
	}
	return nil
}

// all yields the map's entries, most recently used first.
func (r *recency[K, V]) all() iter.Seq2[K, *V] {
	return func(yield func(K, *V) bool) {
		for i := r.head; i >= 0; i = r.entry(i).next {
			if e := r.entry(i); !yield(e.key, &e.val) {
				return
			}
		}
	}
}
