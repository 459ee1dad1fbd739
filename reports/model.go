// Package reports holds the one model of a dragonfly-e2e run — suite verdicts
// read from Ginkgo's JSON report, load results, the environment and free-form
// metrics — its writers (JSON, JUnit XML, Markdown, a self-contained HTML page)
// and the baseline comparison that gates releases.
//
// Blocked and skipped specs are kept apart from passed ones in every writer: a
// report is only worth as much as its verdicts.
package reports

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/dragonfly-e2e/dragonfly-e2e/loadgen"
	"github.com/dragonfly-e2e/dragonfly-e2e/verdict"
)

// Schema identifies report.json files (so compare can tell them from load results).
const Schema = "dfe2e-report/v1"

// Report is one run.
type Report struct {
	Schema      string         `json:"schema"`
	Generated   time.Time      `json:"generated"`
	Environment Environment    `json:"environment"`
	Suites      []Suite        `json:"suites,omitempty"`
	Load        []LoadScenario `json:"load,omitempty"`
	Metrics     []Metric       `json:"metrics,omitempty"`
	// Summary counts spec verdicts; Blocked lists every blocked spec with its
	// reason and remedy. Both are derived by Finalize.
	Summary verdict.Summary `json:"summary"`
	Blocked []BlockedSpec   `json:"blocked,omitempty"`
	// Steps are the run's own stages (preflight, images, cluster, tiers), when
	// the report comes from `dfe2e e2e`: a failed step fails the run whatever
	// the spec counts say.
	Steps []Step `json:"steps,omitempty"`
	// Outcome is the run's verdict: the worst of the steps and the specs
	// (failed over blocked over passed); derived by Finalize.
	Outcome verdict.Status `json:"outcome"`
	// Flakes lists every spec that both passed and failed across repeated
	// runs, derived by Finalize; writers show them first.
	Flakes []FlakeSpec `json:"flakes,omitempty"`
}

// FlakeSpec is a spec that both passed and failed across repeated runs.
type FlakeSpec struct {
	Suite  string          `json:"suite"`
	Spec   string          `json:"spec"`
	Runs   verdict.Summary `json:"runs"`
	Reason string          `json:"reason"`
}

// Rate is the share of the spec's runs that failed.
func (f FlakeSpec) Rate() float64 {
	n := f.Runs.Passed + f.Runs.StandIn + f.Runs.Failed + f.Runs.Blocked + f.Runs.Skipped
	if n == 0 {
		return 0
	}
	return float64(f.Runs.Failed) / float64(n)
}

// Step is one stage of a run and how it ended.
type Step struct {
	Name    string         `json:"name"`
	Status  verdict.Status `json:"status"`
	Seconds float64        `json:"seconds"`
	Detail  string         `json:"detail,omitempty"`
}

