package reports

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/dragonfly-e2e/dragonfly-e2e/loadgen"
)

// Outcome is compare's judgement of one metric.
type Outcome string

const (
	Regressed   Outcome = "REGRESSED"
	WithinNoise Outcome = "within noise" // beyond the threshold but not significant
	Unchanged   Outcome = "unchanged"    // within the threshold
	Improved    Outcome = "improved"
	OnlyInBase  Outcome = "missing in run"
	OnlyInRun   Outcome = "new in run"
)

// Delta is the comparison of one metric.
type Delta struct {
	Name string `json:"name"`
	// Scenario and Kind are set for load-derived metrics (the table groups by scenario).
	Scenario  string    `json:"scenario,omitempty"`
	Kind      string    `json:"kind,omitempty"`
	Unit      string    `json:"unit"`
	Better    Better    `json:"better"`
	Base      []float64 `json:"base,omitempty"`
	Run       []float64 `json:"run,omitempty"`
	BaseValue float64   `json:"baseMedian"`
	RunValue  float64   `json:"runMedian"`
	// ChangePct is (run-base)/base in percent; WorsePct the same signed so
	// that positive means worse (a throughput drop, a latency rise).
	ChangePct    float64 `json:"changePct"`
	WorsePct     float64 `json:"worsePct"`
	ThresholdPct float64 `json:"thresholdPct"`
	ThresholdKey string  `json:"thresholdKey"`
	// Test is nil when there are too few repetitions for significance.
	Test    *MannWhitney `json:"test,omitempty"`
	Outcome Outcome      `json:"outcome"`
	// Reason is the one-line human explanation.
	Reason string `json:"reason"`
}

// Comparison is the result of comparing a run against a baseline.
type Comparison struct {
	Baseline, Run string
	Thresholds    Thresholds
	Deltas        []Delta
	// ThresholdOnly is true when at least one metric had too few repetitions
	// to measure noise and was judged on its threshold alone.
	ThresholdOnly bool
}

// Regressions returns the regressed deltas.
func (c Comparison) Regressions() []Delta {
	var out []Delta
	for _, d := range c.Deltas {
		if d.Outcome == Regressed {
			out = append(out, d)
		}
	}
	return out
}

// ExitCode is 1 when anything regressed (the release gate), else 0.
func (c Comparison) ExitCode() int {
	if len(c.Regressions()) > 0 {
		return 1
	}
	return 0
}

