// Package merge combines the results of the pods of one distributed load
// run into one, exactly: the pods' raw HdrHistograms are added (never their
// percentiles averaged), their interval logs are added second by
// wall-clock second, their counts summed; and the sum is checked against
// the server's own command count.
package merge

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/dragonfly-e2e/dragonfly-e2e/loadgen"
)

// Pod is what one pod of the run returned: its output files (the bundle
// from its log), or why it has none.
type Pod struct {
	Index int
	Name  string
	Node  string            // where it ran
	Files map[string][]byte // nil: no results
	// Failed says why the pod failed (evicted, exit code …); its results,
	// when it wrote any, are kept and the merge is partial.
	Failed string
}

// Merge adds the pods' measurements of total (the whole workload, before
// it was shared out) played by n pods. A pod that failed or wrote no
// results makes the merge Partial; its part names it.
func Merge(total loadgen.Workload, n int, pods []Pod) (*loadgen.Measurement, error) {
	total = total.WithDefaults()
	if len(pods) == 0 {
		return nil, errors.New("no pod returned results")
	}
	sort.Slice(pods, func(i, j int) bool { return pods[i].Index < pods[j].Index })
	open := total.OpenLoop()
	m := &loadgen.Measurement{Latency: loadgen.NewHistogram()}
	if open {
		m.Uncorrected = loadgen.NewHistogram()
	}
	res := loadgen.Result{Tool: loadgen.ToolName, Workload: total, Errors: map[string]int64{},
		Parallel: &loadgen.Parallel{Pods: n}}
	type second struct {
		lat, unc  *hdr.Histogram
		ops, errs int64
	}
	secs := map[int]*second{}
	at := func(k int) *second {
		s := secs[k]
		if s == nil {
			s = &second{lat: loadgen.NewHistogram()}
			if open {
				s.unc = loadgen.NewHistogram()
			}
			secs[k] = s
		}
		return s
	}
	seen := map[int]bool{}
	var parsed []parsedPod
	for _, p := range pods {
		if seen[p.Index] {
			return nil, fmt.Errorf("pod index %d given twice (%s)", p.Index, p.Name)
		}
		seen[p.Index] = true
		share := loadgen.Share(total, n, p.Index)
		part := loadgen.PodPart{Index: p.Index, Pod: p.Name, Node: p.Node, Seed: share.Seed, Connections: share.Connections,
			Rate: share.Rate, Failed: p.Failed}
		if p.Files == nil {
			if part.Failed == "" {
				part.Failed = "no results"
			}
			res.Partial = true
			res.Parallel.Parts = append(res.Parallel.Parts, part)
			continue
		}
		pp, err := parsePod(p, open)
		if err != nil {
			return nil, err
		}
		r := pp.res
		part.Requests, part.Gets, part.Sets, part.Unmeasured, part.Partial = r.Requests, r.Gets, r.Sets, r.UnmeasuredRequests, r.Partial
		for _, v := range r.Errors {
			part.Errors += v
		}
		if r.Partial || p.Failed != "" {
			res.Partial = true
		}
		res.Parallel.Parts = append(res.Parallel.Parts, part)
		parsed = append(parsed, pp)
	}
	for i := range n {
		if !seen[i] {
			res.Partial = true
			res.Parallel.Parts = append(res.Parallel.Parts, loadgen.PodPart{Index: i, Failed: "no pod reported for this index"})
		}
	}
	sort.Slice(res.Parallel.Parts, func(i, j int) bool { return res.Parallel.Parts[i].Index < res.Parallel.Parts[j].Index })
	if len(parsed) == 0 {
		return m, &NoResultsError{Parts: res.Parallel.Parts}
	}
	// The merged run starts when the first pod's measured phase starts; a
	// pod's second s is the wall-clock second it fell in from there (with
	// the start barrier every pod starts at the same instant).
	t0 := parsed[0].res.Start
	for _, pp := range parsed {
		if pp.res.Start.Before(t0) {
			t0 = pp.res.Start
		}
		if pp.res.End.After(res.End) {
			res.End = pp.res.End
		}
	}
	res.Start = t0
	for _, pp := range parsed {
		r := pp.res
		if res.ServerInfo == "" {
			res.ServerInfo, res.StandIn, res.Scenario = r.ServerInfo, r.StandIn, r.Scenario
		}
		res.Requests += r.Requests
		res.Gets += r.Gets
		res.Sets += r.Sets
		res.UnmeasuredRequests += r.UnmeasuredRequests
		res.ClientCPUSeconds += r.ClientCPUSeconds
		for k, v := range r.Errors {
			res.Errors[k] += v
		}
		if d := m.Latency.Merge(pp.lat); d != 0 {
			return nil, fmt.Errorf("pod %s: %d latency values outside the histogram's range", pp.name, d)
		}
		if open {
			m.Uncorrected.Merge(pp.unc)
		}
		off := r.Start.Sub(t0)
		key := func(startSec float64) int {
			return int(math.Floor((off + time.Duration(startSec*float64(time.Second))).Seconds() + 1e-9))
		}
		for _, iv := range pp.ivs {
			at(key(iv.start)).lat.Merge(iv.lat)
		}
		for _, iv := range pp.uncIvs {
			at(key(iv.start)).unc.Merge(iv.lat)
		}
		for _, tl := range r.Timeline {
			s := at(key(float64(tl.Second)))
			s.ops += tl.Ops
			s.errs += tl.Errors
		}
	}
	if len(res.Errors) == 0 {
		res.Errors = nil
	}
	if el := res.End.Sub(res.Start).Seconds(); el > 0 {
		res.OpsPerSec = float64(res.Requests) / el
	}
	keys := make([]int, 0, len(secs))
	for k := range secs {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	res.Timeline = []loadgen.Interval{}
	for _, k := range keys {
		s := secs[k]
		res.Timeline = append(res.Timeline, loadgen.Interval{Second: k, Ops: s.ops, Errors: s.errs,
			P50: float64(s.lat.ValueAtQuantile(50)), P99: float64(s.lat.ValueAtQuantile(99)), Max: float64(s.lat.Max())})
		enc, err := s.lat.EncodeV2()
		if err != nil {
			return nil, err
		}
		li := loadgen.LoggedInterval{StartSec: float64(k), LengthSec: 1, MaxMs: float64(s.lat.Max()) / 1000, Latency: string(enc)}
		if open {
			encU, err := s.unc.EncodeV2()
			if err != nil {
				return nil, err
			}
			li.Uncorrected = string(encU)
		}
		m.Intervals = append(m.Intervals, li)
	}
	res.Latency = loadgen.PercentilesOf(m.Latency)
	enc, err := m.Latency.EncodeV2()
	if err != nil {
		return nil, err
	}
	res.Histogram = string(enc)
	if open {
		p := loadgen.PercentilesOf(m.Uncorrected)
		res.Uncorrected = &p
		encU, err := m.Uncorrected.EncodeV2()
		if err != nil {
			return nil, err
		}
		res.UncorrectedHistogram = string(encU)
	}
	m.Result = res
	return m, nil
}

// NoResultsError is a run none of whose pods returned results.
type NoResultsError struct{ Parts []loadgen.PodPart }

func (e *NoResultsError) Error() string {
	var b []string
	for _, p := range e.Parts {
		b = append(b, fmt.Sprintf("pod %d %s: %s", p.Index, p.Pod, p.Failed))
	}
	return "no pod returned results: " + strings.Join(b, "; ")
}

type interval struct {
	start float64
	lat   *hdr.Histogram
}

type parsedPod struct {
	name        string
	res         loadgen.Result
	lat, unc    *hdr.Histogram
	ivs, uncIvs []interval
}

func parsePod(p Pod, open bool) (parsedPod, error) {
	pp := parsedPod{name: p.Name}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("pod %s (index %d): "+format, append([]any{p.Name, p.Index}, a...)...)
	}
	raw, ok := p.Files[loadgen.FileResult]
	if !ok {
		return pp, bad("no %s", loadgen.FileResult)
	}
	if err := json.Unmarshal(raw, &pp.res); err != nil {
		return pp, bad("%s: %v", loadgen.FileResult, err)
	}
	var err error
	if pp.lat, err = decode(pp.res.Histogram); err != nil {
		return pp, bad("latency histogram: %v", err)
	}
	if pp.ivs, err = parseHlog(p.Files[loadgen.FileHlog]); err != nil {
		return pp, bad("%s: %v", loadgen.FileHlog, err)
	}
	if open {
		if pp.unc, err = decode(pp.res.UncorrectedHistogram); err != nil {
			return pp, bad("uncorrected histogram: %v", err)
		}
		if pp.uncIvs, err = parseHlog(p.Files[loadgen.FileHlogUncorr]); err != nil {
			return pp, bad("%s: %v", loadgen.FileHlogUncorr, err)
		}
	}
	return pp, nil
}

