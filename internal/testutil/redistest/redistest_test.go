package redistest

import (
	"context"
	"testing"

	"github.com/dragonfly-e2e/dragonfly-e2e/loadgen/redisserver"
)

func TestServerAnswersAndTakesItsArguments(t *testing.T) {
	ctx := context.Background()
	_, c := Server(t, "--maxclients", "123")
	got, err := c.ConfigGet(ctx, "maxclients").Result()
	if err != nil || got["maxclients"] != "123" {
		t.Fatalf("CONFIG GET maxclients = %v, %v; want the extra argument 123", got, err)
	}
	s := Start(t, redisserver.Options{Password: "pw"})
	if err := Client(t, s.Addr, "wrong").Ping(ctx).Err(); err == nil {
		t.Fatal("a wrong password must be refused")
	}
	if err := Client(t, s.Addr, "pw").Ping(ctx).Err(); err != nil {
		t.Fatalf("PING with the password: %v", err)
	}
}