// LoadSide reads one side of a comparison: a report.json, a single load
// result.json, or a directory holding either a report.json or load result
// repetitions (*.json, searched recursively).
func LoadSide(path string) ([]Metric, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		if _, err := os.Stat(filepath.Join(path, "report.json")); err == nil {
			path = filepath.Join(path, "report.json")
		} else {
			res, err := ReadLoadResults(path)
			if err != nil {
				return nil, err
			}
			return LoadMetrics(GroupScenarios(res)), nil
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if strings.Contains(string(b[:min(len(b), 4096)]), `"schema"`) {
		r, err := ReadJSON(path)
		if err != nil {
			return nil, err
		}
		ms := r.AllMetrics()
		if len(ms) == 0 {
			return nil, fmt.Errorf("%s: report has neither load results nor metrics to compare", path)
		}
		return ms, nil
	}
	res, err := ReadLoadResult(path)
	if err != nil {
		return nil, err
	}
	return LoadMetrics(GroupScenarios([]loadgen.Result{res})), nil
}

// Compare judges every metric of run against baseline. A metric regresses
// only when it got worse beyond its threshold AND the difference is outside
// the noise measured from the repetitions (two-sided Mann-Whitney U, p <
// alpha). With too few repetitions for the test to ever reach alpha, the
// threshold alone decides and the delta says so.
func Compare(base, run []Metric, t Thresholds) (Comparison, error) {
	c := Comparison{Thresholds: t}
	runBy := map[string]Metric{}
	for _, m := range run {
		runBy[m.Name] = m
	}
	matched := 0
	seen := map[string]bool{}
	for _, b := range base {
		seen[b.Name] = true
		r, ok := runBy[b.Name]
		if !ok {
			c.Deltas = append(c.Deltas, Delta{Name: b.Name, Scenario: b.Scenario, Kind: b.Kind, Unit: b.Unit, Better: b.Better, Base: b.Values, BaseValue: median(b.Values),
				Outcome: OnlyInBase, Reason: fmt.Sprintf("%s is in the baseline but not in the run; not judged", b.Name)})
			continue
		}
		if r.Better != b.Better || r.Unit != b.Unit {
			return c, fmt.Errorf("metric %q: baseline says %s is better (unit %s), run says %s (unit %s)", b.Name, b.Better, b.Unit, r.Better, r.Unit)
		}
		matched++
		d := judge(b, r, t)
		if d.Test == nil {
			c.ThresholdOnly = true
		}
		c.Deltas = append(c.Deltas, d)
	}
	for _, r := range run {
		if !seen[r.Name] {
			c.Deltas = append(c.Deltas, Delta{Name: r.Name, Scenario: r.Scenario, Kind: r.Kind, Unit: r.Unit, Better: r.Better, Run: r.Values, RunValue: median(r.Values),
				Outcome: OnlyInRun, Reason: fmt.Sprintf("%s is new in the run (no baseline); not judged", r.Name)})
		}
	}
	if matched == 0 {
		return c, fmt.Errorf("baseline and run have no metric in common (baseline: %s; run: %s)", names(base), names(run))
	}
	return c, nil
}

func judge(b, r Metric, t Thresholds) (d Delta) {
	d = Delta{Name: b.Name, Scenario: b.Scenario, Kind: b.Kind, Unit: b.Unit, Better: b.Better, Base: b.Values, Run: r.Values,
		BaseValue: median(b.Values), RunValue: median(r.Values)}
	d.ThresholdPct, d.ThresholdKey = t.For(b)
	switch {
	case d.BaseValue == d.RunValue:
		d.ChangePct = 0
	case d.BaseValue == 0:
		d.ChangePct = math.Inf(1) * sign(d.RunValue)
	default:
		d.ChangePct = (d.RunValue - d.BaseValue) / math.Abs(d.BaseValue) * 100
	}
	d.WorsePct = d.ChangePct
	if b.Better == Higher {
		d.WorsePct = -d.ChangePct
	}
	n1, n2 := len(b.Values), len(r.Values)
	runs := fmt.Sprintf("%d vs %d runs", n1, n2)
	var noise string
	significant := true // with too few repetitions, the threshold alone decides
	if MinExactP(n1, n2) > t.Alpha {
		noise = fmt.Sprintf("too few repetitions to measure noise (%s; the test needs e.g. 4 vs 4 at alpha %g), judged on the threshold only", runs, t.Alpha)
	} else {
		mw := MannWhitneyU(b.Values, r.Values)
		d.Test = &mw
		significant = mw.P < t.Alpha
		if significant {
			noise = fmt.Sprintf("outside noise (Mann-Whitney p=%s, %s)", fmtP(mw.P), runs)
		} else {
			noise = fmt.Sprintf("within noise (Mann-Whitney p=%s, %s)", fmtP(mw.P), runs)
		}
	}
	label, where := d.Name, ""
	if d.Kind != "" && d.Scenario != "" {
		label, where = d.Kind, " ["+d.Scenario+"]"
	}
	defer func() { d.Reason += where }()
	move := fmt.Sprintf("%s %s %s (%s → %s)", label, verb(d.ChangePct), absPct(d.ChangePct), FormatValue(d.BaseValue, d.Unit), FormatValue(d.RunValue, d.Unit))
	thr := fmt.Sprintf("the %g%% threshold", d.ThresholdPct)
	switch {
	case d.WorsePct > d.ThresholdPct && significant:
		d.Outcome = Regressed
		d.Reason = fmt.Sprintf("%s, beyond %s and %s", move, thr, noise)
	case d.WorsePct > d.ThresholdPct:
		d.Outcome = WithinNoise
		d.Reason = fmt.Sprintf("%s, beyond %s but %s", move, thr, noise)
	case -d.WorsePct > d.ThresholdPct && significant:
		d.Outcome = Improved
		d.Reason = fmt.Sprintf("%s, an improvement beyond %s; %s", move, thr, noise)
	default:
		d.Outcome = Unchanged
		d.Reason = fmt.Sprintf("%s, within %s; %s", move, thr, noise)
	}
	return d
}

// WriteText writes the comparison table, the reason line of every
// regression and the gate's verdict.
func (c Comparison) WriteText(w io.Writer) {
	fmt.Fprintf(w, "baseline: %s\nrun:      %s\n%s\n\n", c.Baseline, c.Run, c.Thresholds.Describe())
	// Rows are grouped by load scenario; a scenario's name heads its rows.
	rows := [][]string{{"METRIC", "BASELINE", "RUN", "CHANGE", "THRESHOLD", "MANN-WHITNEY p", "VERDICT"}}
	var headers []string // per row: a scenario heading printed before it, or ""
	headers = append(headers, "")
	scenario := ""
	for _, d := range c.Deltas {
		name, head := d.Name, ""
		if d.Scenario != "" && d.Kind != "" {
			if d.Scenario != scenario {
				head, scenario = d.Scenario+":", d.Scenario
			}
			name = "  " + d.Kind
		}
		p := "n/a (too few runs)"
		if d.Test != nil {
			p = fmtP(d.Test.P)
		}
		base, run, change, thr := "-", "-", "-", "-"
		if len(d.Base) > 0 {
			base = fmt.Sprintf("%s (n=%d)", FormatValue(d.BaseValue, d.Unit), len(d.Base))
		}
		if len(d.Run) > 0 {
			run = fmt.Sprintf("%s (n=%d)", FormatValue(d.RunValue, d.Unit), len(d.Run))
		}
		if len(d.Base) > 0 && len(d.Run) > 0 {
			change = fmtPct(d.ChangePct)
			dir := "+"
			if d.Better == Higher {
				dir = "-"
			}
			thr = fmt.Sprintf("%s%g%%", dir, d.ThresholdPct)
		} else {
			p = "-"
		}
		rows = append(rows, []string{name, base, run, change, thr, p, string(d.Outcome)})
		headers = append(headers, head)
	}
	width := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, cell := range r {
			width[i] = max(width[i], utf8.RuneCountInString(cell))
		}
	}
	for i, r := range rows {
		if headers[i] != "" {
			fmt.Fprintln(w, headers[i])
		}
		var line strings.Builder
		for j, cell := range r {
			line.WriteString(cell)
			if j < len(r)-1 {
				line.WriteString(strings.Repeat(" ", width[j]-utf8.RuneCountInString(cell)+2))
			}
		}
		fmt.Fprintln(w, line.String())
	}
	fmt.Fprintln(w)
	if c.ThresholdOnly {
		fmt.Fprintln(w, "note: some metrics have too few repetitions to measure noise; they were judged on the threshold only (run each side 4+ times for a significance test).")
	}
	noted := map[string]bool{}
	for _, d := range c.Deltas {
		if d.Outcome != OnlyInBase && d.Outcome != OnlyInRun {
			continue
		}
		if d.Scenario != "" {
			if !noted[d.Scenario] {
				where := "in the baseline but not in the run"
				if d.Outcome == OnlyInRun {
					where = "new in the run (no baseline)"
				}
				fmt.Fprintf(w, "note: scenario %q is %s; not judged\n", d.Scenario, where)
			}
			noted[d.Scenario] = true
			continue
		}
		fmt.Fprintln(w, "note:", d.Reason)
	}
	regs := c.Regressions()
	if len(regs) == 0 {
		fmt.Fprintln(w, "gate: PASS — no metric regressed beyond its threshold and outside noise")
		return
	}
	fmt.Fprintf(w, "gate: FAIL — %d regression(s):\n", len(regs))
	for _, d := range regs {
		fmt.Fprintln(w, "  -", d.Reason)
	}
}

