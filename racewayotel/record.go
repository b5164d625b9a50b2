package racewayotel

import (
	"context"

	"github.com/petermattis/goid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/raceway-otel/raceway/analysis"
	"github.com/raceway-otel/raceway/racewayotel/convention"
)

// record is one Raceway record before it becomes a span event.
type record struct {
	kind  analysis.Kind
	loc   *location
	after [analysis.MaxAfter]analysis.Epoch
	n     int // epochs in after
	sync  analysis.Epoch

	varName        string
	shared         bool
	old, new       string
	hasOld, hasNew bool
	lock           string
	sharedLock     bool     // lock records: lock is a shared lock's fleet-wide name
	xLocks, rLocks []string // accesses: shared locks held beyond the thread's (see SharedAccess)
	function       string   // call and return: the function, overriding loc's
	duration       int64    // return: nanoseconds; 0 for none
	message        string   // error
	extra          []attribute.KeyValue
}

// addAfter adds e to r's edges, unless it is zero or r is full.
func (r *record) addAfter(e analysis.Epoch) {
	if !e.IsZero() && r.n < len(r.after) {
		r.after[r.n] = e
		r.n++
	}
}

// eventNames are the span event names of the record kinds.
var eventNames = func() []string {
	names := make([]string, analysis.KindError+1)
	for k := analysis.KindRead; k <= analysis.KindError; k++ {
		names[k] = convention.EventName(k)
	}
	return names
}()

// Scope attribute values, shared by every access and shared-lock record.
var (
	scopeProcess = attribute.String(convention.VarScope, convention.ScopeProcess)
	scopeShared  = attribute.String(convention.VarScope, convention.ScopeShared)

	lockScopeShared = attribute.String(convention.LockScope, convention.ScopeShared)
)

// track records r on the thread the calling goroutine runs for ctx and
// returns its epoch.
func (t *Tracker) track(ctx context.Context, r *record) analysis.Epoch {
	g := goid.Get()
	return t.emit(ctx, t.current(ctx, g), g, r)
}

// emit records r on th, which goroutine g owns, after th's thread.start if
// that has not been written yet.
func (t *Tracker) emit(ctx context.Context, th *thread, g int64, r *record) analysis.Epoch {
	switched := t.enter(th)
	if !th.started {
		t.start(ctx, th, g, r.loc, switched)
	} else {
		r.addAfter(switched)
	}
	seq := th.seq.Add(1)
	// An edge from the thread itself (an echoed clock) would void the record.
	for i := 0; i < r.n; i++ {
		if r.after[i].Thread == th.id {
			r.n--
			r.after[i] = r.after[r.n]
			i--
		}
	}
	t.deliver(ctx, th, g, r, seq)
	return analysis.Epoch{Thread: th.id, Seq: seq}
}

// enter makes th the thread its goroutine last recorded on and returns the
// latest epoch of the thread the goroutine recorded on before, if another:
// a goroutine runs its threads one after the other, so that epoch happens
// before th's next record.
func (t *Tracker) enter(th *thread) analysis.Epoch {
	last := th.g.last.Load()
	if last == th {
		return analysis.Epoch{}
	}
	th.g.last.Store(th)
	if last == nil {
		return analysis.Epoch{}
	}
	return last.latest()
}

// start writes th's thread.start (its record 1), with its creation edges and
// the goroutine switch edge switched.
func (t *Tracker) start(ctx context.Context, th *thread, g int64, loc *location, switched analysis.Epoch) {
	th.started = true
	r := record{kind: analysis.KindStart, loc: loc}
	for _, e := range th.startAfter {
		r.addAfter(e)
	}
	r.addAfter(switched)
	if th.name == "" && loc != nil {
		th.name = loc.function
	}
	t.deliver(ctx, th, g, &r, 1)
}

