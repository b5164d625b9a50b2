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

// Resource attributes read to build a record's source.
const (
	attrServiceName       = convention.ServiceName
	attrServiceInstanceID = convention.ServiceInstanceID
)

// racewayProcessor is the processor in analyze mode. Spans pass on at once,
// untouched; their Raceway records go to the detector, which analyses each as
// soon as its predecessors have been (or once it waited wait_duration for
// them). Every race found, whenever that is, becomes raceway.race spans in
// the request traces of its two accesses and, for a new distinct race, a
// finding trace: they are sent on their own, after the batch that revealed
// the race or from the ticker.
type racewayProcessor struct {
	cfg    Config
	logger *zap.Logger
	next   consumer.Traces
	tel    *metadata.TelemetryBuilder
	now    func() time.Time
	// forward is cfg.forwardSpans(): pass on the spans received.
	forward bool

	// ticker, set up by Start and stopped by Shutdown.
	stop chan struct{}
	done chan struct{}

	mu        sync.Mutex
	det       *analysis.Detector
	dec       convention.Decoder
	annotated *annotated
	outbox    ptrace.Traces        // raceway.race spans and findings, sent after unlocking; zero when empty
	onRace    func(analysis.Found) // handleRace, for DrainEach
	shutdown  bool

	// Counters not kept by the detector, and the detector's last Stats,
	// turned into metric deltas by recordStats.
	decodeErrors int64 // reason malformed
	noProcess    int64 // reason no_process_identity
	raceSpans    int64
	recorded     localCounts
	last         analysis.Stats
}

// localCounts are the values of the processor's own counters last recorded.
type localCounts struct {
	decodeErrors, noProcess, raceSpans, evictAnnots int64
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
		cfg:       *cfg,
		logger:    set.Logger,
		next:      next,
		tel:       tel,
		now:       time.Now,
		forward:   cfg.forwardSpans(),
		det:       det,
		annotated: newAnnotated(maxAnnotated),
	}
	p.onRace = p.handleRace
	return p, nil
}

// Capabilities: the processor only reads the spans it passes on; what it
// adds, it sends on its own.
func (p *racewayProcessor) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: false}
}

// Start starts the ticker that analyses the records whose wait is over,
// emits their races and records the processor's metrics.
func (p *racewayProcessor) Start(context.Context, component.Host) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stop != nil || p.shutdown {
		return nil
	}
	p.stop, p.done = make(chan struct{}), make(chan struct{})
	go p.run(p.cfg.tickPeriod(), p.stop, p.done)
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

// Shutdown stops the ticker, analyses every waiting record and emits its
// races.
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
	p.recordStats(ctx)
	out := p.takeOutbox()
	p.mu.Unlock()
	var err error
	if out != (ptrace.Traces{}) {
		err = p.next.ConsumeTraces(ctx, out)
	}
	p.tel.Shutdown()
	return err
}

// ConsumeTraces feeds the Raceway records of td to the detector, passes td
// on untouched (unless forward_spans is false) and then sends the
// raceway.race spans and findings of the races found.
func (p *racewayProcessor) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	found := p.analyse(td)
	var err error
	if p.forward {
		err = p.next.ConsumeTraces(ctx, td)
	}
	p.emit(ctx, found)
	return err
}

// analyse decodes the records of td into the detector and returns the
// raceway.race spans and findings of the races found (a zero Traces if
// none). After Shutdown it does nothing.
func (p *racewayProcessor) analyse(td ptrace.Traces) ptrace.Traces {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shutdown {
		return ptrace.Traces{}
	}
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		src := resourceSource(rs.Resource())
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				p.decodeSpan(spans.At(k), src, now)
			}
		}
	}
	p.det.DrainEach(p.onRace)
	return p.takeOutbox()
}

// emit sends what the processor found to the next consumer. A failure is
// logged, not returned: the spans of the batch that revealed the races have
// gone on already, and a retry of the batch would not bring the races back.
func (p *racewayProcessor) emit(ctx context.Context, out ptrace.Traces) {
	if out == (ptrace.Traces{}) {
		return
	}
	if err := p.next.ConsumeTraces(ctx, out); err != nil {
		p.logger.Warn("raceway: next consumer rejected raceway.race spans and findings", zap.Int("spans", out.SpanCount()), zap.Error(err))
	}
}

// tick analyses the records whose wait is over, emits their races and
// records the metrics.
func (p *racewayProcessor) tick(ctx context.Context, now time.Time) {
	p.mu.Lock()
	if p.shutdown {
		p.mu.Unlock()
		return
	}
	p.det.Advance(now)
	p.det.DrainEach(p.onRace)
	p.recordStats(ctx)
	out := p.takeOutbox()
	p.mu.Unlock()
	p.emit(ctx, out)
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

// decodeSpan adds the span's Raceway records to the detector. Invalid
// records are counted and left out of the analysis; they stay on the span.
func (p *racewayProcessor) decodeSpan(span ptrace.Span, src convention.Source, now time.Time) {
	src.TraceID = span.TraceID()
	src.SpanID = span.SpanID()
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
		}
	}
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

// takeOutbox returns what handleRace added since the last call (a zero
// Traces if nothing).
func (p *racewayProcessor) takeOutbox() ptrace.Traces {
	out := p.outbox
	p.outbox = ptrace.Traces{}
	return out
}

// handleRace adds to the outbox the raceway.race spans of f's accesses that
// have none yet for f's distinct race and their role, and the finding trace
// if f is a new distinct race. A repeat that adds neither is only counted
// (by the detector), and its Race is not built. It is called by the
// detector's DrainEach (as p.onRace) and must not call the detector.
func (p *racewayProcessor) handleRace(f analysis.Found) {
	group := f.Group()
	trace, span := f.Previous()
	showPrevious := p.annotated.add(annotation{trace: trace, span: span, group: group, role: rolePrevious})
	trace, span = f.Current()
	showCurrent := p.annotated.add(annotation{trace: trace, span: span, group: group, role: roleCurrent})
	if !showPrevious && !showCurrent && f.Count() != 1 {
		return
	}
	if p.outbox == (ptrace.Traces{}) {
		p.outbox = ptrace.NewTraces()
	}
	var r analysis.Race
	f.Race(&r)
	t := raceText{r: &r}
	if showPrevious {
		appendRaceSpan(p.outbox, &t, &r.Previous, rolePrevious)
		p.raceSpans++
	}
	if showCurrent {
		appendRaceSpan(p.outbox, &t, &r.Current, roleCurrent)
		p.raceSpans++
	}
	if r.Count == 1 {
		appendFinding(p.outbox, &t)
	}
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

	rc := &p.recorded
	addLocal := func(c metric.Int64Counter, now int64, before *int64, opts ...metric.AddOption) {
		if now > *before {
			c.Add(ctx, now-*before, opts...)
			*before = now
		}
	}
	addLocal(p.tel.ProcessorRacewayDecodeErrors, p.decodeErrors, &rc.decodeErrors, reasonAttrs[reasonMalformed])
	addLocal(p.tel.ProcessorRacewayDecodeErrors, p.noProcess, &rc.noProcess, reasonAttrs[reasonNoProcess])
	addLocal(p.tel.ProcessorRacewayRaceSpans, p.raceSpans, &rc.raceSpans)
	addLocal(ev, p.annotated.evicted, &rc.evictAnnots, evictedAttrs["annotations"])

	p.tel.ProcessorRacewayRecordsPending.Record(ctx, int64(s.Pending))
}

func truncate(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
