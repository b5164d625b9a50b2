package analysis

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// report records the race between retained access p and access a of
// variable v.
func (d *Detector) report(v *variable, p, a *access, late bool) {
	r := Race{
		Var:      v.key.name,
		Shared:   v.key.proc == nil,
		Kind:     ReadWrite,
		Severity: SeverityWarning,
		Previous: p.export(),
		Current:  a.export(),
		Reason:   reason(p, a),
		Late:     late,
	}
	if p.write && a.write {
		r.Kind, r.Severity = WriteWrite, SeverityError
		if lu := lostUpdate(p, a); lu != nil {
			r.LostUpdate, r.Severity = lu, SeverityCritical
		}
	}
	r.Group = groupKey(d.cfg.Pattern(r.Var), r.Kind, p.where, a.where)
	g := d.groups[r.Group]
	if g == nil {
		g = &group{first: fromUnixNano(min(p.wall, a.wall))}
		d.addGroup(r.Group, g)
		d.stats.Groups++
	}
	g.count++
	r.Count, r.First = g.count, g.first
	d.stats.Races++
	if len(d.races) < maxUndrained {
		d.races = append(d.races, r)
	}
}

// addGroup tracks a new group, forgetting the oldest beyond
// Config.MaxVariables groups.
func (d *Detector) addGroup(key string, g *group) {
	d.groups[key] = g
	if len(d.groupOrder) < d.cfg.MaxVariables {
		d.groupOrder = append(d.groupOrder, key)
		return
	}
	delete(d.groups, d.groupOrder[d.groupNext])
	d.stats.EvictedGroups++
	d.groupOrder[d.groupNext] = key
	d.groupNext = (d.groupNext + 1) % len(d.groupOrder)
}

// groupKey names a distinct race: the variable pattern, the kind and the
// unordered pair of code locations.
func groupKey(pattern string, k RaceKind, a, b *Location) string {
	x, y := a.String(), b.String()
	if y < x {
		x, y = y, x
	}
	return pattern + " " + k.String() + " " + x + " " + y
}

// export returns the public form of an access.
func (p *access) export() Access {
	a := Access{
		Kind:    KindRead,
		Epoch:   Epoch{Thread: p.thread.id, Seq: p.seq},
		Thread:  p.thread.info,
		Service: p.proc.service,
		Process: p.proc.id,
		TraceID: p.thread.trace,
		SpanID:  p.span,
		Time:    fromUnixNano(p.wall),
		Where:   *p.where,
	}
	if p.write {
		a.Kind = KindWrite
	}
	if x := p.extra; x != nil {
		a.Old, a.New, a.HasValues = x.old, x.new, x.hasValues
		a.LocksHeld = slices.Clone(x.locks)
	}
	return a
}

// reason says why p and a are unordered.
func reason(p, a *access) string {
	var b strings.Builder
	if p.thread.trace != a.thread.trace {
		fmt.Fprintf(&b, "the accesses are in different traces (%s and %s) and no RPC, spawn, await or lock edge leads from one to the other",
			shortTrace(p.thread.trace), shortTrace(a.thread.trace))
	} else {
		fmt.Fprintf(&b, "threads %s and %s of trace %s run concurrently: neither %s nor %s happens before the other",
			p.thread.id, a.thread.id, shortTrace(a.thread.trace),
			Epoch{Thread: p.thread.id, Seq: p.seq}, Epoch{Thread: a.thread.id, Seq: a.seq})
	}
	pl, al := p.locks(), a.locks()
	switch {
	case len(pl) == 0 && len(al) == 0:
		b.WriteString("; neither holds a lock")
	case p.proc != a.proc:
		b.WriteString("; their locks are in different processes, so no lock orders them")
	default:
		var common []string
		for _, l := range pl {
			if slices.Contains(al, l) {
				common = append(common, l)
			}
		}
		if len(common) == 0 {
			fmt.Fprintf(&b, "; no common lock (%s vs %s)", lockList(pl), lockList(al))
		} else {
			fmt.Fprintf(&b, "; both hold %s but its acquire was not ordered after the other's release", lockList(common))
		}
	}
	return b.String()
}

func (p *access) locks() []string {
	if p.extra == nil {
		return nil
	}
	return p.extra.locks
}

func lockList(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}

func shortTrace(t [16]byte) string {
	if t == ([16]byte{}) {
		return "?"
	}
	return hex.EncodeToString(t[:])
}

// lostUpdate classifies two racing writes that both replaced the same old
// value: whichever came last overwrote the other's update.
func lostUpdate(p, a *access) *LostUpdate {
	if p.extra == nil || a.extra == nil || !p.extra.hasValues || !a.extra.hasValues {
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
