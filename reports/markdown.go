package reports

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/dragonfly-e2e/dragonfly-e2e/loadgen"
	"github.com/dragonfly-e2e/dragonfly-e2e/verdict"
)

// Headline is the run's verdict in words: never "passed" when a step or spec
// failed, anything was blocked, nothing ran, or only stand-ins passed.
func (r *Report) Headline() string {
	r.Finalize()
	s := r.Summary
	failedSteps := r.FailedSteps()
	standIn := ""
	if s.StandIn > 0 {
		standIn = fmt.Sprintf("; %d more on a stand-in, not counted", s.StandIn)
	}
	switch {
	case len(failedSteps) > 0:
		names := make([]string, len(failedSteps))
		for i, st := range failedSteps {
			names[i] = st.Name
		}
		return fmt.Sprintf("FAILED — step %s failed; %d spec(s) failed", strings.Join(names, ", "), s.Failed)
	case s.Failed > 0:
		return fmt.Sprintf("FAILED — %d spec(s) failed", s.Failed)
	case s.Blocked > 0:
		return fmt.Sprintf("BLOCKED — nothing failed, but %d spec(s) could not run here", s.Blocked)
	case s.Passed == 0 && s.StandIn > 0:
		return fmt.Sprintf("NOTHING VERIFIED ON DRAGONFLY — %d spec(s) passed on a stand-in only", s.StandIn)
	case s.Passed == 0 && len(r.Suites) > 0:
		return "NOTHING RAN — every spec was skipped"
	case len(r.Suites) == 0:
		return "NO SUITES — load results only"
	}
	return fmt.Sprintf("PASSED — %d spec(s) passed%s", s.Passed, standIn)
}

// StandInPassMessage says what a pass on a stand-in means wherever it is shown.
func StandInPassMessage(standIn string) string {
	return "passed on a stand-in (" + standIn + "), not a Dragonfly verdict"
}

// statusMark prefixes a status with a symbol so it reads at a glance in plain text too.
var statusMark = map[string]string{"passed": "✅ passed", "failed": "❌ failed", "blocked": "⛔ blocked", "skipped": "⏭ skipped",
	standInStatus: "🧪 stand-in (not counted as passed)"}

// standInStatus is how a pass on a stand-in is shown: never as "passed".
const standInStatus = "stand-in"

// shownStatus is the status a writer shows for v.
func shownStatus(v verdict.Verdict) string {
	if v.Status == verdict.Passed && v.StandIn != "" {
		return standInStatus
	}
	return string(v.Status)
}

// Markdown renders the summary page.
func (r *Report) Markdown() string {
	r.Finalize()
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("# dragonfly-e2e run report\n\n")
	p("**%s** (%s). Generated %s.\n\n", r.Headline(), r.Summary.Line(), r.Generated.UTC().Format(time.RFC3339))

	t := r.tables()
	t.flakes.markdown(&b)
	t.environment.markdown(&b)
	t.steps.markdown(&b)
	if len(r.Environment.StandIns) > 0 {
		p("## Stand-ins used\n\nThese results were measured against stand-ins, not the real thing; they say nothing about Dragonfly or the operator where a stand-in was used:\n\n")
		for _, s := range r.Environment.StandIns {
			p("- %s\n", s)
		}
		p("\n")
	}
	t.blocked.markdown(&b)

	for _, s := range r.Suites {
		p("## Suite: %s\n\n", mdText(s.Name))
		if len(s.FailureReasons) > 0 {
			p("Suite-level failure: %s\n\n", mdText(strings.Join(s.FailureReasons, "; ")))
		}
		p("| Verdict | Spec | Duration | Reason |\n|---|---|---|---|\n")
		for _, sp := range s.Specs {
			reason := sp.Verdict.Reason
			if sp.Verdict.Remedy != "" {
				reason += " — remedy: " + sp.Verdict.Remedy
			}
			if sp.Verdict.StandIn != "" {
				reason = strings.TrimPrefix(reason+"; stand-in: "+sp.Verdict.StandIn, "; ")
			}
			p("| %s | %s | %s | %s |\n", statusMark[shownStatus(sp.Verdict)], mdCell(sp.FullName()), sp.Duration.Round(time.Millisecond), mdCell(orDash(reason)))
		}
		p("\n")
	}

	if len(r.Load) > 0 {
		p("## Load\n\nLatency in the units shown; open-loop runs are coordinated-omission-corrected (the uncorrected figures follow in their own row).\n\n")
		p("| Scenario | Run | Target | Requests | ops/s | p50 | p90 | p99 | p99.9 | p99.99 | max | errors |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, sc := range r.Load {
			for i, run := range sc.Runs {
				note := ""
				if run.Partial {
					note = " (partial: interrupted)"
				}
				p("| %s | %d%s | %s | %d | %s | %s | %s |\n", mdCell(sc.Name), i+1, note, mdCell(run.Target), run.Requests,
					FormatValue(run.OpsPerSec, "ops/s"), pctCells(run.Latency), mdCell(errorsCell(run.Errors)))
				if run.Uncorrected != nil {
					p("| %s | %d uncorrected | | | | %s | |\n", mdCell(sc.Name), i+1, pctCells(*run.Uncorrected))
				}
			}
		}
		p("\n")
	}
	for _, sc := range r.Load {
		b.WriteString(kneeMarkdown(sc))
	}

	t.metrics.markdown(&b)
	return b.String()
}

func pctCells(l loadgen.Percentiles) string { return strings.Join(percentiles(l), " | ") }

// percentiles are the latency columns of the load tables: p50, p90, p99,
// p99.9, p99.99 and max.
func percentiles(l loadgen.Percentiles) []string {
	var c []string
	for _, v := range []float64{l.P50, l.P90, l.P99, l.P999, l.P9999, l.Max} {
		c = append(c, FormatValue(v, "µs"))
	}
	return c
}

func errorsCell(errs map[string]int64) string {
	if len(errs) == 0 {
		return "0"
	}
	keys := make([]string, 0, len(errs))
	var total int64
	for k, v := range errs {
		keys = append(keys, k)
		total += v
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, errs[k]))
	}
	return fmt.Sprintf("%d (%s)", total, strings.Join(parts, ", "))
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func mdText(s string) string { return strings.NewReplacer("\n", " ", "\r", "").Replace(s) }

func mdCell(s string) string { return strings.ReplaceAll(mdText(s), "|", `\|`) }

// WriteMarkdown writes the summary page to path.
func (r *Report) WriteMarkdown(path string) error {
	return os.WriteFile(path, []byte(r.Markdown()), 0o644)
}
