package racewayamqp_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/raceway-otel/raceway/internal/racewaytest"
	"github.com/raceway-otel/raceway/internal/servertest"
	"github.com/raceway-otel/raceway/racewayotel"
	"github.com/raceway-otel/raceway/racewayotel/convention"
	"github.com/raceway-otel/raceway/racewayotel/racewayamqp"
)

// channel returns a channel on a connection to the real RabbitMQ, both
// closed at the end of the test.
func channel(t *testing.T) *amqp.Channel {
	t.Helper()
	conn, err := amqp.DialConfig(servertest.RabbitMQ(t), amqp.Config{Dial: amqp.DefaultDial(5 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// queue declares a queue of the test's own, deleted at its end.
func queue(t *testing.T, ch *amqp.Channel) string {
	t.Helper()
	q, err := ch.QueueDeclare(servertest.Name("raceway-test-"), false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		del := channel(t)
		if _, err := del.QueueDelete(q.Name, false, false, false); err != nil {
			t.Errorf("deleting queue %s: %v", q.Name, err)
		}
	})
	return q.Name
}

// consume runs handle for each delivery of queue on its own channel, as
// service s, with Consume around it, until the test ends.
func consume(t *testing.T, s *racewaytest.Service, queue string, handle func(ctx context.Context, d amqp.Delivery)) {
	t.Helper()
	ch := channel(t)
	if err := ch.Qos(1, 0, false); err != nil {
		t.Fatal(err)
	}
	deliveries, err := ch.Consume(queue, "", false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for d := range deliveries {
			ctx, end := racewayamqp.Consume(context.Background(), s.RW, d, racewayamqp.WithTracerProvider(s.TP))
			handle(ctx, d)
			end()
			_ = d.Ack(false)
		}
	}()
	t.Cleanup(func() {
		_ = ch.Close() // ends deliveries
		wg.Wait()
	})
}

func publish(t *testing.T, ctx context.Context, s *racewaytest.Service, ch *amqp.Channel, queue, body string) {
	t.Helper()
	err := racewayamqp.Publish(ctx, s.RW, ch, "", queue, false, false, amqp.Publishing{Body: []byte(body)},
		racewayamqp.WithTracerProvider(s.TP))
	if err != nil {
		t.Fatal(err)
	}
}

// The producer writes the order before publishing; the consumer writes it
// after receiving: its thread starts after the publish, so no race.
func TestProduceThenConsume(t *testing.T) {
	ch := channel(t)
	q := queue(t, ch)
	prod, cons := racewaytest.NewService(t, "orders"), racewaytest.NewService(t, "billing")
	const order = "postgres/shop/orders/1.status"
	done := make(chan struct{})
	consume(t, cons, q, func(ctx context.Context, d amqp.Delivery) {
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
	cons.WaitSpans(t, "process "+q, 1)

	var send string
	for _, r := range prod.Records() {
		if r.Name == "raceway.rpc.send" {
			send = r.Epoch()
		}
	}
	starts := 0
	for _, r := range cons.Records() {
		if r.Name == "raceway.thread.start" {
			starts++
			if after := r.Strs(convention.After); !slices.Equal(after, []string{send}) || r.Span != "process "+q {
				t.Errorf("consumer thread starts after %v on span %q, want after the send %s on the consumer span", after, r.Span, send)
			}
		}
	}
	if send == "" || starts != 1 {
		t.Fatalf("send %q, %d consumer threads: want one of each", send, starts)
	}
	if got := racewaytest.RacesOn(t, order, prod, cons); len(got) > 0 {
		t.Errorf("races %v, want none: the consumer runs after the publish", got)
	}
}

// Two services consume one queue and write the same shared key with no
// lock: their handlers are concurrent, a race.
func TestQueueConsumersRace(t *testing.T) {
	ch := channel(t)
	q := queue(t, ch)
	prod := racewaytest.NewService(t, "orders")
	const counter = "redis/0/orders:handled"
	var mu sync.Mutex
	handled := map[string]int{}
	both := make(chan struct{})
	var cons []*racewaytest.Service
	for _, name := range []string{"worker-a", "worker-b"} {
		s := racewaytest.NewService(t, name)
		cons = append(cons, s)
		consume(t, s, q, func(ctx context.Context, d amqp.Delivery) {
			s.RW.TrackSharedStateChange(ctx, counter, nil, string(d.Body), racewayotel.Write)
			time.Sleep(5 * time.Millisecond) // let the other worker take the next one
			mu.Lock()
			defer mu.Unlock()
			if handled[name]++; handled[name] == 1 && len(handled) == 2 {
				close(both)
			}
		})
	}
	ctx, span := prod.Start(context.Background(), "produce")
	for i := range 4 {
		publish(t, ctx, prod, ch, q, string(rune('0'+i)))
	}
	span.End()
	select {
	case <-both:
	case <-time.After(10 * time.Second):
		t.Fatalf("handled %v after 10s: want messages on both workers", handled)
	}
	for _, s := range cons {
		s.WaitSpans(t, "process "+q, 1)
	}
	cross := false
	for _, r := range racewaytest.Races(t, racewaytest.Events(t, append(cons, prod)...)) {
		if r.Var == counter && r.Previous.Service != r.Current.Service {
			cross = true
		}
	}
	if !cross {
		t.Errorf("no race between the two workers on %s", counter)
	}
}

// A propagation header that is not text cannot be read: the delivery is
// consumed without it, counted.
func TestUnreadableHeaderCounted(t *testing.T) {
	ch := channel(t)
	q := queue(t, ch)
	cons := racewaytest.NewService(t, "billing")
	done := make(chan struct{})
	consume(t, cons, q, func(ctx context.Context, d amqp.Delivery) {
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
