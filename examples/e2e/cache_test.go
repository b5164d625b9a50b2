package e2e

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/raceway-otel/raceway/internal/jaegertest"
	"github.com/raceway-otel/raceway/internal/racewaytest"
	"github.com/raceway-otel/raceway/internal/servertest"
	"github.com/raceway-otel/raceway/internal/stack"
	"github.com/raceway-otel/raceway/racewayotel"
	"github.com/raceway-otel/raceway/racewayotel/convention"
	"github.com/raceway-otel/raceway/racewayotel/racewayamqp"
	"github.com/raceway-otel/raceway/racewayotel/racewaynats"
	"github.com/raceway-otel/raceway/racewayotel/racewayredis"
)

// What Raceway must conclude on a fixture's key.
const (
	noRace     = "no race"
	race       = "race"
	lostUpdate = "lost update"
)

// cacheFixtures are scenario 16 of the design and its neighbours: services
// sharing the real Redis, NATS and RabbitMQ, each fixture with what must be
// concluded on the Redis key it uses.
var cacheFixtures = []struct {
	name string
	want string
	run  func(t *testing.T, e *cacheEnv, key string)
}{
	{"the producer SETs before publishing on NATS, the consumer SETs after receiving", noRace, natsProduceConsume},
	{"the producer SETs before publishing on RabbitMQ, the consumer SETs after receiving", noRace, amqpProduceConsume},
	{"two consumers of a NATS queue group SET the key, with no lock", race, natsTwoConsumers},
	{"two consumers of a RabbitMQ queue SET the key, with no lock", race, amqpTwoConsumers},
	{"two services INCR the key", noRace, incrBoth},
	{"two services GET then SET the key, both reading 10 (writes 9 and 8: expected 7)", lostUpdate, getThenSetBoth},
	{"two services GET then SET the key under the Redis lock", noRace, lockedBoth},
	{"two services GET then SET the key, one of them skipping the Redis lock", race, oneSkipsLock},
}

// TestCachesAndBrokers runs cacheFixtures end to end: services in this
// process (each its own TracerProvider, OTLP exporter and Tracker, as
// separate processes have) use the real Redis, NATS and RabbitMQ on
// loopback through racewayredis, racewaynats and racewayamqp, send their
// spans to the real otelcol-raceway, and the findings are read back from
// Jaeger.
func TestCachesAndBrokers(t *testing.T) {
	e := newCacheEnv(t) // the servers first: without them, nothing to build
	s, _ := startStack(t)
	e.s = s
	ctx := context.Background()
	start := time.Now()
	keys := make([]string, len(cacheFixtures))
	racy := 0
	for i, f := range cacheFixtures {
		keys[i] = e.prefix + string(rune('a'+i))
		f.run(t, e, keys[i])
		if f.want != noRace {
			racy++
		}
	}
	e.flush(t)
	vars := map[string]int{}
	for i, k := range keys {
		vars[racewayredis.Key(0, k)] = i
	}
	keep := func(f stack.Finding) bool {
		_, ok := vars[f.Var]
		return ok && !f.Start.Before(start.Add(-time.Second))
	}
	found, err := stack.WaitFindings(ctx, s.Jaeger, keep, racy, 5*time.Second, 90*time.Second)
	if err != nil {
		t.Error(err)
	}
	byFixture := make([][]stack.Finding, len(cacheFixtures))
	for _, f := range found {
		t.Logf("%s (trace %s)", f.Headline(), f.TraceID)
		byFixture[vars[f.Var]] = append(byFixture[vars[f.Var]], f)
	}
	for i, f := range cacheFixtures {
		got := byFixture[i]
		switch f.want {
		case noRace:
			for _, g := range got {
				t.Errorf("%s: want no race, got %s", f.name, g.Headline())
			}
			// The absence of findings is not an absence of data: the
			// writes reached Jaeger.
			if n := e.writesInJaeger(t, s, racewayredis.Key(0, keys[i])); n < 2 {
				t.Errorf("%s: %d writes of the key in Jaeger, want at least 2", f.name, n)
			}
		case race:
			if len(got) == 0 {
				t.Errorf("%s: want a race, got none", f.name)
			}
		case lostUpdate:
			var lost *stack.Finding
			for j, g := range got {
				if g.LostUpdate {
					lost = &got[j]
				}
			}
			if lost == nil {
				t.Errorf("%s: want a lost update among %d findings", f.name, len(got))
				continue
			}
			if lost.Read != "10" || lost.Expected != "7" || !strings.Contains(lost.Report, "Lost update: both writers read 10") {
				t.Errorf("%s: lost update read %q expected %q, want 10 and 7:\n%s", f.name, lost.Read, lost.Expected, lost.Report)
			}
			if svcs := []string{lost.Previous.Service, lost.Current.Service}; !slices.Contains(svcs, "orders") || !slices.Contains(svcs, "inventory") {
				t.Errorf("%s: lost update between %v, want orders and inventory", f.name, svcs)
			}
			// The location is the application's call, not go-redis's.
			for _, side := range []stack.Side{lost.Previous, lost.Current} {
				if !strings.HasSuffix(side.File, "cache_test.go") || side.Line == 0 {
					t.Errorf("%s: access located at %s, want this file", f.name, side.Location())
				}
			}
		}
	}
}

