// Package reportstest builds synthetic inputs for report tests: a Ginkgo JSON
// report with every verdict kind, and load results with real encoded
// HdrHistograms and timelines.
package reportstest

import (
	"encoding/json"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/dragonfly-e2e/dragonfly-e2e/loadgen"
	"github.com/dragonfly-e2e/dragonfly-e2e/verdict"
)

// Texts of the fixture's specs, for assertions.
const (
	PassedSpec     = "serves GET after SET"
	FailedSpec     = "keeps the CRD Established"
	FailureMessage = "CRD dragonflies.dragonflydb.io is not Established"
	BlockedSpec    = "fails over to a replica"
	BlockedReason  = "image docker.dragonflydb.io/dragonflydb/dragonfly:v1.34.1 is not available offline"
	BlockedRemedy  = "load it with kind load docker-image or set DFE2E_DRAGONFLY_IMAGE"
	SkippedSpec    = "survives a node drain"
	StandIn        = "redis-server, unmanaged — not Dragonfly"
	MetricName     = "failover RTO"
	Container      = "Dragonfly instance"
)

// GinkgoReport writes a Ginkgo JSON report (as -ginkgo.json-report does) with
// one passed (using a stand-in, reporting a metric), one failed, one blocked,
// one label-filtered skip and one pending spec; it returns the file path.
// With withFailure false the failed spec passes instead.
func GinkgoReport(dir string, withFailure bool) (string, error) {
	start := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	loc := types.CodeLocation{FileName: "suites/instance/instance_test.go", LineNumber: 42}
	spec := func(text string, state types.SpecState, msg string, labels ...string) types.SpecReport {
		sr := types.SpecReport{
			ContainerHierarchyTexts:  []string{Container},
			ContainerHierarchyLabels: [][]string{{"instance"}},
			LeafNodeType:             types.NodeTypeIt,
			LeafNodeText:             text,
			LeafNodeLabels:           labels,
			LeafNodeLocation:         loc,
			State:                    state,
			StartTime:                start,
			EndTime:                  start.Add(1500 * time.Millisecond),
			RunTime:                  1500 * time.Millisecond,
		}
		if msg != "" {
			sr.Failure = types.Failure{Message: msg, Location: loc}
		}
		return sr
	}
	passed := spec(PassedSpec, types.SpecStatePassed, "", "smoke")
	passed.SpecEvents = types.SpecEvents{
		{SpecEventType: types.SpecEventByStart, Message: "writing a key"},
		{SpecEventType: types.SpecEventByStart, Message: "reading it back"},
	}
	passed.ReportEntries = types.ReportEntries{
		{Name: "dfe2e.stand-in", Value: entryValue(StandIn)},
		{Name: "dfe2e.metric", Value: entryValue(map[string]any{"name": MetricName, "unit": "s", "better": "lower", "values": []float64{4.2}})},
	}
	failedState, failedMsg := types.SpecStateFailed, FailureMessage
	if !withFailure {
		failedState, failedMsg = types.SpecStatePassed, ""
	}
	reports := []types.Report{{
		SuitePath:        "/work/main/suites/instance",
		SuiteDescription: "instance suite",
		SuiteSucceeded:   !withFailure,
		StartTime:        start,
		EndTime:          start.Add(10 * time.Second),
		RunTime:          10 * time.Second,
		SpecReports: types.SpecReports{
			{LeafNodeType: types.NodeTypeBeforeSuite, State: types.SpecStatePassed}, // bookkeeping, not a spec
			passed,
			spec(FailedSpec, failedState, failedMsg),
			spec(BlockedSpec, types.SpecStateSkipped, verdict.BlockedMessage(BlockedReason, BlockedRemedy), "failover"),
			spec(SkippedSpec, types.SpecStateSkipped, ""),
			spec("scales to three replicas", types.SpecStatePending, ""),
		},
	}}
	b, err := json.MarshalIndent(reports, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "ginkgo.json")
	return path, os.WriteFile(path, b, 0o644)
}

