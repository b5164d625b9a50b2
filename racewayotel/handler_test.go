package racewayotel_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/propagation"

	"github.com/raceway-otel/raceway/analysis"
	"github.com/raceway-otel/raceway/racewayotel"
)

// A message queue: the producer's headers carry its send epoch, the
// consumer starts its handler thread after it (produce → consume), and the
// consumer's respond epoch can travel back as an RPC response would.
func TestStartHandlerMessageQueue(t *testing.T) {
	const row = "postgres/shop/jobs/1.state"
	p := newService(t, "producer", racewayotel.WithPropagators(propagators))
	c := newService(t, "consumer", racewayotel.WithPropagators(propagators))

	ctx, span := p.start(context.Background(), "enqueue")
	p.rw.TrackSharedStateChange(ctx, row, nil, "new", racewayotel.Write)
	headers := p.rw.PropagationHeaders(ctx) // the message's headers
	p.rw.TrackSharedStateChange(ctx, row, "new", "queued", racewayotel.Write)

	// The consumer runs on a goroutine of its own, as a queue worker would.
	reply := make(chan string)
	go func() {
		mctx := propagators.Extract(context.Background(), propagation.MapCarrier(headers))
		mctx, cspan := c.start(mctx, "consume")
		hctx, respond := c.rw.StartHandler(mctx, "consume jobs")
		c.rw.TrackSharedStateChange(hctx, row, "new", "running", racewayotel.Write)
		clock := respond()
		if again := respond(); again != clock || clock == "" {
			t.Errorf("respond returned %q then %q, want one non-empty epoch", clock, again)
		}
		// Ended before the reply: the test reads the ended spans once the
		// reply has arrived.
		cspan.End()
		reply <- clock
	}()
	p.rw.TrackResponseClock(ctx, <-reply) // as if the producer waited for a reply
	p.rw.TrackSharedStateChange(ctx, row, "running", "done", racewayotel.Write)
	span.End()

	evs := events(t, p, c)
	h := newHB(evs)
	produced := find(t, evs, analysis.KindWrite, row, "new")
	queued := find(t, evs, analysis.KindWrite, row, "queued")
	running := find(t, evs, analysis.KindWrite, row, "running")
	done := find(t, evs, analysis.KindWrite, row, "done")
	ordered(t, h, produced, running)  // produce → consume
	concurrent(t, h, queued, running) // the producer went on after sending
	ordered(t, h, running, done)      // the reply edge
	if o := starts(evs)[running.Epoch.Thread].Origin; o != analysis.OriginRequest {
		t.Errorf("consumer thread origin %s, want request", o)
	}
	got := racesOn(t, evs, row)
	if len(got) != 1 {
		t.Errorf("races on %s: %v, want exactly the queued/running pair", row, got)
	}
}
