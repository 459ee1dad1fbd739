//go:build kind

package registry

// Real-engine test: go test -tags kind ./internal/env/registry/ with
// DFE2E_NODE_IMAGE set to a node image (make e2e prints it; or
// `dfe2e cluster images --offline`). It proves the whole mirror path: the
// node's containerd pulls the upstream operator reference through the
// registry container, with nothing imported into the node.

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/images"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/kindconfig"
)

func TestRealMirrorPull(t *testing.T) {
	img := config.FromEnv().NodeImage
	if img == "" {
		t.Skip("blocked: DFE2E_NODE_IMAGE not set — build one with `go run ./cmd/dfe2e cluster images --offline` and pass it")
	}
	archives, err := images.OperatorArchives("/work/shared/images/operator")
	if err != nil {
		t.Skip("no operator archives: ", err)
	}
	const cluster = "dfe2e-mirror-test"
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	_ = RemoveLeftovers(ctx, "docker", cluster)

	reg, err := Start(ctx, Options{Cluster: cluster, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := reg.Stop(context.Background()); err != nil {
			t.Error(err)
		}
		if out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label="+Label+"="+cluster).Output(); strings.TrimSpace(string(out)) != "" {
			t.Errorf("registry container left: %s", out)
		}
	}()
	refs, err := reg.PushArchive(ctx, archives["v1.6.1"])
	if err != nil {
		t.Fatal(err)
	}
	hosts, err := Hosts(refs)
	if err != nil {
		t.Fatal(err)
	}

	c := kindconfig.New(kindconfig.Options{Name: cluster, NodeImage: img, Offline: true,
		Kubeconfig: filepath.Join(t.TempDir(), "kc"), Logf: t.Logf, Mirrors: reg.Mirrors(hosts...)})
	if err := c.Create(ctx); err != nil {
		if c.Created() {
			c.Delete()
		}
		t.Fatal(err)
	}
	// The registry leaves the kind network first, so that Delete may remove it.
	defer c.Delete()
	defer reg.Stop(context.Background())
	if err := reg.Attach(ctx); err != nil {
		t.Fatal(err)
	}
	node, err := c.Node()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := node.Command("crictl", "pull", refs[0]).SetStdout(&out).SetStderr(&out).Run(); err != nil {
		t.Fatalf("crictl pull %s through the mirror: %v\n%s", refs[0], err, out.String())
	}
	t.Logf("pulled %s through %s: %s", refs[0], reg.MirrorURL(), strings.TrimSpace(out.String()))
	// A reference the registry lacks fails: the mirror, not a stray import, served the pull.
	if err := node.Command("crictl", "pull", "docker.dragonflydb.io/dragonflydb/operator:v0.0.0-absent").Run(); err == nil {
		t.Fatal("pulled an image the registry does not hold")
	}
}