// entryValue builds a report entry value as Ginkgo serialises it.
func entryValue(v any) types.ReportEntryValue {
	b, _ := json.Marshal(types.WrapEntryValue(v))
	var rev types.ReportEntryValue
	_ = json.Unmarshal(b, &rev)
	return rev
}

// LoadOptions shape a synthetic load result.
type LoadOptions struct {
	Seed      int64
	OpsPerSec float64 // mean throughput
	P50Micros float64 // median latency; the tail is log-normal around it
	Seconds   int
	OpenLoop  bool // adds an uncorrected histogram and a stall in second 5
	StandIn   string
}

// Load builds a load result whose percentiles, histogram and timeline agree.
func Load(o LoadOptions) loadgen.Result {
	if o.Seconds == 0 {
		o.Seconds = 10
	}
	rng := rand.New(rand.NewSource(o.Seed))
	h := hdrhistogram.New(1, 60_000_000, 3)
	unc := hdrhistogram.New(1, 60_000_000, 3)
	w := loadgen.Workload{Connections: 50, Pipeline: 16, GetRatio: 1, SetRatio: 1, Keyspace: 100000, KeyDist: "uniform", ValueSize: 64, Duration: time.Duration(o.Seconds) * time.Second, Seed: 1}
	if o.OpenLoop {
		w.Pipeline, w.Rate = 1, o.OpsPerSec
	}
	r := loadgen.Result{Tool: "dfe2e-loadgen", Target: "127.0.0.1:6379", ServerInfo: "redis_version:7.0.15", StandIn: o.StandIn, Workload: w,
		Start: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	perSec := int(o.OpsPerSec / 100) // record 1% of requests: enough for the shape
	for s := 0; s < o.Seconds; s++ {
		sec := hdrhistogram.New(1, 60_000_000, 3)
		n := int(float64(perSec) * (0.95 + 0.1*rng.Float64()))
		for i := 0; i < n; i++ {
			v := o.P50Micros * math.Exp(0.5*rng.NormFloat64())
			u := v
			if o.OpenLoop && s == 5 && i < n/5 {
				v += 200_000 // a 200 ms stall: the corrected latency includes the wait
			}
			_ = h.RecordValue(int64(v))
			_ = unc.RecordValue(int64(u))
			_ = sec.RecordValue(int64(v))
		}
		r.Timeline = append(r.Timeline, loadgen.Interval{Second: s, Ops: int64(n) * 100,
			P50: float64(sec.ValueAtPercentile(50)), P99: float64(sec.ValueAtPercentile(99)), Max: float64(sec.Max())})
		r.Requests += int64(n) * 100
	}
	r.End = r.Start.Add(time.Duration(o.Seconds) * time.Second)
	r.Gets, r.Sets = r.Requests/2, r.Requests-r.Requests/2
	r.OpsPerSec = float64(r.Requests) / float64(o.Seconds)
	r.Latency = percentiles(h)
	enc, _ := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	r.Histogram = string(enc)
	if o.OpenLoop {
		p := percentiles(unc)
		r.Uncorrected = &p
		enc, _ := unc.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
		r.UncorrectedHistogram = string(enc)
	}
	return r
}

func percentiles(h *hdrhistogram.Histogram) loadgen.Percentiles {
	return loadgen.Percentiles{
		P50: float64(h.ValueAtPercentile(50)), P90: float64(h.ValueAtPercentile(90)), P99: float64(h.ValueAtPercentile(99)),
		P999: float64(h.ValueAtPercentile(99.9)), P9999: float64(h.ValueAtPercentile(99.99)), Max: float64(h.Max()),
		Mean: h.Mean(), Count: h.TotalCount(),
	}
}

// WriteLoad writes results as dir/rep-<i>/result.json and returns dir.
func WriteLoad(dir string, results ...loadgen.Result) (string, error) {
	for i, r := range results {
		d := filepath.Join(dir, "rep-"+string(rune('a'+i)))
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", err
		}
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(d, "result.json"), b, 0o644); err != nil {
			return "", err
		}
	}
	return dir, nil
}
