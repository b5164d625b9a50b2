package racewaytest

import (
	"context"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/raceway-otel/raceway/internal/servertest"
	"github.com/raceway-otel/raceway/racewayotel"
	"github.com/raceway-otel/raceway/racewayotel/convention"
	"github.com/raceway-otel/raceway/racewayotel/racewayamqp"
)

// ConsumeAMQP handles the deliveries of queue, on a channel of its own to
// the RabbitMQ server for tests, one at a time, each between
// racewayamqp.Consume with rw and opts and its end, then acknowledged,
// until the test ends.
func ConsumeAMQP(t testing.TB, rw *racewayotel.Tracker, queue string, opts []racewayamqp.Option, handle func(ctx context.Context, d amqp.Delivery)) {
	t.Helper()
	ch := servertest.RabbitMQChannel(t)
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
			ctx, end := racewayamqp.Consume(context.Background(), rw, d, opts...)
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

// CheckConsumedAfterSend checks that cons started one logical thread, on
// its span named span, right after prod's one send (on a producer span
// "send …"): a consumer after its producer's publish.
func CheckConsumedAfterSend(t testing.TB, prod, cons *Service, span string) {
	t.Helper()
	_, caller, _, _ := runtime.Caller(1) // the test, which sent the message
	cons.WaitSpans(t, span, 1)
	var sends []string
	for _, r := range prod.Records() {
		if r.Name == convention.EventPrefix+"rpc.send" {
			sends = append(sends, r.Epoch())
			if !strings.HasPrefix(r.Span, "send ") {
				t.Errorf("%s: the send is on span %q, want the producer span", prod.Name, r.Span)
			}
			if file := r.Str(convention.CodeFilePath); filepath.Base(file) != filepath.Base(caller) {
				t.Errorf("%s: the send is located in %s, want the sender's call site in %s", prod.Name, file, filepath.Base(caller))
			}
		}
	}
	var starts [][]string
	for _, r := range cons.Records() {
		if r.Name == convention.EventPrefix+"thread.start" {
			if r.Span != span {
				t.Errorf("%s: a thread starts on span %q, want %q", cons.Name, r.Span, span)
			}
			starts = append(starts, r.Strs(convention.After))
		}
	}
	if len(sends) != 1 || len(starts) != 1 || !slices.Equal(starts[0], sends) {
		t.Errorf("%s sent %v; %s started threads after %v: want one thread after the one send", prod.Name, sends, cons.Name, starts)
	}
}

// Workers waits until each of two consumers has handled a message.
type Workers struct {
	mu   sync.Mutex
	seen map[string]bool
	both chan struct{}
}

// NewWorkers returns Workers that have handled nothing.
func NewWorkers() *Workers { return &Workers{seen: map[string]bool{}, both: make(chan struct{})} }

// Handled records that the consumer name handled a message.
func (w *Workers) Handled(name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.seen[name] {
		w.seen[name] = true
		if len(w.seen) == 2 {
			close(w.both)
		}
	}
}

// Done reports whether both consumers have handled a message.
func (w *Workers) Done() bool {
	select {
	case <-w.both:
		return true
	default:
		return false
	}
}

// Wait waits until both consumers have handled a message, failing the test
// after 20 seconds.
func (w *Workers) Wait(t testing.TB) {
	t.Helper()
	select {
	case <-w.both:
	case <-time.After(20 * time.Second):
		t.Fatal("after 20s, not both consumers had a message")
	}
}

// CheckConsumersRace checks, once each consumer has ended a span named
// span, that their writes of v race across services, and never within one
// (a consumer handles its messages one after the other).
func CheckConsumersRace(t testing.TB, v, span string, cons ...*Service) {
	t.Helper()
	for _, s := range cons {
		s.WaitSpans(t, span, 1)
	}
	cross := false
	for _, r := range Races(t, Events(t, cons...)) {
		if r.Var != v {
			continue
		}
		if r.Previous.Service == r.Current.Service {
			t.Errorf("race within %s on %s: one consumer's messages are handled one after the other", r.Current.Service, v)
		}
		cross = true
	}
	if !cross {
		t.Errorf("no race between the consumers on %s", v)
	}
}
