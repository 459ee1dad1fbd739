// Package run drives one end-to-end run: environment steps (preflight,
// images, cluster, storage), then the suite tiers, then the report. It
// returns verdicts, never exit-code errors; the CLI maps them to an exit code.
//
// The order of truth is fixed here and nowhere else: a step or spec that
// failed makes the run failed; only what could not start for lack of an image
// is blocked; every other outcome is passed or not run.
package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/dragonfly-e2e/dragonfly-e2e/reports"
	"github.com/dragonfly-e2e/dragonfly-e2e/verdict"
)

// BlockedError is a step that could not start for lack of an image.
type BlockedError struct{ Reason, Remedy string }

func (e *BlockedError) Error() string { return verdict.BlockedMessage(e.Reason, e.Remedy) }

// NotRunError is a tier's set-up step that found the tier cannot apply
// here (e.g. no Flux and --skip-flux-install): the step is recorded as
// skipped and the tier as not run, with Why — neither passed nor failed.
type NotRunError struct{ Why string }

func (e *NotRunError) Error() string { return e.Why }

// BadInputError is a run that cannot work as configured (exit 2): an option,
// a suites path, a report that cannot be read.
type BadInputError struct{ Err error }

func (e *BadInputError) Error() string { return e.Err.Error() }
func (e *BadInputError) Unwrap() error { return e.Err }

// BadInput wraps err as bad input.
func BadInput(err error) error { return &BadInputError{Err: err} }

// Step is one stage of the pipeline.
type Step struct {
	Name string
	// Do runs the stage; the detail is shown in the run record.
	Do func(ctx context.Context) (detail string, err error)
}

// Tier is one `go test` run of the suites with a label filter, whose Ginkgo
// JSON report is the tier's verdicts.
type Tier struct {
	Name        string
	LabelFilter string
	// Report is the Ginkgo JSON report the tier writes. It is removed before
	// the tier runs, so a report is never a previous run's.
	Report string
	// Before are the tier's own set-up steps (e.g. the Flux images); a failed
	// or blocked one leaves the tier not run.
	Before []Step
	// Run runs the suites, writing their report to report (Report, or one
	// file per repetition); a non-nil error means the process failed.
	Run func(ctx context.Context, report string) error
}

// Teardown removes what the run created. runFailed tells it whether the run
// so far failed or was blocked (to keep a cluster or export its logs).
type Teardown struct {
	Name string
	Do   func(ctx context.Context, runFailed bool) (detail string, err error)
}

// ErrNothingToDo is returned by a teardown step that had nothing to remove;
// it is not recorded.
var ErrNothingToDo = errors.New("nothing to do")

// Plan is what Execute runs.
type Plan struct {
	// Setup runs in order; the first step that does not pass stops the run
	// (the tiers are then recorded as not run).
	Setup []Step
	Tiers []Tier
	// Teardown always runs, last first, with a context of its own so that
	// Ctrl-C still removes what the run created.
	Teardown []Teardown
	// Env returns the report's environment key=value pairs; it is called
	// when the report is built, after the steps that learn them.
	Env func() []string
	// ReportDir receives report.json, report.md, junit.xml, report.html.
	ReportDir string
	// Repeat runs every tier this many times on the same cluster (default
	// once); the report counts each spec's runs and names the flakes.
	Repeat int
	Logf   func(format string, args ...any)
}

// Record is what a run did and concluded.
type Record struct {
	Steps []reports.Step `json:"steps"`
	// Tiers maps a tier's name to "ran" or "not run: <why>".
	Tiers   map[string]string `json:"tiers"`
	Summary verdict.Summary   `json:"summary"`
	// Outcome is the run's verdict: the worst of steps and specs.
	Outcome verdict.Status `json:"outcome"`
	// Specs lists every spec that did not pass against the real thing.
	Specs []SpecLine `json:"specs,omitempty"`
	// BadInput is set when the run could not work as configured.
	BadInput string `json:"badInput,omitempty"`
	// ReportDir is where the run report was written ("" when it was not).
	ReportDir string `json:"reportDir,omitempty"`
}