// Redis fixtures.

func incrBoth(t *testing.T, e *cacheEnv, key string) {
	e.concurrently(t, []string{"orders", "inventory"}, func(ctx context.Context, svc *cacheService) error {
		return svc.rdb.Incr(ctx, key).Err()
	})
}

func getThenSetBoth(t *testing.T, e *cacheEnv, key string) {
	e.set(t, key, 10)
	var read sync.WaitGroup // both read before either writes
	read.Add(2)
	e.concurrently(t, []string{"orders", "inventory"}, func(ctx context.Context, svc *cacheService) error {
		n, err := svc.rdb.Get(ctx, key).Int()
		read.Done()
		read.Wait()
		if err != nil {
			return err
		}
		take := map[string]int{"orders": 1, "inventory": 2}[svc.name]
		return svc.rdb.Set(ctx, key, n-take, 0).Err()
	})
}

func lockedBoth(t *testing.T, e *cacheEnv, key string) {
	e.set(t, key, 10)
	e.concurrently(t, []string{"orders", "inventory"}, func(ctx context.Context, svc *cacheService) error {
		return svc.lockedDecrement(ctx, key)
	})
}

func oneSkipsLock(t *testing.T, e *cacheEnv, key string) {
	e.set(t, key, 10)
	e.concurrently(t, []string{"orders", "inventory"}, func(ctx context.Context, svc *cacheService) error {
		if svc.name == "orders" {
			return svc.lockedDecrement(ctx, key)
		}
		n, err := svc.rdb.Get(ctx, key).Int()
		if err != nil {
			return err
		}
		return svc.rdb.Set(ctx, key, n-1, 0).Err()
	})
}

// lockedDecrement reads and writes key back holding its Redis lock.
func (svc *cacheService) lockedDecrement(ctx context.Context, key string) error {
	m := racewayredis.NewMutex(svc.rdb, key+":lock", racewayredis.WithLockRetry(time.Millisecond))
	return svc.rw.WithSharedLock(ctx, m, m.Name(), func(ctx context.Context) error {
		n, err := svc.rdb.Get(ctx, key).Int()
		if err != nil {
			return err
		}
		return svc.rdb.Set(ctx, key, n-1, 0).Err()
	})
}

// Broker fixtures: the producer and the consumers write the key through
// the Redis capture.

func natsProduceConsume(t *testing.T, e *cacheEnv, key string) {
	subject := servertest.Name("raceway.e2e.")
	billing := e.service(t, "billing")
	done := make(chan struct{})
	sub, err := e.nats(t).Subscribe(subject, racewaynats.Handler(billing.rw, func(ctx context.Context, msg *nats.Msg) {
		defer close(done)
		if err := billing.rdb.Set(ctx, key, "billed", 0).Err(); err != nil {
			t.Error(err)
		}
	}, billing.natsOpts()...))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	orders := e.service(t, "orders")
	orders.request(t, func(ctx context.Context) error {
		if err := orders.rdb.Set(ctx, key, "created", 0).Err(); err != nil {
			return err
		}
		return racewaynats.Publish(ctx, orders.rw, e.nats(t), &nats.Msg{Subject: subject, Data: []byte(key)}, orders.natsOpts()...)
	})
	waitFor(t, done)
}

