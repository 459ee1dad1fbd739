package reports

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
		r.Suites = append(r.Suites, suites...)
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
