package racewayprocessor // import "github.com/raceway-otel/raceway/processor/racewayprocessor"

import (
	"context"
	"errors"
	"math"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/raceway-otel/raceway/analysis"
	"github.com/raceway-otel/raceway/processor/racewayprocessor/internal/metadata"
	"github.com/raceway-otel/raceway/racewayotel/convention"
)

// maxRaceEventsPerSpan bounds the raceway.race span events (one per race
// group and role) added to one held span; further ones are dropped and
// counted (evicted="annotations"). The finding traces are emitted
// regardless.
const maxRaceEventsPerSpan = 32

// Resource attributes read to build a record's source.
const (
	attrServiceName       = convention.ServiceName
	attrServiceInstanceID = convention.ServiceInstanceID
)

type racewayProcessor struct {
	cfg    Config
	logger *zap.Logger
	next   consumer.Traces
	tel    *metadata.TelemetryBuilder
	now    func() time.Time
	// forward is cfg.forwardSpans(): hold and pass on the spans received.
	forward bool

	// ticker, set up by Start and stopped by Shutdown.
	stop chan struct{}
	done chan struct{}

	mu      sync.Mutex
	det     *analysis.Detector
	dec     convention.Decoder
	held    map[pcommon.TraceID]*heldTrace
	traces  fifo[*heldTrace] // in arrival order; released entries are skipped
	spare   []*heldTrace     // released and no longer queued, for reuse
	batches fifo[*heldBatch] // in arrival order
	cur     *heldBatch       // of the batch being consumed, once it holds a span
	full    []*heldTrace     // traces that reached max_spans_per_trace
	nspans  int
	outbox  ptrace.Traces // released spans and findings, sent after unlocking
	// The held scope whose spans release last moved out of their batch, and
	// where in the outbox they went.
	movedFrom ptrace.ScopeSpans
	movedTo   ptrace.SpanSlice
	onRace    func(*analysis.Race) // handleRace, for DrainEach
	shutdown  bool

	// Counters not kept by the detector, and the detector's last Stats,
	// turned into metric deltas by recordStats.
	decodeErrors   int64 // reason malformed
	noProcess      int64 // reason no_process_identity
	evictTraces    int64
	evictSpans     int64
	evictAnnots    int64
	recordedCounts localCounts
	last           analysis.Stats
}

type localCounts struct {
	decodeErrors, noProcess, evictTraces, evictSpans, evictAnnots int64
}

func newProcessor(set processor.Settings, cfg *Config, next consumer.Traces) (*racewayProcessor, error) {
	if next == nil {
		return nil, errors.New("racewayprocessor: nil next consumer")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	det, err := analysis.NewDetector(cfg.detectorConfig())
	if err != nil {
		return nil, err
	}
	tel, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	exportZeros(tel, false)
	p := &racewayProcessor{
		cfg:     *cfg,
		logger:  set.Logger,
		next:    next,
		tel:     tel,
		now:     time.Now,
		forward: cfg.forwardSpans(),
		det:     det,
		held:    make(map[pcommon.TraceID]*heldTrace),
		outbox:  ptrace.NewTraces(),
	}
	p.onRace = p.handleRace
	return p, nil
}

// Capabilities: the processor moves held spans out of the batches it
// receives and adds span events to them.
func (p *racewayProcessor) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: true}
}

// Start starts the ticker that analyses waiting records, annotates races and
// releases traces whose wait has expired.
func (p *racewayProcessor) Start(context.Context, component.Host) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stop != nil || p.shutdown {
		return nil
	}
	p.stop, p.done = make(chan struct{}), make(chan struct{})
	period := max(p.cfg.WaitDuration/10, time.Millisecond)
	go p.run(period, p.stop, p.done)
	return nil
}

func (p *racewayProcessor) run(period time.Duration, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			p.tick(context.Background(), p.now())
		}
	}
}

