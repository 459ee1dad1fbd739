package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/loadtarget"
	"github.com/dragonfly-e2e/dragonfly-e2e/loadgen"
)

// loadPlay is one workload the load command runs: the flags' own, or a
// scenario's with the explicitly given flags laid over it.
type loadPlay struct {
	loadgen.Scenario // Name "" for a plain flag-built run
	SLO              loadgen.SLO
	// Overrides are the flags that changed what the scenario measures
	// (not its length or seed), as "--flag value".
	Overrides []string
}

// resultName is the name result.json carries: the scenario's, plus the
// overrides that changed it, so report compare never matches a modified
// scenario against the unmodified one's baseline.
func (p loadPlay) resultName() string {
	if p.Name == "" || len(p.Overrides) == 0 {
		return p.Name
	}
	return p.Name + " (" + strings.Join(p.Overrides, " ") + ")"
}

func (p loadPlay) prefix() string {
	if p.Name == "" {
		return ""
	}
	return "scenario " + p.Name + ": "
}

// loadEnv is what every play of one command shares.
type loadEnv struct {
	cmd         *cobra.Command
	f           loadFlags
	target      loadgen.Target
	targetLabel string
	opts        loadgen.Options
}

func addScenarioFlags(cmd *cobra.Command, f *loadFlags) {
	fl := cmd.Flags()
	def := loadgen.DefaultStaircase()
	fl.StringArrayVar(&f.scenarios, "scenario", nil, "play a named scenario (repeatable, or all): "+strings.Join(loadgen.BuiltinScenarios(), ", "))
	fl.StringArrayVar(&f.scenarioFile, "scenario-file", nil, "play the scenario in this YAML file (repeatable)")
	fl.BoolVar(&f.findMax, "find-max", false, "step the open-loop rate up until --slo breaks; report the highest rate that met it")
	fl.StringVar(&f.slo, "slo", "", "--find-max: latency objective on the corrected latency, e.g. 'p99<=2ms' (p50, p90, p99, p99.9, p99.99)")
	fl.Float64Var(&f.stair.StartRate, "start-rate", def.StartRate, "--find-max: first step's rate (req/s)")
	fl.Float64Var(&f.stair.Factor, "step-factor", def.Factor, "--find-max: rate multiplier per step (> 1)")
	fl.DurationVar(&f.stair.StepDuration, "step-duration", def.StepDuration, "--find-max: measured length of each step")
	fl.DurationVar(&f.stair.StepWarmup, "step-warmup", def.StepWarmup, "--find-max: unmeasured lead-in of each step")
	fl.IntVar(&f.stair.MaxSteps, "max-steps", def.MaxSteps, "--find-max: stop after this many steps")
	fl.Float64Var(&f.stair.MinAchieved, "min-achieved", def.MinAchieved, "--find-max: share of the target rate a step must deliver")
}

var staircaseFlagNames = []string{"slo", "start-rate", "step-factor", "step-duration", "step-warmup", "max-steps", "min-achieved"}

