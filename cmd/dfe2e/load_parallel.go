package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/loadtarget"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
	"github.com/dragonfly-e2e/dragonfly-e2e/loadgen"
	"github.com/dragonfly-e2e/dragonfly-e2e/loadgen/barrier"
	"github.com/dragonfly-e2e/dragonfly-e2e/loadgen/merge"
	"github.com/dragonfly-e2e/dragonfly-e2e/reports"
)

// podShareFlags are what the parallel Job passes each of its pods: which
// share of the workload it plays and where its start barrier is.
type podShareFlags struct {
	of, index      int
	barrierFile    string
	barrierTimeout time.Duration
	barrierAddr    string
}

const defaultBarrierLead = 5 * time.Second

func addParallelFlags(cmd *cobra.Command, f *loadFlags) {
	fl := cmd.Flags()
	fl.IntVar(&f.parallel, "parallel", 0, "--job: run the load as an Indexed Job of N pods started together; connections, rate and requests are split over them, results merged exactly")
	fl.DurationVar(&f.barrierLead, "barrier-lead", defaultBarrierLead, "--parallel: how far ahead of the release the pods' common start time is (time for every pod to learn it)")
	fl.IntVar(&f.pod.of, "share-of", 0, "in a parallel Job's pod: the number of pods sharing the workload")
	fl.IntVar(&f.pod.index, "share-index", 0, "in a parallel Job's pod: this pod's index")
	fl.StringVar(&f.pod.barrierFile, "barrier-file", "", "in a parallel Job's pod: the downward-API file holding the start time")
	fl.DurationVar(&f.pod.barrierTimeout, "barrier-timeout", 5*time.Minute, "in a parallel Job's pod: how long to wait for the start time")
	fl.StringVar(&f.pod.barrierAddr, "barrier-addr", fmt.Sprintf(":%d", loadtarget.BarrierPort), "in a parallel Job's pod: the readiness endpoint's address")
	for _, n := range []string{"share-of", "share-index", "barrier-file", "barrier-timeout", "barrier-addr"} {
		_ = fl.MarkHidden(n)
	}
}

// checkParallelFlags rejects --parallel combinations that cannot run.
func checkParallelFlags(cmd *cobra.Command, f loadFlags, plays []loadPlay) error {
	changed := cmd.Flags().Changed
	var errs []error
	if changed("parallel") {
		switch {
		case !f.cluster.job && !f.emitJob:
			errs = append(errs, errors.New("--parallel splits the load over the pods of the in-cluster Job: add --job (with --namespace and --instance), or drop --parallel"))
		case f.parallel < 1:
			errs = append(errs, fmt.Errorf("--parallel %d: give the number of load pods, ≥ 1 (drop --parallel for the single-pod Job)", f.parallel))
		default:
			for _, p := range plays {
				w := p.Workload
				if f.findMax {
					// The staircase's rates only rise: its first step splits worst.
					w = loadgen.StepWorkload(w, f.stair, 0)
				}
				if err := loadgen.CheckShare(w, f.parallel); err != nil {
					errs = append(errs, fmt.Errorf("%s%w", p.prefix(), err))
				}
			}
		}
	}
	if changed("barrier-lead") {
		if !changed("parallel") {
			errs = append(errs, errors.New("--barrier-lead is the start lead of --parallel pods: add --parallel N or drop it"))
		} else if f.barrierLead < time.Second {
			errs = append(errs, fmt.Errorf("--barrier-lead %s is too short for the pods to learn the start time: give ≥ 1s", f.barrierLead))
		}
	}
	if f.pod.of > 0 {
		if f.pod.index < 0 || f.pod.index >= f.pod.of {
			errs = append(errs, fmt.Errorf("--share-index %d is outside 0..%d", f.pod.index, f.pod.of-1))
		}
		if f.pod.barrierFile == "" {
			errs = append(errs, errors.New("--share-of needs --barrier-file (the parallel Job sets both)"))
		}
		if len(plays) != 1 || plays[0].Name != "" || f.findMax {
			errs = append(errs, errors.New("--share-of plays one plain workload (the parallel Job passes it as --workload-json)"))
		}
	}
	return errors.Join(errs...)
}

// gate serves the pod's readiness endpoint and returns its barrier.
func (p podShareFlags) gate(ctx context.Context) (func(context.Context) (time.Time, error), error) {
	g := &barrier.Gate{File: p.barrierFile, Timeout: p.barrierTimeout}
	if _, err := g.ServeReady(ctx, p.barrierAddr); err != nil {
		return nil, err
	}
	return g.Wait, nil
}

