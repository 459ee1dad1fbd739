package dataset

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/testutil/redistest"
	"github.com/dragonfly-e2e/dragonfly-e2e/loadgen/redisserver"
)

func startServer(t *testing.T) *redis.Client {
	t.Helper()
	ctx := context.Background()
	srv := redistest.Start(t, redisserver.Options{})
	c, err := Connect(ctx, srv.Addr, "", 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestGenerationIsDeterministicAndCoversEveryType(t *testing.T) {
	s := Spec{Keys: 1000, Seed: 7}
	types := map[Type]int{}
	ttls := 0
	for i := 0; i < s.Keys; i++ {
		a, b := s.Item(i), s.Item(i)
		if a.Checksum() != b.Checksum() || a.Name != b.Name || a.TTL != b.TTL {
			t.Fatalf("key %d generated twice differently", i)
		}
		if got, ok := s.Index(a.Name); !ok || got != i {
			t.Fatalf("Index(%q) = %d, %v; want %d", a.Name, got, ok, i)
		}
		types[a.Type]++
		if a.TTL > 0 {
			ttls++
		}
	}
	for _, ty := range []Type{String, Hash, List, Set, ZSet} {
		if types[ty] == 0 {
			t.Errorf("no key of type %s in 1000", ty)
		}
	}
	if ttls == 0 || ttls > 200 {
		t.Errorf("%d of 1000 keys have a TTL; want some (≈10%%)", ttls)
	}
	if (Spec{Keys: 10, Seed: 8}).Item(0).Checksum() == s.Item(0).Checksum() {
		t.Error("seeds 7 and 8 generate the same first key")
	}
	if _, ok := s.Index(DefaultPrefix + "str:00001000"); ok {
		t.Error("a key beyond --keys is taken as part of the dataset")
	}
}

func TestBadSpecIsRejected(t *testing.T) {
	for _, n := range []int{0, -5} {
		err := Spec{Keys: n}.Validate()
		if err == nil || !strings.Contains(err.Error(), "--keys") {
			t.Errorf("keys %d: got %v, want an error naming --keys", n, err)
		}
	}
}

func TestUnreachableServerSaysWhatToDo(t *testing.T) {
	_, err := Connect(context.Background(), "127.0.0.1:1", "", 1)
	var ce *ConnectError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "check the address") {
		t.Fatalf("got %v, want a ConnectError with a remedy", err)
	}
}

// The full default size, timed: it must take seconds, not minutes.
func TestRoundTripOf100kKeysIsCleanAndFast(t *testing.T) {
	c := startServer(t)
	ctx := context.Background()
	s := Spec{Keys: DefaultKeys, Seed: 1}
	w, err := Write(ctx, c, s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Verify(ctx, c, s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("100k keys: write %s, verify %s", w.Duration.Round(time.Millisecond), r.Duration.Round(time.Millisecond))
	if !r.Clean() || r.Intact != s.Keys {
		t.Fatalf("fresh dataset did not verify: %s", r)
	}
	if n := c.DBSize(ctx).Val(); n != int64(s.Keys) {
		t.Fatalf("server holds %d keys, want %d", n, s.Keys)
	}
	if w.Duration+r.Duration > 60*time.Second {
		t.Errorf("write+verify took %s; pipelining should make it seconds", w.Duration+r.Duration)
	}
}

// Planted defects: each is reported by name, counts exact.
func TestDefectsAreReportedByName(t *testing.T) {
	c := startServer(t)
	ctx := context.Background()
	s := Spec{Keys: 2000, Seed: 42}
	if _, err := Write(ctx, c, s, Options{}); err != nil {
		t.Fatal(err)
	}
	corrupted := s.Name(0) // a string
	deleted := s.Name(8)   // a hash
	list := s.Name(11)
	retyped := s.Name(14) // a set, replaced by a string
	var withTTL string
	for i := 0; i < s.Keys; i++ {
		if it := s.Item(i); it.TTL > 0 {
			withTTL = it.Name
			break
		}
	}
	extra := DefaultPrefix + "str:99999999"
	must(t, c.Set(ctx, corrupted, "corrupted", 0).Err())
	must(t, c.Del(ctx, deleted).Err())
	must(t, c.RPush(ctx, list, "one-more").Err())
	must(t, c.Del(ctx, retyped).Err())
	must(t, c.Set(ctx, retyped, "x", 0).Err())
	must(t, c.Persist(ctx, withTTL).Err())
	must(t, c.Set(ctx, extra, "not written by the dataset", 0).Err())
	must(t, c.Set(ctx, "other:key", "outside the prefix: not extra", 0).Err())

	r, err := Verify(ctx, c, s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(r)
	if r.MissingCount != 1 || r.Missing[0] != deleted {
		t.Errorf("missing = %d %v, want exactly %s", r.MissingCount, r.Missing, deleted)
	}
	wantChanged := map[string]string{corrupted: "content checksum", list: "content checksum", retyped: "another type", withTTL: "lost its TTL"}
	if r.ChangedCount != len(wantChanged) {
		t.Errorf("changed = %d %v, want %d", r.ChangedCount, r.Changed, len(wantChanged))
	}
	for _, ch := range r.Changed {
		if want, ok := wantChanged[ch.Key]; !ok || !strings.Contains(ch.Reason, want) {
			t.Errorf("changed %s (%s): want one of %v", ch.Key, ch.Reason, wantChanged)
		}
	}
	if r.ExtraCount != 1 || r.Extra[0] != extra {
		t.Errorf("extra = %d %v, want exactly %s", r.ExtraCount, r.Extra, extra)
	}
	if r.Intact != s.Keys-5 || r.Lost() != 5 || r.Clean() {
		t.Errorf("intact %d lost %d clean %v; want %d, 5, false", r.Intact, r.Lost(), r.Clean(), s.Keys-5)
	}
	for _, name := range []string{corrupted, deleted, extra} {
		if !strings.Contains(r.Err().Error(), name) {
			t.Errorf("error %q does not name %s", r.Err(), name)
		}
	}
}

func TestNameListsAreCappedCountsExact(t *testing.T) {
	c := startServer(t)
	ctx := context.Background()
	s := Spec{Keys: 300, Seed: 3}
	// Nothing written: every key is missing.
	r, err := Verify(ctx, c, s, Options{MaxNames: 5})
	if err != nil {
		t.Fatal(err)
	}
	if r.MissingCount != 300 || len(r.Missing) != 5 || !strings.Contains(r.String(), "… 295 more") {
		t.Fatalf("got %s", r)
	}
	// Wrong seed: every key changed (same names, other content).
	if _, err := Write(ctx, c, Spec{Keys: 300, Seed: 4}, Options{}); err != nil {
		t.Fatal(err)
	}
	r, err = Verify(ctx, c, s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.ChangedCount != 300 || r.Intact != 0 {
		t.Fatalf("verifying seed 3 against seed 4 data: %s", r)
	}
}

func TestWriteOverwritesOldContent(t *testing.T) {
	c := startServer(t)
	ctx := context.Background()
	s := Spec{Keys: 500, Seed: 5}
	for n := 0; n < 2; n++ { // lists would grow if keys were not deleted first
		if _, err := Write(ctx, c, s, Options{Workers: 2, Batch: 64}); err != nil {
			t.Fatal(err)
		}
	}
	r, err := Verify(ctx, c, s, Options{})
	if err != nil || !r.Clean() {
		t.Fatalf("second write did not leave exactly the dataset: %v %v", r, err)
	}
}

func TestCancelledWriteIsAnError(t *testing.T) {
	c := startServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Write(ctx, c, Spec{Keys: 5000, Seed: 1}, Options{}); err == nil {
		t.Fatal("a cancelled write reported success")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
