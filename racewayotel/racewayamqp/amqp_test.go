package racewayamqp_test

import (
	"context"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/raceway-otel/raceway/internal/racewaytest"
	"github.com/raceway-otel/raceway/internal/servertest"
	"github.com/raceway-otel/raceway/racewayotel"
	"github.com/raceway-otel/raceway/racewayotel/racewayamqp"
)

func opts(s *racewaytest.Service) []racewayamqp.Option {
	return []racewayamqp.Option{racewayamqp.WithTracerProvider(s.TP)}
}

func publish(t *testing.T, ctx context.Context, s *racewaytest.Service, ch *amqp.Channel, queue, body string) {
	t.Helper()
	err := racewayamqp.Publish(ctx, s.RW, ch, "", queue, false, false, amqp.Publishing{Body: []byte(body)}, opts(s)...)
	if err != nil {
		t.Fatal(err)
	}
}

// The producer writes the order before publishing; the consumer writes it
// after receiving: its thread starts after the publish, so no race.
func TestProduceThenConsume(t *testing.T) {
	ch := servertest.RabbitMQChannel(t)
	q := servertest.RabbitMQQueue(t, ch)
	prod, cons := racewaytest.NewService(t, "orders"), racewaytest.NewService(t, "billing")
	const order = "postgres/shop/orders/1.status"
	done := make(chan struct{})
	racewaytest.ConsumeAMQP(t, cons.RW, q, opts(cons), func(ctx context.Context, d amqp.Delivery) {
		cons.RW.TrackSharedStateChange(ctx, order, "new", "billed", racewayotel.Write)
		close(done)
	})
	ctx, span := prod.Start(context.Background(), "POST /orders")
	prod.RW.TrackSharedStateChange(ctx, order, nil, "new", racewayotel.Write)
	publish(t, ctx, prod, ch, q, "1")
	span.End()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery after 10s")
	}
	racewaytest.CheckConsumedAfterSend(t, prod, cons, "process "+q)
	if got := racewaytest.RacesOn(t, order, prod, cons); len(got) > 0 {
		t.Errorf("races %v, want none: the consumer runs after the publish", got)
	}
}

// Two services consume one queue and write the same shared key with no
// lock: their handlers are concurrent, a race.
func TestQueueConsumersRace(t *testing.T) {
	ch := servertest.RabbitMQChannel(t)
	q := servertest.RabbitMQQueue(t, ch)
	prod := racewaytest.NewService(t, "orders")
	const counter = "redis/0/orders:handled"
	workers := racewaytest.NewWorkers()
	var cons []*racewaytest.Service
	for _, name := range []string{"worker-a", "worker-b"} {
		s := racewaytest.NewService(t, name)
		cons = append(cons, s)
		racewaytest.ConsumeAMQP(t, s.RW, q, opts(s), func(ctx context.Context, d amqp.Delivery) {
			s.RW.TrackSharedStateChange(ctx, counter, nil, string(d.Body), racewayotel.Write)
			time.Sleep(5 * time.Millisecond) // let the other worker take the next one
			workers.Handled(name)
		})
	}
	ctx, span := prod.Start(context.Background(), "produce")
	for i := range 4 {
		publish(t, ctx, prod, ch, q, string(rune('0'+i)))
	}
	span.End()
	workers.Wait(t)
	racewaytest.CheckConsumersRace(t, counter, "process "+q, cons...)
}

// A propagation header that is not text cannot be read: the delivery is
// consumed without it, counted.
func TestUnreadableHeaderCounted(t *testing.T) {
	ch := servertest.RabbitMQChannel(t)
	q := servertest.RabbitMQQueue(t, ch)
	cons := racewaytest.NewService(t, "billing")
	done := make(chan struct{})
	racewaytest.ConsumeAMQP(t, cons.RW, q, opts(cons), func(ctx context.Context, d amqp.Delivery) {
		cons.RW.TrackStateChange(ctx, "x", nil, 1, racewayotel.Write)
		close(done)
	})
	err := ch.PublishWithContext(context.Background(), "", q, false, false, amqp.Publishing{
		Headers: amqp.Table{"baggage": int32(7)}, Body: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery after 10s")
	}
	if n := cons.RW.Stats().CaptureSkipped; n != 1 {
		t.Errorf("Stats.CaptureSkipped = %d, want 1", n)
	}
}
