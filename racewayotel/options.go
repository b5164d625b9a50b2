package racewayotel

import (
	"log/slog"
	"net/http"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// DefaultSpanEventLimit is the default of [WithSpanEventLimit]: the event
// count limit of the OpenTelemetry Go SDK's spans.
const DefaultSpanEventLimit = 128

// config holds the settings of a [Tracker].
type config struct {
	tracerProvider trace.TracerProvider
	meterProvider  metric.MeterProvider
	propagators    propagation.TextMapPropagator
	logger         *slog.Logger
	spanEventLimit int
	processID      string
	propagateTo    map[string]bool // nil: every host
}

// Option configures a [Tracker].
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

func newConfig(opts []Option) config {
	c := config{spanEventLimit: DefaultSpanEventLimit, processID: processID}
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	if c.tracerProvider == nil {
		c.tracerProvider = otel.GetTracerProvider()
	}
	if c.meterProvider == nil {
		c.meterProvider = otel.GetMeterProvider()
	}
	if c.propagators == nil {
		c.propagators = otel.GetTextMapPropagator()
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	return c
}

// WithTracerProvider sets the TracerProvider used to start the spans that
// carry records no application span can take: "raceway.orphan" spans for
// records made with no recording span in the context, and
// "raceway.overflow" spans for records beyond a span's event limit. It should
// be the provider the Tracker's [SpanProcessor] is registered with. A nil
// provider selects the default, otel.GetTracerProvider().
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *config) {
		if tp != nil {
			c.tracerProvider = tp
		}
	})
}

// WithMeterProvider sets the MeterProvider through which the Tracker's
// [Stats] are also exported as asynchronous counters. A nil provider selects
// the default, otel.GetMeterProvider().
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) {
		if mp != nil {
			c.meterProvider = mp
		}
	})
}

// WithPropagators sets the propagators [Tracker.PropagationHeaders] injects
// with. They must include propagation.Baggage for the clock to travel. A nil
// propagator selects the default, otel.GetTextMapPropagator(). Middleware and
// Transport rely on otelhttp's own propagators instead.
func WithPropagators(p propagation.TextMapPropagator) Option {
	return optionFunc(func(c *config) {
		if p != nil {
			c.propagators = p
		}
	})
}

// WithLogger sets the logger that reports dropped inbound clocks. Reports are
// rate limited: the 1st, 2nd, 4th, 8th… drop of each reason is logged. A nil
// logger selects slog.Default().
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) {
		if l != nil {
			c.logger = l
		}
	})
}

// WithSpanEventLimit sets how many records the Tracker adds to one span
// before it continues on a "raceway.overflow" child span. Set it to the
// span event count limit of the TracerProvider (sdktrace.SpanLimits
// EventCountLimit, OTEL_SPAN_EVENT_COUNT_LIMIT), minus the events the
// application adds itself. Values below 1 select [DefaultSpanEventLimit].
func WithSpanEventLimit(n int) Option {
	return optionFunc(func(c *config) {
		if n >= 1 {
			c.spanEventLimit = n
		} else {
			c.spanEventLimit = DefaultSpanEventLimit
		}
	})
}

// WithProcessID sets the service instance identity written in the
// raceway.process.id attribute of every record. It scopes process-scoped
// variables (the same name in two instances is two variables) and names the
// instance in findings ("bank/bank-7d9f"). By default it is a random
// identifier chosen once per process, shared by every Tracker in it. Set it
// to the identity the rest of your telemetry uses for this instance (the
// resource's service.instance.id, a pod name) so that findings and traces
// name the instance alike. It must differ between the instances of a
// service: two instances with the same id would have their in-memory
// variables taken for one. An empty id is ignored.
func WithProcessID(id string) Option {
	return optionFunc(func(c *config) {
		if id != "" {
			c.processID = id
		}
	})
}

// WithPropagationHosts limits the hosts to which [Tracker.Transport] sends
// the clock: requests to any other host carry no raceway.clock baggage member
// and their Raceway-Clock response header is ignored. A host is matched
// case-insensitively against the request URL's host name, or against its
// host:port when the entry has a port. With no hosts given (the default) the
// clock goes to every host.
func WithPropagationHosts(hosts ...string) Option {
	return optionFunc(func(c *config) {
		if len(hosts) == 0 {
			c.propagateTo = nil
			return
		}
		c.propagateTo = make(map[string]bool, len(hosts))
		for _, h := range hosts {
			c.propagateTo[strings.ToLower(h)] = true
		}
	})
}

// propagates reports whether the clock may travel with r.
func (c *config) propagates(r *http.Request) bool {
	if c.propagateTo == nil {
		return true
	}
	if r.URL == nil {
		return false
	}
	return c.propagateTo[strings.ToLower(r.URL.Hostname())] || c.propagateTo[strings.ToLower(r.URL.Host)]
}