// FormatValue prints a value with a readable unit (µs become ms or s when large).
func FormatValue(v float64, unit string) string {
	switch unit {
	case "µs", "us":
		switch a := math.Abs(v); {
		case a >= 1e6:
			return fmt.Sprintf("%.2f s", v/1e6)
		case a >= 1e3:
			return fmt.Sprintf("%.2f ms", v/1e3)
		default:
			return fmt.Sprintf("%.0f µs", v)
		}
	case "ops/s":
		switch a := math.Abs(v); {
		case a >= 1e6:
			return fmt.Sprintf("%.2fM ops/s", v/1e6)
		case a >= 1e4:
			return fmt.Sprintf("%.1fk ops/s", v/1e3)
		default:
			return fmt.Sprintf("%.0f ops/s", v)
		}
	case "":
		return fmt.Sprintf("%.4g", v)
	}
	return fmt.Sprintf("%.4g %s", v, unit)
}

func fmtPct(p float64) string {
	if math.IsInf(p, 0) {
		return "∞%"
	}
	return fmt.Sprintf("%+.1f%%", p)
}

func absPct(p float64) string {
	if math.IsInf(p, 0) {
		return "from zero"
	}
	return fmt.Sprintf("%.1f%%", math.Abs(p))
}

func verb(change float64) string {
	switch {
	case change > 0:
		return "rose"
	case change < 0:
		return "fell"
	}
	return "changed"
}

func fmtP(p float64) string {
	if p < 0.001 {
		return fmt.Sprintf("%.1g", p)
	}
	return fmt.Sprintf("%.3f", p)
}

func sign(v float64) float64 {
	if v < 0 {
		return -1
	}
	return 1
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func names(ms []Metric) string {
	var n []string
	for _, m := range ms {
		n = append(n, m.Name)
	}
	if len(n) == 0 {
		return "none"
	}
	return strings.Join(n, ", ")
}
