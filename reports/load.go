package reports

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/dragonfly-e2e/dragonfly-e2e/loadgen"
)

// ReadLoadResult reads one loadgen result.json.
func ReadLoadResult(path string) (loadgen.Result, error) {
	var r loadgen.Result
	b, err := os.ReadFile(path)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("%s: not a valid load result JSON: %v", path, err)
	}
	if r.Tool == "" {
		return r, fmt.Errorf("%s: no \"tool\" field — not a load result written by dfe2e load", path)
	}
	return r, nil
}

// PodResultFile is the name a parallel run gives each pod's own result.json
// under pods/<index>/.
const PodResultFile = "pod-" + loadgen.FileResult

// ReadLoadResults reads result files; a directory contributes every *.json
// file below it (one per repetition), in name order, except the pods' own
// parts of a parallel run (PodResultFile): the merged result holds them.
func ReadLoadResults(paths ...string) ([]loadgen.Result, error) {
	var out []loadgen.Result
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		files := []string{p}
		if st.IsDir() {
			files = nil
			err := filepath.WalkDir(p, func(f string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if !d.IsDir() && strings.HasSuffix(f, ".json") && d.Name() != PodResultFile {
					files = append(files, f)
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
			if len(files) == 0 {
				return nil, fmt.Errorf("%s: directory holds no *.json load results", p)
			}
			sort.Strings(files)
		}
		for _, f := range files {
			r, err := ReadLoadResult(f)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// ScenarioName describes a workload; runs with the same name are repetitions.
// It leaves out what does not change the measured system (duration, seed, target).
func ScenarioName(w loadgen.Workload) string {
	mode := "closed loop"
	if w.Rate > 0 {
		mode = fmt.Sprintf("open loop %g req/s", w.Rate)
	}
	name := fmt.Sprintf("%d conn × pipeline %d, GET:SET %d:%d, %s", w.Connections, w.Pipeline, w.GetRatio, w.SetRatio, mode)
	var extra []string
	if w.ValueSize != 0 {
		extra = append(extra, fmt.Sprintf("%d B values", w.ValueSize))
	}
	if w.Keyspace != 0 || w.KeyDist != "" {
		extra = append(extra, fmt.Sprintf("%d keys %s", w.Keyspace, w.KeyDist))
	}
	if w.TTL > 0 {
		extra = append(extra, "TTL "+w.TTL.String())
	}
	if len(extra) > 0 {
		name += " (" + strings.Join(extra, ", ") + ")"
	}
	return name
}

// ResultScenario names the scenario a result belongs to: its named scenario
// (dfe2e load --scenario) when it has one, else its workload's description.
// A --find-max result is named by its SLO and its workload without the rate
// (each search ends at a different rate; what repeats is the search).
func ResultScenario(r loadgen.Result) string {
	name := r.Scenario
	if r.Knee == nil {
		if name == "" {
			name = ScenarioName(r.Workload)
		}
		return name
	}
	if name == "" {
		w := r.Workload
		w.Rate = 0
		name = strings.Replace(ScenarioName(w), "closed loop", "open-loop staircase", 1)
	}
	return "find-max " + r.Knee.SLO.String() + ": " + name
}

// GroupScenarios groups results into scenarios (ResultScenario), keeping first-seen order.
func GroupScenarios(results []loadgen.Result) []LoadScenario {
	var out []LoadScenario
	idx := map[string]int{}
	for _, r := range results {
		n := ResultScenario(r)
		i, ok := idx[n]
		if !ok {
			i = len(out)
			idx[n] = i
			out = append(out, LoadScenario{Name: n})
		}
		out[i].Runs = append(out[i].Runs, r)
	}
	return out
}

// AddLoad adds results to the report, merging repetitions into existing scenarios.
func (r *Report) AddLoad(results ...loadgen.Result) {
	all := []loadgen.Result{}
	for _, sc := range r.Load {
		all = append(all, sc.Runs...)
	}
	r.Load = GroupScenarios(append(all, results...))
}

// KindKnee is the metric kind of a --find-max result's highest rate within its SLO.
const KindKnee = "knee rate"

// loadKinds are the load-derived metrics compare judges, with their direction.
var loadKinds = []struct {
	kind, unit string
	better     Better
	value      func(loadgen.Result) float64
}{
	{"ops/s", "ops/s", Higher, func(r loadgen.Result) float64 { return r.OpsPerSec }},
	{"p50", "µs", Lower, func(r loadgen.Result) float64 { return r.Latency.P50 }},
	{"p99", "µs", Lower, func(r loadgen.Result) float64 { return r.Latency.P99 }},
	{"p99.9", "µs", Lower, func(r loadgen.Result) float64 { return r.Latency.P999 }},
}

// LoadMetrics derives one metric per kind (ops/s, p50, p99, p99.9) per
// scenario, one value per repetition, named "<scenario>: <kind>" so that a
// baseline and a run match scenario by scenario whatever else they hold.
//
// A --find-max scenario has one metric instead: the knee, the highest rate
// that met its SLO (its step's ops/s and latency describe a different rate
// in every repetition, so comparing them would compare unlike runs).
func LoadMetrics(scenarios []LoadScenario) []Metric {
	var out []Metric
	for _, sc := range scenarios {
		if len(sc.Runs) > 0 && sc.Runs[0].Knee != nil {
			m := Metric{Name: sc.Name + ": " + KindKnee, Unit: "ops/s", Better: Higher, Kind: KindKnee, Scenario: sc.Name}
			for _, run := range sc.Runs {
				m.Values = append(m.Values, run.Knee.MaxRate)
			}
			out = append(out, m)
			continue
		}
		for _, k := range loadKinds {
			m := Metric{Name: sc.Name + ": " + k.kind, Unit: k.unit, Better: k.better, Kind: k.kind, Scenario: sc.Name}
			for _, run := range sc.Runs {
				m.Values = append(m.Values, k.value(run))
			}
			out = append(out, m)
		}
	}
	return out
}

// AllMetrics is what compare judges: load-derived metrics, then free-form ones.
func (r *Report) AllMetrics() []Metric {
	return append(LoadMetrics(r.Load), r.Metrics...)
}

// CurvePoint is one point of a latency-by-percentile curve.
type CurvePoint struct {
	Percentile float64 // 0..100
	Micros     float64
}

// PercentileCurve decodes a base64 V2 compressed histogram and samples its
// latency at percentiles spaced evenly on the 1/(1-p) log axis (ten per
// decade), up to where the sample count still resolves them, ending at max.
func PercentileCurve(encoded string) ([]CurvePoint, error) {
	if encoded == "" {
		return nil, fmt.Errorf("no histogram recorded")
	}
	h, err := hdrhistogram.Decode([]byte(encoded))
	if err != nil {
		return nil, fmt.Errorf("decoding histogram: %v", err)
	}
	n := h.TotalCount()
	if n == 0 {
		return nil, fmt.Errorf("histogram is empty")
	}
	var pts []CurvePoint
	for i := 0; ; i++ {
		x := math.Pow(10, float64(i)/10) // 1/(1-p)
		if x > float64(n) || x > 1e6 {
			break
		}
		p := 100 * (1 - 1/x)
		pts = append(pts, CurvePoint{Percentile: p, Micros: float64(h.ValueAtPercentile(p))})
	}
	// The maximum sits at the last resolvable rank (1/(1-p) = count).
	last := math.Min(float64(n), 1e6)
	pts = append(pts, CurvePoint{Percentile: 100 * (1 - 1/last), Micros: float64(h.Max())})
	return pts, nil
}