// SpecLine is one spec of the run report that did not plainly pass.
type SpecLine struct {
	Status string `json:"status"`
	Spec   string `json:"spec"`
	Reason string `json:"reason,omitempty"`
}

// ExitCode maps the record to the process exit status: 2 bad input, 1
// failed, 3 blocked (0 with blockedOK), else 0.
func (r *Record) ExitCode(blockedOK bool) int {
	switch {
	case r.BadInput != "":
		return 2
	case r.Outcome == verdict.Blocked && blockedOK:
		return 0
	}
	return verdict.ExitCode(r.Outcome)
}

// Execute runs the plan and returns its record. The error is non-nil only
// for bad input; every other outcome is in the record.
func Execute(ctx context.Context, p Plan) (*Record, error) {
	logf := p.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	rec := &Record{Tiers: map[string]string{}}
	var badInput error
	stopped := ""
	for _, s := range p.Setup {
		if stopped != "" {
			rec.notRun(s.Name, stopped)
			continue
		}
		st, err := rec.step(ctx, s)
		if st != verdict.Passed {
			stopped = fmt.Sprintf("step %q %s", s.Name, st)
			badInput = asBadInput(badInput, err)
		}
	}
	var reportsRead []string
	for _, t := range p.Tiers {
		if err := removeStale(t.Report); err != nil {
			rec.add(reports.Step{Name: "suites: " + t.Name, Status: verdict.Failed, Detail: err.Error()})
			continue
		}
		stale := false
		for r := 1; r <= max(p.Repeat, 1); r++ {
			if err := removeStale(repetitionReport(t.Report, r, p.Repeat)); err != nil {
				rec.add(reports.Step{Name: "suites: " + t.Name, Status: verdict.Failed, Detail: err.Error()})
				stale = true
			}
		}
		if stale {
			continue
		}
		if stopped != "" {
			rec.notRunTier(t, stopped)
			continue
		}
		tierStop, notApplicable := "", false
		for _, s := range t.Before {
			if tierStop != "" {
				rec.notRun(s.Name, tierStop)
				continue
			}
			st, err := rec.step(ctx, s)
			var nr *NotRunError
			switch {
			case errors.As(err, &nr):
				tierStop, notApplicable = nr.Why, true
			case st != verdict.Passed:
				tierStop = fmt.Sprintf("step %q %s", s.Name, st)
				badInput = asBadInput(badInput, err)
			}
		}
		if notApplicable {
			// The step that found it is already recorded as skipped.
			rec.notRun("suites: "+t.Name, tierStop)
			rec.Tiers[t.Name] = "not run: " + tierStop
			continue
		}
		if tierStop != "" {
			rec.notRunTier(t, tierStop)
			continue
		}
		if ctx.Err() != nil {
			rec.notRunTier(t, "the run was interrupted")
			continue
		}
		rec.Tiers[t.Name] = "ran"
		for r := 1; r <= max(p.Repeat, 1); r++ {
			if r > 1 && ctx.Err() != nil {
				break
			}
			report := repetitionReport(t.Report, r, p.Repeat)
			read, err := rec.runTier(ctx, t, report, repetitionName(t.Name, r, p.Repeat))
			if read {
				reportsRead = append(reportsRead, report)
			}
			badInput = asBadInput(badInput, err)
		}
	}
	rep, err := buildReport(p, rec, reportsRead)
	if err != nil {
		badInput = asBadInput(badInput, BadInput(err))
	}
	if ctx.Err() != nil {
		rec.add(reports.Step{Name: "interrupted", Status: verdict.Failed, Detail: "the run was stopped (Ctrl-C or SIGTERM) before it ended"})
	}
	rec.conclude()
	// Teardown, last first, with a live context even after Ctrl-C.
	runFailed := rec.Outcome == verdict.Failed || rec.Outcome == verdict.Blocked || badInput != nil
	for i := len(p.Teardown) - 1; i >= 0; i-- {
		td := p.Teardown[i]
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
		rec.step(tctx, Step{Name: td.Name, Do: func(ctx context.Context) (string, error) { return td.Do(ctx, runFailed) }})
		cancel()
	}
	rec.conclude()
	if rep != nil && p.ReportDir != "" {
		rep.Steps = rec.Steps
		if err := rep.WriteAll(p.ReportDir); err != nil {
			rec.add(reports.Step{Name: "report", Status: verdict.Failed, Detail: err.Error()})
			rec.conclude()
		} else {
			rec.ReportDir = p.ReportDir
		}
	}
	if badInput != nil {
		rec.BadInput = badInput.Error()
		return rec, badInput
	}
	return rec, nil
}

