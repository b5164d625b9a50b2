package analysis

import (
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
