package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/testutil/redistest"
	"github.com/dragonfly-e2e/dragonfly-e2e/loadgen/redisserver"
)

// runLoadCmd executes a fresh load command and returns its exit code as main would.
func runLoadCmd(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	cmd := newLoadCmd()
	var out, errOut bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(ctx)
	code := exitOK
	if err != nil {
		code = exitBadInput // cobra's own flag errors
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		errOut.WriteString(err.Error())
	}
	return code, out.String(), errOut.String()
}

func startLoadRedis(t *testing.T, password string) string {
	t.Helper()
	return redistest.Start(t, redisserver.Options{Password: password}).Addr
}

func TestLoadBadInputExits2WithAClearMessage(t *testing.T) {
	addr := startLoadRedis(t, "pw")
	base := []string{"--addr", addr, "--password", "pw", "--connections", "1", "--requests", "10", "--out", t.TempDir()}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"rate with closed loop", []string{"--mode", "closed", "--rate", "100"}, "drop --rate or use --mode open"},
		{"open loop without rate", []string{"--mode", "open"}, "needs --rate"},
		{"pipeline 0", []string{"--pipeline", "0"}, "pipeline must be ≥ 1"},
		{"ratio 0:0", []string{"--ratio", "0:0"}, "ratio 0:0 sends nothing"},
		{"ratio garbage", []string{"--ratio", "half"}, "not GET:SET"},
		{"duration and requests", []string{"--duration", "5s"}, "--duration and --requests are exclusive"},
		{"unknown distribution", []string{"--key-dist", "pareto"}, `"pareto" is unknown`},
		{"non-loopback address", []string{"--addr", "10.1.2.3:6379"}, "not a loopback address"},
		{"address without port", []string{"--addr", "127.0.0.1"}, "not host:port"},
		{"wrong password", []string{"--password", "nope"}, "check --password"},
		{"unknown flag", []string{"--pipline", "2"}, "unknown flag"},
		{"emit-job without namespace", []string{"--emit-job", "--instance", "c", "--image", "i"}, "namespace"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runLoadCmd(t, context.Background(), append(append([]string{}, base...), tc.args...)...)
			if code != exitBadInput || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit 2 and %q", code, stderr, tc.want)
			}
		})
	}
	t.Run("unreachable server", func(t *testing.T) {
		code, _, stderr := runLoadCmd(t, context.Background(), "--addr", "127.0.0.1:1", "--requests", "10", "--out", t.TempDir())
		if code != exitBadInput || !strings.Contains(stderr, "unreachable") {
			t.Fatalf("exit %d, stderr %q; want exit 2 naming the unreachable server", code, stderr)
		}
	})
}

func TestLoadWritesResultsAndTable(t *testing.T) {
	addr := startLoadRedis(t, "")
	out := filepath.Join(t.TempDir(), "run")
	code, stdout, stderr := runLoadCmd(t, context.Background(), "--addr", addr, "--connections", "2", "--pipeline", "4",
		"--ratio", "9:1", "--requests", "1000", "--key-dist", "zipf", "--out", out)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "1000 requests (GET 900, SET 100)") || !strings.Contains(stdout, "p99.99") {
		t.Errorf("table:\n%s", stdout)
	}
	for _, f := range []string{"result.json", "latency.hgrm", "latency.hlog", "summary.txt"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
}

func TestLoadInterruptedWritesPartialResults(t *testing.T) {
	addr := startLoadRedis(t, "")
	out := filepath.Join(t.TempDir(), "run")
	ctx, cancel := context.WithCancel(context.Background())
	tm := time.AfterFunc(600*time.Millisecond, cancel) // stands in for Ctrl-C: the command listens on the same context
	defer tm.Stop()
	code, stdout, stderr := runLoadCmd(t, ctx, "--addr", addr, "--connections", "2", "--duration", "1m", "--out", out)
	if code != exitInterrupted {
		t.Fatalf("exit %d, want %d: %s", code, exitInterrupted, stderr)
	}
	raw, err := os.ReadFile(filepath.Join(out, "result.json"))
	if err != nil || !strings.Contains(string(raw), `"partial": true`) {
		t.Fatalf("result.json not written as partial: %v %s", err, raw)
	}
	if !strings.Contains(stdout, "PARTIAL") || !strings.Contains(stderr, "partial") {
		t.Errorf("table or message does not say partial:\n%s\n%s", stdout, stderr)
	}
}

func TestLoadEmitJob(t *testing.T) {
	code, stdout, stderr := runLoadCmd(t, context.Background(), "--emit-job", "--namespace", "database", "--instance", "test-cache",
		"--image", "dfe2e:dev", "--duration", "30s", "--pipeline", "8")
	if code != exitOK || !strings.Contains(stdout, `"namespace": "database"`) || !strings.Contains(stdout, "test-cache.database.svc:6379") {
		t.Fatalf("exit %d stderr %s stdout:\n%s", code, stderr, stdout)
	}
}