// parallelRun is what one run of the Indexed Job returned: the merge of
// its pods (nil when nothing merged) and each pod's files.
type parallelRun struct {
	m     *loadgen.Measurement
	pods  []merge.Pod
	n     int
	t0    time.Time
	label string // "Job <ns>/<name> (<n> pods)"
	// interrupted: ctx ended the run; m, when set, is marked partial.
	interrupted bool
}

// runParallel plays w (of play p) as one run of an Indexed Job of
// --parallel pods, merges what they measured and checks the merge against
// the server's command count. The error carries the exit code; with an
// error, run.m may still hold the finished pods' results, marked partial.
// Nothing is written.
func (e jobEnv) runParallel(ctx context.Context, p loadPlay, w loadgen.Workload) (run parallelRun, err error) {
	n, f := e.parallelPods(), e.f
	spec := e.spec
	spec.Workload, spec.Parallel = w, n
	spec.BarrierTimeout = wait.Timeout(wait.ImagePullVerdict) + f.barrierLead + time.Minute
	raw, err := loadtarget.JobManifest(spec)
	if err != nil {
		return run, badInput(fmt.Errorf("--job: %s%w", p.prefix(), err))
	}
	job, err := loadtarget.JobFromManifest(raw)
	if err != nil {
		return run, failed(err)
	}
	run.n, run.label = n, fmt.Sprintf("Job %s/%s (%d pods)", job.Namespace, job.Name, n)
	counter := e.counter
	if counter == nil {
		counter = loadtarget.CommandCounter{Config: e.cfg, Client: e.cs, Namespace: f.namespace, Instance: f.instance,
			PasswordSecret: f.passwordSecret, PasswordKey: f.passKey}.Count
	}
	// Before the Job exists: the pods' prefill and warmup count too.
	before, err := counter(ctx)
	if err != nil {
		return run, asExit(fmt.Errorf("reading the server's command count before the run (INFO commandstats through a port-forward to %s/%s): %w", f.namespace, f.instance, err))
	}
	run.t0 = time.Now()
	e.logf("%sload Job %s/%s: %d pods", p.prefix(), job.Namespace, job.Name, n)
	r := &loadtarget.Runner{Client: e.cs, Logf: e.logf, Logs: e.podLogs}
	outcomes, runErr := r.RunParallel(ctx, job, n, jobLength(w), f.barrierLead)
	var ie *loadtarget.InterruptedError
	run.interrupted = errors.As(runErr, &ie) || ctx.Err() != nil
	var pf *loadtarget.PodsFailedError
	if len(outcomes) == 0 {
		switch {
		case run.interrupted:
			fmt.Fprintln(e.stderr, "dfe2e: interrupted before the pods started: the load Job was deleted; no results:", runErr)
			return run, withCode(exitInterrupted)
		case errors.As(runErr, &pf) && pf.BadInput():
			return run, badInput(runErr)
		}
		return run, asExit(runErr)
	}
	for _, o := range outcomes {
		mp := merge.Pod{Index: o.Index, Name: o.Pod, Node: o.Node, Failed: o.Failed}
		if files, berr := loadgen.ReadBundle(o.Log); berr == nil {
			mp.Files = files
		} else if mp.Failed == "" {
			mp.Failed = fmt.Sprintf("succeeded but its results are unreadable (%d log bytes, last line %q): %v", len(o.Log), lastLine(o.Log), berr)
		}
		run.pods = append(run.pods, mp)
	}
	m, merr := merge.Merge(w, n, run.pods)
	if merr != nil {
		if errors.As(runErr, &pf) && pf.BadInput() {
			return run, badInput(runErr)
		}
		return run, failed(errors.Join(runErr, merr))
	}
	run.m = m
	m.Result.Target = fmt.Sprintf("%s → %s.%s.svc:6379", run.label, f.instance, f.namespace)
	m.Result.Scenario = p.resultName()
	if run.interrupted {
		m.Result.Partial = true
		return run, withCode(exitInterrupted)
	}
	switch {
	case runErr != nil:
		if errors.As(runErr, &pf) && pf.BadInput() {
			return run, badInput(runErr)
		}
		return run, failed(fmt.Errorf("%s%w", p.prefix(), runErr))
	case m.Result.Partial:
		return run, failed(fmt.Errorf("%sthe merged result is partial: %s", p.prefix(), failedParts(m.Result)))
	}
	after, err := counter(ctx)
	if err != nil {
		return run, failed(fmt.Errorf("%sreading the server's command count after the run: %w", p.prefix(), err))
	}
	sc := loadgen.ServerCount{Commands: loadtarget.WorkloadCommands, Before: before, After: after}
	m.Result.Parallel.Server = &sc
	if err := merge.CrossCheck(m, sc); err != nil {
		return run, failed(fmt.Errorf("%s%w", p.prefix(), err))
	}
	return run, nil
}

