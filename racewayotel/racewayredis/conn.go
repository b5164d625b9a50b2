package racewayredis

import (
	"slices"
	"sync"
	"sync/atomic"
)

// connState is what a connection's earlier commands left that changes what
// later ones mean: the keys it WATCHes, and a MULTI sent as a plain
// command. go-redis runs a transaction (Client.Watch, Tx) on one connection
// from one goroutine, so the state is kept per goroutine.
type connState struct {
	watched []string // keys WATCHed, until EXEC, DISCARD or UNWATCH
	multi   bool     // inside a MULTI sent with Process or Do
}

func (s *connState) empty() bool { return len(s.watched) == 0 && !s.multi }

// watching reports whether key is WATCHed.
func (s *connState) watching(key string) bool { return slices.Contains(s.watched, key) }

// maxStates bounds the goroutines whose connection state is kept. A state
// is dropped when its transaction ends (EXEC, DISCARD, UNWATCH); past the
// bound (only goroutines that died inside a transaction stay), new state is
// not kept and counted (reasonStateFull): a WATCHed key's reads are then
// recorded without its lock.
const maxStates = 1 << 16

const reasonStateFull = "connection state full"

// stateTable maps goroutine ids to their connection state.
type stateTable struct {
	n  atomic.Int32 // entries; lookups are skipped while there are none
	mu sync.Mutex
	m  map[int64]*connState
}

// get returns g's state, nil if it has none.
func (t *stateTable) get(g int64) *connState {
	if t.n.Load() == 0 {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.m[g]
}

// change applies f to g's state (a new one if it has none) and drops the
// state if f leaves it empty. It returns false when the table is full.
func (t *stateTable) change(g int64, f func(*connState)) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.m[g]
	if s == nil {
		if len(t.m) >= maxStates {
			return false
		}
		s = &connState{}
	}
	f(s)
	switch _, ok := t.m[g]; {
	case s.empty() && ok:
		delete(t.m, g)
	case !s.empty() && !ok:
		if t.m == nil {
			t.m = make(map[int64]*connState)
		}
		t.m[g] = s
	}
	t.n.Store(int32(len(t.m)))
	return true
}
