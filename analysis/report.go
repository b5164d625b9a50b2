package analysis

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// Report renders r in the style of the Go race detector's report:
//
//	==================
//	WARNING: RACE on accounts.alice.balance (write/write, lost update)
//	Write by bank (thread 3f2a9c01d2e4b5a6 "GET /transfer") at transfer.go:42
//	  main.transfer()
//	  value 1000 -> 800, locks held: none
//	  trace 4bf92f3577b34da6a3ce929d0e0e4736 span 00f067aa0ba902b7 epoch 3f2a9c01d2e4b5a6@4
//
//	Previous write by bank (thread …) at transfer.go:42
//	  …
//
//	Thread 3f2a9c01d2e4b5a6 (bank) started by request "GET /transfer" at handler.go:20
//	Thread … started by …
//
//	Unordered: the accesses are in different traces …
//	Lost update: both writers read 1000; writes 900 and 800; final 800; expected 700
//	==================
func (r *Race) Report() string {
	var b strings.Builder
	b.WriteString("==================\nWARNING: RACE on ")
	b.WriteString(r.Var)
	if r.Shared {
		b.WriteString(" (shared")
	} else {
		fmt.Fprintf(&b, " (in %s", processName(r.Current.Service, r.Current.Process))
	}
	fmt.Fprintf(&b, ", %s", r.Kind)
	if r.LostUpdate != nil {
		b.WriteString(", lost update")
	}
	if r.Late {
		b.WriteString(", late")
	}
	b.WriteString(")\n")
	writeAccess(&b, "", &r.Current)
	b.WriteString("\n")
	writeAccess(&b, "Previous ", &r.Previous)
	b.WriteString("\n")
	writeThread(&b, &r.Current)
	if r.Previous.Thread.ID != r.Current.Thread.ID {
		writeThread(&b, &r.Previous)
	}
	b.WriteString("\nUnordered: ")
	b.WriteString(r.Reason)
	b.WriteString("\n")
	if lu := r.LostUpdate; lu != nil {
		fmt.Fprintf(&b, "Lost update: both writers read %s; writes %s and %s; final %s", lu.Read, lu.Writes[0], lu.Writes[1], lu.Final)
		if lu.Expected != "" {
			fmt.Fprintf(&b, "; expected %s", lu.Expected)
		}
		b.WriteString("\n")
	}
	if r.Count > 1 {
		fmt.Fprintf(&b, "Seen %d times since %s\n", r.Count, r.First.UTC().Format("2006-01-02T15:04:05Z07:00"))
	}
	b.WriteString("==================\n")
	return b.String()
}

func writeAccess(b *strings.Builder, prefix string, a *Access) {
	verb := "Read"
	if a.Kind == KindWrite {
		verb = "Write"
	}
	if prefix != "" {
		verb = strings.ToLower(verb)
	}
	fmt.Fprintf(b, "%s%s by %s (thread %s", prefix, verb, a.Service, a.Thread.ID)
	if a.Thread.Name != "" {
		fmt.Fprintf(b, " %q", a.Thread.Name)
	}
	fmt.Fprintf(b, ") at %s\n", a.Where)
	if a.Where.Function != "" {
		fmt.Fprintf(b, "  %s()\n", a.Where.Function)
	}
	switch {
	case a.HasValues && a.Kind == KindWrite:
		fmt.Fprintf(b, "  value %s -> %s", a.Old, a.New)
	case a.HasValues:
		fmt.Fprintf(b, "  value %s", a.New)
	default:
		b.WriteString("  value not recorded")
	}
	held := sharedLocksText(a.SharedLocks, a.SharedRLocks, "")
	switch {
	case held == "":
		held = locksText(a.LocksHeld)
	case len(a.LocksHeld) > 0:
		held = locksText(a.LocksHeld) + ", " + held
	}
	fmt.Fprintf(b, ", locks held: %s\n", held)
	fmt.Fprintf(b, "  trace %s span %s epoch %s\n", traceText(a.TraceID), hex.EncodeToString(a.SpanID[:]), a.Epoch)
}

func writeThread(b *strings.Builder, a *Access) {
	t := &a.Thread
	fmt.Fprintf(b, "Thread %s (%s) ", t.ID, processName(t.Service, t.Process))
	switch t.Origin {
	case OriginUnknown:
		b.WriteString("start not recorded\n")
		return
	case OriginRoot:
		b.WriteString("started as a root thread")
	case OriginRequest:
		b.WriteString("started by request")
	case OriginSpawn:
		b.WriteString("spawned")
	case OriginDetach:
		b.WriteString("started by a detached context")
	case OriginImplicit:
		b.WriteString("started implicitly (a context used from another goroutine)")
	}
	if t.Name != "" {
		fmt.Fprintf(b, " %q", t.Name)
	}
	if t.Where.File != "" {
		fmt.Fprintf(b, " at %s", t.Where)
	}
	if !t.Creator.IsZero() {
		fmt.Fprintf(b, ", after %s", t.Creator)
	}
	b.WriteString("\n")
}

func processName(service, process string) string {
	switch {
	case service == "":
		return "unknown service"
	case process == "":
		return service
	}
	return service + "/" + process
}
