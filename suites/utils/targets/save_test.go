package targets

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/testutil/redistest"
	"github.com/dragonfly-e2e/dragonfly-e2e/loadgen/redisserver"
)

// slowBackgroundSave starts a BGSAVE on a server whose every key takes
// 100 ms to write, so the save runs for about a second, as redis-server's
// own save policy's does after a dataset write.
func slowBackgroundSave(t *testing.T) (addr string) {
	t.Helper()
	s, c := redistest.Server(t, "--rdb-key-save-delay", "100000", "--dir", t.TempDir())
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		if err := c.Set(ctx, fmt.Sprintf("k%d", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.BgSave(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	return s.Addr
}

func TestSaveDuringABackgroundSaveWaitsForIt(t *testing.T) {
	addr := slowBackgroundSave(t)
	c := redistest.Client(t, addr, "")
	ctx := context.Background()
	// The collision itself: a bare SAVE is refused while the BGSAVE writes.
	if err := c.Save(ctx).Err(); err == nil || !strings.Contains(err.Error(), backgroundSaveRunning) {
		t.Fatalf("a bare SAVE during a BGSAVE must be refused with %q, got %v", backgroundSaveRunning, err)
	}
	if err := saveBetweenBackgroundSaves(ctx, c, "test server"); err != nil {
		t.Fatalf("SAVE after the background save: %v", err)
	}
	if got := bgsaveState(ctx, c); got != "rdb_bgsave_in_progress:0" {
		t.Errorf("after SAVE: %s", got)
	}
}

func TestSaveNamesTheBackgroundSaveItOutwaited(t *testing.T) {
	t.Setenv(config.EnvTimeouts, `{"BackgroundSaveDone":"300ms"}`)
	addr := slowBackgroundSave(t)
	c := redistest.Client(t, addr, "")
	err := saveBetweenBackgroundSaves(context.Background(), c, "redis-server stand-in database/x")
	if err == nil {
		t.Fatal("a SAVE that never ran must fail")
	}
	for _, want := range []string{"a background save on redis-server stand-in database/x to end", "rdb_bgsave_in_progress:1", backgroundSaveRunning} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error must name %q: %v", want, err)
		}
	}
}

func TestSaveDoesNotWaitOutOtherErrors(t *testing.T) {
	s := redistest.Start(t, redisserver.Options{Password: "secret"})
	c := redistest.Client(t, s.Addr, "")
	start := time.Now()
	err := saveBetweenBackgroundSaves(context.Background(), c, "test server")
	if err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Fatalf("want the server's NOAUTH refusal, got %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("an error other than a running background save must end the wait at once, took %s", d)
	}
}