// Shutdown stops the ticker, analyses every pending record, emits the
// findings and releases every held span.
func (p *racewayProcessor) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	stop, done := p.stop, p.done
	p.stop = nil
	already := p.shutdown
	p.shutdown = true
	p.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
	if already {
		return nil
	}
	p.mu.Lock()
	p.det.Flush()
	p.det.DrainEach(p.onRace)
	p.releaseAll()
	p.recordStats(ctx)
	out := p.takeOutbox()
	p.mu.Unlock()
	var err error
	if out.SpanCount() > 0 {
		err = p.next.ConsumeTraces(ctx, out)
	}
	p.tel.Shutdown()
	return err
}

// ConsumeTraces decodes the Raceway records of td, feeds them to the
// detector and holds the spans that carry valid records; everything else is
// passed on at once, untouched.
func (p *racewayProcessor) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	now := p.now()
	p.mu.Lock()
	if p.shutdown {
		p.mu.Unlock()
		if !p.forward {
			return nil
		}
		return p.next.ConsumeTraces(ctx, td)
	}
	if !p.forward {
		return p.analyseOnly(ctx, td, now)
	}
	moved := false
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		src := convention.Source{}
		srcSet := false
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			ss.Spans().RemoveIf(func(span ptrace.Span) bool {
				if !hasRecord(span) {
					return false
				}
				if !srcSet {
					src = resourceSource(rs.Resource())
					srcSet = true
				}
				if !p.decodeSpan(span, src, now) {
					return false
				}
				p.hold(span, rs, ss, i, j, now)
				moved = true
				return true
			})
		}
	}
	if moved {
		// Drop the scopes and resources whose spans are all held.
		rss.RemoveIf(func(rs ptrace.ResourceSpans) bool {
			rs.ScopeSpans().RemoveIf(func(ss ptrace.ScopeSpans) bool { return ss.Spans().Len() == 0 })
			return rs.ScopeSpans().Len() == 0
		})
	}
	p.cur = nil // the next batch's spans are held apart
	// Annotate the races found so far, then enforce the limits on held spans.
	p.det.DrainEach(p.onRace)
	p.enforceLimits()
	released := p.outbox.ResourceSpans().Len() > 0
	if released {
		p.takeOutbox().ResourceSpans().MoveAndAppendTo(td.ResourceSpans())
	}
	p.mu.Unlock()

	if !moved && !released {
		return p.next.ConsumeTraces(ctx, td) // nothing changed
	}
	if td.ResourceSpans().Len() == 0 {
		return nil
	}
	return p.next.ConsumeTraces(ctx, td)
}

// analyseOnly is ConsumeTraces with forward_spans false: the records of td
// feed the detector, td itself goes nowhere, and only the findings of new
// distinct races are passed on. It is called with p.mu held and unlocks it.
func (p *racewayProcessor) analyseOnly(ctx context.Context, td ptrace.Traces, now time.Time) error {
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		src := convention.Source{}
		srcSet := false
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				span := spans.At(k)
				if !hasRecord(span) {
					continue
				}
				if !srcSet {
					src = resourceSource(rs.Resource())
					srcSet = true
				}
				p.decodeSpan(span, src, now)
			}
		}
	}
	p.det.DrainEach(p.onRace)
	out := p.takeOutbox()
	p.mu.Unlock()
	if out.ResourceSpans().Len() == 0 {
		return nil
	}
	return p.next.ConsumeTraces(ctx, out)
}

// tick analyses the records that waited long enough, annotates the races
// found, releases the traces whose wait expired and emits findings.
func (p *racewayProcessor) tick(ctx context.Context, now time.Time) {
	p.mu.Lock()
	if p.shutdown {
		p.mu.Unlock()
		return
	}
	p.det.Advance(now)
	p.det.DrainEach(p.onRace)
	p.expire(now)
	p.recordStats(ctx)
	out := p.takeOutbox()
	p.mu.Unlock()
	if out.ResourceSpans().Len() > 0 {
		if err := p.next.ConsumeTraces(ctx, out); err != nil {
			p.logger.Warn("raceway: next consumer rejected released spans and findings", zap.Error(err))
		}
	}
}