// deliver turns r, the seq-th record of th, into a span event.
func (t *Tracker) deliver(ctx context.Context, th *thread, g int64, r *record, seq uint64) {
	n := 4 + len(r.extra)
	if r.loc != nil {
		n += 3
	}
	if r.n > 0 {
		n++
	}
	switch r.kind {
	case analysis.KindRead, analysis.KindWrite:
		n += 7
	case analysis.KindStart:
		n += 2
	default:
		n += 2
	}
	// trace.NewEventConfig, through which spans read an event's options,
	// copies its attributes: the thread's buffer serves every record of the
	// thread (only its owner delivers).
	kv := th.kv[:0]
	if cap(kv) < n {
		kv = make([]attribute.KeyValue, 0, n)
	}
	kv = append(kv,
		attribute.String(convention.ThreadID, th.idText),
		attribute.Int64(convention.Seq, int64(seq)),
		t.processKV,
		attribute.Int64(convention.GoroutineID, g),
	)
	if r.loc != nil {
		fn := r.loc.fn
		if r.function != "" {
			fn = attribute.String(convention.CodeFunctionName, r.function)
		}
		kv = append(kv, r.loc.file, r.loc.line, fn)
	} else if r.function != "" {
		kv = append(kv, attribute.String(convention.CodeFunctionName, r.function))
	}
	if r.n > 0 {
		after := make([]string, r.n)
		for i, e := range r.after[:r.n] {
			after[i] = e.String()
		}
		kv = append(kv, attribute.StringSlice(convention.After, after))
	}
	switch r.kind {
	case analysis.KindRead, analysis.KindWrite:
		kv = append(kv, attribute.String(convention.VarName, r.varName))
		if r.shared {
			kv = append(kv, scopeShared)
		} else {
			kv = append(kv, scopeProcess)
		}
		if r.hasOld {
			kv = append(kv, attribute.String(convention.ValueOld, r.old))
		}
		if r.hasNew {
			kv = append(kv, attribute.String(convention.ValueNew, r.new))
		}
		if len(th.locks) > 0 {
			kv = append(kv, th.held)
		}
		kv = th.shared.appendAccessKV(kv, r)
	case analysis.KindStart:
		kv = append(kv,
			attribute.String(convention.Origin, th.origin.String()),
			attribute.String(convention.ThreadName, th.name))
	case analysis.KindAcquire, analysis.KindRelease, analysis.KindRAcquire, analysis.KindRRelease:
		kv = append(kv, attribute.String(convention.LockID, r.lock))
		if r.sharedLock {
			kv = append(kv, lockScopeShared)
		}
		if !r.sync.IsZero() {
			kv = append(kv, attribute.String(convention.Sync, r.sync.String()))
		}
	case analysis.KindReturn:
		if r.duration > 0 {
			kv = append(kv, attribute.Int64(convention.DurationNS, r.duration))
		}
	case analysis.KindError:
		kv = append(kv, attribute.String(convention.ErrorMessage, r.message))
	}
	kv = append(kv, r.extra...)
	t.addEvent(ctx, th, eventNames[r.kind], kv)
	clear(kv) // keep no value alive
	th.kv = kv[:0]
}

// addEvent adds a record to the context's span, to an overflow child of it
// when it has had its limit of records, or to a new orphan span when there
// is no recording span. It counts records that none of these could take.
func (t *Tracker) addEvent(ctx context.Context, th *thread, name string, kv []attribute.KeyValue) {
	span := trace.SpanFromContext(ctx)
	if span.IsRecording() {
		st := t.spanState(th, span)
		if st == nil || st.count.Add(1) <= int64(t.cfg.spanEventLimit) {
			span.AddEvent(name, trace.WithAttributes(kv...))
			t.counters.records.Add(1)
			return
		}
		st.overflow(ctx, t, name, kv)
		return
	}
	_, orphan := t.tracer.Start(ctx, orphanSpanName, trace.WithSpanKind(trace.SpanKindInternal))
	defer orphan.End()
	if !orphan.IsRecording() {
		t.counters.lost.Add(1)
		return
	}
	orphan.AddEvent(name, trace.WithAttributes(kv...))
	t.counters.orphans.Add(1)
	t.counters.records.Add(1)
}

// spanState returns the record count of span, which th's owner is recording
// on, or nil when the span table is full.
func (t *Tracker) spanState(th *thread, span trace.Span) *spanState {
	sc := span.SpanContext()
	key := spanKey{trace: sc.TraceID(), span: sc.SpanID()}
	if th.spanSt != nil && th.spanKey == key {
		return th.spanSt
	}
	st := t.spans.get(key)
	th.spanKey, th.spanSt = key, st
	return st
}
