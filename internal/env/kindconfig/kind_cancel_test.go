//go:build kind

package kindconfig

// Real-engine hygiene test: go test -tags kind ./internal/env/kindconfig/ with
// DFE2E_NODE_IMAGE set to a node image (make e2e prints it; or
// `dfe2e cluster images --offline`).

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
)

func dockerOut(t *testing.T, args ...string) string {
	t.Helper()
	out, _ := exec.Command("docker", args...).CombinedOutput()
	return strings.TrimSpace(string(out))
}

func TestRealCreateCancelledLeavesNothing(t *testing.T) {
	img := config.FromEnv().NodeImage
	if img == "" {
		t.Skip("blocked: DFE2E_NODE_IMAGE not set — build one with `go run ./cmd/dfe2e cluster images --offline` and pass it")
	}
	const name = "dfe2e-cancel-test"
	filter := "label=io.x-k8s.kind.cluster=" + name
	netBefore := exec.Command("docker", "network", "inspect", "kind").Run() == nil
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	c := New(Options{Name: name, NodeImage: img, Offline: true, Kubeconfig: kc, Logf: t.Logf})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		deadline := time.Now().Add(2 * time.Minute)
		for time.Now().Before(deadline) {
			if dockerOut(t, "ps", "-q", "--filter", filter) != "" {
				cancel() // as Ctrl-C would, once the node container runs
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	}()
	err := c.Create(ctx)
	if err == nil {
		c.Delete()
		t.Fatal("create finished before it could be cancelled; nothing proven")
	}
	if left := dockerOut(t, "ps", "-aq", "--filter", filter); left != "" {
		t.Fatalf("containers left behind after cancel: %s (err %v)", left, err)
	}
	if !netBefore && exec.Command("docker", "network", "inspect", "kind").Run() == nil {
		t.Fatal("Docker network kind created by the cancelled run was left behind")
	}
	if _, statErr := os.Stat(kc); statErr == nil {
		if b, _ := os.ReadFile(kc); strings.Contains(string(b), name) {
			t.Fatalf("kubeconfig still names the cancelled cluster: %s", kc)
		}
	}
}
