package reports

import (
	"fmt"
	"html"
	"os"
	"strings"
	"time"

	"github.com/dragonfly-e2e/dragonfly-e2e/loadgen"
	"github.com/dragonfly-e2e/dragonfly-e2e/verdict"
)

// The HTML page is one file with inline CSS and inline SVG: it opens offline,
// from an artifact store or a mail attachment, and references nothing outside itself.

const pageCSS = `
body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1300px;color:#222;padding:0 16px}
h1{font-size:22px;margin:0 0 8px} h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}
.banner{padding:10px 14px;border-radius:6px;font-weight:600;margin:8px 0 16px}
.b-failed{background:#fde2e2;color:#8a1010}.b-blocked{background:#fff0cc;color:#7a4d00}
.b-passed{background:#dff3e0;color:#14591b}.b-none{background:#eee;color:#444}
table{border-collapse:collapse;margin:6px 0 12px;font-size:13px}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f6f6} td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.pill{display:inline-block;border-radius:10px;padding:1px 8px;font-size:12px;font-weight:600;white-space:nowrap}
.s-passed{background:#dff3e0;color:#14591b}.s-failed{background:#fde2e2;color:#8a1010}
.s-blocked{background:#fff0cc;color:#7a4d00}.s-stand-in{background:#e6e6fa;color:#3b2d7a}.s-skipped{background:#eee;color:#555}
.warn{border-left:4px solid #e0a000;background:#fffaf0;padding:8px 12px;margin:8px 0}
.charts{display:flex;flex-wrap:wrap;gap:10px}
.chart{border:1px solid #eee;background:#fff}
details{font-size:12px;color:#555} .muted{color:#666;font-size:12px}
`

// HTML renders the self-contained report page.
func (r *Report) HTML() string {
	r.Finalize()
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	e := html.EscapeString
	p("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>dragonfly-e2e run report</title><style>%s</style></head><body>\n", pageCSS)
	p("<h1>dragonfly-e2e run report</h1>\n")
	class := map[verdict.Status]string{verdict.Passed: "b-passed", verdict.Failed: "b-failed", verdict.Blocked: "b-blocked", verdict.Skipped: "b-none"}[r.Outcome]
	p("<div class=\"banner %s\">%s<br><span class=\"muted\">%s · generated %s</span></div>\n", class, e(r.Headline()), e(r.Summary.Line()), r.Generated.UTC().Format(time.RFC3339))

	t := r.tables()
	t.flakes.html(&b)
	t.environment.html(&b)
	t.steps.html(&b)
	if len(r.Environment.StandIns) > 0 {
		p("<div class=\"warn\"><b>Stand-ins used.</b> These results were measured against stand-ins, not the real thing:<ul>")
		for _, s := range r.Environment.StandIns {
			p("<li>%s</li>", e(s))
		}
		p("</ul></div>\n")
	}
	t.blocked.html(&b)

	for _, s := range r.Suites {
		var sum verdict.Summary
		for _, sp := range s.Specs {
			sum.AddVerdict(sp.Verdict)
		}
		p("<h2>Suite: %s</h2>\n<p class=\"muted\">%s · %s</p>\n", e(s.Name), e(sum.Line()), s.Duration.Round(time.Millisecond))
		if len(s.FailureReasons) > 0 {
			p("<div class=\"warn\">Suite-level failure: %s</div>\n", e(strings.Join(s.FailureReasons, "; ")))
		}
		p("<table><tr><th>Verdict</th><th>Spec</th><th>Labels</th><th>Duration</th><th>Reason</th></tr>")
		for _, sp := range s.Specs {
			st := shownStatus(sp.Verdict)
			reason := e(sp.Verdict.Reason)
			if sp.Verdict.Remedy != "" {
				reason += "<br><b>Remedy:</b> " + e(sp.Verdict.Remedy)
			}
			if sp.Verdict.StandIn != "" {
				reason += "<br><b>Stand-in:</b> " + e(sp.Verdict.StandIn)
			}
			if len(sp.Steps) > 0 {
				reason += "<details><summary>" + fmt.Sprint(len(sp.Steps)) + " steps</summary><ol>"
				for _, step := range sp.Steps {
					reason += "<li>" + e(step) + "</li>"
				}
				reason += "</ol></details>"
			}
			p("<tr><td><span class=\"pill s-%s\">%s</span></td><td>%s</td><td class=\"muted\">%s</td><td class=\"num\">%s</td><td>%s</td></tr>",
				st, st, e(sp.FullName()), e(strings.Join(sp.Labels, ", ")), sp.Duration.Round(time.Millisecond), reason)
		}
		p("</table>\n")
	}

	if len(r.Load) > 0 {
		p("<h2>Load</h2>\n<p class=\"muted\">Open-loop latency is measured from each request's intended send time (coordinated-omission-corrected); dashed percentile lines are the uncorrected figures.</p>\n")
		for _, sc := range r.Load {
			p("<h3>%s</h3>\n", e(sc.Name))
			p("<table><tr><th>Run</th><th>Target</th><th>Server</th><th>Requests</th><th>ops/s</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>p99.99</th><th>max</th><th>errors</th></tr>")
			for i, run := range sc.Runs {
				label := fmt.Sprint(i + 1)
				if run.Partial {
					label += " (partial)"
				}
				p("<tr><td>%s</td><td>%s</td><td>%s</td><td class=\"num\">%d</td><td class=\"num\">%s</td>%s<td>%s</td></tr>",
					e(label), e(run.Target), e(serverCell(run)), run.Requests, e(FormatValue(run.OpsPerSec, "ops/s")), pctTDs(run.Latency), e(errorsCell(run.Errors)))
				if run.Uncorrected != nil {
					p("<tr><td>%d uncorrected</td><td></td><td></td><td></td><td></td>%s<td></td></tr>", i+1, pctTDs(*run.Uncorrected))
				}
			}
			p("</table>\n<div class=\"charts\">\n%s\n%s\n%s\n</div>\n", percentileChart(sc), throughputChart(sc), latencyTimeChart(sc))
			b.WriteString(kneeHTML(sc))
		}
	}

	t.metrics.html(&b)
	p("</body></html>\n")
	return b.String()
}