// conclude derives the outcome: the worst of the specs and the steps.
func (r *Record) conclude() {
	r.Outcome = r.Summary.Status()
	for _, s := range r.Steps {
		r.Outcome = verdict.Worst(r.Outcome, s.Status)
	}
}

// repetitionReport is the report file of run r of n: Report itself when the
// tier runs once, else <name>.run<r>.json beside it.
func repetitionReport(report string, r, n int) string {
	if n <= 1 {
		return report
	}
	return strings.TrimSuffix(report, ".json") + fmt.Sprintf(".run%d.json", r)
}

func repetitionName(tier string, r, n int) string {
	if n <= 1 {
		return tier
	}
	return fmt.Sprintf("%s (run %d of %d)", tier, r, n)
}

func asBadInput(have, err error) error {
	var bi *BadInputError
	if have == nil && errors.As(err, &bi) {
		return bi
	}
	return have
}

// step runs s and records it: nil → passed, *BlockedError → blocked,
// anything else (an interruption included) → failed.
func (r *Record) step(ctx context.Context, s Step) (verdict.Status, error) {
	start := time.Now()
	detail, err := s.Do(ctx)
	if errors.Is(err, ErrNothingToDo) {
		return verdict.Passed, nil
	}
	st := reports.Step{Name: s.Name, Status: verdict.Passed, Detail: detail,
		Seconds: time.Since(start).Round(100 * time.Millisecond).Seconds()}
	var blocked *BlockedError
	var notRun *NotRunError
	switch {
	case err == nil:
	case errors.As(err, &notRun):
		st.Status, st.Detail = verdict.Skipped, "not run: "+notRun.Why
	case errors.As(err, &blocked):
		st.Status, st.Detail = verdict.Blocked, blocked.Error()
	default:
		st.Status, st.Detail = verdict.Failed, err.Error()
	}
	r.add(st)
	return st.Status, err
}

func (r *Record) add(s reports.Step) { r.Steps = append(r.Steps, s) }

func (r *Record) notRun(name, why string) {
	r.add(reports.Step{Name: name, Status: verdict.Skipped, Detail: "not run: " + why})
}

func (r *Record) notRunTier(t Tier, why string) {
	for _, s := range t.Before {
		r.notRun(s.Name, why)
	}
	r.notRun("suites: "+t.Name, why)
	r.Tiers[t.Name] = "not run: " + why
}

// Print writes the record the way a person reads it at the end of a run.
func (r *Record) Print(w io.Writer) {
	fmt.Fprintf(w, "\n== dfe2e e2e: %s\n", r.Outcome)
	for _, s := range r.Steps {
		d := s.Detail
		if len(d) > 160 {
			d = d[:157] + "..."
		}
		fmt.Fprintf(w, "  %-8s %-48s %7.1fs  %s\n", s.Status, s.Name, s.Seconds, d)
	}
	fmt.Fprintf(w, "  specs: %s\n", r.Summary.Line())
	for _, sp := range r.Specs {
		fmt.Fprintf(w, "    %-8s %s — %s\n", sp.Status, sp.Spec, sp.Reason)
	}
	if r.BadInput != "" {
		fmt.Fprintf(w, "  bad input: %s\n", r.BadInput)
	}
	if r.ReportDir != "" {
		fmt.Fprintf(w, "  run report: %s (report.html, report.md, junit.xml, report.json)\n", r.ReportDir)
	}
}
