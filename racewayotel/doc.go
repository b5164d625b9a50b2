// Package racewayotel turns an application instrumented with OpenTelemetry
// into a source for Raceway's race detection: it records reads and writes of
// shared state, locks, goroutines and RPCs as span events on the
// application's own spans, following the convention of package
// [github.com/raceway-otel/raceway/racewayotel/convention] (docs/semconv.md),
// and carries the causality they need between goroutines and processes.
//
// # Setup
//
// Create one [Tracker] per process, register its [SpanProcessor] with the
// TracerProvider, put [Tracker.Middleware] inside otelhttp's handler and use
// [Tracker.Transport] for outgoing calls. Baggage must be among the
// propagators:
//
//	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter))
//	rw := racewayotel.New(racewayotel.WithTracerProvider(tp))
//	tp.RegisterSpanProcessor(rw.SpanProcessor())
//	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(
//		propagation.TraceContext{}, propagation.Baggage{}))
//
//	handler := otelhttp.NewHandler(rw.Middleware(mux), "server")
//	client := &http.Client{Transport: rw.Transport(http.DefaultTransport)}
//
// Then record accesses where the shared state is touched, context first:
//
//	rw.TrackStateChange(ctx, "accounts.alice.balance", nil, balance, racewayotel.Read)
//	rw.TrackStateChange(ctx, "accounts.alice.balance", balance, balance-100, racewayotel.Write)
//	rw.WithLock(ctx, &mu, "accounts", func() { … })
//
// The code location (file, line, function) of every record is captured
// automatically.
//
// # Variables
//
// A variable named in [Tracker.TrackStateChange] belongs to its process: two
// processes tracking "request_count" track two counters. State that really is
// shared across processes, such as a database row or a cache key, is tracked
// with [Tracker.TrackSharedStateChange] under a name that identifies the
// resource fleet-wide, such as "postgres/shop/products/42.stock".
//
// # Logical threads
//
// Every record belongs to a logical thread and is numbered in its program
// order. A thread is one request's handler ([Tracker.Middleware]), one
// goroutine started with [Tracker.Go] or [Tracker.Spawn], one job handed over
// with [Tracker.Detach], or, for a goroutine that records with a context
// carrying no thread, the goroutine itself. A context is not a thread: a
// context used on another goroutine than its thread's forks a new thread
// there, in the same trace (see [Tracker.Detach] for the approximation this
// makes), and a goroutine that runs several threads one after the other
// orders them.
//
// # Causality
//
// Happens-before edges are recorded as the epochs (thread@seq) that a record
// follows: spawn → child start, child end → await, lock release → next
// acquire of the same lock (the Tracker keeps a release sequence per lock),
// RPC send → handler start (one epoch in the raceway.clock baggage member),
// and handler respond → the caller's response (the Raceway-Clock response
// header). What travels between processes is one epoch of at most 37 bytes,
// whatever the length of the call chain or the fan-out.
//
// # No silent loss
//
// A record made with no recording span in its context, or after its span
// ended, is carried by a one-event "raceway.orphan" span (a child of the
// context's span, so in the same trace, when there is one). A span that has
// received its limit of records ([WithSpanEventLimit], 128 by default like
// the SDK's event limit, beyond which the SDK evicts the oldest events)
// continues on "raceway.overflow" child spans. Records that still cannot be
// recorded (sampled out), events the SDK evicted, and dropped inbound clocks
// are counted in [Tracker.Stats] and exported as metrics through the
// MeterProvider. The Tracker never waits on the exporters, so a collector
// that is down never blocks the application.
//
// # Bounds
//
// Memory is bounded: 65,536 goroutines, 65,536 open spans that received
// records, 4,096 locks with a release sequence of their own (later lock ids
// share 256 sequences by hash, which can hide but never invent a race), 8
// forks remembered per thread and 16,384 cached code locations.
package racewayotel
