package analysis

import "testing"

// TestVariablesHashCollision: keys with the same hash (here two processes
// with the same salt) are tracked apart, found, and evicted in LRU order.
func TestVariablesHashCollision(t *testing.T) {
	vs := newVariables()
	a := &process{service: "s", id: "a", salt: 7}
	b := &process{service: "s", id: "b", salt: 7}
	ka, kb, kc := varKey{name: "x", proc: a}, varKey{name: "x", proc: b}, varKey{name: "y", proc: a}
	if vs.hash(ka) != vs.hash(kb) {
		t.Fatal("the keys were meant to collide")
	}
	va, vb, vc := vs.touch(ka), vs.touch(kb), vs.touch(kc)
	if va == vb || vs.n != 3 || len(vs.spill) != 1 {
		t.Fatalf("colliding keys share a state or are not counted: n=%d spill=%d", vs.n, len(vs.spill))
	}
	if vs.get(ka) != va || vs.get(kb) != vb || vs.get(kc) != vc || vs.touch(kb) != vb {
		t.Fatal("lookups do not return each key's own state")
	}
	// Recency is now a, c, b (oldest first): evicting two leaves b.
	if n := vs.evict(1); n != 2 || vs.n != 1 {
		t.Fatalf("evict(1) removed %d, %d left", n, vs.n)
	}
	if vs.get(ka) != nil || vs.get(kc) != nil || vs.get(kb) != vb {
		t.Fatal("eviction removed the wrong states")
	}
	if vs.tracked(va) || !vs.tracked(vb) {
		t.Fatal("tracked disagrees with the table")
	}
}
