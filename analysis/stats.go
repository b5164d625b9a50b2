package analysis

// Stats counts what a [Detector] did. Counters only grow; the gauges
// (Pending, Variables, Threads) are current sizes.
type Stats struct {
	Events   uint64 // valid events accepted
	Invalid  uint64 // events rejected by Validate
	Accesses uint64 // reads and writes analysed
	Races    uint64 // race occurrences found (before grouping)
	Groups   uint64 // distinct races (groups) found

	// Late counts events that arrived after their place in happens-before
	// order had passed; they were checked against retained history.
	Late uint64
	// Duplicates counts events delivered more than once (same epoch); they
	// are analysed once.
	Duplicates uint64
	// Forced counts events analysed before a predecessor arrived, because
	// they waited longer than Config.Wait or the pending buffer was full.
	Forced uint64
	// OutsideWindow counts conflicting pairs not compared because their
	// wall times were further apart than Config.Window.
	OutsideWindow uint64
	// AssumedOrdered counts conflicting pairs not reported because a clock
	// component needed to order them had been evicted.
	AssumedOrdered uint64

	EvictedVariables uint64 // variables evicted (MaxVariables)
	// EvictedHistory counts accesses a variable dropped because of
	// Config.MaxHistory while no later access superseded them: a race with
	// one of them may go unreported. (The recent accesses kept to list every
	// pair of a race roll over without being counted.)
	EvictedHistory      uint64
	EvictedThreads      uint64 // thread clocks evicted (MaxThreads)
	EvictedClockEntries uint64 // clock components dropped (MaxClockEntries)
	EvictedPending      uint64 // events forced out of a full pending buffer (MaxPending)
	EvictedGroups       uint64 // race groups forgotten (their count restarts)
	EvictedSnapshots    uint64 // published clocks dropped before an edge named them (MaxThreads)

	Pending   int // events waiting for predecessors
	Variables int // variables tracked
	Threads   int // threads (and strands) tracked
}
