// Command loadbench compares dfe2e's load generator with redis-benchmark
// against the same local redis-server (`make bench`): same connections,
// pipeline depth, keyspace, value size and 1:1 GET:SET mix, interleaved over
// several repetitions. Both tools are measured over the same span, each client
// process from start to exit: ops/s is the requests over the process's wall
// time and ops per client-CPU-second the requests over its user+sys CPU (from
// wait4's rusage). Mixing spans would flatter one side: a tool's self-reported
// rate leaves out its connection setup and, for loadgen, its result writing,
// while rusage covers the whole process. loadgen runs without warmup or
// prefill, so every request it sends is one it counts. It prints each tool's
// spread (min, median, max) and the per-repetition ratios. loadgen records
// every request in HDR; redis-benchmark does not. With -baseline another
// dfe2e binary (an earlier build) runs as a third interleaved tool, for an
// A/B of two loaders under the same conditions.
//
// Besides the pipeline depths compared on client CPU, one configuration
// makes the server the ceiling (a deeper pipeline, the server's CPU measured
// over each client's span from /proc/<pid>/stat), where loadgen's ops/s are
// compared with the best peer's. Each target ends in a PASS or FAIL line;
// the exit status is 0 unless a tool fails, or, with -judge, a target is
// missed (exit 1).
package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dragonfly-e2e/dragonfly-e2e/loadgen"
	"github.com/dragonfly-e2e/dragonfly-e2e/loadgen/redisserver"
)

type sample struct {
	Bench     string  `json:"bench"`
	Tool      string  `json:"tool"`
	Pipeline  int     `json:"pipeline"`
	Rep       int     `json:"rep"`
	Requests  int64   `json:"requests"`
	WallSec   float64 `json:"wallSeconds"` // whole client process, start to exit
	OpsPerSec float64 `json:"opsPerSec"`   // Requests / WallSec
	CPUSec    float64 `json:"cpuSeconds"`  // whole client process, user+sys
	OpsPerCPU float64 `json:"opsPerCpuSecond"`
	// ServerBusy is redis-server's CPU (all its threads, user+sys) over the
	// client process's wall time: 1 is one CPU busy throughout.
	ServerBusy float64 `json:"serverBusy"`
	// SelfOpsPerSec is the rate the tool reports over its own measured phase
	// (kept for reference; not compared: the spans differ between tools).
	SelfOpsPerSec float64 `json:"selfReportedOpsPerSec"`
}

func newSample(tool string, requests int64, wall, cpu, self float64) sample {
	return sample{Tool: tool, Requests: requests, WallSec: wall, OpsPerSec: float64(requests) / wall,
		CPUSec: cpu, OpsPerCPU: float64(requests) / cpu, SelfOpsPerSec: self}
}

// bench is one configuration every tool runs once per repetition.
type bench struct {
	Name     string
	Conns    int
	Pipeline int
	Requests int64
	// Ceiling: the server is meant to be the limit; judged on ops/s against
	// the best peer instead of on client CPU.
	Ceiling bool
}

func main() {
	dfe2e := flag.String("dfe2e", "bin/dfe2e", "path of the dfe2e binary to benchmark")
	reps := flag.Int("reps", 7, "repetitions per configuration (tools interleaved)")
	conns := flag.Int("connections", 50, "connections")
	pipelines := flag.String("pipelines", "1,16", "pipeline depths to compare on ops per client-CPU-second")
	reqP1 := flag.Int64("requests-p1", 400000, "requests per run at pipeline 1 (GET+SET)")
	reqPN := flag.Int64("requests-pn", 2000000, "requests per run at deeper pipelines (GET+SET)")
	ceilP := flag.Int("ceiling-pipeline", 32, "pipeline depth of the server-ceiling configuration (ops/s against the best peer); 0 skips it")
	// About 12 s a run: each client process's start and exit (tens of ms,
	// not the same for both tools) stay well under the ceiling's 3 %.
	ceilN := flag.Int64("ceiling-requests", 6000000, "requests per run in the server-ceiling configuration (long enough that process start and exit weigh little in ops/s over the whole process)")
	keyspace := flag.Int64("keyspace", 100000, "keyspace (-r)")
	valueSize := flag.Int("value-size", 64, "value size (-d)")
	pin := flag.Bool("pin", runtime.NumCPU() >= 2, "pin the server to CPU 0 and the clients to CPU 1 (taskset)")
	out := flag.String("out", "artifacts/bench", "directory for bench.json")
	baseline := flag.String("baseline", "", "another dfe2e binary to run as a third, interleaved tool (\"loadgen-baseline\"), e.g. a build of an earlier commit: A/B of two loaders on the same server")
	judgeExit := flag.Bool("judge", false, "exit 1 when a target is missed (the PASS/FAIL lines are printed either way)")
	tg := defaultTargets()
	flag.Float64Var(&tg.MinCPURatio, "target-cpu", tg.MinCPURatio, "target: loadgen/redis-benchmark ops per client-CPU-second at each -pipelines depth (median)")
	flag.Float64Var(&tg.MinCeilingRatio, "target-ceiling", tg.MinCeilingRatio, "target: loadgen/best peer ops/s where the server is the ceiling (median)")
	flag.Float64Var(&tg.MinServerBusy, "ceiling-server-busy", tg.MinServerBusy, "the server counts as the ceiling when the best peer keeps it at least this busy (CPU fraction, median)")
	flag.Parse()
	benches, err := benchList(*conns, *pipelines, *reqP1, *reqPN, *ceilP, *ceilN)
	if err == nil && *reps < 1 {
		err = errors.New("-reps must be at least 1")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		os.Exit(2)
	}
	verdicts, err := run(*dfe2e, *baseline, *reps, benches, *keyspace, *valueSize, *pin, *out, tg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		os.Exit(2)
	}
	os.Exit(exitCode(verdicts, *judgeExit))
}

