package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/loadtarget"
	"github.com/dragonfly-e2e/dragonfly-e2e/loadgen"
)

// exitInterrupted is the shell's convention for a run ended by SIGINT; the
// partial results are written first.
const exitInterrupted = 130

type loadFlags struct {
	addr, user, password    string
	tls, tlsInsecure        bool
	tlsCA, tlsServerName    string
	allowRemote             bool
	mode, ratio, keyDist    string
	connections, pipeline   int
	keyspace                int64
	valueSize               int
	ttl, warmup, duration   time.Duration
	requests, seed          int64
	rate                    float64
	prefill                 bool
	out, stdout             string
	emitJob                 bool
	cpuProfile              string
	namespace, instance     string
	image                   string
	passwordSecret, passKey string
	cluster                 clusterLoadFlags
	targetLabel             string
	workloadJSON            string
	scenarios, scenarioFile []string
	findMax                 bool
	slo                     string
	stair                   loadgen.Staircase
	parallel                int
	barrierLead             time.Duration
	pod                     podShareFlags
}

func init() { root.AddCommand(newLoadCmd()) }

// newLoadCmd builds the load command (fresh flags each time, for tests).
func newLoadCmd() *cobra.Command {
	cmd, _ := newLoadCmdFlags()
	return cmd
}