// hasRecord reports whether span has a span event that is a Raceway record.
func hasRecord(span ptrace.Span) bool {
	evs := span.Events()
	for k := 0; k < evs.Len(); k++ {
		if convention.IsRecord(evs.At(k).Name()) {
			return true
		}
	}
	return false
}

func resourceSource(res pcommon.Resource) convention.Source {
	var src convention.Source
	attrs := res.Attributes()
	if v, ok := attrs.Get(attrServiceName); ok {
		src.Service = v.AsString()
	}
	if v, ok := attrs.Get(attrServiceInstanceID); ok {
		src.Process = v.AsString()
	}
	return src
}

// decodeSpan adds the span's Raceway records to the detector and reports
// whether at least one was valid. Invalid records are counted and dropped
// from the analysis; they stay on the span.
func (p *racewayProcessor) decodeSpan(span ptrace.Span, src convention.Source, now time.Time) bool {
	src.TraceID = span.TraceID()
	src.SpanID = span.SpanID()
	valid := false
	evs := span.Events()
	for k := 0; k < evs.Len(); k++ {
		ev := evs.At(k)
		if !p.dec.Reset(ev.Name(), ev.Timestamp().AsTime(), src) {
			continue
		}
		decodeAttributes(&p.dec, ev.Attributes())
		e, err := p.dec.Event()
		if err == nil {
			err = p.det.Add(e, now)
		}
		if err != nil {
			if errors.Is(err, convention.ErrNoProcess) {
				p.noProcess++
			} else {
				p.decodeErrors++
			}
			if ce := p.logger.Check(zap.DebugLevel, "raceway: dropping malformed record"); ce != nil {
				ce.Write(zap.String("event", truncate(ev.Name())), zap.Error(err))
			}
			continue
		}
		valid = true
	}
	return valid
}

// decodeAttributes feeds a span event's attributes to d.
func decodeAttributes(d *convention.Decoder, attrs pcommon.Map) {
	attrs.Range(func(k string, v pcommon.Value) bool {
		switch v.Type() {
		case pcommon.ValueTypeStr:
			d.Str(k, v.Str())
		case pcommon.ValueTypeInt:
			d.Int(k, v.Int())
		case pcommon.ValueTypeDouble:
			// Some SDKs send every number as a double.
			if f := v.Double(); f == math.Trunc(f) && math.Abs(f) < 1<<53 {
				d.Int(k, int64(f))
			} else {
				d.Mistyped(k)
			}
		case pcommon.ValueTypeSlice:
			s := v.Slice()
			for i := 0; i < s.Len(); i++ {
				if e := s.At(i); e.Type() == pcommon.ValueTypeStr {
					d.StrElem(k, e.Str())
				} else {
					d.Mistyped(k)
				}
			}
		default:
			d.Mistyped(k)
		}
		return true
	})
}

func (p *racewayProcessor) takeOutbox() ptrace.Traces {
	out := p.outbox
	p.outbox = ptrace.NewTraces()
	p.movedFrom, p.movedTo = ptrace.ScopeSpans{}, ptrace.SpanSlice{}
	return out
}

// handleRace annotates the held spans that took part in r and adds a finding
// trace to the outbox if r is a new distinct race. It is called by the
// detector's DrainEach (as p.onRace) and must not call the detector.
func (p *racewayProcessor) handleRace(r *analysis.Race) {
	t := raceText{r: r}
	p.annotate(&t, &r.Previous, rolePrevious)
	p.annotate(&t, &r.Current, roleCurrent)
	if r.Count == 1 {
		appendFinding(p.outbox, &t)
	}
}