func serverCell(run loadgen.Result) string {
	s := run.ServerInfo
	if run.StandIn != "" {
		s = strings.TrimPrefix(s+" — stand-in: "+run.StandIn, " — ")
	}
	return orDash(s)
}

func pctTDs(l loadgen.Percentiles) string {
	var b strings.Builder
	for _, v := range percentiles(l) {
		fmt.Fprintf(&b, `<td class="num">%s</td>`, html.EscapeString(v))
	}
	return b.String()
}

func runName(sc LoadScenario, i int) string {
	if len(sc.Runs) == 1 {
		return "run"
	}
	return fmt.Sprintf("run %d", i+1)
}

func percentileChart(sc LoadScenario) string {
	c := chart{title: "Latency by percentile", xlabel: "percentile", ylabel: "latency", xlog: true, xticks: percentileTicks}
	for i, run := range sc.Runs {
		color := palette[i%len(palette)]
		add := func(enc, name string, dash bool) {
			pts, err := PercentileCurve(enc)
			if err != nil {
				return
			}
			s := series{name: name, color: color, dash: dash}
			for _, pt := range pts {
				s.pts = append(s.pts, [2]float64{1 / (1 - pt.Percentile/100), pt.Micros})
			}
			c.series = append(c.series, s)
		}
		add(run.Histogram, runName(sc, i), false)
		if run.UncorrectedHistogram != "" {
			add(run.UncorrectedHistogram, runName(sc, i)+" uncorrected", true)
		}
	}
	c.ylog, c.yfmt = latencyAxis(c.series)
	if !c.ylog {
		c.yzero = true
	}
	return c.svg()
}

func throughputChart(sc LoadScenario) string {
	c := chart{title: "Throughput over time", xlabel: "seconds into the measured phase", ylabel: "ops/s", yzero: true,
		yfmt: func(v float64) string { return strings.TrimSuffix(FormatValue(v, "ops/s"), " ops/s") }}
	for i, run := range sc.Runs {
		s := series{name: runName(sc, i), color: palette[i%len(palette)]}
		for _, iv := range run.Timeline {
			s.pts = append(s.pts, [2]float64{float64(iv.Second), float64(iv.Ops)})
		}
		c.series = append(c.series, s)
	}
	return c.svg()
}

func latencyTimeChart(sc LoadScenario) string {
	c := chart{title: "Latency over time (p50 solid, p99 dashed)", xlabel: "seconds into the measured phase", ylabel: "latency"}
	for i, run := range sc.Runs {
		color := palette[i%len(palette)]
		p50 := series{name: runName(sc, i) + " p50", color: color}
		p99 := series{name: runName(sc, i) + " p99", color: color, dash: true}
		for _, iv := range run.Timeline {
			if iv.Ops == 0 {
				continue // no requests completed: no latency to plot
			}
			p50.pts = append(p50.pts, [2]float64{float64(iv.Second), iv.P50})
			p99.pts = append(p99.pts, [2]float64{float64(iv.Second), iv.P99})
		}
		c.series = append(c.series, p50, p99)
	}
	c.ylog, c.yfmt = latencyAxis(c.series)
	if !c.ylog {
		c.yzero = true
	}
	return c.svg()
}

// WriteHTML writes the page to path.
func (r *Report) WriteHTML(path string) error {
	return os.WriteFile(path, []byte(r.HTML()), 0o644)
}