// newLoadCmdFlags is newLoadCmd with the flags it parses into, so a test can
// see the Workload a command line builds without running it.
func newLoadCmdFlags() (*cobra.Command, *loadFlags) {
	f := &loadFlags{}
	cmd := &cobra.Command{
		Use:   "load",
		Short: "Load a RESP server (Dragonfly, or redis-server as a stand-in) and record every request's latency",
		Long: `load drives GET/SET traffic at an address and writes, into --out:
  result.json (loadgen.Result), latency.hgrm (percentile distribution, ms),
  latency.hlog (HdrHistogram V2 interval log, one line per second),
  summary.txt (the table also printed at the end); in open loop also
  latency-uncorrected.{hgrm,hlog}.

Closed loop (default) sends as fast as replies come back. Open loop (--rate)
paces requests at a target rate and measures latency from each request's
intended send time, so server stalls are not hidden (coordinated omission);
the uncorrected latency (from the actual send) is recorded next to it.

The address must be loopback (or a port-forward on loopback); --allow-remote
is for the in-cluster Job. --port-forward ns/name[:port] opens that
port-forward itself (to a Ready pod behind the Service, or the pod named) and
closes it on exit. --job runs the load as a Job in the instance's namespace,
waits for it (named timeouts ImagePullVerdict, LoadJobFinished), writes the
files it measured into --out, and deletes the Job; without --image the
loadgen image (a static dfe2e, user 65534) is built here and loaded into
--kind-cluster. Exit 3 when the Job's image cannot be pulled (blocked). --emit-job prints that Job's manifest instead of
running: it runs in the instance's namespace because the operator's
NetworkPolicy admits 6379 only from pods of that namespace.

--job --parallel N runs an Indexed Job of N pods spread over the nodes. Each
plays its share (seed + index; connections, --rate and --requests split,
remainders to the lowest indices; only pod 0 prefills) and waits, connected,
at a start barrier: once every pod is Ready the harness writes one start time
(--barrier-lead ahead) into the pods' annotation, and all start then. The
pods' raw histograms and interval logs are merged exactly into --out (each
pod's own files under --out/pods/<index>/), and the merged count is checked
against the server's INFO commandstats (GET+SET calls, read through a
port-forward before and after): a mismatch fails the run naming both
numbers. A pod that fails or is evicted fails the run naming it; the
results of the others are written, marked partial. --scenario works with
--job (each scenario one Job run), and so does --find-max (below).

--scenario NAME (repeatable, or "all") plays a named scenario: ` + strings.Join(loadgen.BuiltinScenarios(), ", ") + `;
--scenario-file PATH plays a scenario YAML of your own (same schema). Workload
flags given explicitly override the scenario's values. Each scenario writes
into --out/<name>/ and its result.json carries the name (with any flag that
changed what it measures, e.g. "cache (--pipeline 4)"), so "dfe2e report
compare" judges scenario against scenario. A scenario with latency bounds
fails the run (exit 1) when a corrected percentile exceeds its bound.

--find-max --slo 'p99<=2ms' steps the open-loop rate (--start-rate,
×--step-factor, each step --step-duration, the workload's seed) until the
corrected percentile exceeds the bound, the achieved rate falls short of the
target, or requests fail, and reports the highest rate that met the SLO.
result.json is that step's run with every step under "knee". With
--scenario, each scenario's workload is searched (its rate, length and
bounds give way to the staircase and the SLO). With --job, every step is
one run of an Indexed Job of --parallel pods (1 without it): the step's
rate split over the pods, their merged histogram judged, their count
checked against the server's before the next step; --out gets the knee
step's merged files and its pods' own under pods/.

Exit codes: 0 done, 1 a scenario broke a latency bound or no --find-max step
met the SLO, 2 bad input (flags, scenario files, unreachable or non-RESP
server, AUTH failure), 130 interrupted (partial results written, marked "partial").`,
		Example: `  dfe2e load --addr 127.0.0.1:6379 --connections 50 --pipeline 16 --duration 30s --out artifacts/load
  dfe2e load --addr 127.0.0.1:6379 --rate 20000 --ratio 9:1 --key-dist zipf --prefill --warmup 5s --duration 60s
  dfe2e load --emit-job --namespace database --instance test-cache --image dfe2e:dev --duration 60s
  dfe2e load --port-forward database/test-cache:6379 --kubeconfig kc --duration 30s
  dfe2e load --scenario cache --scenario open-loop --addr 127.0.0.1:6379 --out artifacts/load
  dfe2e load --scenario all --duration 10s
  dfe2e load --find-max --slo 'p99<=2ms' --ratio 9:1 --start-rate 5000 --step-factor 1.25 --step-duration 10s
  dfe2e load --job --namespace database --instance test-cache --kind-cluster dfe2e --kubeconfig kc --requests 100000
  dfe2e load --job --parallel 3 --scenario all --namespace database --instance test-cache --kind-cluster dfe2e --kubeconfig kc
  dfe2e load --job --parallel 3 --find-max --slo 'p99<=2ms' --start-rate 2000 --step-factor 2 --max-steps 5 --namespace database --instance test-cache --kind-cluster dfe2e --kubeconfig kc`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runLoad(cmd, *f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.addr, "addr", "127.0.0.1:6379", "server host:port (loopback or a port-forward)")
	fl.StringVar(&f.user, "user", "", "ACL user name (default: plain AUTH)")
	fl.StringVar(&f.password, "password", "", "password (default: $"+config.EnvRedisPassword+")")
	fl.BoolVar(&f.tls, "tls", false, "connect with TLS")
	fl.StringVar(&f.tlsCA, "tls-ca", "", "PEM file of CAs to trust (implies --tls)")
	fl.StringVar(&f.tlsServerName, "tls-server-name", "", "server name to verify (implies --tls)")
	fl.BoolVar(&f.tlsInsecure, "tls-insecure", false, "do not verify the server certificate (implies --tls)")
	fl.BoolVar(&f.allowRemote, "allow-remote", false, "allow a non-loopback address (the in-cluster Job)")
	fl.StringVar(&f.mode, "mode", "", "closed | open (default: open when --rate is given, else closed)")
	fl.IntVar(&f.connections, "connections", 50, "concurrent connections")
	fl.IntVar(&f.pipeline, "pipeline", 1, "requests in flight per connection (≥ 1)")
	fl.StringVar(&f.ratio, "ratio", "1:1", "GET:SET ratio (exact cycle, e.g. 9:1)")
	fl.Int64Var(&f.keyspace, "keyspace", 100000, "number of distinct keys (key:000000000000 ..)")
	fl.StringVar(&f.keyDist, "key-dist", loadgen.DistUniform, "key distribution: uniform | zipf | sequential")
	fl.IntVar(&f.valueSize, "value-size", 64, "bytes per SET value")
	fl.DurationVar(&f.ttl, "ttl", 0, "TTL on every SET (0: none)")
	fl.BoolVar(&f.prefill, "prefill", false, "SET every key once before the run")
	fl.DurationVar(&f.warmup, "warmup", 0, "unmeasured load before the measured phase")
	fl.DurationVar(&f.duration, "duration", 10*time.Second, "measured phase length (exclusive with --requests)")
	fl.Int64Var(&f.requests, "requests", 0, "measured request count (exclusive with --duration)")
	fl.Float64Var(&f.rate, "rate", 0, "open loop: target requests/s over all connections")
	fl.Int64Var(&f.seed, "seed", 1, "seed of the key choice")
	fl.StringVar(&f.out, "out", "", "output directory (default artifacts/load-<UTC time>)")
	fl.StringVar(&f.stdout, "stdout", "table", "what to print on stdout at the end: table | json | none | bundle (all files as marked log lines, for the Job)")
	fl.BoolVar(&f.emitJob, "emit-job", false, "print the in-cluster load Job manifest (JSON) and exit")
	fl.StringVar(&f.namespace, "namespace", "", "--emit-job: the Dragonfly instance's namespace")
	fl.StringVar(&f.instance, "instance", "", "--emit-job: the Dragonfly instance's name")
	fl.StringVar(&f.image, "image", "", "--emit-job: the loadgen image (built locally when no registry is reachable)")
	fl.StringVar(&f.passwordSecret, "password-secret", "", "--emit-job: Secret holding the instance password")
	fl.StringVar(&f.passKey, "password-key", "", "--emit-job: key in --password-secret")
	fl.StringVar(&f.cpuProfile, "cpuprofile", "", "write a Go CPU profile of the run (for optimising the loader)")
	_ = fl.MarkHidden("cpuprofile")
	addClusterLoadFlags(cmd, &f.cluster)
	fl.StringVar(&f.targetLabel, "target-label", "", "what result.json names as the target (the Job sets it)")
	_ = fl.MarkHidden("target-label")
	fl.StringVar(&f.workloadJSON, loadtarget.WorkloadFlag, "", "the whole workload as loadgen.Workload JSON, instead of the workload flags (the Job passes it so)")
	_ = fl.MarkHidden(loadtarget.WorkloadFlag)
	addScenarioFlags(cmd, f)
	addParallelFlags(cmd, f)
	return cmd, f
}

// workloadFlagNames are the flags that make up a Workload; --workload-json
// replaces them all.
var workloadFlagNames = []string{"mode", "connections", "pipeline", "ratio", "keyspace", "key-dist", "value-size",
	"ttl", "prefill", "warmup", "duration", "requests", "rate", "seed"}

// workloadFromFlags checks the flag combinations and builds the Workload.
func workloadFromFlags(cmd *cobra.Command, f loadFlags) (loadgen.Workload, error) {
	if cmd.Flags().Changed(loadtarget.WorkloadFlag) {
		return workloadFromJSON(cmd, f.workloadJSON)
	}
	var errs []error
	get, set, err := loadgen.ParseRatio(f.ratio)
	if err != nil {
		errs = append(errs, fmt.Errorf("--ratio: %w", err))
	}
	changed := cmd.Flags().Changed
	w := loadgen.Workload{
		Connections: f.connections, Pipeline: f.pipeline, GetRatio: get, SetRatio: set,
		Keyspace: f.keyspace, KeyDist: f.keyDist, ValueSize: f.valueSize, TTL: f.ttl,
		Prefill: f.prefill, Warmup: f.warmup, Duration: f.duration, Requests: f.requests,
		Rate: f.rate, Seed: f.seed,
	}
	if changed("requests") {
		if changed("duration") {
			errs = append(errs, errors.New("--duration and --requests are exclusive: give one"))
		} else {
			w.Duration = 0
		}
	}
	switch f.mode {
	case "":
	case "closed":
		if changed("rate") {
			errs = append(errs, errors.New("--rate paces an open loop; closed loop runs at maximum throughput: drop --rate or use --mode open"))
		}
	case "open":
		if f.rate <= 0 {
			errs = append(errs, errors.New("--mode open needs --rate > 0 (target requests/s)"))
		}
	default:
		errs = append(errs, fmt.Errorf("--mode %q is unknown: use closed or open", f.mode))
	}
	if changed("rate") && f.rate <= 0 && f.mode != "open" {
		errs = append(errs, errors.New("--rate must be > 0 requests/s (omit it for closed loop)"))
	}
	// Flag-level problems first; the workload's own checks (pipeline 0, 0:0 …) next.
	if err := errors.Join(errs...); err != nil {
		return w, err
	}
	return w, w.WithDefaults().Validate()
}

// workloadFromJSON is the Workload --workload-json gives, alone: a workload
// flag beside it would be ignored or contradict it.
func workloadFromJSON(cmd *cobra.Command, raw string) (loadgen.Workload, error) {
	var also []string
	for _, n := range workloadFlagNames {
		if cmd.Flags().Changed(n) {
			also = append(also, "--"+n)
		}
	}
	if len(also) > 0 {
		return loadgen.Workload{}, fmt.Errorf("--%s is the whole workload: drop %s", loadtarget.WorkloadFlag, strings.Join(also, ", "))
	}
	w, err := loadgen.ParseWorkload([]byte(raw))
	if err != nil {
		return w, fmt.Errorf("--%s: %w", loadtarget.WorkloadFlag, err)
	}
	return w, w.WithDefaults().Validate()
}

func runLoad(cmd *cobra.Command, f loadFlags) error {
	plays, err := loadPlays(cmd, f)
	if err != nil {
		return badInput(err)
	}
	w := plays[0].Workload
	switch f.stdout {
	case "table", "json", "none", "bundle":
	default:
		return badInput(fmt.Errorf("--stdout %q is unknown: use table, json, none or bundle", f.stdout))
	}
	if err := checkClusterLoadFlags(cmd, f); err != nil {
		return badInput(err)
	}
	if err := checkParallelFlags(cmd, f, plays); err != nil {
		return badInput(err)
	}
	if f.cluster.job {
		return runLoadJob(cmd, f, plays)
	}
	if f.emitJob {
		return emitJob(cmd.OutOrStdout(), f, w)
	}
	if err := checkAddr(f.addr, f.allowRemote); err != nil {
		return badInput(err)
	}
	target := loadgen.Target{Addr: f.addr, Username: f.user, Password: f.password}
	if target.Password == "" {
		target.Password = config.FromEnv().RedisPassword
	}
	if target.TLS, err = tlsConfig(f); err != nil {
		return badInput(err)
	}
	out := f.out
	if out == "" {
		out = filepath.Join("artifacts", "load-"+time.Now().UTC().Format("20060102T150405Z"))
	}

	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	targetLabel := f.targetLabel
	if f.cluster.portForward != "" {
		closeFwd, addr, label, err := openLoadForward(ctx, f)
		if err != nil {
			return err
		}
		defer closeFwd()
		target.Addr, targetLabel = addr, label
		fmt.Fprintln(cmd.ErrOrStderr(), "dfe2e:", label)
	}
	var opts loadgen.Options
	stderr := cmd.ErrOrStderr()
	if isTerminal(stderr) {
		opts.Progress = func(iv loadgen.Interval) {
			fmt.Fprintf(stderr, "\r\033[K%4ds  %9d ops/s  p50 %7.3fms  p99 %8.3fms  max %8.3fms  errors %d",
				iv.Second+1, iv.Ops, iv.P50/1000, iv.P99/1000, iv.Max/1000, iv.Errors)
		}
	}
	if f.cpuProfile != "" {
		pf, err := os.Create(f.cpuProfile)
		if err != nil {
			return badInput(fmt.Errorf("--cpuprofile: %w", err))
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return badInput(fmt.Errorf("--cpuprofile: %w", err))
		}
		defer pprof.StopCPUProfile()
	}
	if f.pod.of > 0 {
		// One pod of a parallel Job: its share, started with the others.
		plays[0].Workload = loadgen.Share(w, f.pod.of, f.pod.index)
		if opts.Barrier, err = f.pod.gate(ctx); err != nil {
			return failed(err)
		}
	}
	env := loadEnv{cmd: cmd, f: f, target: target, targetLabel: targetLabel, opts: opts}
	return env.playAll(ctx, plays, out)
}

// playOne runs one play into dir and writes its files. It returns the
// measurement (nil when none was taken) and the exit error, if any.
func (e loadEnv) playOne(ctx context.Context, p loadPlay, dir string) (*loadgen.Measurement, error) {
	stderr := e.cmd.ErrOrStderr()
	var m *loadgen.Measurement
	var err error
	if e.f.findMax {
		onStep := func(s loadgen.KneeStep) {
			if e.opts.Progress != nil {
				fmt.Fprint(stderr, "\r\033[K")
			}
			fmt.Fprintf(stderr, "dfe2e: %sstep %d at %.0f req/s: %s\n", p.prefix(), s.Step, s.TargetRate, s.Reason)
		}
		m, err = loadgen.FindMax(ctx, e.target, p.Workload, e.f.stair, p.SLO, e.opts, onStep)
	} else {
		m, err = loadgen.Run(ctx, e.target, p.Workload, e.opts)
	}
	if e.opts.Progress != nil {
		fmt.Fprint(stderr, "\r\033[K")
	}
	if err != nil {
		if loadgen.IsBadInput(err) {
			return nil, badInput(fmt.Errorf("%s%w", p.prefix(), err))
		}
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "dfe2e: interrupted before the measured phase:", err)
			return nil, withCode(exitInterrupted)
		}
		return nil, failed(err)
	}
	if e.targetLabel != "" {
		m.Result.Target = e.targetLabel
	}
	m.Result.Scenario = p.resultName()
	files, werr := m.WriteFiles(dir)
	out := e.cmd.OutOrStdout()
	if p.Name != "" && e.f.stdout == "table" {
		fmt.Fprintf(out, "== scenario %s ==\n", p.Name)
	}
	switch e.f.stdout {
	case "table":
		_ = m.WriteTable(out)
		if k := m.Result.Knee; k != nil {
			_ = writeKneeTable(out, *k)
		}
	case "json":
		_ = m.WriteJSON(out)
		_ = m.WriteTable(stderr)
	case "bundle":
		_ = m.WriteTable(stderr)
	}
	if werr != nil {
		return m, failed(fmt.Errorf("writing results: %w", werr))
	}
	if e.f.stdout == "bundle" {
		// The in-cluster Job: the harness reads the files from the pod log.
		if err := loadgen.WriteBundle(out, dir); err != nil {
			return m, failed(fmt.Errorf("writing the result bundle: %w", err))
		}
	}
	fmt.Fprintf(stderr, "wrote %d files to %s\n", len(files), dir)
	if m.Result.Partial {
		fmt.Fprintln(stderr, "dfe2e: interrupted: the results above are partial (result.json has \"partial\": true)")
		return m, withCode(exitInterrupted)
	}
	return m, nil
}

