package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dragonfly-e2e/dragonfly-e2e/loadgen"
)

// playsFor parses a command line into its plays without running anything.
func playsFor(t *testing.T, args ...string) ([]loadPlay, error) {
	t.Helper()
	cmd, f := newLoadCmdFlags()
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatalf("parsing %v: %v", args, err)
	}
	return loadPlays(cmd, *f)
}

func writeScenario(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "mine.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestScenarioFlagsOverrideOnlyWhatIsGiven(t *testing.T) {
	plays, err := playsFor(t, "--scenario", "cache", "--pipeline", "4", "--requests", "500")
	if err != nil {
		t.Fatal(err)
	}
	w := plays[0].Workload
	if plays[0].Name != "cache" || w.Pipeline != 4 || w.Requests != 500 || w.Duration != 0 ||
		w.GetRatio != 9 || w.SetRatio != 1 || w.KeyDist != loadgen.DistZipf || w.Connections != 50 || !w.Prefill {
		t.Errorf("cache with --pipeline 4 --requests 500: %+v", w)
	}
	// A changed shape is part of the name results carry; a changed length is not.
	if n := plays[0].resultName(); n != "cache (--pipeline 4)" {
		t.Errorf("result name %q, want %q", n, "cache (--pipeline 4)")
	}
	// --connections keeps its default 50 unless given: the scenario's 8 stays.
	plays, err = playsFor(t, "--scenario", "deep-pipeline", "--scenario", "open-loop", "--rate", "500")
	if err != nil {
		t.Fatal(err)
	}
	if len(plays) != 2 || plays[0].Workload.Connections != 8 || plays[0].Workload.Rate != 500 || plays[1].Workload.Rate != 500 {
		t.Errorf("deep-pipeline + open-loop with --rate 500: %+v", plays)
	}
	plays, err = playsFor(t, "--scenario", "all")
	if err != nil || len(plays) != len(loadgen.BuiltinScenarios()) {
		t.Fatalf("all: %d plays, %v", len(plays), err)
	}
	plays, err = playsFor(t, "--scenario-file", writeScenario(t, "name: mine\nrequests: 10\nvalueSize: 7\n"), "--seed", "9")
	if err != nil || plays[0].resultName() != "mine" || plays[0].Workload.ValueSize != 7 || plays[0].Workload.Seed != 9 {
		t.Errorf("--scenario-file with --seed 9: %+v %v", plays, err)
	}
}

func TestLoadScenarioAndFindMaxBadInputExits2(t *testing.T) {
	badFile := writeScenario(t, "name: mine\nduration: 5s\npipeline: deep\n")
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"unknown scenario", []string{"--scenario", "nope"}, []string{`scenario "nope" does not exist`, "cache"}},
		{"bad scenario file", []string{"--scenario-file", badFile}, []string{badFile, `"pipeline"`, "want an integer"}},
		{"missing scenario file", []string{"--scenario-file", "/nonexistent.yaml"}, []string{"/nonexistent.yaml"}},
		{"scenario twice", []string{"--scenario", "cache", "--scenario", "cache"}, []string{"scenario cache is given twice"}},
		{"closed loop over bounds", []string{"--scenario", "open-loop", "--mode", "closed"}, []string{"scenario open-loop", "drop --mode closed"}},
		{"override breaks the scenario", []string{"--scenario", "cache", "--pipeline", "0"}, []string{"scenario cache", "pipeline must be ≥ 1"}},
		{"scenario with emit-job", []string{"--scenario", "cache", "--emit-job"}, []string{"--emit-job prints one Job manifest"}},
		{"find-max job with addr", []string{"--find-max", "--slo", "p99<=2ms", "--job"}, []string{"--job and --port-forward find the address themselves: drop --addr"}},
		{"find-max without slo", []string{"--find-max"}, []string{"--find-max needs --slo"}},
		{"bad slo", []string{"--find-max", "--slo", "p99<2ms"}, []string{`--slo: SLO "p99<2ms" is not PERCENTILE<=DURATION`}},
		{"unknown slo percentile", []string{"--find-max", "--slo", "p95<=2ms"}, []string{`percentile "p95" is unknown`}},
		{"slo without find-max", []string{"--slo", "p99<=2ms"}, []string{"--slo only applies with --find-max"}},
		{"find-max with rate", []string{"--find-max", "--slo", "p99<=2ms", "--rate", "100"}, []string{"drop --rate"}},
		{"bad step factor", []string{"--find-max", "--slo", "p99<=2ms", "--step-factor", "1"}, []string{"step factor must be in (1, 10]"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runLoadCmd(t, context.Background(), append([]string{"--addr", "127.0.0.1:1", "--out", t.TempDir()}, tc.args...)...)
			if code != exitBadInput {
				t.Fatalf("exit %d, want 2: %s", code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not name %q:\n%s", w, stderr)
				}
			}
		})
	}
}