// benchList is the configurations to run: each -pipelines depth, then the
// server ceiling unless ceilP is 0.
func benchList(conns int, pipelines string, reqP1, reqPN int64, ceilP int, ceilN int64) ([]bench, error) {
	if conns < 1 {
		return nil, fmt.Errorf("-connections %d: must be at least 1", conns)
	}
	var bs []bench
	for _, ps := range strings.Split(pipelines, ",") {
		p, err := strconv.Atoi(strings.TrimSpace(ps))
		if err != nil || p < 1 {
			return nil, fmt.Errorf("-pipelines: %q is not a positive integer", ps)
		}
		n := reqPN
		if p == 1 {
			n = reqP1
		}
		bs = append(bs, bench{Name: fmt.Sprintf("P=%d", p), Conns: conns, Pipeline: p, Requests: n})
	}
	if ceilP < 0 {
		return nil, fmt.Errorf("-ceiling-pipeline %d: must be 0 (skip) or positive", ceilP)
	}
	if ceilP > 0 {
		bs = append(bs, bench{Name: fmt.Sprintf("ceiling P=%d", ceilP), Conns: conns, Pipeline: ceilP, Requests: ceilN, Ceiling: true})
	}
	for _, b := range bs {
		if b.Requests < 2 {
			return nil, fmt.Errorf("%s: %d requests per run: need at least 2 (GET+SET)", b.Name, b.Requests)
		}
	}
	return bs, nil
}

