package registry

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeDocker is a docker client that keeps one container's state in a file
// and logs every call, so Start/Attach/Stop run without an engine.
const fakeDocker = `#!/bin/sh
echo "$*" >> "$FAKE_DIR/calls"
state="$FAKE_DIR/container"
case "$1" in
ps)
  if [ "$2" = "-aq" ]; then [ -f "$state" ] && cut -d' ' -f1 "$state"; exit 0; fi
  [ -f "$state" ] && cat "$state"; exit 0 ;;
network)
  [ "$2" = inspect ] && { [ -n "$FAKE_NETWORK" ] || exit 1; }
  exit 0 ;;
run)
  [ "$FAKE_FAIL" = run ] && { echo "c0ffee $FAKE_CLUSTER" > "$state"; echo "run failed" >&2; exit 125; }
  echo "c0ffee $FAKE_CLUSTER" > "$state"; echo c0ffee; exit 0 ;;
port)
  [ "$FAKE_FAIL" = port ] && { echo "no such port" >&2; exit 1; }
  echo "$FAKE_PORT"; exit 0 ;;
inspect)
  echo "$FAKE_NETWORKS"; exit 0 ;;
logs) echo "registry log line"; exit 0 ;;
rm) rm -f "$state"; exit 0 ;;
esac
echo "unexpected: $*" >&2
exit 2
`

func setupFake(t *testing.T) (dockerBin, dir string) {
	t.Helper()
	dir = t.TempDir()
	dockerBin = filepath.Join(dir, "docker")
	if err := os.WriteFile(dockerBin, []byte(fakeDocker), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FAKE_DIR", dir)
	t.Setenv("FAKE_CLUSTER", "e2etest")
	t.Setenv("FAKE_PORT", newServer(t)) // the real registry handler answers /v2/
	t.Setenv("FAKE_FAIL", "")
	t.Setenv("FAKE_NETWORK", "")
	t.Setenv("FAKE_NETWORKS", `{"bridge":{}}`)
	return dockerBin, dir
}

func calls(t *testing.T, dir string) []string {
	b, _ := os.ReadFile(filepath.Join(dir, "calls"))
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func exists(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "container"))
	return err == nil
}

