package twogen_test

import (
	"testing"

	"github.com/raceway-otel/raceway/racewayotel/internal/twogen"
)

func TestMap(t *testing.T) {
	const perGen = 3
	var m twogen.Map[int, string]
	if _, ok := m.Get(1, perGen); ok {
		t.Fatal("the zero Map has an entry")
	}
	for k := range 3 {
		m.Put(k, "v", perGen) // generation: 0 1 2
	}
	m.Put(3, "v", perGen) // older: 0 1 2; newer: 3
	if _, ok := m.Get(0, perGen); !ok {
		t.Fatal("0 dropped with its generation still the older one")
	}
	// 0 moved to the newer generation; Peek leaves 1 in the older.
	if _, ok := m.Peek(1); !ok {
		t.Fatal("Peek(1) found nothing")
	}
	m.Put(4, "v", perGen) // newer: 3 0 4, full
	m.Put(5, "v", perGen) // older: 3 0 4; newer: 5: 1 and 2 dropped
	for k, want := range map[int]bool{0: true, 1: false, 2: false, 3: true, 4: true, 5: true} {
		if _, ok := m.Peek(k); ok != want {
			t.Errorf("Peek(%d) found %v, want %v", k, ok, want)
		}
	}
	if n := m.Len(); n != 4 {
		t.Errorf("Len() = %d, want 4", n)
	}
	m.Delete(0)
	m.Delete(5)
	if _, ok := m.Peek(0); ok || m.Len() != 2 {
		t.Errorf("after Delete: 0 found %v, Len() = %d, want false, 2", ok, m.Len())
	}
}

// A Map never holds more than twice its bound.
func TestMapBound(t *testing.T) {
	const perGen = 100
	var m twogen.Map[int, int]
	for k := range 10_000 {
		m.Put(k, k, perGen)
		if k%7 == 0 {
			m.Get(k/2, perGen)
		}
		if m.Len() > 2*perGen {
			t.Fatalf("after %d puts: %d entries, bound %d", k+1, m.Len(), 2*perGen)
		}
	}
}
