package reports

import (
	"fmt"
	"html"
	"strings"

	"github.com/dragonfly-e2e/dragonfly-e2e/loadgen"
)

// kneeHTML is a --find-max scenario's staircase: per run, a table of the
// steps with their verdicts and the latency-vs-throughput curve with the
// SLO's bound drawn across it. Empty when no run searched for a knee.
func kneeHTML(sc LoadScenario) string {
	var b strings.Builder
	e := html.EscapeString
	for i, run := range sc.Runs {
		k := run.Knee
		if k == nil {
			continue
		}
		verdict := fmt.Sprintf("no rate met %s", k.SLO)
		if k.MaxStep > 0 {
			verdict = fmt.Sprintf("knee: %.0f req/s (step %d) is the highest rate that met %s", k.MaxRate, k.MaxStep, k.SLO)
		}
		fmt.Fprintf(&b, "<p><b>%s find-max:</b> %s. <span class=\"muted\">Stopped: %s. Staircase %g req/s ×%g per %s step, seed %d.</span></p>\n",
			e(runName(sc, i)), e(verdict), e(k.Stop), k.Staircase.StartRate, k.Staircase.Factor, k.Staircase.StepDuration, run.Workload.Seed)
		b.WriteString("<table><tr><th>Step</th><th>Target req/s</th><th>Achieved req/s</th><th>p50</th><th>p99</th><th>p99.9</th><th>Errors</th><th>Verdict</th></tr>")
		for _, s := range k.Steps {
			fmt.Fprintf(&b, "<tr><td class=\"num\">%d</td><td class=\"num\">%.0f</td><td class=\"num\">%.0f</td><td class=\"num\">%s</td><td class=\"num\">%s</td><td class=\"num\">%s</td><td class=\"num\">%d</td><td>%s</td></tr>",
				s.Step, s.TargetRate, s.AchievedRate, e(FormatValue(s.Latency.P50, "µs")), e(FormatValue(s.Latency.P99, "µs")),
				e(FormatValue(s.Latency.P999, "µs")), s.Errors, e(s.Reason))
		}
		b.WriteString("</table>\n<div class=\"charts\">" + kneeChart(*k) + "</div>\n")
	}
	return b.String()
}

// kneeMarkdown is kneeHTML's staircase as a Markdown table (the chart
// stays in the HTML report): each step's target and achieved rate, its
// corrected latency and verdict, and the knee. Empty without a knee.
func kneeMarkdown(sc LoadScenario) string {
	var b strings.Builder
	for i, run := range sc.Runs {
		k := run.Knee
		if k == nil {
			continue
		}
		verdict := fmt.Sprintf("no rate met %s", k.SLO)
		if k.MaxStep > 0 {
			verdict = fmt.Sprintf("knee: %.0f req/s (step %d) is the highest rate that met %s", k.MaxRate, k.MaxStep, k.SLO)
		}
		fmt.Fprintf(&b, "### Find-max: %s\n\n**%s.** Stopped: %s. Staircase %g req/s ×%g per %s step, seed %d.\n\n",
			mdText(runName(sc, i)), mdText(verdict), mdText(k.Stop), k.Staircase.StartRate, k.Staircase.Factor, k.Staircase.StepDuration, run.Workload.Seed)
		b.WriteString("| Step | Target req/s | Achieved req/s | p50 | p99 | p99.9 | Errors | Verdict |\n|---|---|---|---|---|---|---|---|\n")
		for _, s := range k.Steps {
			mark := ""
			if s.Step == k.MaxStep {
				mark = " **(knee)**"
			}
			fmt.Fprintf(&b, "| %d%s | %.0f | %.0f | %s | %s | %s | %d | %s |\n", s.Step, mark, s.TargetRate, s.AchievedRate,
				FormatValue(s.Latency.P50, "µs"), FormatValue(s.Latency.P99, "µs"), FormatValue(s.Latency.P999, "µs"), s.Errors, mdCell(s.Reason))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// kneeChart plots corrected latency against achieved throughput, one point
// per step, and the SLO bound as a dashed horizontal line.
func kneeChart(k loadgen.Knee) string {
	c := chart{title: "Latency vs throughput (find-max " + k.SLO.String() + ")", xlabel: "achieved req/s", ylabel: "corrected latency",
		xfmt: func(v float64) string { return strings.TrimSuffix(FormatValue(v, "ops/s"), " ops/s") }}
	var lo, hi float64
	for i, key := range []string{"p50", "p99", "p99.9"} {
		s := series{name: key, color: palette[i%len(palette)]}
		for _, st := range k.Steps {
			v, _ := loadgen.PercentileValue(st.Latency, key)
			s.pts = append(s.pts, [2]float64{st.AchievedRate, v})
			if lo == 0 || st.AchievedRate < lo {
				lo = st.AchievedRate
			}
			hi = max(hi, st.AchievedRate)
		}
		c.series = append(c.series, s)
	}
	if hi > 0 {
		c.series = append(c.series, series{name: "SLO " + k.SLO.String(), color: "#444", dash: true,
			pts: [][2]float64{{lo, k.SLO.Bound}, {hi, k.SLO.Bound}}})
	}
	if k.MaxStep > 0 && k.MaxStep <= len(k.Steps) {
		// A one-point series draws as a dot: the knee on the SLO's own percentile.
		s := k.Steps[k.MaxStep-1]
		v, _ := loadgen.PercentileValue(s.Latency, k.SLO.Percentile)
		c.series = append(c.series, series{name: fmt.Sprintf("knee %.0f req/s", k.MaxRate), color: "#000", pts: [][2]float64{{s.AchievedRate, v}}})
	}
	c.ylog, c.yfmt = latencyAxis(c.series)
	if !c.ylog {
		c.yzero = true
	}
	return c.svg()
}
