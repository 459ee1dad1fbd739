package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/dragonfly-e2e/dragonfly-e2e/loadgen"
	rt "github.com/dragonfly-e2e/dragonfly-e2e/reports/reportstest"
)

// run executes a fresh report subcommand and returns its exit code and output.
func run(t *testing.T, cmd *cobra.Command, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	cmd.SilenceErrors, cmd.SilenceUsage = true, true // as under root
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	err := cmd.Execute()
	if err == nil {
		return exitOK, out.String()
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			out.WriteString(ee.err.Error())
		}
		return ee.code, out.String()
	}
	return exitBadInput, out.String() + err.Error()
}

func loadDir(t *testing.T, name string, opts ...rt.LoadOptions) string {
	t.Helper()
	var res []loadgen.Result
	for _, o := range opts {
		res = append(res, rt.Load(o))
	}
	dir, err := rt.WriteLoad(filepath.Join(t.TempDir(), name), res...)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func reps(n int, p50 float64, ops float64) []rt.LoadOptions {
	var o []rt.LoadOptions
	for i := 0; i < n; i++ {
		o = append(o, rt.LoadOptions{Seed: int64(100 + i), OpsPerSec: ops, P50Micros: p50})
	}
	return o
}

func TestReportCompareGate(t *testing.T) {
	base := loadDir(t, "base", reps(5, 300, 100e3)...)
	same := loadDir(t, "same", reps(5, 300, 100e3)...)
	slower := loadDir(t, "slower", reps(5, 400, 100e3)...)
	faster := loadDir(t, "faster", reps(5, 200, 130e3)...)

	if code, out := run(t, reportCompareCmd(), base, same); code != 0 || !strings.Contains(out, "gate: PASS") {
		t.Errorf("equal runs: exit %d, want 0\n%s", code, out)
	}
	code, out := run(t, reportCompareCmd(), base, slower)
	if code != 1 || !strings.Contains(out, "gate: FAIL") ||
		!strings.Contains(out, "p99 rose") || !strings.Contains(out, "beyond the 10% threshold and outside noise (Mann-Whitney p=0.008, 5 vs 5 runs)") {
		t.Errorf("latency regression: exit %d, want 1 with a reason line\n%s", code, out)
	}
	if code, out := run(t, reportCompareCmd(), base, faster); code != 0 || !strings.Contains(out, "improved") {
		t.Errorf("improvement: exit %d, want 0\n%s", code, out)
	}
	// One run each: no significance possible, the threshold alone decides and the output says so.
	one, oneSlow := loadDir(t, "one", reps(1, 300, 100e3)...), loadDir(t, "oneslow", reps(1, 400, 100e3)...)
	if code, out := run(t, reportCompareCmd(), one, oneSlow); code != 1 || !strings.Contains(out, "judged on the threshold only") {
		t.Errorf("single runs: exit %d, want 1 stating the threshold-only fallback\n%s", code, out)
	}
}

func TestReportCompareWithinNoiseOnReportJSON(t *testing.T) {
	dir := t.TempDir()
	metric := func(name string, vals ...float64) string {
		p := filepath.Join(dir, name+".json")
		var s []string
		for _, v := range vals {
			s = append(s, fmt.Sprint(v))
		}
		body := fmt.Sprintf(`{"name":"failover RTO","unit":"s","better":"lower","values":[%s]}`, strings.Join(s, ","))
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, name)
		if code, msg := run(t, reportBuildCmd(), "--metrics", p, "--out", out); code != 0 {
			t.Fatalf("build %s: exit %d\n%s", name, code, msg)
		}
		return filepath.Join(out, "report.json")
	}
	base := metric("base", 4.0, 6.5, 3.1, 5.9, 4.4, 3.6, 5.2)
	noisy := metric("noisy", 4.6, 6.9, 3.3, 6.4, 4.1, 5.0, 5.6) // median +11.5%, heavy overlap
	worse := metric("worse", 8.0, 8.4, 7.9, 8.8, 8.1, 8.3, 8.6)
	if code, out := run(t, reportCompareCmd(), base, noisy); code != 0 || !strings.Contains(out, "within noise") {
		t.Errorf("noisy small shift: exit %d, want 0 (within noise)\n%s", code, out)
	}
	if code, out := run(t, reportCompareCmd(), base, worse); code != 1 || !strings.Contains(out, "failover RTO rose") {
		t.Errorf("RTO doubled: exit %d, want 1\n%s", code, out)
	}
	// A report directory works as well as its report.json.
	if code, out := run(t, reportCompareCmd(), filepath.Dir(base), filepath.Dir(base)); code != 0 {
		t.Errorf("report directory: exit %d\n%s", code, out)
	}
}

