package analysis

import (
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
)

// raceRec is a race found but not yet drained: cheap to keep, turned into
// a Race by Drain.
type raceRec struct {
	v     *variable
	p, a  *access
	late  bool
	g     *group
	count int
}

// groupID identifies a distinct race: the variable pattern, the kind and
// the unordered pair of code locations (x before y).
type groupID struct {
	pattern string
	write   bool // write/write
	x, y    Location
}

// report records the race between retained access p and access a of
// variable v.
func (d *Detector) report(v *variable, p, a *access, late bool) {
	g := d.group(v, p, a)
	g.count++
	d.stats.Races++
	if len(d.races) < maxUndrained {
		d.races = append(d.races, raceRec{v: v, p: p, a: a, late: late, g: g, count: g.count})
	}
}

// group returns the group of the race between p and a on v, creating it
// if new.
func (d *Detector) group(v *variable, p, a *access) *group {
	m := d.moreOf(v)
	write := p.write && a.write
	x, y := p.where, a.where
	if locLess(*y, *x) {
		x, y = y, x
	}
	for _, s := range m.groups {
		if s.g != nil && !s.g.evicted && s.write == write && s.x == x && s.y == y {
			return s.g
		}
	}
	if m.pattern == "" {
		m.pattern = d.cfg.Pattern(v.key.name)
	}
	id := groupID{pattern: m.pattern, write: write, x: *x, y: *y}
	g := d.groups[id]
	if g == nil {
		kind := ReadWrite
		if write {
			kind = WriteWrite
		}
		g = &group{first: fromUnixNano(min(p.wall, a.wall)), key: groupKey(id.pattern, kind, x, y)}
		d.addGroup(id, g)
		d.stats.Groups++
	}
	m.groups[1] = m.groups[0]
	m.groups[0] = groupSlot{x: x, y: y, write: write, g: g}
	return g
}

// race turns a record into the public form, in r.
func (d *Detector) race(rec *raceRec, r *Race) {
	p, a := rec.p, rec.a
	*r = Race{
		Var:      rec.v.key.name,
		Shared:   rec.v.key.proc == nil,
		Kind:     ReadWrite,
		Severity: SeverityWarning,
		Reason:   reason(p, a),
		Late:     rec.late,
		Count:    rec.count,
		First:    rec.g.first,
	}
	p.export(&r.Previous)
	a.export(&r.Current)
	if p.write && a.write {
		r.Kind, r.Severity = WriteWrite, SeverityError
		if lu := lostUpdate(p, a); lu != nil {
			r.LostUpdate, r.Severity = lu, SeverityCritical
		}
	}
	r.Group = rec.g.key
}

// addGroup tracks a new group, forgetting the oldest beyond
// Config.MaxVariables groups.
func (d *Detector) addGroup(id groupID, g *group) {
	d.groups[id] = g
	if len(d.groupOrder) < d.cfg.MaxVariables {
		d.groupOrder = append(d.groupOrder, id)
		return
	}
	if old, ok := d.groups[d.groupOrder[d.groupNext]]; ok {
		old.evicted = true
		delete(d.groups, d.groupOrder[d.groupNext])
	}
	d.stats.EvictedGroups++
	d.groupOrder[d.groupNext] = id
	d.groupNext = (d.groupNext + 1) % len(d.groupOrder)
}

func locLess(a, b Location) bool {
	if a.File != b.File {
		return a.File < b.File
	}
	if a.Line != b.Line {
		return a.Line < b.Line
	}
	return a.Function < b.Function
}

// groupKey names a distinct race in text: the variable pattern, the kind
// and the unordered pair of code locations.
func groupKey(pattern string, k RaceKind, a, b *Location) string {
	x, y := a.String(), b.String()
	if y < x {
		x, y = y, x
	}
	return pattern + " " + k.String() + " " + x + " " + y
}

// export sets a to the public form of the access.
func (p *access) export(a *Access) {
	*a = Access{
		Kind:    KindRead,
		Epoch:   Epoch{Thread: p.thread.id, Seq: p.seq},
		Thread:  p.thread.info(),
		Service: p.process().service,
		Process: p.process().id,
		TraceID: p.thread.trace,
		SpanID:  p.span,
		Time:    fromUnixNano(p.wall),
		Where:   *p.where,
	}
	if p.write {
		a.Kind = KindWrite
	}
	if x := p.extra; x != nil {
		a.Old, a.New, a.HasValues = x.old, x.new, p.hasValues
		a.LocksHeld = slices.Clone(x.locks)
		a.SharedLocks, a.SharedRLocks = slices.Clone(x.shared), slices.Clone(x.sharedR)
	}
}

