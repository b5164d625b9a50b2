package analysis

// snapshots keeps the clocks of published epochs (a spawn, an RPC send, a
// handler's respond) until the edge that names them is analysed, so that
// such edges are exact however the publishing thread moves on. An epoch is
// named by one edge (a thread is spawned once, a request answered once), so
// a snapshot is dropped once used; the least recently published are
// evicted beyond the limit. (A thread's end needs none: it is the thread's
// last event, so the thread's clock stays its clock. A lock strand needs
// none either: its clocks are kept as a thread's are, see thread.clockAt.)
type snapshots struct {
	byEpoch recency[Epoch, snapshot]
	limit   int
}

type snapshot struct {
	clk  clock
	wall int64
}

func newSnapshots(limit int) snapshots {
	return snapshots{byEpoch: newRecency[Epoch, snapshot](), limit: limit}
}

// put keeps the clock of epoch e, published at wall time wall, and returns
// how many older snapshots it evicted.
func (s *snapshots) put(e Epoch, c clock, wall int64) int {
	v, _ := s.byEpoch.use(e)
	*v = snapshot{clk: c, wall: wall}
	return s.byEpoch.evict(s.limit, nil, nil)
}

// take returns and forgets the snapshot of e.
func (s *snapshots) take(e Epoch) (snapshot, bool) {
	v := s.byEpoch.get(e)
	if v == nil {
		return snapshot{}, false
	}
	snap := *v
	s.byEpoch.remove(e)
	return snap, true
}