// checkAddr keeps load on loopback (a port-forward the harness opened) unless
// --allow-remote says this runs inside the cluster.
func checkAddr(addr string, allowRemote bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return fmt.Errorf("--addr %q is not host:port (e.g. 127.0.0.1:6379)", addr)
	}
	if allowRemote || host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("--addr %s is not a loopback address: load a port-forward on 127.0.0.1 "+
		"(kubectl port-forward svc/<instance> <port>:6379), or pass --allow-remote inside the cluster", addr)
}

func tlsConfig(f loadFlags) (*tls.Config, error) {
	if !f.tls && f.tlsCA == "" && f.tlsServerName == "" && !f.tlsInsecure {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: f.tlsServerName, InsecureSkipVerify: f.tlsInsecure}
	if f.tlsCA != "" {
		pem, err := os.ReadFile(f.tlsCA)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-ca %s holds no PEM certificate", f.tlsCA)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

func emitJob(out io.Writer, f loadFlags, w loadgen.Workload) error {
	b, err := loadtarget.JobManifest(loadtarget.JobSpec{
		Namespace: f.namespace, Instance: f.instance, Image: f.image,
		PasswordSecret: f.passwordSecret, PasswordKey: f.passKey, Workload: w, Parallel: f.parallel,
	})
	if err != nil {
		return badInput(fmt.Errorf("--emit-job: %w", err))
	}
	_, err = fmt.Fprintf(out, "%s\n", b)
	return err
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