func run(dfe2e, baseline string, reps int, benches []bench, keyspace int64, valueSize int, pin bool, out string, tg targets) ([]verdict, error) {
	bins := []string{dfe2e, "redis-benchmark", "redis-server"}
	tools := []string{"redis-benchmark", "loadgen"}
	if baseline != "" {
		bins = append(bins, baseline)
		tools = append(tools, "loadgen-baseline")
	}
	for _, bin := range bins {
		if _, err := exec.LookPath(bin); err != nil {
			return nil, fmt.Errorf("%s not found (make build deps): %w", bin, err)
		}
	}
	if pin {
		if _, err := exec.LookPath("taskset"); err != nil {
			return nil, errors.New("taskset not found (util-linux); run with -pin=false")
		}
	}
	ctx := context.Background()
	opts := redisserver.Options{}
	clientPin := []string{}
	if pin {
		opts.CPUs = "0"
		clientPin = []string{"taskset", "-c", "1"}
	}
	srv, err := redisserver.Start(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer srv.Stop()
	host, port, _ := strings.Cut(srv.Addr, ":")
	fmt.Printf("redis-server %s (pid %d)%s; %d keys, %d B values, GET:SET 1:1, %d repetitions\n",
		srv.Addr, srv.Pid(), map[bool]string{true: ", server on CPU 0, clients on CPU 1", false: ", unpinned"}[pin],
		keyspace, valueSize, reps)
	fmt.Println("span: each client process from start to exit, for both tools (ops/s = requests / process wall time; ops/CPU-s = requests / process user+sys; server = redis-server's CPU over that wall time)")
	// Every key exists before any run, so both tools' GETs hit alike.
	if err := (loadgen.Target{Addr: srv.Addr}).Prefill(ctx, loadgen.Workload{Keyspace: keyspace, ValueSize: valueSize}); err != nil {
		return nil, fmt.Errorf("prefill: %w", err)
	}
	tmp, err := os.MkdirTemp("", "loadbench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	var all []sample
	for bi, bc := range benches {
		fmt.Printf("\n== %s: %d connections, pipeline %d, %d requests per run ==\n", bc.Name, bc.Conns, bc.Pipeline, bc.Requests)
		for rep := 1; rep <= reps; rep++ {
			// Interleave: each repetition starts with the next tool.
			k := (rep - 1) % len(tools)
			order := append(append([]string{}, tools[k:]...), tools[:k]...)
			for _, tool := range order {
				before, err := processCPU(srv.Pid())
				if err != nil {
					return nil, err
				}
				dir := filepath.Join(tmp, fmt.Sprintf("b%d-%s-%d", bi, tool, rep))
				var s sample
				switch tool {
				case "loadgen":
					s, err = runLoadgen(clientPin, dfe2e, srv.Addr, bc.Conns, bc.Pipeline, bc.Requests, keyspace, valueSize, dir)
				case "loadgen-baseline":
					s, err = runLoadgen(clientPin, baseline, srv.Addr, bc.Conns, bc.Pipeline, bc.Requests, keyspace, valueSize, dir)
					s.Tool = tool
				default:
					s, err = runRedisBenchmark(clientPin, host, port, bc.Conns, bc.Pipeline, bc.Requests, keyspace, valueSize)
				}
				if err != nil {
					return nil, err
				}
				after, err := processCPU(srv.Pid())
				if err != nil {
					return nil, err
				}
				s.Bench, s.Pipeline, s.Rep = bc.Name, bc.Pipeline, rep
				s.ServerBusy = (after - before).Seconds() / s.WallSec
				all = append(all, s)
				fmt.Printf("  rep %d  %-16s %10.0f ops/s  %6.2f s  %6.2f CPU-s  %10.0f ops/CPU-s  server %3.0f%%\n",
					rep, s.Tool, s.OpsPerSec, s.WallSec, s.CPUSec, s.OpsPerCPU, 100*s.ServerBusy)
			}
		}
	}
	fmt.Print(summary(all, benches, reps))
	verdicts := judge(all, benches, reps, tg)
	fmt.Print(verdictText(verdicts))
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	b, _ := json.MarshalIndent(all, "", "  ")
	return verdicts, os.WriteFile(filepath.Join(out, "bench.json"), b, 0o644)
}

// runChild runs argv and returns its rusage CPU seconds and wall time.
func runChild(argv []string, stdout *strings.Builder) (float64, time.Duration, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, 0, fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, stderr.String())
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	return cpu, time.Since(start), nil
}

func runLoadgen(pin []string, bin, addr string, conns, p int, n, keyspace int64, valueSize int, dir string) (sample, error) {
	argv := append(append([]string{}, pin...), bin, "load", "--addr", addr,
		"--connections", strconv.Itoa(conns), "--pipeline", strconv.Itoa(p), "--ratio", "1:1",
		"--keyspace", strconv.FormatInt(keyspace, 10), "--value-size", strconv.Itoa(valueSize),
		"--requests", strconv.FormatInt(n, 10), "--out", dir, "--stdout", "none")
	var so strings.Builder
	cpu, wall, err := runChild(argv, &so)
	if err != nil {
		return sample{}, err
	}
	raw, err := os.ReadFile(filepath.Join(dir, loadgen.FileResult))
	if err != nil {
		return sample{}, err
	}
	var r loadgen.Result
	if err := json.Unmarshal(raw, &r); err != nil {
		return sample{}, err
	}
	if r.Requests != n || len(r.Errors) > 0 || r.Latency.Count != n {
		return sample{}, fmt.Errorf("loadgen answered %d of %d requests (histogram %d), errors %v", r.Requests, n, r.Latency.Count, r.Errors)
	}
	return newSample("loadgen", n, wall.Seconds(), cpu, r.OpsPerSec), nil
}

// runRedisBenchmark runs the SET then the GET test with n/2 requests each.
func runRedisBenchmark(pin []string, host, port string, conns, p int, n, keyspace int64, valueSize int) (sample, error) {
	argv := append(append([]string{}, pin...), "redis-benchmark", "-h", host, "-p", port,
		"-t", "set,get", "-n", strconv.FormatInt(n/2, 10), "-c", strconv.Itoa(conns), "-P", strconv.Itoa(p),
		"-d", strconv.Itoa(valueSize), "-r", strconv.FormatInt(keyspace, 10), "--csv")
	var so strings.Builder
	cpu, wall, err := runChild(argv, &so)
	if err != nil {
		return sample{}, err
	}
	rows, err := csv.NewReader(strings.NewReader(so.String())).ReadAll()
	if err != nil {
		return sample{}, fmt.Errorf("redis-benchmark --csv output: %w", err)
	}
	var secs float64
	tests := 0
	for _, row := range rows {
		if len(row) < 2 || (row[0] != "SET" && row[0] != "GET") {
			continue
		}
		rps, err := strconv.ParseFloat(row[1], 64)
		if err != nil || rps <= 0 {
			return sample{}, fmt.Errorf("redis-benchmark %s rps %q", row[0], row[1])
		}
		secs += float64(n/2) / rps
		tests++
	}
	if tests != 2 {
		return sample{}, fmt.Errorf("redis-benchmark printed %d of the SET and GET results:\n%s", tests, so.String())
	}
	total := 2 * (n / 2)
	return newSample("redis-benchmark", total, wall.Seconds(), cpu, float64(total)/secs), nil
}

// summary prints, per configuration, each tool's spread of ops/s, ops per
// client-CPU-second and the server's CPU, and loadgen's ratios to each other
// tool over the repetitions (each repetition ran every tool back to back).
func summary(all []sample, benches []bench, reps int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n== %d repetitions, span: whole client process; median [min..max] ==\n", reps)
	for _, bc := range benches {
		by := byTool(all, bc.Name)
		for _, tool := range []string{"loadgen", "loadgen-baseline", "redis-benchmark"} {
			ss := by[tool]
			if len(ss) == 0 {
				continue
			}
			thr, eff := field(ss, func(s sample) float64 { return s.OpsPerSec }), field(ss, func(s sample) float64 { return s.OpsPerCPU })
			busy := field(ss, func(s sample) float64 { return 100 * s.ServerBusy })
			fmt.Fprintf(&b, "  %-14s c=%d %-16s ops/s %9.0f [%9.0f..%9.0f]   ops/CPU-s %9.0f [%9.0f..%9.0f]   server CPU %3.0f%% [%3.0f..%3.0f]\n",
				bc.Name, bc.Conns, tool, median(thr), minOf(thr), maxOf(thr), median(eff), minOf(eff), maxOf(eff), median(busy), minOf(busy), maxOf(busy))
		}
		for _, other := range []string{"redis-benchmark", "loadgen-baseline"} {
			thr, eff := pairedRatios(by["loadgen"], by[other])
			if len(thr) == 0 {
				continue
			}
			fmt.Fprintf(&b, "  %-14s c=%d loadgen/%s  ops/s %.2fx [%.2f..%.2f]   ops/CPU-s %.2fx [%.2f..%.2f]\n",
				bc.Name, bc.Conns, other, median(thr), minOf(thr), maxOf(thr), median(eff), minOf(eff), maxOf(eff))
		}
	}
	return b.String()
}

// byTool groups the samples of one configuration by tool, in repetition order.
func byTool(all []sample, name string) map[string][]sample {
	by := map[string][]sample{}
	for _, s := range all {
		if s.Bench == name {
			by[s.Tool] = append(by[s.Tool], s)
		}
	}
	for _, ss := range by {
		sort.Slice(ss, func(i, j int) bool { return ss[i].Rep < ss[j].Rep })
	}
	return by
}

// pairedRatios are a's ops/s and ops/CPU-s over b's, repetition by
// repetition (repetitions either lacks are left out).
func pairedRatios(a, b []sample) (thr, eff []float64) {
	other := map[int]sample{}
	for _, s := range b {
		other[s.Rep] = s
	}
	for _, s := range a {
		if o, ok := other[s.Rep]; ok {
			thr = append(thr, s.OpsPerSec/o.OpsPerSec)
			eff = append(eff, s.OpsPerCPU/o.OpsPerCPU)
		}
	}
	return thr, eff
}

func field(ss []sample, f func(sample) float64) []float64 {
	v := make([]float64, len(ss))
	for i, s := range ss {
		v[i] = f(s)
	}
	return v
}

func median(v []float64) float64 {
	s := append([]float64{}, v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
func minOf(v []float64) float64 { s := append([]float64{}, v...); sort.Float64s(s); return s[0] }
func maxOf(v []float64) float64 { s := append([]float64{}, v...); sort.Float64s(s); return s[len(s)-1] }