// annotate adds a raceway.race span event about t's race, with the given
// role, to the held span of a, if any.
func (p *racewayProcessor) annotate(t *raceText, a *analysis.Access, role string) {
	h := p.held[pcommon.TraceID(a.TraceID)]
	if h == nil {
		return // released already: only the finding trace tells
	}
	// Races are rare and held traces small (max_spans_per_trace): a linear
	// search costs less than an index kept for every held trace.
	var hs *heldSpan
	for i := range h.spans {
		if h.spans[i].span.SpanID() == pcommon.SpanID(a.SpanID) {
			hs = &h.spans[i]
			break
		}
	}
	if hs == nil {
		return
	}
	// Repeated races of one group are counted on the span's event for the
	// group (as the detector counts them in the group), not repeated: a
	// span on a hot variable would otherwise carry one event per partner.
	for i := range hs.races {
		if sr := &hs.races[i]; sr.group == t.r.Group && sr.role == role {
			sr.n++
			sr.ev.Attributes().PutInt(attrRaceOccurrences, sr.n)
			return
		}
	}
	if len(hs.races) >= maxRaceEventsPerSpan {
		p.evictAnnots++
		return
	}
	ev := hs.span.Events().AppendEmpty()
	ev.SetName(convention.RaceEvent)
	ev.SetTimestamp(pcommon.NewTimestampFromTime(a.Time))
	t.put(ev.Attributes(), role, false)
	ev.Attributes().PutInt(attrRaceOccurrences, 1)
	hs.races = append(hs.races, spanRace{group: t.r.Group, role: role, ev: ev, n: 1})
}

// recordStats turns the detector's Stats and the local counters into metric
// updates.
func (p *racewayProcessor) recordStats(ctx context.Context) {
	s := p.det.Stats()
	l := p.last
	add := func(c metric.Int64Counter, now, before uint64, opts ...metric.AddOption) {
		if now > before {
			c.Add(ctx, int64(now-before), opts...)
		}
	}
	add(p.tel.ProcessorRacewayEventsAnalysed, s.Events, l.Events)
	add(p.tel.ProcessorRacewayRacesFound, s.Races, l.Races)
	add(p.tel.ProcessorRacewayDistinctRaces, s.Groups, l.Groups)
	add(p.tel.ProcessorRacewayLateEvents, s.Late, l.Late)
	add(p.tel.ProcessorRacewayForcedEvents, s.Forced, l.Forced)
	ev := p.tel.ProcessorRacewayEvictions
	add(ev, s.EvictedVariables, l.EvictedVariables, evictedAttrs["variables"])
	add(ev, s.EvictedHistory, l.EvictedHistory, evictedAttrs["history"])
	add(ev, s.EvictedThreads, l.EvictedThreads, evictedAttrs["threads"])
	add(ev, s.EvictedClockEntries, l.EvictedClockEntries, evictedAttrs["clock_entries"])
	add(ev, s.EvictedPending, l.EvictedPending, evictedAttrs["pending"])
	add(ev, s.EvictedGroups, l.EvictedGroups, evictedAttrs["groups"])
	add(ev, s.EvictedSnapshots, l.EvictedSnapshots, evictedAttrs["snapshots"])
	p.last = s

	rc := &p.recordedCounts
	addLocal := func(c metric.Int64Counter, now int64, before *int64, opts ...metric.AddOption) {
		if now > *before {
			c.Add(ctx, now-*before, opts...)
			*before = now
		}
	}
	addLocal(p.tel.ProcessorRacewayDecodeErrors, p.decodeErrors, &rc.decodeErrors, reasonAttrs[reasonMalformed])
	addLocal(p.tel.ProcessorRacewayDecodeErrors, p.noProcess, &rc.noProcess, reasonAttrs[reasonNoProcess])
	addLocal(ev, p.evictTraces, &rc.evictTraces, evictedAttrs["traces"])
	addLocal(ev, p.evictSpans, &rc.evictSpans, evictedAttrs["spans"])
	addLocal(ev, p.evictAnnots, &rc.evictAnnots, evictedAttrs["annotations"])

	p.tel.ProcessorRacewayTracesHeld.Record(ctx, int64(len(p.held)))
	p.tel.ProcessorRacewaySpansHeld.Record(ctx, int64(p.nspans))
}

func truncate(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
