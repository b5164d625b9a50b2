package racewayprocessor // import "github.com/raceway-otel/raceway/processor/racewayprocessor"

import (
	"context"
	"errors"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"

	"github.com/raceway-otel/raceway/analysis"
	"github.com/raceway-otel/raceway/processor/racewayprocessor/internal/metadata"
	"github.com/raceway-otel/raceway/racewayotel/convention"
)

// Shard mode (docs/scaling.md). A first-tier ("router") collector runs one
// pipeline per analysis instance, each with a raceway processor in shard
// mode for that instance's shard. The analysis instance of shard i must
// receive
//
//   - every access of the variables of shard i, and
//   - every thread's complete record stream (program order must have no
//     gaps: the detector analyses a thread's record n only after n-1), with
//     every edge record (thread.*, rpc.*, lock.*).
//
// So a shard pipeline forwards every record, but rewrites the accesses of
// other shards' variables into placeholders: the span event is renamed to
// "raceway.call" (analysis.KindCall, which names no variable) and keeps only
// raceway.thread.id, raceway.seq, raceway.process.id and raceway.after. The
// placeholder keeps the thread's program order exact and costs the analysis
// instance a clock tick, not variable state.

// Record names the shard stage looks at.
var (
	readEvent        = convention.EventPrefix + analysis.KindRead.String()
	writeEvent       = convention.EventPrefix + analysis.KindWrite.String()
	placeholderEvent = convention.EventPrefix + analysis.KindCall.String()
)

// FNV-1a 64 parameters.
const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

func fnv1a(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime64
	}
	return h
}

// variableKey is the identity of a variable, as the analysis package keys
// its state: a shared variable (raceway.var.scope = shared) by its name
// alone, any other by service.name, process identity (the record's
// raceway.process.id, else the resource's service.instance.id) and name,
// joined by NUL bytes.
func variableKey(service, process, name string, shared bool) string {
	if shared {
		return name
	}
	return service + "\x00" + process + "\x00" + name
}

// keyShard returns the shard, in [0, count), that owns the variable whose
// variableKey is key: FNV-1a 64 of the key modulo count.
func keyShard(key string, count int) int {
	return int(fnv1a(fnvOffset64, key) % uint64(count))
}

// variableShard is keyShard(variableKey(service, process, name, shared),
// count), without building the key.
func variableShard(service, process, name string, shared bool, count int) int {
	h := uint64(fnvOffset64)
	if !shared {
		h = fnv1a(h, service)
		h = fnv1a(h, "\x00")
		h = fnv1a(h, process)
		h = fnv1a(h, "\x00")
	}
	h = fnv1a(h, name)
	return int(h % uint64(count))
}

// shardProcessor is the raceway processor in shard mode. It is stateless.
type shardProcessor struct {
	index, count int
	next         consumer.Traces
	tel          *metadata.TelemetryBuilder
}

func newShardProcessor(set processor.Settings, cfg *Config, next consumer.Traces) (*shardProcessor, error) {
	if next == nil {
		return nil, errors.New("racewayprocessor: nil next consumer")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.mode() != ModeShard {
		return nil, errors.New("racewayprocessor: not in shard mode")
	}
	tel, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	exportZeros(tel, true)
	return &shardProcessor{index: cfg.Shard.Index, count: cfg.Shard.count(), next: next, tel: tel}, nil
}

// Capabilities: the shard stage drops spans, events and attributes and
// rewrites events.
func (p *shardProcessor) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: true}
}

func (p *shardProcessor) Start(context.Context, component.Host) error { return nil }

func (p *shardProcessor) Shutdown(context.Context) error {
	p.tel.Shutdown()
	return nil
}

// ConsumeTraces keeps the spans that carry Raceway records, stripped to
// their records and to what the analysis tier reads, with the accesses of
// other shards turned into placeholders; it drops every other span.
func (p *shardProcessor) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	var dropped, placeholders int64
	td.ResourceSpans().RemoveIf(func(rs ptrace.ResourceSpans) bool {
		src := resourceSource(rs.Resource())
		rs.ScopeSpans().RemoveIf(func(ss ptrace.ScopeSpans) bool {
			ss.Spans().RemoveIf(func(span ptrace.Span) bool {
				if !hasRecord(span) {
					dropped++
					return true
				}
				placeholders += p.strip(span, src)
				return false
			})
			if ss.Spans().Len() == 0 {
				return true
			}
			ss.Scope().Attributes().Clear()
			return false
		})
		if rs.ScopeSpans().Len() == 0 {
			return true
		}
		rs.Resource().Attributes().RemoveIf(func(k string, _ pcommon.Value) bool {
			return k != attrServiceName && k != attrServiceInstanceID
		})
		return false
	})
	if dropped > 0 {
		p.tel.ProcessorRacewayShardDroppedSpans.Add(ctx, dropped)
	}
	if placeholders > 0 {
		p.tel.ProcessorRacewayShardPlaceholders.Add(ctx, placeholders)
	}
	if td.ResourceSpans().Len() == 0 {
		return nil
	}
	return p.next.ConsumeTraces(ctx, td)
}

// strip reduces span to its ids, name, kind, times, status and Raceway
// records, turning the accesses of other shards into placeholders; it
// returns how many.
func (p *shardProcessor) strip(span ptrace.Span, src convention.Source) int64 {
	span.Attributes().Clear()
	span.SetDroppedAttributesCount(0)
	span.Links().RemoveIf(func(ptrace.SpanLink) bool { return true })
	span.SetDroppedLinksCount(0)
	span.SetDroppedEventsCount(0)
	var n int64
	span.Events().RemoveIf(func(ev ptrace.SpanEvent) bool {
		name := ev.Name()
		if !convention.IsRecord(name) {
			return true
		}
		if (name == readEvent || name == writeEvent) && !p.owns(ev.Attributes(), src) {
			toPlaceholder(ev)
			n++
		}
		return false
	})
	return n
}

// owns reports whether the access whose attributes are attrs, recorded by
// src, belongs to this shard. It reads the attributes as convention.Decoder
// does (string values only).
func (p *shardProcessor) owns(attrs pcommon.Map, src convention.Source) bool {
	if p.count == 1 {
		return true
	}
	str := func(key string) (string, bool) {
		if v, ok := attrs.Get(key); ok && v.Type() == pcommon.ValueTypeStr {
			return v.Str(), true
		}
		return "", false
	}
	name, _ := str(convention.VarName)
	scope, _ := str(convention.VarScope)
	process := src.Process
	if v, ok := str(convention.ProcessID); ok {
		process = v
	}
	return variableShard(src.Service, process, name, scope == convention.ScopeShared, p.count) == p.index
}

// toPlaceholder rewrites an access record into a raceway.call record of the
// same thread and seq: no variable, values or locks.
func toPlaceholder(ev ptrace.SpanEvent) {
	ev.SetName(placeholderEvent)
	ev.SetDroppedAttributesCount(0)
	ev.Attributes().RemoveIf(func(k string, _ pcommon.Value) bool {
		switch k {
		case convention.ThreadID, convention.Seq, convention.ProcessID, convention.After:
			return false
		}
		return true
	})
}
