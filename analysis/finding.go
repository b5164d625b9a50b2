package analysis

import (
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
)

// maxUndrained bounds the races kept between two calls of Drain; later
// occurrences are still counted in their group and in Stats.
const maxUndrained = 1 << 16

// raceRec is a race found but not yet drained: cheap to keep, turned into
// a Race by Drain.
type raceRec struct {
	k     varKey
	p, a  *access
	late  bool
	g     *group
	count int
}

// report records the race between the retained access p and access a of
// variable k.
func (d *Detector) report(k varKey, p, a *access, late bool) {
	g, isNew, evicted := d.groups.add(varPattern(k.name), p.write && a.write, *p.where, *a.where, fromUnixNano(min(p.wall, a.wall)))
	if isNew {
		d.stats.Groups++
	}
	d.stats.EvictedGroups += uint64(evicted)
	d.stats.Races++
	if len(d.found) < maxUndrained {
		d.found = append(d.found, raceRec{k: k, p: p, a: a, late: late, g: g, count: g.count})
	}
}

// Found is a race as DrainEach hands it out. What tells a repeat of a race
// already shown from one to show (its group, its count, the spans of its
// accesses) is at hand; Race builds the whole finding, which costs more
// (the reason's text, both accesses' context).
type Found struct{ rec *raceRec }

// Group returns the race's Race.Group.
func (f Found) Group() string { return f.rec.g.key }

// Count returns the race's Race.Count.
func (f Found) Count() int { return f.rec.count }

// Previous returns the trace and span of the race's Race.Previous.
func (f Found) Previous() (trace [16]byte, span [8]byte) { return f.rec.p.thread.trace, f.rec.p.span }

// Current returns the trace and span of the race's Race.Current.
func (f Found) Current() (trace [16]byte, span [8]byte) { return f.rec.a.thread.trace, f.rec.a.span }

// Race sets r to the whole finding.
func (f Found) Race(r *Race) { f.rec.fill(r) }

// fill sets r to the public form of the record.
func (rec *raceRec) fill(r *Race) {
	p, a := rec.p, rec.a
	*r = Race{
		Var:      rec.k.name,
		Shared:   rec.k.proc == nil,
		Kind:     ReadWrite,
		Severity: SeverityWarning,
		Reason:   reason(p, a),
		Late:     rec.late,
		Group:    rec.g.key,
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
}

// export sets x to the public form of the access.
func (p *access) export(x *Access) {
	proc := p.process()
	*x = Access{
		Kind:    KindRead,
		Epoch:   p.epoch(),
		Thread:  p.thread.info(),
		Service: proc.service,
		Process: proc.id,
		TraceID: p.thread.trace,
		SpanID:  p.span,
		Time:    fromUnixNano(p.wall),
		Where:   *p.where,
	}
	if p.write {
		x.Kind = KindWrite
	}
	if v := p.values; v != nil {
		x.Old, x.New, x.HasValues = v.old, v.new, true
	}
	if e := p.extra; e != nil {
		x.LocksHeld = slices.Clone(e.locks)
		x.SharedLocks, x.SharedRLocks = slices.Clone(e.shared), slices.Clone(e.sharedR)
	}
}

// reason says in words why p and a race: why neither happens before the
// other, and why no lock they hold keeps them apart.
func reason(p, a *access) string {
	b := make([]byte, 0, 320)
	pt, at := p.thread, a.thread
	if pt.trace != at.trace {
		b = append(b, "the accesses are in different traces ("...)
		b = appendTrace(b, pt.trace)
		b = append(b, " and "...)
		b = appendTrace(b, at.trace)
		b = append(b, ") and no RPC, spawn, await or lock edge leads from one to the other"...)
	} else {
		b = append(b, "threads "...)
		b = pt.id.AppendText(b)
		b = append(b, " and "...)
		b = at.id.AppendText(b)
		b = append(b, " of trace "...)
		b = appendTrace(b, at.trace)
		b = append(b, " run concurrently: neither "...)
		b = p.epoch().AppendText(b)
		b = append(b, " nor "...)
		b = a.epoch().AppendText(b)
		b = append(b, " happens before the other"...)
	}
	px, ax := p.context(), a.context()
	shared := len(px.shared)+len(px.sharedR)+len(ax.shared)+len(ax.sharedR) > 0
	switch {
	case len(px.locks) == 0 && len(ax.locks) == 0:
		if !shared {
			b = append(b, "; neither holds a lock"...)
		}
	case p.process() != a.process():
		b = append(b, "; their locks are in different processes, so no lock orders them"...)
	default:
		var common []string
		for _, l := range px.locks {
			if slices.Contains(ax.locks, l) {
				common = append(common, l)
			}
		}
		if len(common) == 0 {
			b = append(b, "; no common lock ("+locksText(px.locks)+" vs "+locksText(ax.locks)+")"...)
		} else {
			b = append(b, "; both hold "+locksText(common)+" but its acquire was not ordered after the other's release"...)
		}
	}
	if shared {
		// They race, so a shared lock both hold, both hold in read mode.
		var both []string
		for _, n := range px.sharedR {
			if slices.Contains(ax.sharedR, n) {
				both = append(both, n)
			}
		}
		if len(both) > 0 {
			b = append(b, "; both hold shared "+locksText(both)+" only in read mode, which does not exclude the other"...)
		} else {
			b = append(b, "; no shared lock held by both ("+sharedLocksText(px.shared, px.sharedR, "none")+
				" vs "+sharedLocksText(ax.shared, ax.sharedR, "none")+")"...)
		}
	}
	return string(b)
}

// context returns the access's optional context, empty if none was
// recorded.
func (p *access) context() *accessExtra {
	if p.extra == nil {
		return &accessExtra{}
	}
	return p.extra
}

// locksText returns the comma-separated lock names, or "none".
func locksText(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// sharedLocksText returns the shared locks held as a report shows them
// ("shared NAME", "shared NAME (read mode)"), or ifNone.
func sharedLocksText(excl, read []string, ifNone string) string {
	var parts []string
	for _, n := range excl {
		parts = append(parts, "shared "+n)
	}
	for _, n := range read {
		parts = append(parts, "shared "+n+" (read mode)")
	}
	if len(parts) == 0 {
		return ifNone
	}
	return strings.Join(parts, ", ")
}

// traceText returns a trace id in hex, or "?" when unknown.
func traceText(t [16]byte) string { return string(appendTrace(nil, t)) }

func appendTrace(b []byte, t [16]byte) []byte {
	if t == ([16]byte{}) {
		return append(b, '?')
	}
	return hex.AppendEncode(b, t[:])
}

// lostUpdate classifies two racing writes that both replaced the same old
// value: whichever came last overwrote the other's update.
func lostUpdate(p, a *access) *LostUpdate {
	pv, av := p.values, a.values
	if pv == nil || av == nil || pv.old == "" || av.old != pv.old {
		return nil
	}
	old := pv.old
	lu := &LostUpdate{Read: old, Writes: [2]string{pv.new, av.new}, Final: av.new}
	if p.wall > a.wall {
		lu.Final = pv.new
	}
	o, err1 := strconv.ParseFloat(old, 64)
	x, err2 := strconv.ParseFloat(pv.new, 64)
	y, err3 := strconv.ParseFloat(av.new, 64)
	if err1 == nil && err2 == nil && err3 == nil {
		lu.Expected = strconv.FormatFloat(x+y-o, 'f', -1, 64)
	}
	return lu
}
