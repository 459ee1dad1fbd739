//go:build kind

package kindconfig

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
)

// TestRealStorageCheckFailsOnPlantedDefects creates a cluster from
// DFE2E_NODE_IMAGE, proves the storage check passes, then plants two defects
// and proves the check fails naming each one.
func TestRealStorageCheckFailsOnPlantedDefects(t *testing.T) {
	img := config.FromEnv().NodeImage
	if img == "" {
		t.Skip("blocked: DFE2E_NODE_IMAGE not set — build one with `go run ./cmd/dfe2e cluster images --offline` and pass it")
	}
	// Short PVC wait: the planted claim never binds.
	t.Setenv(config.EnvTimeouts, `{"PVCBound":"45s"}`)
	ctx := context.Background()
	c := New(Options{Name: "dfe2e-storage-test", NodeImage: img, Offline: true, Kubeconfig: filepath.Join(t.TempDir(), "kc"), Logf: t.Logf})
	if err := c.Create(ctx); err != nil {
		t.Fatal(err)
	}
	defer c.Delete()
	helper := "dfe2e.local/busybox:1.35.0"
	if err := c.EnsureStorage(ctx, StorageImages{Provisioner: "docker.io/rancher/local-path-provisioner:v0.0.30", Helper: helper}); err != nil {
		t.Fatal(err)
	}
	if err := c.CheckStorage(ctx, helper); err != nil {
		t.Fatalf("healthy cluster: %v", err)
	}
	n, _ := c.Node()

	// Defect 1: local-path is not the default class.
	if _, err := kubectl(ctx, n, nil, "annotate", "storageclass", "local-path", "--overwrite", "storageclass.kubernetes.io/is-default-class=false"); err != nil {
		t.Fatal(err)
	}
	err := c.CheckStorage(ctx, helper)
	if err == nil || !strings.Contains(err.Error(), "not the default class") {
		t.Fatalf("check passed or missed the defect: %v", err)
	}
	kubectl(ctx, n, nil, "annotate", "storageclass", "local-path", "--overwrite", "storageclass.kubernetes.io/is-default-class=true")

	// Defect 2: the provisioner's helper-pod ServiceAccount is missing (the
	// bug this check caught first): claims never bind.
	if _, err := kubectl(ctx, n, nil, "-n", "local-path-storage", "delete", "serviceaccount", "local-path-provisioner-service-account"); err != nil {
		t.Fatal(err)
	}
	err = c.CheckStorage(ctx, helper)
	if err == nil || !strings.Contains(err.Error(), "local-path-provisioner-service-account") {
		t.Fatalf("check passed or did not name the missing ServiceAccount: %v", err)
	}
}