func amqpProduceConsume(t *testing.T, e *cacheEnv, key string) {
	ch, q := e.queue(t)
	billing := e.service(t, "billing")
	done := make(chan struct{})
	var once sync.Once
	racewaytest.ConsumeAMQP(t, billing.rw, q, billing.amqpOpts(), func(ctx context.Context, _ amqp.Delivery) {
		if err := billing.rdb.Set(ctx, key, "billed", 0).Err(); err != nil {
			t.Error(err)
		}
		once.Do(func() { close(done) })
	})
	orders := e.service(t, "orders")
	orders.request(t, func(ctx context.Context) error {
		if err := orders.rdb.Set(ctx, key, "created", 0).Err(); err != nil {
			return err
		}
		return racewayamqp.Publish(ctx, orders.rw, ch, "", q, false, false, amqp.Publishing{Body: []byte(key)}, orders.amqpOpts()...)
	})
	waitFor(t, done)
}

func natsTwoConsumers(t *testing.T, e *cacheEnv, key string) {
	subject := servertest.Name("raceway.e2e.")
	workers := racewaytest.NewWorkers()
	for _, name := range []string{"worker-a", "worker-b"} {
		w := e.service(t, name)
		sub, err := e.nats(t).QueueSubscribe(subject, "workers", racewaynats.Handler(w.rw, func(ctx context.Context, msg *nats.Msg) {
			if err := w.rdb.Set(ctx, key, name, 0).Err(); err != nil {
				t.Error(err)
			}
			workers.Handled(name)
		}, w.natsOpts()...))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = sub.Unsubscribe() }()
	}
	orders := e.service(t, "orders")
	orders.request(t, func(ctx context.Context) error {
		for i := 0; i < 200 && !workers.Done(); i++ { // until both workers got one
			if err := racewaynats.Publish(ctx, orders.rw, e.nats(t), &nats.Msg{Subject: subject, Data: []byte{'x'}}, orders.natsOpts()...); err != nil {
				return err
			}
			time.Sleep(5 * time.Millisecond)
		}
		return nil
	})
	workers.Wait(t)
}

func amqpTwoConsumers(t *testing.T, e *cacheEnv, key string) {
	ch, q := e.queue(t)
	workers := racewaytest.NewWorkers()
	for _, name := range []string{"worker-a", "worker-b"} {
		w := e.service(t, name)
		racewaytest.ConsumeAMQP(t, w.rw, q, w.amqpOpts(), func(ctx context.Context, _ amqp.Delivery) {
			if err := w.rdb.Set(ctx, key, name, 0).Err(); err != nil {
				t.Error(err)
			}
			time.Sleep(5 * time.Millisecond) // the other worker takes the next one
			workers.Handled(name)
		})
	}
	orders := e.service(t, "orders")
	orders.request(t, func(ctx context.Context) error {
		for range 4 {
			if err := racewayamqp.Publish(ctx, orders.rw, ch, "", q, false, false, amqp.Publishing{Body: []byte{'x'}}, orders.amqpOpts()...); err != nil {
				return err
			}
		}
		return nil
	})
	workers.Wait(t)
}

// cacheEnv is what the fixtures share: the stack, the servers and a key
// prefix of the test's own.
type cacheEnv struct {
	s        *stack.Stack
	redis    string
	natsURL  string
	prefix   string
	services []*cacheService

	mu sync.Mutex
	nc *nats.Conn
}

func newCacheEnv(t *testing.T) *cacheEnv {
	e := &cacheEnv{natsURL: servertest.NATS(t)}
	servertest.RabbitMQ(t)
	e.redis, e.prefix = servertest.RedisKeys(t, "raceway-e2e:")
	return e
}

// cacheService is one simulated process: its own TracerProvider exporting
// to the collector, Tracker and captured Redis client.
type cacheService struct {
	name string
	tp   *sdktrace.TracerProvider
	rw   *racewayotel.Tracker
	rdb  *redis.Client
}

var propagators = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