func TestReportCompareBadInput(t *testing.T) {
	base := loadDir(t, "base", reps(1, 300, 100e3)...)
	dir := t.TempDir()
	badYAML := filepath.Join(dir, "thresholds.yaml")
	os.WriteFile(badYAML, []byte("thresholds:\n  p99: -10\n"), 0o644)
	badJSON := filepath.Join(dir, "broken.json")
	os.WriteFile(badJSON, []byte(`{"tool": "dfe2e-loadgen", `), 0o644)
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"bad thresholds":  {[]string{base, base, "--thresholds", badYAML}, "thresholds.yaml: threshold \"p99\" is -10"},
		"missing file":    {[]string{base, filepath.Join(dir, "nope.json")}, "nope.json does not exist"},
		"missing yaml":    {[]string{base, base, "--thresholds", filepath.Join(dir, "nope.yaml")}, "nope.yaml does not exist"},
		"malformed json":  {[]string{base, badJSON}, "broken.json: not a valid load result JSON"},
		"one argument":    {[]string{base}, "exactly two arguments"},
		"nothing similar": {[]string{base, writeMetric(t, dir)}, "no metric in common"},
	} {
		code, out := run(t, reportCompareCmd(), tc.args...)
		if code != exitBadInput || !strings.Contains(out, tc.want) {
			t.Errorf("%s: exit %d, want 2 with %q\n%s", name, code, tc.want, out)
		}
	}
}

func writeMetric(t *testing.T, dir string) string {
	p := filepath.Join(dir, "m.json")
	os.WriteFile(p, []byte(`[{"name":"rpo","unit":"s","better":"lower","values":[1]}]`), 0o644)
	out := filepath.Join(dir, "m-report")
	if code, msg := run(t, reportBuildCmd(), "--metrics", p, "--out", out); code != 0 {
		t.Fatalf("build: %d %s", code, msg)
	}
	return out
}

func TestReportBuildExitCodes(t *testing.T) {
	dir := t.TempDir()
	failing, _ := rt.GinkgoReport(filepath.Join(dir), true)
	blockedDir := filepath.Join(dir, "blocked")
	os.MkdirAll(blockedDir, 0o755)
	blockedOnly, _ := rt.GinkgoReport(blockedDir, false)
	load := loadDir(t, "load", rt.LoadOptions{Seed: 1, OpsPerSec: 50e3, P50Micros: 250, OpenLoop: true, StandIn: rt.StandIn})

	out := filepath.Join(dir, "out")
	code, msg := run(t, reportBuildCmd(), "--ginkgo", failing, "--load", load, "--env", "kubernetes=v1.34.4", "--out", out)
	if code != exitFailed {
		t.Errorf("failing suite: exit %d, want 1\n%s", code, msg)
	}
	for _, f := range []string{"report.json", "report.md", "junit.xml", "report.html"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("%s not written: %v", f, err)
		}
	}
	if code, msg := run(t, reportBuildCmd(), "--ginkgo", blockedOnly, "--out", filepath.Join(dir, "out2")); code != exitBlocked || !strings.Contains(msg, "blocked: ") {
		t.Errorf("blocked-only suite: exit %d, want 3 listing the blocked spec\n%s", code, msg)
	}
	if code, _ := run(t, reportBuildCmd(), "--load", load, "--out", filepath.Join(dir, "out3")); code != exitOK {
		t.Errorf("load only: exit %d, want 0", code)
	}
	for name, args := range map[string][]string{
		"no out":        {"--ginkgo", failing},
		"bad env":       {"--ginkgo", failing, "--env", "kubernetes", "--out", out},
		"missing input": {"--ginkgo", filepath.Join(dir, "nope.json"), "--out", out},
		"not ginkgo":    {"--ginkgo", filepath.Join(load, "rep-a", "result.json"), "--out", out},
		"nothing":       {"--out", out},
	} {
		if code, msg := run(t, reportBuildCmd(), args...); code != exitBadInput {
			t.Errorf("%s: exit %d, want 2\n%s", name, code, msg)
		}
	}
}