// reason says why p and a are unordered.
func reason(p, a *access) string {
	var buf [384]byte
	b := buf[:0]
	pe, ae := Epoch{Thread: p.thread.id, Seq: p.seq}, Epoch{Thread: a.thread.id, Seq: a.seq}
	if p.thread.trace != a.thread.trace {
		b = append(b, "the accesses are in different traces ("...)
		b = appendTrace(b, p.thread.trace)
		b = append(b, " and "...)
		b = appendTrace(b, a.thread.trace)
		b = append(b, ") and no RPC, spawn, await or lock edge leads from one to the other"...)
	} else {
		b = append(b, "threads "...)
		b = p.thread.id.AppendText(b)
		b = append(b, " and "...)
		b = a.thread.id.AppendText(b)
		b = append(b, " of trace "...)
		b = appendTrace(b, a.thread.trace)
		b = append(b, " run concurrently: neither "...)
		b = pe.AppendText(b)
		b = append(b, " nor "...)
		b = ae.AppendText(b)
		b = append(b, " happens before the other"...)
	}
	pl, al := p.locks(), a.locks()
	if len(pl) == 0 && len(al) == 0 && !p.holdsShared() && !a.holdsShared() {
		b = append(b, "; neither holds a lock"...)
	}
	switch {
	case len(pl) == 0 && len(al) == 0:
	case p.process() != a.process():
		b = append(b, "; their locks are in different processes, so no lock orders them"...)
	default:
		var common []string
		for _, l := range pl {
			if slices.Contains(al, l) {
				common = append(common, l)
			}
		}
		if len(common) == 0 {
			b = append(b, "; no common lock ("...)
			b = appendLocks(b, pl)
			b = append(b, " vs "...)
			b = appendLocks(b, al)
			b = append(b, ')')
		} else {
			b = append(b, "; both hold "...)
			b = appendLocks(b, common)
			b = append(b, " but its acquire was not ordered after the other's release"...)
		}
	}
	if p.holdsShared() || a.holdsShared() {
		// They race, so a name both hold, both hold in read mode.
		var both []string
		if p.holdsShared() && a.holdsShared() {
			for _, n := range p.extra.sharedR {
				if slices.Contains(a.extra.sharedR, n) {
					both = append(both, n)
				}
			}
		}
		if len(both) > 0 {
			b = append(b, "; both hold shared "...)
			b = appendLocks(b, both)
			b = append(b, " only in read mode, which does not exclude the other"...)
		} else {
			b = append(b, "; no shared lock held by both ("...)
			b = appendShared(b, p, true)
			b = append(b, " vs "...)
			b = appendShared(b, a, true)
			b = append(b, ')')
		}
	}
	return string(b)
}

func (p *access) locks() []string {
	if p.extra == nil {
		return nil
	}
	return p.extra.locks
}

// appendShared appends the shared locks p holds, as in a report's "locks
// held" ("shared NAME", "shared NAME (read mode)"), or "none" if none and
// orNone.
func appendShared(b []byte, p *access, orNone bool) []byte {
	var excl, read []string
	if p.extra != nil {
		excl, read = p.extra.shared, p.extra.sharedR
	}
	return appendSharedLocks(b, excl, read, orNone)
}

func appendSharedLocks(b []byte, excl, read []string, orNone bool) []byte {
	if len(excl)+len(read) == 0 && orNone {
		return append(b, "none"...)
	}
	for i, name := range excl {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, "shared "...)
		b = append(b, name...)
	}
	for i, name := range read {
		if i > 0 || len(excl) > 0 {
			b = append(b, ", "...)
		}
		b = append(b, "shared "...)
		b = append(b, name...)
		b = append(b, " (read mode)"...)
	}
	return b
}

// appendLocks appends the comma-separated lock names, or "none".
func appendLocks(b []byte, l []string) []byte {
	if len(l) == 0 {
		return append(b, "none"...)
	}
	for i, name := range l {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, name...)
	}
	return b
}

func shortTrace(t [16]byte) string { return string(appendTrace(nil, t)) }

func appendTrace(b []byte, t [16]byte) []byte {
	if t == ([16]byte{}) {
		return append(b, '?')
	}
	return hex.AppendEncode(b, t[:])
}

// lostUpdate classifies two racing writes that both replaced the same old
// value: whichever came last overwrote the other's update.
func lostUpdate(p, a *access) *LostUpdate {
	if !p.hasValues || !a.hasValues {
		return nil
	}
	old := p.extra.old
	if old == "" || a.extra.old != old {
		return nil
	}
	lu := &LostUpdate{Read: old, Writes: [2]string{p.extra.new, a.extra.new}, Final: a.extra.new}
	if p.wall > a.wall {
		lu.Final = p.extra.new
	}
	o, err1 := strconv.ParseFloat(old, 64)
	x, err2 := strconv.ParseFloat(p.extra.new, 64)
	y, err3 := strconv.ParseFloat(a.extra.new, 64)
	if err1 == nil && err2 == nil && err3 == nil {
		lu.Expected = strconv.FormatFloat(x+y-o, 'f', -1, 64)
	}
	return lu
}

// VarPattern is the default Config.Pattern: it replaces every run of
// decimal digits by "*", so that products/42.stock and products/43.stock
// group together.
func VarPattern(name string) string {
	i := strings.IndexAny(name, "0123456789")
	if i < 0 {
		return name
	}
	var b strings.Builder
	b.Grow(len(name))
	digits := false
	for j := 0; j < len(name); j++ {
		c := name[j]
		if '0' <= c && c <= '9' {
			if !digits {
				b.WriteByte('*')
			}
			digits = true
			continue
		}
		digits = false
		b.WriteByte(c)
	}
	return b.String()
}