// parallelPods is the number of pods of each Job run: --parallel, or one
// for --find-max --job without it (each step is then an Indexed Job of one
// pod, so every step is checked against the server's count alike).
func (e jobEnv) parallelPods() int {
	if e.f.parallel == 0 && e.f.findMax {
		return 1
	}
	return e.f.parallel
}

// parallel runs p as an Indexed Job of --parallel pods, merges what they
// measured into dir (each pod's own files under dir/pods/<index>/), checks
// the merge against the server's command count, and returns the merged
// result. A failed pod fails the run naming it; the finished pods' results
// are written, marked partial.
func (e jobEnv) parallel(ctx context.Context, p loadPlay, dir string) (*loadgen.Result, error) {
	run, err := e.runParallel(ctx, p, p.Workload)
	if run.m == nil {
		return nil, err
	}
	if werr := writeParallel(run.m, run.pods, dir); werr != nil {
		return nil, failed(fmt.Errorf("writing results: %w", werr))
	}
	if perr := e.printRun(run.m, p, dir); perr != nil {
		return nil, perr
	}
	fmt.Fprintf(e.stderr, "dfe2e: %swrote the merged results of %d pods to %s (%s in all)\n", p.prefix(), run.n, dir, time.Since(run.t0).Round(time.Second))
	switch {
	case run.interrupted:
		fmt.Fprintln(e.stderr, "dfe2e: interrupted: the results above are partial (result.json has \"partial\": true); the load Job was deleted")
		return nil, err
	case err != nil:
		var xe *exitError
		if errors.As(err, &xe) && xe.code == exitFailed && run.m.Result.Partial {
			return nil, failed(fmt.Errorf("%w (the results of the pods that finished are in %s, marked partial)", xe.err, dir))
		}
		return nil, err
	}
	return &run.m.Result, nil
}

// printRun prints a merged run (written into dir) on stdout as --stdout asks.
func (e jobEnv) printRun(m *loadgen.Measurement, p loadPlay, dir string) error {
	out := e.cmd.OutOrStdout()
	if p.Name != "" && e.f.stdout == "table" {
		fmt.Fprintf(out, "== scenario %s ==\n", p.Name)
	}
	switch e.f.stdout {
	case "table":
		_ = m.WriteTable(out)
		if k := m.Result.Knee; k != nil {
			_ = writeKneeTable(out, *k)
		}
	case "json":
		_ = m.WriteJSON(out)
		_ = m.WriteTable(e.stderr)
	case "bundle":
		if err := loadgen.WriteBundle(out, dir); err != nil {
			return failed(err)
		}
	}
	return nil
}

func failedParts(r loadgen.Result) string {
	var b []string
	for _, p := range r.Parallel.Parts {
		if p.Failed != "" || p.Partial {
			b = append(b, fmt.Sprintf("pod %s (index %d) %s", p.Pod, p.Index, orPartial(p.Failed)))
		}
	}
	return strings.Join(b, "; ")
}

func orPartial(s string) string {
	if s == "" {
		return "partial"
	}
	return s
}

// writeParallel writes the merged files into dir and each pod's own under
// dir/pods/<index>/ (its result.json as pod-result.json, so report
// builders reading dir take only the merge).
func writeParallel(m *loadgen.Measurement, pods []merge.Pod, dir string) error {
	if _, err := m.WriteFiles(dir); err != nil {
		return err
	}
	for _, p := range pods {
		if p.Files == nil {
			continue
		}
		pd := filepath.Join(dir, "pods", fmt.Sprint(p.Index))
		if err := os.MkdirAll(pd, 0o755); err != nil {
			return err
		}
		for name, body := range p.Files {
			if name == loadgen.FileResult {
				name = reports.PodResultFile
			}
			if err := os.WriteFile(filepath.Join(pd, name), body, 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

// lastLine is the last non-empty line of log, cut to 200 bytes.
func lastLine(log []byte) string {
	lines := strings.Split(strings.TrimRight(string(log), "\n"), "\n")
	l := lines[len(lines)-1]
	if len(l) > 200 {
		l = l[:200] + "…"
	}
	return l
}