func readResult(t *testing.T, p string) loadgen.Result {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var r loadgen.Result
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestLoadScenarioBoundsDecideTheExitCode(t *testing.T) {
	addr := startLoadRedis(t, "")
	const base = "connections: 2\nrate: 200\nrequests: 200\n"
	tight := writeScenario(t, "name: tight\n"+base+"bounds: {p50: 1us}\n")
	loose := filepath.Join(t.TempDir(), "loose.yaml")
	if err := os.WriteFile(loose, []byte("name: loose\n"+base+"bounds: {p99: 10s, p99.9: 10s}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	code, stdout, stderr := runLoadCmd(t, context.Background(), "--addr", addr, "--scenario-file", loose, "--scenario-file", tight, "--out", out)
	if code != exitFailed {
		t.Fatalf("exit %d, want 1: %s", code, stderr)
	}
	if !strings.Contains(stderr, "scenario tight: p50 ") || !strings.Contains(stderr, "> bound 0.001ms") || strings.Contains(stderr, "scenario loose:") {
		t.Errorf("stderr must name scenario tight, p50, measured and bound (and not loose):\n%s", stderr)
	}
	if !strings.Contains(stdout, "== scenario loose ==") || !strings.Contains(stdout, "== scenario tight ==") {
		t.Errorf("stdout:\n%s", stdout)
	}
	for _, n := range []string{"loose", "tight"} {
		if r := readResult(t, filepath.Join(out, n, "result.json")); r.Scenario != n || r.Requests != 200 {
			t.Errorf("%s/result.json: scenario %q, %d requests", n, r.Scenario, r.Requests)
		}
	}
	code, _, stderr = runLoadCmd(t, context.Background(), "--addr", addr, "--scenario-file", loose, "--out", t.TempDir())
	if code != exitOK {
		t.Errorf("loose bounds alone: exit %d: %s", code, stderr)
	}
}

func TestLoadFindMaxAgainstRedis(t *testing.T) {
	addr := startLoadRedis(t, "")
	out := t.TempDir()
	args := []string{"--addr", addr, "--connections", "2", "--find-max", "--start-rate", "200", "--step-factor", "2",
		"--step-duration", "1s", "--step-warmup", "0s", "--max-steps", "2", "--seed", "3",
		"--min-achieved", "0.5"} // 1 s steps on a shared machine lose a few percent of their rate to one stall
	code, stdout, stderr := runLoadCmd(t, context.Background(), append(args, "--slo", "p99<=10s", "--out", out)...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	r := readResult(t, filepath.Join(out, "result.json"))
	if r.Knee == nil || r.Knee.MaxRate != 400 || len(r.Knee.Steps) != 2 || r.Workload.Seed != 3 || r.Workload.Duration != time.Second {
		t.Fatalf("knee in result.json: %+v (workload %+v)", r.Knee, r.Workload)
	}
	if !strings.Contains(stdout, "knee     400 req/s (step 2)") || !strings.Contains(stderr, "step 1 at 200 req/s: met") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
	code, _, stderr = runLoadCmd(t, context.Background(), append(args, "--slo", "p50<=1us", "--out", t.TempDir())...)
	if code != exitFailed || !strings.Contains(stderr, "no rate met p50<=1µs: step 1 at 200 req/s broke: ") || !strings.Contains(stderr, "p50 ") {
		t.Errorf("unmeetable SLO: exit %d, stderr:\n%s", code, stderr)
	}
}

// Scenario runs land in --out/<name>/result.json carrying their name, and
// report compare judges them scenario by scenario.
func TestLoadScenarioResultsCompareByName(t *testing.T) {
	addr := startLoadRedis(t, "")
	dir := t.TempDir()
	var files []string
	for _, n := range []string{"alpha", "beta"} {
		p := filepath.Join(dir, n+".yaml")
		if err := os.WriteFile(p, []byte("name: "+n+"\nconnections: 2\nrequests: 300\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, "--scenario-file", p)
	}
	base, next := filepath.Join(dir, "base"), filepath.Join(dir, "run")
	for _, out := range []string{base, next} {
		if code, _, stderr := runLoadCmd(t, context.Background(), append([]string{"--addr", addr, "--out", out, "--stdout", "none"}, files...)...); code != exitOK {
			t.Fatalf("load into %s: exit %d: %s", out, code, stderr)
		}
	}
	code, out := run(t, reportCompareCmd(), base, next, "--thresholds", writeLooseThresholds(t))
	if code != exitOK {
		t.Fatalf("compare: exit %d:\n%s", code, out)
	}
	for _, n := range []string{"alpha", "beta"} {
		if !strings.Contains(out, "\n"+n+":\n") {
			t.Errorf("compare output does not judge scenario %s:\n%s", n, out)
		}
	}
	if strings.Contains(out, "conn ×") {
		t.Errorf("named scenarios must not fall back to workload descriptions:\n%s", out)
	}
}

// writeLooseThresholds allows any change: this test is about names, not about
// whether two 300-request runs on a shared machine differ.
func writeLooseThresholds(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "th.yaml")
	if err := os.WriteFile(p, []byte("thresholds:\n  default: 100000\n  ops/s: 100000\n  p50: 100000\n  p99: 100000\n  p99.9: 100000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadFindMaxInterruptedExits130WithTheStepsSoFar(t *testing.T) {
	addr := startLoadRedis(t, "")
	out := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	tm := time.AfterFunc(800*time.Millisecond, cancel) // stands in for Ctrl-C
	defer tm.Stop()
	code, _, stderr := runLoadCmd(t, ctx, "--addr", addr, "--connections", "2", "--find-max", "--slo", "p99<=10s",
		"--start-rate", "200", "--step-duration", "1m", "--step-warmup", "0s", "--out", out)
	if code != exitInterrupted {
		t.Fatalf("exit %d, want %d: %s", code, exitInterrupted, stderr)
	}
	r := readResult(t, filepath.Join(out, "result.json"))
	if !r.Partial || r.Knee == nil || len(r.Knee.Steps) != 1 || r.Knee.Steps[0].Broke != loadgen.BrokeInterrupted || r.Knee.MaxStep != 0 {
		t.Fatalf("partial find-max result: partial %v knee %+v", r.Partial, r.Knee)
	}
}