func (e *cacheEnv) service(t *testing.T, name string) *cacheService {
	t.Helper()
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(e.s.OTLPHTTP+"/v1/traces"))
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(200*time.Millisecond)),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", name))),
	)
	rw := racewayotel.New(racewayotel.WithTracerProvider(tp), racewayotel.WithPropagators(propagators),
		racewayotel.WithProcessID(servertest.Name(name+"-")))
	tp.RegisterSpanProcessor(rw.SpanProcessor())
	rdb := redis.NewClient(&redis.Options{Addr: e.redis})
	if err := racewayredis.Instrument(rdb, rw); err != nil {
		t.Fatal(err)
	}
	svc := &cacheService{name: name, tp: tp, rw: rw, rdb: rdb}
	t.Cleanup(func() { _ = rdb.Close(); _ = tp.Shutdown(context.Background()) })
	e.mu.Lock()
	e.services = append(e.services, svc)
	e.mu.Unlock()
	return svc
}

func (svc *cacheService) natsOpts() []racewaynats.Option {
	return []racewaynats.Option{racewaynats.WithTracerProvider(svc.tp), racewaynats.WithPropagators(propagators)}
}

func (svc *cacheService) amqpOpts() []racewayamqp.Option {
	return []racewayamqp.Option{racewayamqp.WithTracerProvider(svc.tp), racewayamqp.WithPropagators(propagators)}
}

// request runs fn in a request span of the service, on a thread of its own.
func (svc *cacheService) request(t *testing.T, fn func(ctx context.Context) error) {
	t.Helper()
	ctx, span := svc.tp.Tracer("e2e").Start(context.Background(), "request")
	defer span.End()
	ctx, _ = svc.rw.StartHandler(ctx, "request")
	if err := fn(ctx); err != nil {
		t.Error(err)
	}
}

// concurrently runs fn as a request of each named service at once.
func (e *cacheEnv) concurrently(t *testing.T, names []string, fn func(ctx context.Context, svc *cacheService) error) {
	var wg sync.WaitGroup
	for _, name := range names {
		svc := e.service(t, name)
		wg.Add(1)
		go func() {
			defer wg.Done()
			svc.request(t, func(ctx context.Context) error { return fn(ctx, svc) })
		}()
	}
	wg.Wait()
}

// set sets key without capturing it: the fixture's starting value.
func (e *cacheEnv) set(t *testing.T, key string, v any) {
	rdb := redis.NewClient(&redis.Options{Addr: e.redis})
	defer rdb.Close()
	if err := rdb.Set(context.Background(), key, v, 0).Err(); err != nil {
		t.Fatal(err)
	}
}

func (e *cacheEnv) nats(t *testing.T) *nats.Conn {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.nc == nil {
		nc, err := nats.Connect(e.natsURL, nats.Timeout(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		e.nc = nc
		t.Cleanup(nc.Close)
	}
	return e.nc
}

// queue declares a RabbitMQ queue of the fixture's own, deleted at the end
// of the test, and returns a channel to publish on.
func (e *cacheEnv) queue(t *testing.T) (*amqp.Channel, string) {
	ch := servertest.RabbitMQChannel(t)
	return ch, servertest.RabbitMQQueue(t, ch)
}

// flush exports every service's spans.
func (e *cacheEnv) flush(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, svc := range e.services {
		if err := svc.tp.ForceFlush(ctx); err != nil {
			t.Errorf("%s: %v", svc.name, err)
		}
	}
}

// writesInJaeger counts the raceway.write events on variable v in the
// traces Jaeger holds.
func (e *cacheEnv) writesInJaeger(t *testing.T, s *stack.Stack, v string) int {
	n := 0
	seen := map[string]bool{}
	for _, svc := range e.services {
		if seen[svc.name] {
			continue
		}
		seen[svc.name] = true
		traces, err := s.Jaeger.Traces(context.Background(), svc.name)
		if err != nil {
			t.Error(err)
			return n
		}
		for _, tr := range traces {
			for _, sp := range tr.Spans {
				for _, l := range sp.Logs {
					ev, _ := jaegerStr(l.Fields, "event")
					name, _ := jaegerStr(l.Fields, convention.VarName)
					if ev == "raceway.write" && name == v {
						n++
					}
				}
			}
		}
	}
	return n
}

func waitFor(t *testing.T, done <-chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("no message consumed after 20s")
	}
}

func jaegerStr(kvs []jaegertest.KeyValue, key string) (string, bool) {
	v, ok := jaegertest.Tag(kvs, key)
	s, _ := v.(string)
	return s, ok
}