func TestStartAttachStop(t *testing.T) {
	bin, dir := setupFake(t)
	// A server of this test's own, so the address the fake reports is known here.
	addr := newServer(t)
	t.Setenv("FAKE_PORT", addr)
	ctx := context.Background()
	r, err := Start(ctx, Options{Docker: bin, Cluster: "e2etest", Image: "dfe2e.local/registry:test", Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	if r.Name() != "dfe2e-registry-e2etest" || r.MirrorURL() != "http://dfe2e-registry-e2etest:5000" || r.HostAddr() != addr {
		t.Fatalf("name %s mirror %s addr %s", r.Name(), r.MirrorURL(), r.HostAddr())
	}
	var run string
	for _, c := range calls(t, dir) {
		if strings.HasPrefix(c, "run ") {
			run = c
		}
	}
	for _, want := range []string{"--name dfe2e-registry-e2etest", "--label io.dragonfly-e2e.registry=e2etest", "-p 127.0.0.1::5000", "dfe2e.local/registry:test -listen :5000"} {
		if !strings.Contains(run, want) {
			t.Errorf("docker %s: lacks %q", run, want)
		}
	}
	if strings.Contains(run, "--network") {
		t.Errorf("joined a network that does not exist yet: %s", run)
	}
	m := r.Mirrors("docker.dragonflydb.io", "quay.io")
	if len(m) != 2 || m["quay.io"] != "http://dfe2e-registry-e2etest:5000" {
		t.Fatalf("mirrors %v", m)
	}

	if err := r.Attach(ctx); err != nil {
		t.Fatal(err)
	}
	if c := calls(t, dir); c[len(c)-1] != "network connect kind dfe2e-registry-e2etest" {
		t.Fatalf("attach: %v", c)
	}
	t.Setenv("FAKE_NETWORKS", `{"bridge":{},"kind":{}}`)
	n := len(calls(t, dir))
	if err := r.Attach(ctx); err != nil {
		t.Fatal(err)
	}
	if c := calls(t, dir); len(c) != n+1 { // the inspect only
		t.Fatalf("second attach connected again: %v", c[n:])
	}

	if err := r.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if exists(dir) {
		t.Fatal("container left after Stop")
	}
	n = len(calls(t, dir))
	if err := r.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if len(calls(t, dir)) != n {
		t.Fatal("second Stop called docker")
	}
	if _, err := r.PushArchive(ctx, "x.tar"); err == nil {
		t.Fatal("push after Stop: no error")
	}
}

func TestStartJoinsExistingNetwork(t *testing.T) {
	bin, dir := setupFake(t)
	t.Setenv("FAKE_NETWORK", "1")
	r, err := Start(context.Background(), Options{Docker: bin, Cluster: "e2etest", Image: "img"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Stop(context.Background())
	for _, c := range calls(t, dir) {
		if strings.HasPrefix(c, "run ") && !strings.Contains(c, "--network kind") {
			t.Fatalf("run without the existing network: %s", c)
		}
	}
}

// TestStartLeavesNothingOnError: a failure after the container exists
// removes it.
func TestStartLeavesNothingOnError(t *testing.T) {
	for _, fail := range []string{"run", "port"} {
		bin, dir := setupFake(t)
		t.Setenv("FAKE_FAIL", fail)
		if _, err := Start(context.Background(), Options{Docker: bin, Cluster: "e2etest", Image: "img"}); err == nil {
			t.Fatalf("%s failing: Start succeeded", fail)
		}
		if exists(dir) {
			t.Errorf("%s failing: container left behind", fail)
		}
	}
	// Never answering /v2/: removed too, with its log in the error.
	bin, dir := setupFake(t)
	t.Setenv("FAKE_PORT", "127.0.0.1:1")
	_, err := Start(context.Background(), Options{Docker: bin, Cluster: "e2etest", Image: "img", ReadyTimeout: 500 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "did not answer") || !strings.Contains(err.Error(), "registry log line") {
		t.Fatalf("err = %v", err)
	}
	if exists(dir) {
		t.Error("unready registry left behind")
	}
}

func TestStartReplacesLeftoverNotForeign(t *testing.T) {
	bin, dir := setupFake(t)
	// A leftover of a killed run carries the label: replaced.
	os.WriteFile(filepath.Join(dir, "container"), []byte("dead01 e2etest\n"), 0o644)
	r, err := Start(context.Background(), Options{Docker: bin, Cluster: "e2etest", Image: "img"})
	if err != nil {
		t.Fatal(err)
	}
	r.Stop(context.Background())
	if c := strings.Join(calls(t, dir), "\n"); !strings.Contains(c, "rm -f -v dead01") {
		t.Fatalf("leftover not removed: %s", c)
	}
	// Someone else's container of that name: kept, Start fails.
	os.WriteFile(filepath.Join(dir, "container"), []byte("f0reign \n"), 0o644)
	if _, err := Start(context.Background(), Options{Docker: bin, Cluster: "e2etest", Image: "img"}); err == nil || !strings.Contains(err.Error(), "not ours") {
		t.Fatalf("err = %v", err)
	}
	if !exists(dir) {
		t.Fatal("removed a container that is not ours")
	}
}

func TestRemoveLeftovers(t *testing.T) {
	bin, dir := setupFake(t)
	os.WriteFile(filepath.Join(dir, "container"), []byte("dead02 e2etest\n"), 0o644)
	if err := RemoveLeftovers(context.Background(), bin, "e2etest"); err != nil {
		t.Fatal(err)
	}
	if exists(dir) {
		t.Fatal("leftover kept")
	}
	if c := calls(t, dir); c[0] != "ps -aq --filter label=io.dragonfly-e2e.registry=e2etest" {
		t.Fatalf("calls %v", c)
	}
}

func TestLoopbackAddr(t *testing.T) {
	if a, err := loopbackAddr("127.0.0.1:49153\n"); err != nil || a != "127.0.0.1:49153" {
		t.Fatalf("%q %v", a, err)
	}
	if _, err := loopbackAddr("0.0.0.0:49153\n[::]:49153\n"); err == nil {
		t.Fatal("accepted a port published beyond loopback")
	}
}
