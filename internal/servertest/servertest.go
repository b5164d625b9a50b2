// Package servertest finds the servers that integration tests run against
// on loopback (Redis, NATS, RabbitMQ), as CI leaves them running. A test
// that needs one calls its function: with CI=true an unreachable server
// fails the test, elsewhere it skips the test with a message saying what is
// missing and how to start it. Tests share the servers with other tests
// running at the same time, so each uses its own random names (see Name)
// and removes what it created; none flushes a whole server.
package servertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/url"
	"os"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"
)

// Redis returns the address of the Redis server for tests:
// $RACEWAY_REDIS_ADDR, or 127.0.0.1:6379.
func Redis(t testing.TB) string {
	return need(t, "Redis", env("RACEWAY_REDIS_ADDR", "127.0.0.1:6379"),
		"apt-get install redis-server && redis-server --bind 127.0.0.1 --port 6379 --daemonize yes")
}

// NATS returns the URL of the NATS server for tests: $RACEWAY_NATS_URL, or
// nats://127.0.0.1:4222.
func NATS(t testing.TB) string {
	u := env("RACEWAY_NATS_URL", "nats://127.0.0.1:4222")
	need(t, "NATS", hostPort(t, u, "4222"),
		"apt-get install nats-server && nats-server -a 127.0.0.1 -p 4222 -js &")
	return u
}

// RabbitMQ returns the AMQP URL of the RabbitMQ server for tests:
// $RACEWAY_AMQP_URL, or amqp://guest:guest@127.0.0.1:5672/.
func RabbitMQ(t testing.TB) string {
	u := env("RACEWAY_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
	need(t, "RabbitMQ", hostPort(t, u, "5672"),
		"apt-get install rabbitmq-server && rabbitmq-server -detached (it listens on 5672, user guest/guest)")
	return u
}

// Name returns prefix followed by a random suffix, for keys, subjects and
// queues that no other test uses.
func Name(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func hostPort(t testing.TB, rawURL, defPort string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatalf("server URL %q: %v", rawURL, err)
	}
	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), defPort)
	}
	return u.Host
}

// need dials addr and, when nothing answers, fails the test under CI=true
// and skips it otherwise.
func need(t testing.TB, server, addr, start string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err == nil {
		_ = c.Close()
		return addr
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not reachable at %s (%v); CI=true requires it. Start it with: %s", server, addr, err, start)
	}
	t.Skipf("SKIPPED, NEEDS %s: nothing answers at %s (%v). Start it with: %s (CI=true makes this a failure)", server, addr, err, start)
	return ""
}

// RedisKeys returns the address of the Redis server for tests and a key
// prefix of the test's own ("<prefix>…:"); the keys under it, and the
// companion keys of locks under it ("{<prefix>…}:raceway"), are deleted at
// the end of the test.
func RedisKeys(t testing.TB, prefix string) (addr, keyPrefix string) {
	t.Helper()
	addr = Redis(t)
	keyPrefix = Name(prefix) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		rdb := redis.NewClient(&redis.Options{Addr: addr})
		defer rdb.Close()
		for _, pattern := range []string{keyPrefix + "*", "{" + keyPrefix + "*"} {
			iter := rdb.Scan(ctx, 0, pattern, 100).Iterator()
			for iter.Next(ctx) {
				rdb.Del(ctx, iter.Val())
			}
			if err := iter.Err(); err != nil {
				t.Errorf("deleting the test's Redis keys: %v", err)
			}
		}
	})
	return addr, keyPrefix
}

// RabbitMQChannel returns a channel on a new connection to the RabbitMQ
// server for tests, both closed at the end of the test.
func RabbitMQChannel(t testing.TB) *amqp.Channel {
	t.Helper()
	conn, err := amqp.DialConfig(RabbitMQ(t), amqp.Config{Dial: amqp.DefaultDial(5 * time.Second)})
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

// RabbitMQQueue declares a queue of the test's own on ch, deleted at the
// end of the test.
func RabbitMQQueue(t testing.TB, ch *amqp.Channel) string {
	t.Helper()
	q, err := ch.QueueDeclare(Name("raceway-test-"), false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := RabbitMQChannel(t).QueueDelete(q.Name, false, false, false); err != nil {
			t.Errorf("deleting queue %s: %v", q.Name, err)
		}
	})
	return q.Name
}