func decode(enc string) (*hdr.Histogram, error) {
	if enc == "" {
		return nil, errors.New("empty")
	}
	return hdr.Decode([]byte(enc))
}

// parseHlog reads the interval lines (start,length,max,histogram) of a V2
// log as loadgen writes it; comments and the legend are skipped.
func parseHlog(b []byte) ([]interval, error) {
	if b == nil {
		return nil, errors.New("missing")
	}
	var out []interval
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '"' {
			continue
		}
		f := strings.Split(line, ",")
		if len(f) != 4 {
			return nil, fmt.Errorf("line %q is not start,length,max,histogram", line)
		}
		start, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return nil, fmt.Errorf("line %q: %v", line, err)
		}
		h, err := decode(f[3])
		if err != nil {
			return nil, fmt.Errorf("line %q: %v", line, err)
		}
		out = append(out, interval{start: start, lat: h})
	}
	return out, sc.Err()
}

// CrossCheck compares the merged run with the server's own count of the
// commands it sends: the server must have answered exactly the requests in
// the merged histogram plus those outside the measured phase (prefill,
// warmup). Requests that failed in flight may or may not have reached it,
// so with E errors the server may count up to E more. The merged histogram
// must also hold exactly the requests the pods counted.
func CrossCheck(m *loadgen.Measurement, server loadgen.ServerCount) error {
	r := m.Result
	inHist := m.Latency.TotalCount()
	var errs int64
	for _, v := range r.Errors {
		errs += v
	}
	var pods int64
	if r.Parallel != nil {
		for _, p := range r.Parallel.Parts {
			pods += p.Requests
		}
	}
	var problems []string
	if r.Parallel != nil && inHist != pods {
		problems = append(problems, fmt.Sprintf("the merged histogram holds %d requests but the pods answered %d", inHist, pods))
	}
	want := inHist + r.UnmeasuredRequests
	got := server.Delta()
	cmds := strings.Join(server.Commands, "+")
	switch {
	case errs == 0 && got != want:
		problems = append(problems, fmt.Sprintf("the server counted %d %s calls (INFO commandstats %d → %d) but the merged run answered %d (%d measured + %d prefill/warmup)",
			got, cmds, server.Before, server.After, want, inHist, r.UnmeasuredRequests))
	case errs > 0 && (got < want || got > want+errs):
		problems = append(problems, fmt.Sprintf("the server counted %d %s calls (INFO commandstats %d → %d) but the merged run answered %d (%d measured + %d prefill/warmup) and %d failed in flight",
			got, cmds, server.Before, server.After, want, inHist, r.UnmeasuredRequests, errs))
	}
	if len(problems) > 0 {
		return errors.New("cross-check failed: " + strings.Join(problems, "; "))
	}
	return nil
}
