package analysis

import "slices"

// interner keeps one copy of the strings and locations that many accesses
// repeat (process identities, code locations, lock sets), so that retained
// accesses share them. Each table stops growing at its limit; past it a
// value is simply not shared.
type interner struct {
	limit    int
	procs    map[[2]string]*process
	locs     map[Location]*Location
	lockSets map[string][]string // one-lock sets, the common case
}

// process is a process (service instance) identity.
type process struct {
	service, id string
}

func newInterner(limit int) interner {
	return interner{
		limit:    limit,
		procs:    make(map[[2]string]*process),
		locs:     make(map[Location]*Location),
		lockSets: make(map[string][]string),
	}
}

// process returns the shared copy of a process identity.
func (in *interner) process(service, id string) *process {
	k := [2]string{service, id}
	p := in.procs[k]
	if p == nil {
		p = &process{service: service, id: id}
		if len(in.procs) < in.limit {
			in.procs[k] = p
		}
	}
	return p
}

// location returns the shared copy of a code location.
func (in *interner) location(l Location) *Location {
	if p := in.locs[l]; p != nil {
		return p
	}
	p := new(Location)
	*p = l
	if len(in.locs) < in.limit {
		in.locs[l] = p
	}
	return p
}

// lockSet returns a copy of a list of lock names that the detector may
// keep (the caller's is not), or nil for an empty list.
func (in *interner) lockSet(held []string) []string {
	if len(held) == 0 {
		return nil
	}
	if len(held) > 1 {
		return slices.Clone(held)
	}
	s, ok := in.lockSets[held[0]]
	if !ok {
		s = []string{held[0]}
		if len(in.lockSets) < in.limit {
			in.lockSets[held[0]] = s
		}
	}
	return s
}
