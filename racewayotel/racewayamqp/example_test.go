package racewayamqp_test

import (
	"context"
	"log"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/raceway-otel/raceway/racewayotel"
	"github.com/raceway-otel/raceway/racewayotel/racewayamqp"
)

// A producer publishes with Publish; each consumer handles a delivery on a
// thread that starts after its publish.
func Example() {
	rw := racewayotel.New()
	conn, err := amqp.Dial("amqp://guest:guest@127.0.0.1:5672/")
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		log.Fatal(err)
	}
	q, err := ch.QueueDeclare("orders", true, false, false, false, nil)
	if err != nil {
		log.Fatal(err)
	}

	ctx := context.Background() // a request's context, in a service
	rw.TrackSharedStateChange(ctx, "postgres/shop/orders/1.status", nil, "new", racewayotel.Write)
	err = racewayamqp.Publish(ctx, rw, ch, "", q.Name, false, false, amqp.Publishing{Body: []byte("1")})
	if err != nil {
		log.Fatal(err)
	}

	deliveries, err := ch.Consume(q.Name, "", false, false, false, false, nil)
	if err != nil {
		log.Fatal(err)
	}
	for d := range deliveries {
		ctx, end := racewayamqp.Consume(context.Background(), rw, d)
		rw.TrackSharedStateChange(ctx, "postgres/shop/orders/"+string(d.Body)+".status", "new", "billed", racewayotel.Write)
		end()
		_ = d.Ack(false)
	}
}