// loadPlays turns the command line into the plays to run, checking every
// flag combination and scenario file before anything is loaded.
func loadPlays(cmd *cobra.Command, f loadFlags) ([]loadPlay, error) {
	changed := cmd.Flags().Changed
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	withScenarios := len(f.scenarios)+len(f.scenarioFile) > 0
	if withScenarios || f.findMax {
		what := "--scenario"
		if f.findMax {
			what = "--find-max"
		}
		if f.emitJob {
			bad("%s runs the load; --emit-job prints one Job manifest of plain workload flags", what)
		}
		if changed(loadtarget.WorkloadFlag) {
			bad("%s and --%s are exclusive", what, loadtarget.WorkloadFlag)
		}
		if f.stdout == "bundle" {
			bad("%s writes one directory per scenario; --stdout bundle is for the in-cluster Job", what)
		}
	}
	var slo loadgen.SLO
	if f.findMax {
		if !changed("slo") {
			bad("--find-max needs --slo, e.g. --slo 'p99<=2ms'")
		} else if s, err := loadgen.ParseSLO(f.slo); err != nil {
			bad("--slo: %w", err)
		} else {
			slo = s
		}
		for _, n := range []string{"rate", "mode", "duration", "requests", "warmup"} {
			if changed(n) {
				bad("--find-max sets the rate and length of each step itself: drop --%s (use --start-rate, --step-factor, --step-duration, --step-warmup)", n)
			}
		}
		if err := f.stair.Validate(); err != nil {
			bad("--find-max: %w", err)
		}
	} else {
		for _, n := range staircaseFlagNames {
			if changed(n) {
				bad("--%s only applies with --find-max", n)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if !withScenarios {
		w, err := workloadFromFlags(cmd, f)
		if err != nil {
			return nil, err
		}
		return []loadPlay{{Scenario: loadgen.Scenario{Workload: w}, SLO: slo}}, nil
	}
	scs, err := resolveScenarios(f.scenarios, f.scenarioFile)
	if err != nil {
		return nil, err
	}
	var plays []loadPlay
	for _, sc := range scs {
		w, err := overrideWorkload(cmd, f, sc.Workload)
		if err == nil && len(sc.Bounds) > 0 && !f.findMax && !w.OpenLoop() {
			err = errors.New("its latency bounds judge the open loop's corrected latency: drop --mode closed")
		}
		if err == nil {
			err = w.WithDefaults().Validate()
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("scenario %s (%s): %w", sc.Name, sc.File, err))
			continue
		}
		sc.Workload = w
		plays = append(plays, loadPlay{Scenario: sc, SLO: slo, Overrides: shapeOverrides(cmd)})
	}
	return plays, errors.Join(errs...)
}

// resolveScenarios parses the named built-ins ("all" is every one) and the
// files, in command-line order; a name played twice would overwrite its own
// output directory, so it is an error.
func resolveScenarios(names, files []string) ([]loadgen.Scenario, error) {
	var out []loadgen.Scenario
	var errs []error
	seen := map[string]string{}
	add := func(sc loadgen.Scenario) {
		if prev, ok := seen[sc.Name]; ok {
			errs = append(errs, fmt.Errorf("scenario %s is given twice (%s and %s): each writes into --out/%s", sc.Name, prev, sc.File, sc.Name))
			return
		}
		seen[sc.Name] = sc.File
		out = append(out, sc)
	}
	for _, n := range names {
		list := []string{n}
		if n == "all" {
			list = loadgen.BuiltinScenarios()
		}
		for _, name := range list {
			sc, err := loadgen.BuiltinScenario(name)
			if err != nil {
				errs = append(errs, fmt.Errorf("--scenario: %w", err))
				continue
			}
			add(sc)
		}
	}
	for _, p := range files {
		sc, err := loadgen.ScenarioFromFile(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("--scenario-file: %w", err))
			continue
		}
		add(sc)
	}
	return out, errors.Join(errs...)
}

// overrideWorkload lays the explicitly given workload flags over a
// scenario's workload; flags left at their defaults do not touch it.
func overrideWorkload(cmd *cobra.Command, f loadFlags, w loadgen.Workload) (loadgen.Workload, error) {
	changed := cmd.Flags().Changed
	if changed("connections") {
		w.Connections = f.connections
	}
	if changed("pipeline") {
		w.Pipeline = f.pipeline
	}
	if changed("ratio") {
		g, s, err := loadgen.ParseRatio(f.ratio)
		if err != nil {
			return w, fmt.Errorf("--ratio: %w", err)
		}
		w.GetRatio, w.SetRatio = g, s
	}
	if changed("keyspace") {
		w.Keyspace = f.keyspace
	}
	if changed("key-dist") {
		w.KeyDist = f.keyDist
	}
	if changed("value-size") {
		w.ValueSize = f.valueSize
	}
	if changed("ttl") {
		w.TTL = f.ttl
	}
	if changed("prefill") {
		w.Prefill = f.prefill
	}
	if changed("warmup") {
		w.Warmup = f.warmup
	}
	if changed("seed") {
		w.Seed = f.seed
	}
	switch {
	case changed("duration") && changed("requests"):
		return w, errors.New("--duration and --requests are exclusive: give one")
	case changed("duration"):
		w.Duration, w.Requests = f.duration, 0
	case changed("requests"):
		w.Duration, w.Requests = 0, f.requests
	}
	if changed("rate") {
		if f.rate <= 0 {
			return w, errors.New("--rate must be > 0 requests/s (--mode closed runs the scenario closed-loop)")
		}
		w.Rate = f.rate
	}
	switch f.mode {
	case "":
	case "closed":
		if changed("rate") {
			return w, errors.New("--rate paces an open loop; closed loop runs at maximum throughput: drop --rate or use --mode open")
		}
		w.Rate = 0
	case "open":
		if w.Rate <= 0 {
			return w, errors.New("--mode open needs a rate: the scenario has none, give --rate")
		}
	default:
		return w, fmt.Errorf("--mode %q is unknown: use closed or open", f.mode)
	}
	return w, nil
}

// shapeFlagNames are the workload flags that change what is measured; the
// run's length, warmup and seed only change how long and which keys.
var shapeFlagNames = []string{"mode", "rate", "connections", "pipeline", "ratio", "keyspace", "key-dist", "value-size", "ttl", "prefill"}

func shapeOverrides(cmd *cobra.Command) []string {
	var out []string
	for _, n := range shapeFlagNames {
		if fl := cmd.Flags().Lookup(n); fl != nil && fl.Changed {
			out = append(out, "--"+n+" "+fl.Value.String())
		}
	}
	return out
}

// playAll runs every play in turn (scenarios into --out/<name>/), then fails
// the command naming each broken latency bound or SLO search that found no
// rate. Bad input, an interruption or a failed run stops the remaining plays.
func (e loadEnv) playAll(ctx context.Context, plays []loadPlay, out string) error {
	var broke []string
	for _, p := range plays {
		dir := out
		if p.Name != "" {
			dir = filepath.Join(out, p.Name)
		}
		m, err := e.playOne(ctx, p, dir)
		if err != nil {
			return err
		}
		if k := m.Result.Knee; k != nil {
			if k.MaxStep == 0 {
				broke = append(broke, fmt.Sprintf("%sno rate met %s: %s", p.prefix(), k.SLO, k.Stop))
			}
			continue
		}
		for _, v := range p.CheckBounds(m.Result) {
			broke = append(broke, v.String())
		}
	}
	if len(broke) > 0 {
		return failed(errors.New("failed:\n  " + strings.Join(broke, "\n  ")))
	}
	return nil
}

// writeKneeTable prints the staircase and the knee under the run's table.
func writeKneeTable(w io.Writer, k loadgen.Knee) error {
	var b strings.Builder
	fmt.Fprintf(&b, "\nfind-max %s, %g req/s ×%g per %s step\n", k.SLO, k.Staircase.StartRate, k.Staircase.Factor, k.Staircase.StepDuration)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "step\ttarget/s\tachieved/s\tp50 ms\tp99 ms\tp99.9 ms\terrors\tverdict")
	for _, s := range k.Steps {
		fmt.Fprintf(tw, "%d\t%.0f\t%.0f\t%.3f\t%.3f\t%.3f\t%d\t%s\n", s.Step, s.TargetRate, s.AchievedRate,
			s.Latency.P50/1000, s.Latency.P99/1000, s.Latency.P999/1000, s.Errors, s.Reason)
	}
	tw.Flush()
	if k.MaxStep > 0 {
		fmt.Fprintf(&b, "knee     %.0f req/s (step %d) is the highest rate that met %s\n", k.MaxRate, k.MaxStep, k.SLO)
	} else {
		fmt.Fprintf(&b, "knee     none: no step met %s\n", k.SLO)
	}
	fmt.Fprintf(&b, "stopped  %s\n", k.Stop)
	_, err := io.WriteString(w, b.String())
	return err
}
