package run

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/dragonfly-e2e/dragonfly-e2e/reports"
	"github.com/dragonfly-e2e/dragonfly-e2e/verdict"
)

// removeStale deletes a report a previous run left, so that a tier that does
// not run this time can never show that run's verdicts.
func removeStale(path string) error {
	if path == "" {
		return nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing the previous run's report %s: %w", path, err)
	}
	return nil
}

// runTier runs t and records its step. read says whether its report was
// read; the error is bad input (a report that cannot be parsed) or nil.
func (r *Record) runTier(ctx context.Context, t Tier, report, label string) (read bool, badInput error) {
	name := "suites: " + label
	start := time.Now()
	runErr := t.Run(ctx, report)
	st := reports.Step{Name: name, Seconds: time.Since(start).Round(100 * time.Millisecond).Seconds()}
	defer func() { r.add(st) }()
	if _, err := os.Stat(report); err != nil {
		st.Status = verdict.Failed
		if runErr != nil {
			st.Detail = fmt.Sprintf("the suites ended (%v) without writing their report %s: the test binary died or did not build", runErr, report)
		} else {
			st.Detail = fmt.Sprintf("the suites exited 0 but wrote no report %s", report)
		}
		return false, nil
	}
	suites, _, err := reports.ReadGinkgo(report)
	if err != nil {
		st.Status, st.Detail = verdict.Failed, "reading the tier's report: "+err.Error()
		return false, BadInput(err)
	}
	var sum verdict.Summary
	for _, s := range suites {
		for _, sp := range s.Specs {
			if !sp.NotSelected {
				sum.AddVerdict(sp.Verdict)
			}
		}
	}
	st.Status, st.Detail = verdict.Passed, sum.Line()
	if runErr != nil {
		st.Status = verdict.Failed
		st.Detail = fmt.Sprintf("go test: %v; %s", runErr, sum.Line())
		if sum.Failed == 0 {
			st.Detail += " — the report records no failed spec: a suite-level node failed or the process died before the end"
		}
	}
	return true, nil
}

// buildReport merges the reports the tiers wrote into one run report and
// fills the record's summary and spec list from it. Specs that only a tier
// that did not run would have selected say so.
func buildReport(p Plan, rec *Record, files []string) (*reports.Report, error) {
	var env []string
	if p.Env != nil {
		env = p.Env()
	}
	var rep *reports.Report
	if len(files) == 0 {
		rep = &reports.Report{}
		for _, kv := range env {
			if k, v, ok := cutKV(kv); ok {
				rep.Environment.Set(k, v)
			}
		}
	} else {
		var err error
		if rep, err = reports.Build(reports.Inputs{Ginkgo: files, Env: env}); err != nil {
			return nil, err
		}
	}
	filters := map[string]types.LabelFilter{}
	for _, t := range p.Tiers {
		if f, err := types.ParseLabelFilter(t.LabelFilter); err == nil {
			filters[t.Name] = f
		}
	}
	for si := range rep.Suites {
		for pi := range rep.Suites[si].Specs {
			sp := &rep.Suites[si].Specs[pi]
			if !sp.NotSelected {
				continue
			}
			for _, t := range p.Tiers {
				if f := filters[t.Name]; f != nil && f(sp.Labels) && rec.Tiers[t.Name] != "ran" {
					sp.Verdict.Reason = "tier " + t.Name + " " + rec.Tiers[t.Name]
					break
				}
			}
		}
	}
	rep.Steps = rec.Steps
	rep.Finalize()
	rec.Summary = rep.Summary
	for _, s := range rep.Suites {
		for _, sp := range s.Specs {
			v := sp.Verdict
			switch {
			case v.Status == verdict.Passed && v.StandIn != "":
				rec.Specs = append(rec.Specs, SpecLine{Status: "stand-in", Spec: sp.FullName(), Reason: reports.StandInPassMessage(v.StandIn)})
			case v.Status == verdict.Passed || (sp.NotSelected && v.Reason == reports.NotSelectedReason):
			default:
				rec.Specs = append(rec.Specs, SpecLine{Status: string(v.Status), Spec: sp.FullName(), Reason: v.Reason})
			}
		}
	}
	return rep, nil
}

func cutKV(kv string) (string, string, bool) {
	for i := 0; i < len(kv); i++ {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], i > 0
		}
	}
	return "", "", false
}
