package reports

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/dragonfly-e2e/dragonfly-e2e/verdict"
)

// Inputs lists what a report is built from (the flags of dfe2e report build).
type Inputs struct {
	Ginkgo  []string // -ginkgo.json-report files
	Load    []string // loadgen result.json files or directories of them
	Metrics []string // JSON files holding a Metric or a list of Metrics
	Env     []string // key=value (see EnvKeys)
}

// Build reads every input into one Report. Errors name the file or flag at fault.
func Build(in Inputs) (*Report, error) {
	r := &Report{}
	for _, kv := range in.Env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("--env %q: want key=value (keys: %s, or any other name)", kv, strings.Join(EnvKeys, ", "))
		}
		r.Environment.Set(strings.TrimSpace(k), v)
	}
	for _, g := range in.Ginkgo {
		suites, metrics, err := ReadGinkgo(g)
		if err != nil {
			return nil, err
		}
		r.Suites = mergeSuites(r.Suites, suites)
		for _, m := range metrics {
			if err := r.AddMetric(m); err != nil {
				return nil, fmt.Errorf("%s: %v", g, err)
			}
		}
	}
	if len(in.Load) > 0 {
		res, err := ReadLoadResults(in.Load...)
		if err != nil {
			return nil, err
		}
		r.AddLoad(res...)
	}
	for _, f := range in.Metrics {
		ms, err := readMetricsFile(f)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			if err := r.AddMetric(m); err != nil {
				return nil, fmt.Errorf("%s: %v", f, err)
			}
		}
	}
	if len(r.Suites) == 0 && len(r.Load) == 0 && len(r.Metrics) == 0 {
		return nil, fmt.Errorf("nothing to report: give --ginkgo, --load or --metrics")
	}
	r.Finalize()
	return r, nil
}

// mergeSuites adds suites to have. A suite run more than once (one tier per
// label filter) is one suite in the report: each spec is listed once, with the
// verdict of the run that selected it; a spec no run selected stays "not
// selected". Were two runs to select the same spec, the worse verdict is kept.
func mergeSuites(have, add []Suite) []Suite {
	for _, s := range add {
		i := slices.IndexFunc(have, func(h Suite) bool { return h.Name == s.Name && h.Path == s.Path })
		if i < 0 {
			have = append(have, s)
			continue
		}
		h := &have[i]
		h.Duration += s.Duration
		h.Succeeded = h.Succeeded && s.Succeeded
		h.FailureReasons = append(h.FailureReasons, s.FailureReasons...)
		for _, sp := range s.Specs {
			j := slices.IndexFunc(h.Specs, func(o Spec) bool { return o.Location == sp.Location && o.FullName() == sp.FullName() })
			switch {
			case j < 0:
				h.Specs = append(h.Specs, sp)
			case sp.NotSelected:
			case h.Specs[j].NotSelected:
				h.Specs[j] = sp
			default:
				// The same spec ran again: count every run, keep the worse
				// verdict, so a retry never turns a failure into a pass.
				runs := h.Specs[j].Runs
				if runs == nil {
					runs = &verdict.Summary{}
					runs.AddVerdict(h.Specs[j].Verdict)
				}
				runs.AddVerdict(sp.Verdict)
				if verdict.Worst(h.Specs[j].Verdict.Status, sp.Verdict.Status) != h.Specs[j].Verdict.Status {
					h.Specs[j] = sp
				}
				h.Specs[j].Runs = runs
			}
		}
	}
	return have
}

func readMetricsFile(path string) ([]Metric, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var list []Metric
	if err := json.Unmarshal(b, &list); err != nil {
		var one Metric
		if err1 := json.Unmarshal(b, &one); err1 != nil {
			return nil, fmt.Errorf("%s: want a metric {\"name\",\"unit\",\"better\",\"values\"} or a list of them: %v", path, err)
		}
		list = []Metric{one}
	}
	return list, nil
}

// Files written by WriteAll.
const (
	JSONFile     = "report.json"
	MarkdownFile = "report.md"
	JUnitFile    = "junit.xml"
	HTMLFile     = "report.html"
)

// WriteAll writes report.json, report.md, junit.xml and report.html into dir.
func (r *Report) WriteAll(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, w := range []struct {
		name  string
		write func(string) error
	}{{JSONFile, r.WriteJSON}, {MarkdownFile, r.WriteMarkdown}, {JUnitFile, r.WriteJUnit}, {HTMLFile, r.WriteHTML}} {
		if err := w.write(filepath.Join(dir, w.name)); err != nil {
			return fmt.Errorf("writing %s: %v", w.name, err)
		}
	}
	return nil
}
