// Package redistest starts real redis-servers for unit tests (the host's
// redis-server, as loadgen/redisserver runs it), each ending with its test.
package redistest

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/dragonfly-e2e/dragonfly-e2e/loadgen/redisserver"
)

// Start starts a redis-server with o on a free loopback port; it stops when
// the test ends.
func Start(t testing.TB, o redisserver.Options) *redisserver.Server {
	t.Helper()
	s, err := redisserver.Start(context.Background(), o)
	if err != nil {
		t.Fatalf("starting redis-server: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Client is a RESP2 client of addr that does not retry (a test sees every
// failure); it is closed when the test ends.
func Client(t testing.TB, addr, password string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, Password: password, Protocol: 2, DisableIdentity: true, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	return c
}

// Server starts a redis-server with extra arguments and returns it with a
// Client of it.
func Server(t testing.TB, extra ...string) (*redisserver.Server, *redis.Client) {
	t.Helper()
	s := Start(t, redisserver.Options{Extra: extra})
	return s, Client(t, s.Addr, "")
}
