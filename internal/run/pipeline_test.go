package run

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/dragonfly-e2e/dragonfly-e2e/verdict"
)

type spec struct {
	text   string
	labels []string
	state  types.SpecState
	msg    string
}

// writeGinkgo writes a Ginkgo JSON report the way -ginkgo.json-report does.
func writeGinkgo(t *testing.T, path string, specs ...spec) {
	t.Helper()
	var srs types.SpecReports
	for i, s := range specs {
		sr := types.SpecReport{LeafNodeType: types.NodeTypeIt, LeafNodeText: s.text, LeafNodeLabels: s.labels, State: s.state,
			LeafNodeLocation: types.CodeLocation{FileName: "suites/x_test.go", LineNumber: i + 1}}
		if s.msg != "" {
			sr.Failure = types.Failure{Message: s.msg}
		}
		srs = append(srs, sr)
	}
	b, _ := json.Marshal([]types.Report{{SuiteDescription: "suites", SuitePath: "/suites", SpecReports: srs}})
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

var (
	installSpec = spec{text: "installs the bundle", labels: []string{"install"}}
	chainSpec   = spec{text: "has the chain Ready", labels: []string{"health"}}
)

// fakeTier writes its report with the given states for the install and
// health specs (the other tier's spec is "not selected").
func fakeTier(t *testing.T, dir, name, filter string, own spec, runErr error) Tier {
	report := filepath.Join(dir, name+".json")
	return Tier{Name: name, LabelFilter: filter, Report: report, Run: func(_ context.Context, report string) error {
		specs := []spec{installSpec, chainSpec}
		for i := range specs {
			specs[i].state = types.SpecStateSkipped
			if specs[i].text == own.text {
				specs[i] = own
			}
		}
		writeGinkgo(t, report, specs...)
		return runErr
	}}
}

func ok(name string, log *[]string) Step {
	return Step{Name: name, Do: func(context.Context) (string, error) { *log = append(*log, name); return "", nil }}
}

func td(name string, log *[]string) Teardown {
	return Teardown{Name: name, Do: func(context.Context, bool) (string, error) { *log = append(*log, name); return "", nil }}
}

func passedSpec(s spec) spec { s.state = types.SpecStatePassed; return s }

func blockedSpec(s spec) spec {
	s.state, s.msg = types.SpecStateSkipped, verdict.BlockedMessage("image op:v1 cannot be pulled", "--image-archive")
	return s
}

func TestStepsRunInOrderAndTeardownLastFirst(t *testing.T) {
	dir := t.TempDir()
	var log []string
	tier := fakeTier(t, dir, "install", "install", passedSpec(installSpec), nil)
	tier.Before = []Step{ok("tier set-up", &log)}
	rec, err := Execute(context.Background(), Plan{
		Setup:    []Step{ok("preflight", &log), ok("images", &log), ok("cluster", &log)},
		Tiers:    []Tier{tier},
		Teardown: []Teardown{td("stop engine", &log), td("delete cluster", &log)},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "preflight images cluster tier set-up delete cluster stop engine"
	if got := strings.Join(log, " "); got != want {
		t.Fatalf("order %q, want %q", got, want)
	}
	if rec.Outcome != verdict.Passed || rec.ExitCode(false) != 0 || rec.Summary.Passed != 1 {
		t.Fatalf("outcome %s summary %s", rec.Outcome, rec.Summary.Line())
	}
}

// The defect this guards: the Flux tier's error was kept only when every
// spec had passed, so a failed image load next to a blocked spec ended as
// "blocked" (exit 0 under --blocked-ok).
func TestFailedStepBeatsBlockedSpecs(t *testing.T) {
	dir := t.TempDir()
	install := fakeTier(t, dir, "install", "install", blockedSpec(installSpec), nil)
	flux := fakeTier(t, dir, "flux", "health", passedSpec(chainSpec), nil)
	flux.Before = []Step{{Name: "flux: load images into the node", Do: func(context.Context) (string, error) {
		return "", errors.New("ctr import: no space left on device")
	}}}
	rec, err := Execute(context.Background(), Plan{Tiers: []Tier{install, flux}})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Outcome != verdict.Failed || rec.ExitCode(true) != 1 {
		t.Fatalf("a failed step with blocked specs: outcome %s, exit %d (blocked-ok) — want failed, 1", rec.Outcome, rec.ExitCode(true))
	}
	if !strings.HasPrefix(rec.Tiers["flux"], "not run: step \"flux: load images into the node\" failed") {
		t.Fatalf("flux tier: %q", rec.Tiers["flux"])
	}
	// The health spec is not run, and says why: never the other tier's skip.
	found := false
	for _, sp := range rec.Specs {
		if strings.Contains(sp.Spec, chainSpec.text) {
			found = strings.Contains(sp.Reason, "tier flux not run")
		}
	}
	if !found {
		t.Fatalf("the chain spec does not say its tier did not run: %+v", rec.Specs)
	}
}

func TestSuiteBinaryThatDiesIsAFailure(t *testing.T) {
	dir := t.TempDir()
	died := Tier{Name: "install", LabelFilter: "install", Report: filepath.Join(dir, "install.json"),
		Run: func(context.Context, string) error { return errors.New("exit status 2") }}
	blocked := fakeTier(t, dir, "flux", "health", blockedSpec(chainSpec), nil)
	rec, _ := Execute(context.Background(), Plan{Tiers: []Tier{died, blocked}})
	if rec.Outcome != verdict.Failed || rec.ExitCode(true) != 1 {
		t.Fatalf("outcome %s exit %d", rec.Outcome, rec.ExitCode(true))
	}
	if !strings.Contains(rec.Steps[0].Detail, "without writing their report") {
		t.Fatalf("step detail %q does not say the report is missing", rec.Steps[0].Detail)
	}
	// A non-zero exit whose report records no failure (a suite-level node
	// failed, or the binary died late) is a failure too.
	late := fakeTier(t, dir, "install", "install", passedSpec(installSpec), errors.New("exit status 1"))
	rec, _ = Execute(context.Background(), Plan{Tiers: []Tier{late}})
	if rec.Outcome != verdict.Failed || !strings.Contains(rec.Steps[0].Detail, "records no failed spec") {
		t.Fatalf("outcome %s, detail %q", rec.Outcome, rec.Steps[0].Detail)
	}
}

// A report the previous run left is never read: the tier that did not run
// is "not run", not that run's passes.
func TestStaleReportIsNotRead(t *testing.T) {
	dir := t.TempDir()
	install := fakeTier(t, dir, "install", "install", passedSpec(installSpec), nil)
	stale := filepath.Join(dir, "flux.json")
	writeGinkgo(t, stale, spec{text: installSpec.text, labels: installSpec.labels, state: types.SpecStateSkipped}, passedSpec(chainSpec))
	flux := Tier{Name: "flux", LabelFilter: "health", Report: stale,
		Before: []Step{{Name: "flux images", Do: func(context.Context) (string, error) {
			return "", &BlockedError{Reason: "ghcr.io/fluxcd/source-controller cannot be had", Remedy: "--image-archive"}
		}}},
		Run: func(context.Context, string) error { t.Fatal("tier ran after its set-up was blocked"); return nil }}
	rec, err := Execute(context.Background(), Plan{Tiers: []Tier{install, flux}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale report still there: %v", err)
	}
	if rec.Summary.Passed != 1 || rec.Outcome != verdict.Blocked || rec.ExitCode(false) != 3 || rec.ExitCode(true) != 0 {
		t.Fatalf("summary %s outcome %s", rec.Summary.Line(), rec.Outcome)
	}
}

func TestUnreadableReportIsBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := Tier{Name: "install", LabelFilter: "install", Report: filepath.Join(dir, "install.json"),
		Run: func(context.Context, string) error {
			return os.WriteFile(filepath.Join(dir, "install.json"), []byte("{not json"), 0o644)
		}}
	rec, err := Execute(context.Background(), Plan{Tiers: []Tier{bad}})
	var bi *BadInputError
	if !errors.As(err, &bi) || rec.ExitCode(true) != 2 || !strings.Contains(rec.BadInput, "not a Ginkgo JSON report") {
		t.Fatalf("err %v, exit %d, bad input %q", err, rec.ExitCode(true), rec.BadInput)
	}
}

// Ctrl-C during set-up: what follows is not run, teardown still runs with a
// live context, and the run is failed (never passed, never blocked).
func TestCancelStillTearsDown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var log []string
	tore := false
	rec, _ := Execute(ctx, Plan{
		Setup: []Step{ok("preflight", &log), {Name: "cluster", Do: func(ctx context.Context) (string, error) {
			cancel()
			return "", ctx.Err()
		}}, ok("storage", &log)},
		Tiers: []Tier{fakeTier(t, t.TempDir(), "install", "install", passedSpec(installSpec), nil)},
		Teardown: []Teardown{{Name: "delete cluster", Do: func(ctx context.Context, failed bool) (string, error) {
			tore = ctx.Err() == nil && failed
			return "", nil
		}}},
	})
	if !tore {
		t.Fatal("teardown did not run with a live context after Ctrl-C")
	}
	if strings.Join(log, " ") != "preflight" || rec.Outcome != verdict.Failed || rec.Tiers["install"] == "ran" {
		t.Fatalf("log %v outcome %s tiers %v", log, rec.Outcome, rec.Tiers)
	}
}

func TestReportIsWrittenWithSteps(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "report")
	rec, err := Execute(context.Background(), Plan{ReportDir: out, Env: func() []string { return []string{"cluster=kind"} },
		Setup: []Step{{Name: "images", Do: func(context.Context) (string, error) { return "", errors.New("debootstrap failed") }}},
		Tiers: []Tier{fakeTier(t, dir, "install", "install", passedSpec(installSpec), nil)}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "FAILED — step images failed") || rec.ReportDir != out {
		t.Fatalf("report.md:\n%s", b)
	}
}

// --repeat runs a tier N times on one cluster; a spec that passed and then
// failed is a flake, counted as failed: the run fails, never retried green.
func TestRepeatNamesTheFlake(t *testing.T) {
	dir := t.TempDir()
	n := 0
	tier := Tier{Name: "install", LabelFilter: "install", Report: filepath.Join(dir, "install.json"),
		Run: func(_ context.Context, report string) error {
			n++
			s := passedSpec(installSpec)
			if n == 2 {
				s.state, s.msg = types.SpecStateFailed, "CRD not Established"
			}
			writeGinkgo(t, report, s)
			if n == 2 {
				return errors.New("exit status 1")
			}
			return nil
		}}
	rec, err := Execute(context.Background(), Plan{Tiers: []Tier{tier}, Repeat: 3, ReportDir: filepath.Join(dir, "report")})
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 || len(rec.Steps) != 3 || rec.Steps[1].Name != "suites: install (run 2 of 3)" {
		t.Fatalf("ran %d times, steps %+v", n, rec.Steps)
	}
	if rec.Outcome != verdict.Failed || rec.Summary.Failed != 1 {
		t.Fatalf("outcome %s, summary %s", rec.Outcome, rec.Summary.Line())
	}
	b, err := os.ReadFile(filepath.Join(dir, "report", "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "| installs the bundle | 2 | 1 | 33% |") {
		t.Fatalf("report.md has no flake row:\n%s", b)
	}
}
