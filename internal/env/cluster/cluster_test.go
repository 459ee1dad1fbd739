package cluster

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
)

func TestUnknownProviderListsKnownOnes(t *testing.T) {
	t.Setenv(config.EnvCluster, "minikube")
	_, err := FromEnv()
	if err == nil || !strings.Contains(err.Error(), "envtest") || !strings.Contains(err.Error(), "kubeconfig") {
		t.Fatalf("want an error listing the known providers, got %v", err)
	}
}

func TestDefaultProviderIsEnvtest(t *testing.T) {
	t.Setenv(config.EnvCluster, "")
	p, err := FromEnv()
	if err != nil || p.Name() != "envtest" {
		t.Fatalf("want envtest, got %v, %v", p, err)
	}
}

// A kubeconfig pointing at a loopback port nobody listens on must fail within
// the named timeout with an error that says what to do.
func TestKubeconfigUnreachableServerFailsFastAndSaysWhatToDo(t *testing.T) {
	// Short, to keep the test short; the named timeout is what a slow CI
	// would raise.
	t.Setenv(config.EnvTimeouts, `{"APIServerReachable":"1s"}`)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // now nothing listens there
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	os.WriteFile(kc, []byte(`apiVersion: v1
kind: Config
clusters: [{name: dead, cluster: {server: "https://`+addr+`", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: dead, context: {cluster: dead, user: u}}]
current-context: dead
`), 0o600)
	start := time.Now()
	_, err = (&Kubeconfig{Path: kc}).Start(context.Background())
	var ue *UnreachableError
	if !errors.As(err, &ue) {
		t.Fatalf("want UnreachableError, got %v", err)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Fatalf("took %s: the named timeout (1s here) was not honoured", el)
	}
	for _, want := range []string{addr, "unreachable", "KUBECONFIG", "DFE2E_CLUSTER=envtest"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestKubeconfigMissingFileSaysWhatToDo(t *testing.T) {
	_, err := (&Kubeconfig{Path: filepath.Join(t.TempDir(), "nope")}).Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "point KUBECONFIG at") {
		t.Fatalf("want a what-to-do error, got %v", err)
	}
}

func TestEnvtestBadAssetsDirSaysWhatToDo(t *testing.T) {
	e := &Envtest{AssetsDir: t.TempDir()}
	_, err := e.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "go run ./cmd/dfe2e assets envtest") {
		t.Fatalf("want a what-to-do error, got %v", err)
	}
	if err := e.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}
