package racewaynats_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/raceway-otel/raceway/internal/racewaytest"
	"github.com/raceway-otel/raceway/internal/servertest"
	"github.com/raceway-otel/raceway/racewayotel"
	"github.com/raceway-otel/raceway/racewayotel/racewaynats"
)

// connect returns a connection to the real NATS server, closed at the end
// of the test, and a subject of the test's own.
func connect(t *testing.T) (*nats.Conn, string) {
	t.Helper()
	nc, err := nats.Connect(servertest.NATS(t), nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc, servertest.Name("raceway.test.")
}

// The producer writes the order before publishing; the consumer writes it
// after receiving: its thread starts after the publish, so no race.
func TestProduceThenConsume(t *testing.T) {
	nc, subject := connect(t)
	prod, cons := racewaytest.NewService(t, "orders"), racewaytest.NewService(t, "billing")
	const order = "postgres/shop/orders/1.status"
	done := make(chan struct{})
	sub, err := nc.Subscribe(subject, racewaynats.Handler(cons.RW, func(ctx context.Context, msg *nats.Msg) {
		cons.RW.TrackSharedStateChange(ctx, order, "new", "billed", racewayotel.Write)
		close(done)
	}, racewaynats.WithTracerProvider(cons.TP)))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	ctx, span := prod.Start(context.Background(), "POST /orders")
	prod.RW.TrackSharedStateChange(ctx, order, nil, "new", racewayotel.Write)
	err = racewaynats.Publish(ctx, prod.RW, nc, &nats.Msg{Subject: subject, Data: []byte("1")}, racewaynats.WithTracerProvider(prod.TP))
	span.End()
	if err != nil {
		t.Fatal(err)
	}
	wait(t, done)
	racewaytest.CheckConsumedAfterSend(t, prod, cons, "process "+subject)
	if got := racewaytest.RacesOn(t, order, prod, cons); len(got) > 0 {
		t.Errorf("races %v, want none: the consumer runs after the publish", got)
	}
}

// Two services consume one queue group and write the same shared key with
// no lock: their handlers are concurrent, a race.
func TestQueueConsumersRace(t *testing.T) {
	nc, subject := connect(t)
	prod := racewaytest.NewService(t, "orders")
	const counter = "redis/0/orders:handled"
	workers := racewaytest.NewWorkers()
	var cons []*racewaytest.Service
	for _, name := range []string{"worker-a", "worker-b"} {
		s := racewaytest.NewService(t, name)
		cons = append(cons, s)
		cnc, _ := connect(t)
		_, err := cnc.QueueSubscribe(subject, "workers", racewaynats.Handler(s.RW, func(ctx context.Context, msg *nats.Msg) {
			s.RW.TrackSharedStateChange(ctx, counter, nil, string(msg.Data), racewayotel.Write)
			workers.Handled(name)
		}, racewaynats.WithTracerProvider(s.TP)))
		if err != nil {
			t.Fatal(err)
		}
		if err := cnc.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	ctx, span := prod.Start(context.Background(), "produce")
	for i := 0; i < 200 && !workers.Done(); i++ { // until both workers got one
		if err := racewaynats.Publish(ctx, prod.RW, nc, &nats.Msg{Subject: subject, Data: []byte{'0' + byte(i%10)}}, racewaynats.WithTracerProvider(prod.TP)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	span.End()
	workers.Wait(t)
	racewaytest.CheckConsumersRace(t, counter, "process "+subject, cons...)
}

// A status message is not an application message: no consumer thread,
// counted.
func TestStatusMessageSkipped(t *testing.T) {
	s := racewaytest.NewService(t, "billing")
	called := false
	h := racewaynats.Handler(s.RW, func(ctx context.Context, msg *nats.Msg) {
		called = true
		s.RW.TrackStateChange(ctx, "x", nil, 1, racewayotel.Write)
	}, racewaynats.WithTracerProvider(s.TP))
	h(&nats.Msg{Subject: "_INBOX.x", Header: nats.Header{"Status": []string{"503"}}})
	if !called {
		t.Error("the handler did not get the status message")
	}
	if n := s.RW.Stats().CaptureSkipped; n != 1 {
		t.Errorf("Stats.CaptureSkipped = %d, want 1", n)
	}
	for _, r := range s.Records() {
		if r.Span == "process _INBOX.x" {
			t.Errorf("a status message got a consumer span: %s", r.Summary())
		}
	}
}

func wait(t *testing.T, done <-chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("no message handled after 10s")
	}
}
