package reports

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/dragonfly-e2e/dragonfly-e2e/verdict"
)

// Report entries a suite may add (AddReportEntry) to feed the run report.
const (
	// StandInEntry: value is a string naming the stand-in the spec used
	// (e.g. "redis-server, unmanaged — not Dragonfly").
	StandInEntry = "dfe2e.stand-in"
	// MetricEntry: value is a Metric (e.g. a failover RTO); repeated entries
	// with the same name become repetitions of one metric.
	MetricEntry = "dfe2e.metric"
)

// NotSelectedReason is the reason of a spec a suite run left out.
const NotSelectedReason = "not selected (label filter or focus) or skipped without a message"

// ReadGinkgo reads a JSON report written by -ginkgo.json-report (a list of
// suite reports) and returns the suites and the metrics their specs reported.
func ReadGinkgo(path string) ([]Suite, []Metric, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	var raw []types.Report
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, nil, fmt.Errorf("%s: not a Ginkgo JSON report (-ginkgo.json-report): %v", path, err)
	}
	var suites []Suite
	var metrics []Metric
	for _, gr := range raw {
		s, ms, err := suiteFromGinkgo(gr)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %v", path, err)
		}
		suites = append(suites, s)
		metrics = append(metrics, ms...)
	}
	return suites, metrics, nil
}

func suiteFromGinkgo(gr types.Report) (Suite, []Metric, error) {
	s := Suite{
		Name:           gr.SuiteDescription,
		Path:           gr.SuitePath,
		Labels:         gr.SuiteLabels,
		Start:          gr.StartTime,
		Duration:       gr.RunTime,
		Succeeded:      gr.SuiteSucceeded,
		FailureReasons: gr.SpecialSuiteFailureReasons,
	}
	var metrics []Metric
	for _, sr := range gr.SpecReports {
		// Suite-level nodes (BeforeSuite, ReportAfterSuite, ...) are bookkeeping
		// unless they failed: then every spec behind them did not really run,
		// and the report must say so.
		if sr.LeafNodeType != types.NodeTypeIt && !sr.Failed() {
			continue
		}
		sp := specFromGinkgo(sr)
		for _, e := range sr.ReportEntries {
			switch e.Name {
			case StandInEntry:
				var v string
				if err := json.Unmarshal([]byte(e.Value.AsJSON), &v); err != nil {
					v = e.Value.Representation
				}
				sp.Verdict.StandIn = v
			case MetricEntry:
				var m Metric
				if err := json.Unmarshal([]byte(e.Value.AsJSON), &m); err != nil {
					return s, nil, fmt.Errorf("spec %q: report entry %s is not a metric: %v", sp.FullName(), MetricEntry, err)
				}
				if err := m.Validate(); err != nil {
					return s, nil, fmt.Errorf("spec %q: %v", sp.FullName(), err)
				}
				metrics = append(metrics, m)
			}
		}
		s.Specs = append(s.Specs, sp)
	}
	return s, metrics, nil
}

func specFromGinkgo(sr types.SpecReport) Spec {
	text := sr.LeafNodeText
	if sr.LeafNodeType != types.NodeTypeIt {
		text = "[" + sr.LeafNodeType.String() + "]"
		if sr.LeafNodeText != "" {
			text += " " + sr.LeafNodeText
		}
	}
	var labels []string
	for _, ls := range sr.ContainerHierarchyLabels {
		labels = append(labels, ls...)
	}
	labels = append(labels, sr.LeafNodeLabels...)
	sp := Spec{
		Containers: sr.ContainerHierarchyTexts,
		Text:       text,
		Labels:     dedupe(labels),
		Node:       sr.LeafNodeType.String(),
		State:      sr.State.String(),
		Duration:   sr.RunTime,
		Location:   sr.LeafNodeLocation.String(),
	}
	sp.Verdict.Check = strings.TrimSpace(strings.Join(append(append([]string{}, sr.ContainerHierarchyTexts...), text), " "))
	for _, ev := range sr.SpecEvents {
		if ev.SpecEventType == types.SpecEventByStart {
			sp.Steps = append(sp.Steps, ev.Message)
		}
	}
	msg := strings.TrimSpace(sr.Failure.Message)
	switch {
	case sr.State == types.SpecStatePassed:
		sp.Verdict.Status = verdict.Passed
	case sr.State == types.SpecStateSkipped:
		st, reason, remedy := verdict.ParseSkipMessage(msg)
		if reason == "" {
			// Ginkgo records specs left out by --label-filter/--focus as skips without a message.
			reason = NotSelectedReason
			sp.NotSelected = true
		}
		sp.Verdict.Status, sp.Verdict.Reason, sp.Verdict.Remedy = st, reason, remedy
	case sr.State == types.SpecStatePending:
		sp.Verdict.Status, sp.Verdict.Reason = verdict.Skipped, "pending (not implemented yet)"
	default:
		// failed, panicked, aborted, interrupted, timedout — and any state we do
		// not know: anything not proven passed must not look passed.
		sp.Verdict.Status = verdict.Failed
		reason := sr.State.String()
		if msg != "" {
			reason += ": " + msg
		}
		if sr.Failure.ForwardedPanic != "" {
			reason += " (panic: " + sr.Failure.ForwardedPanic + ")"
		}
		if loc := sr.Failure.Location.String(); msg != "" && loc != "" && loc != ":0" {
			reason += " [" + loc + "]"
		}
		sp.Verdict.Reason = reason
	}
	return sp
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
