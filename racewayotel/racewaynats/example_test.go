package racewaynats_test

import (
	"context"
	"log"

	"github.com/nats-io/nats.go"

	"github.com/raceway-otel/raceway/racewayotel"
	"github.com/raceway-otel/raceway/racewayotel/racewaynats"
)

// A producer publishes with Publish; consumers of a queue group handle
// each message on a thread that starts after its publish.
func Example() {
	rw := racewayotel.New()
	nc, err := nats.Connect("nats://127.0.0.1:4222")
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()

	_, err = nc.QueueSubscribe("orders", "billing", racewaynats.Handler(rw, func(ctx context.Context, msg *nats.Msg) {
		rw.TrackSharedStateChange(ctx, "postgres/shop/orders/"+string(msg.Data)+".status", "new", "billed", racewayotel.Write)
	}))
	if err != nil {
		log.Fatal(err)
	}

	ctx := context.Background() // a request's context, in a service
	rw.TrackSharedStateChange(ctx, "postgres/shop/orders/1.status", nil, "new", racewayotel.Write)
	if err := racewaynats.Publish(ctx, rw, nc, &nats.Msg{Subject: "orders", Data: []byte("1")}); err != nil {
		log.Fatal(err)
	}
}