// Environment says what the run ran against.
type Environment struct {
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`
	OperatorVersion   string `json:"operatorVersion,omitempty"`
	OperatorImage     string `json:"operatorImage,omitempty"`
	DragonflyVersion  string `json:"dragonflyVersion,omitempty"`
	DragonflyImage    string `json:"dragonflyImage,omitempty"`
	// ClusterKind is e.g. "kind", "envtest" (API server only), "none".
	ClusterKind string `json:"clusterKind,omitempty"`
	// StandIns names every stand-in used instead of the real thing.
	StandIns []string `json:"standIns,omitempty"`
	// Extra holds any other --env key=value pairs.
	Extra map[string]string `json:"extra,omitempty"`
}

// EnvKeys maps the --env keys to Environment fields (documented in the CLI help).
var EnvKeys = []string{"kubernetes", "operator", "operator-image", "dragonfly", "dragonfly-image", "cluster", "stand-in"}

// Set records one key=value pair; known keys (EnvKeys) fill their field,
// "stand-in" may repeat, anything else goes to Extra.
func (e *Environment) Set(key, value string) {
	switch key {
	case "kubernetes":
		e.KubernetesVersion = value
	case "operator":
		e.OperatorVersion = value
	case "operator-image":
		e.OperatorImage = value
	case "dragonfly":
		e.DragonflyVersion = value
	case "dragonfly-image":
		e.DragonflyImage = value
	case "cluster":
		e.ClusterKind = value
	case "stand-in":
		e.AddStandIn(value)
	default:
		if e.Extra == nil {
			e.Extra = map[string]string{}
		}
		e.Extra[key] = value
	}
}

// AddStandIn records a stand-in once.
func (e *Environment) AddStandIn(s string) {
	if s == "" {
		return
	}
	for _, have := range e.StandIns {
		if have == s {
			return
		}
	}
	e.StandIns = append(e.StandIns, s)
}

// Rows lists the environment as label/value pairs in a fixed order, with
// "not recorded" for what nobody told us (so a reader never guesses).
func (e Environment) Rows() [][2]string {
	or := func(s string) string {
		if s == "" {
			return "not recorded"
		}
		return s
	}
	rows := [][2]string{
		{"Kubernetes", or(e.KubernetesVersion)},
		{"Cluster", or(e.ClusterKind)},
		{"Operator version", or(e.OperatorVersion)},
		{"Operator image", or(e.OperatorImage)},
		{"Dragonfly version", or(e.DragonflyVersion)},
		{"Dragonfly image", or(e.DragonflyImage)},
	}
	keys := make([]string, 0, len(e.Extra))
	for k := range e.Extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		rows = append(rows, [2]string{k, e.Extra[k]})
	}
	return rows
}

// Suite is one Ginkgo suite run.
type Suite struct {
	Name      string        `json:"name"`
	Path      string        `json:"path,omitempty"`
	Labels    []string      `json:"labels,omitempty"`
	Start     time.Time     `json:"start"`
	Duration  time.Duration `json:"duration"`
	Succeeded bool          `json:"succeeded"`
	// FailureReasons are Ginkgo's suite-level reasons (e.g. "Interrupted by User").
	FailureReasons []string `json:"failureReasons,omitempty"`
	Specs          []Spec   `json:"specs"`
}

// Spec is one spec (or a failed suite-level node) and its verdict.
type Spec struct {
	// Containers is the Describe/Context hierarchy; Text the It's own text.
	Containers []string `json:"containers,omitempty"`
	Text       string   `json:"text"`
	Labels     []string `json:"labels,omitempty"`
	// Node is the Ginkgo node type ("It", or "BeforeSuite" etc. for a failed setup node).
	Node string `json:"node"`
	// State is Ginkgo's own state (passed, failed, skipped, pending, panicked, ...).
	State    string        `json:"state"`
	Duration time.Duration `json:"duration"`
	Location string        `json:"location,omitempty"`
	// Verdict is what the report states: Check is the full spec name.
	Verdict verdict.Verdict `json:"verdict"`
	// Steps are the By(...) step texts, in order.
	Steps []string `json:"steps,omitempty"`
	// NotSelected marks a spec this suite run left out (label filter or
	// focus): another run of the same suite may have run it.
	NotSelected bool `json:"notSelected,omitempty"`
	// Runs counts the verdicts of every run of this spec when the suites ran
	// more than once (dfe2e e2e --repeat); a spec that both passed and
	// failed is a flake, and its verdict is the failure.
	Runs *verdict.Summary `json:"runs,omitempty"`
}

// Flaky reports whether the spec both passed and failed across runs.
func (s Spec) Flaky() bool {
	return s.Runs != nil && s.Runs.Failed > 0 && s.Runs.Passed+s.Runs.StandIn > 0
}

// FullName joins the container hierarchy and the spec text.
func (s Spec) FullName() string { return s.Verdict.Check }

// BlockedSpec is one blocked spec with what is missing and how to supply it.
type BlockedSpec struct {
	Suite  string `json:"suite"`
	Spec   string `json:"spec"`
	Reason string `json:"reason"`
	Remedy string `json:"remedy,omitempty"`
}

// LoadScenario groups the repetitions of one workload.
type LoadScenario struct {
	// Name describes the workload ("50 conn × pipeline 16, GET:SET 1:1, closed loop").
	Name string           `json:"name"`
	Runs []loadgen.Result `json:"runs"`
}

// Better says which direction of a metric is an improvement.
type Better string

const (
	Lower  Better = "lower"
	Higher Better = "higher"
)

// Metric is a named measurement with one value per repetition (e.g. the RTO
// of a failover suite, measured five times).
type Metric struct {
	Name   string    `json:"name"`
	Unit   string    `json:"unit"`
	Better Better    `json:"better"`
	Values []float64 `json:"values"`
	// Kind groups metrics for default thresholds: "ops/s", "p50", "p99", "p99.9"
	// for load-derived metrics; empty for free-form ones.
	Kind string `json:"kind,omitempty"`
	// Scenario is the load scenario a load-derived metric belongs to.
	Scenario string `json:"scenario,omitempty"`
}

// Validate rejects a metric compare could not judge.
func (m Metric) Validate() error {
	if m.Name == "" {
		return fmt.Errorf("metric without a name")
	}
	if m.Better != Lower && m.Better != Higher {
		return fmt.Errorf("metric %q: better must be %q or %q, got %q", m.Name, Lower, Higher, m.Better)
	}
	if len(m.Values) == 0 {
		return fmt.Errorf("metric %q has no values", m.Name)
	}
	return nil
}

// AddMetric merges m into the report: values of a metric already present are
// appended as further repetitions.
func (r *Report) AddMetric(m Metric) error {
	if err := m.Validate(); err != nil {
		return err
	}
	for i := range r.Metrics {
		if r.Metrics[i].Name == m.Name {
			if r.Metrics[i].Unit != m.Unit || r.Metrics[i].Better != m.Better {
				return fmt.Errorf("metric %q reported twice with different unit/direction (%s/%s vs %s/%s)",
					m.Name, r.Metrics[i].Unit, r.Metrics[i].Better, m.Unit, m.Better)
			}
			r.Metrics[i].Values = append(r.Metrics[i].Values, m.Values...)
			return nil
		}
	}
	r.Metrics = append(r.Metrics, m)
	return nil
}

// Finalize derives Summary, Blocked and stand-ins from suites and load runs.
// Writers call it; calling it twice is harmless.
func (r *Report) Finalize() {
	r.Schema = Schema
	if r.Generated.IsZero() {
		r.Generated = time.Now().UTC()
	}
	r.Summary = verdict.Summary{}
	r.Blocked = nil
	r.Flakes = nil
	for _, s := range r.Suites {
		for _, sp := range s.Specs {
			if sp.Flaky() {
				r.Flakes = append(r.Flakes, FlakeSpec{Suite: s.Name, Spec: sp.FullName(), Runs: *sp.Runs, Reason: sp.Verdict.Reason})
			}
			r.Summary.AddVerdict(sp.Verdict)
			if sp.Verdict.Status == verdict.Blocked {
				r.Blocked = append(r.Blocked, BlockedSpec{Suite: s.Name, Spec: sp.FullName(), Reason: sp.Verdict.Reason, Remedy: sp.Verdict.Remedy})
			}
			r.Environment.AddStandIn(sp.Verdict.StandIn)
		}
	}
	for _, sc := range r.Load {
		for _, run := range sc.Runs {
			r.Environment.AddStandIn(run.StandIn)
		}
	}
	r.Outcome = r.Summary.Status()
	for _, st := range r.Steps {
		r.Outcome = verdict.Worst(r.Outcome, st.Status)
	}
}

// FailedSteps lists the steps that failed.
func (r *Report) FailedSteps() []Step {
	var out []Step
	for _, st := range r.Steps {
		if st.Status == verdict.Failed {
			out = append(out, st)
		}
	}
	return out
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(path string) error {
	r.Finalize()
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// ReadJSON reads a report.json written by WriteJSON.
func ReadJSON(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: not a valid report.json: %v", path, err)
	}
	if r.Schema != Schema {
		return nil, fmt.Errorf("%s: schema %q, want %q (is this a report.json written by dfe2e report build?)", path, r.Schema, Schema)
	}
	return &r, nil
}
