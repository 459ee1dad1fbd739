package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dragonfly-e2e/dragonfly-e2e/loadgen"
)

func TestLoadClusterTargetsBadInputExits2(t *testing.T) {
	t.Setenv("KUBECONFIG", "")
	t.Setenv("DFE2E_TIMEOUTS", `{"APIServerReachable":"1s"}`)
	// A kubeconfig pointing at a closed loopback port: unreachable fast.
	dead := filepath.Join(t.TempDir(), "kc")
	os.WriteFile(dead, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`), 0o600)
	out := t.TempDir()
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"port-forward without kubeconfig", []string{"--port-forward", "database/cache"}, "no kubeconfig: give --kubeconfig"},
		{"port-forward malformed", []string{"--port-forward", "cache", "--kubeconfig", dead}, "<namespace>/<service-or-pod>[:port]"},
		{"port-forward with addr", []string{"--port-forward", "database/cache", "--addr", "127.0.0.1:6379"}, "drop --addr"},
		{"port-forward unreachable cluster", []string{"--port-forward", "database/cache", "--kubeconfig", dead}, "unreachable"},
		{"job and port-forward", []string{"--job", "--port-forward", "database/cache"}, "give one"},
		{"job without namespace and instance", []string{"--job", "--kubeconfig", dead, "--kind-cluster", "k"}, "--job needs --namespace"},
		{"job without image or kind cluster", []string{"--job", "--namespace", "database", "--instance", "cache", "--kubeconfig", dead}, "give --kind-cluster"},
		{"job with image and kind cluster", []string{"--job", "--namespace", "database", "--instance", "cache", "--image", "x", "--kind-cluster", "k"}, "give one"},
		{"job without kubeconfig", []string{"--job", "--namespace", "database", "--instance", "cache", "--image", "x"}, "no kubeconfig"},
		{"job with bad namespace", []string{"--job", "--namespace", "Data_Base", "--instance", "cache", "--image", "x"}, "not a DNS label"},
		{"job unreachable cluster", []string{"--job", "--namespace", "database", "--instance", "cache", "--image", "x", "--kubeconfig", dead}, "unreachable"},
		{"kind-cluster without job", []string{"--kind-cluster", "k"}, "--kind-cluster is for --job"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--requests", "10", "--out", out}, tc.args...)
			code, _, stderr := runLoadCmd(t, context.Background(), args...)
			if code != exitBadInput || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit 2 and %q", code, stderr, tc.want)
			}
		})
	}
}

// The Job's stdout bundle, read back from a log, writes the same files as an
// address run.
func TestWriteJobResultsFromABundle(t *testing.T) {
	addr := startLoadRedis(t, "")
	run := t.TempDir()
	code, stdout, stderr := runLoadCmd(t, context.Background(), "--addr", addr, "--connections", "2", "--requests", "500",
		"--out", run, "--stdout", "bundle")
	if code != exitOK || !strings.Contains(stdout, "DFE2E-BUNDLE-END") {
		t.Fatalf("exit %d stderr %s stdout %s", code, stderr, stdout)
	}
	log := "dfe2e: some stderr line\n" + stdout + "requests 500\n"
	dir := t.TempDir()
	var o, e strings.Builder
	if err := writeJobResults(&o, &e, loadFlags{stdout: "table"}, dir, []byte(log)); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{loadgen.FileResult, loadgen.FileHgrm, loadgen.FileHlog, loadgen.FileSummary} {
		want, _ := os.ReadFile(filepath.Join(run, f))
		got, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || string(got) != string(want) || len(got) == 0 {
			t.Errorf("%s: %d bytes, want %d (%v)", f, len(got), len(want), err)
		}
	}
	if !strings.Contains(o.String(), "500 requests") {
		t.Errorf("table: %s", o.String())
	}
	// A log without the bundle (the generator died) is a failure that says so.
	err := writeJobResults(&o, &e, loadFlags{stdout: "table"}, t.TempDir(), []byte("panic: boom\n"))
	if err == nil || !strings.Contains(err.Error(), "results are unreadable") {
		t.Errorf("no bundle: %v", err)
	}
}
