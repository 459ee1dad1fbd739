//go:build kind

package main

// Real-engine hygiene test of the whole command: go test -tags kind -run SIGTERM ./cmd/dfe2e/
// (needs root, a Docker engine or the right to start one, and a warm image cache to be quick).

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestE2ESIGTERMDuringCreateLeavesNothing(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "dfe2e")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	const name = "dfe2e-sigterm-test"
	filter := "label=io.x-k8s.kind.cluster=" + name
	ps := func() string {
		out, _ := exec.Command("docker", "ps", "-aq", "--filter", filter).CombinedOutput()
		return strings.TrimSpace(string(out))
	}
	netBefore := exec.Command("docker", "network", "inspect", "kind").Run() == nil
	tmpBefore, _ := filepath.Glob(filepath.Join(os.TempDir(), "dfe2e-*"))
	art := t.TempDir()
	// --skip-flux: this test is about the create path, not the Flux tier.
	cmd := exec.Command(bin, "e2e", "--offline", "--skip-flux", "--name", name, "--artifacts", art)
	cmd.Dir = "../.."
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(20 * time.Minute) // a cold image build comes first
	for ps() == "" {
		select {
		case err := <-exited:
			t.Fatalf("dfe2e e2e exited (%v) before its node container appeared\n%s", err, out.String())
		case <-deadline:
			cmd.Process.Kill()
			t.Fatalf("node container never appeared\n%s", out.String())
		case <-time.After(200 * time.Millisecond):
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	err := <-exited
	if err == nil {
		t.Fatalf("run succeeded despite SIGTERM\n%s", out.String())
	}
	if left := ps(); left != "" {
		t.Fatalf("containers left after SIGTERM: %s\n%s", left, out.String())
	}
	if !netBefore && exec.Command("docker", "network", "inspect", "kind").Run() == nil {
		t.Fatalf("network kind left after SIGTERM\n%s", out.String())
	}
	tmpAfter, _ := filepath.Glob(filepath.Join(os.TempDir(), "dfe2e-*"))
	if len(tmpAfter) > len(tmpBefore) {
		t.Fatalf("temp dirs left: before %v after %v", tmpBefore, tmpAfter)
	}
	if b, _ := os.ReadFile(filepath.Join(art, "kind-"+name+".kubeconfig")); strings.Contains(string(b), name) {
		t.Fatal("kubeconfig of the removed cluster left in artifacts")
	}
	t.Logf("output:\n%s", out.String())
}
