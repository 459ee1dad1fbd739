package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/cluster"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/images"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/kindconfig"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/imagepull"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/loadtarget"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
	"github.com/dragonfly-e2e/dragonfly-e2e/loadgen"
)

// clusterLoadFlags select a Kubernetes target: a port-forward the harness
// opens, or the in-cluster Job.
type clusterLoadFlags struct {
	portForward string
	kubeconfig  string
	job         bool
	kindCluster string
}

func addClusterLoadFlags(cmd *cobra.Command, f *clusterLoadFlags) {
	fl := cmd.Flags()
	fl.StringVar(&f.portForward, "port-forward", "", "load <namespace>/<service-or-pod>[:port] through a port-forward on 127.0.0.1 (needs --kubeconfig)")
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig of the cluster for --port-forward and --job (default $KUBECONFIG)")
	fl.BoolVar(&f.job, "job", false, "run the load as a Job in --namespace against --instance (port 6379) and collect its results")
	fl.StringVar(&f.kindCluster, "kind-cluster", "", "--job without --image: the kind cluster to load the locally built loadgen image into")
}

// checkClusterLoadFlags rejects combinations that cannot mean anything.
func checkClusterLoadFlags(cmd *cobra.Command, f loadFlags) error {
	c := f.cluster
	changed := cmd.Flags().Changed
	var errs []error
	if c.job && c.portForward != "" {
		errs = append(errs, errors.New("--job and --port-forward are two targets: give one"))
	}
	if (c.job || c.portForward != "") && changed("addr") {
		errs = append(errs, errors.New("--addr is the address target; --job and --port-forward find the address themselves: drop --addr"))
	}
	if c.job && f.emitJob {
		errs = append(errs, errors.New("--emit-job prints the manifest, --job runs it: give one"))
	}
	if c.kindCluster != "" && !c.job {
		errs = append(errs, errors.New("--kind-cluster is for --job (where the locally built image goes)"))
	}
	if c.job && f.image != "" && c.kindCluster != "" {
		errs = append(errs, errors.New("--kind-cluster loads the locally built image; with --image the node pulls yours: give one"))
	}
	return errors.Join(errs...)
}

// kubeClient loads the kubeconfig and checks the API server answers.
func kubeClient(ctx context.Context, path string) (*rest.Config, kubernetes.Interface, error) {
	if path == "" {
		path = config.FromEnv().Kubeconfig
	}
	if path == "" {
		return nil, nil, errors.New("no kubeconfig: give --kubeconfig <file> (or set KUBECONFIG) for the cluster that runs the instance")
	}
	if strings.Contains(path, string(os.PathListSeparator)) {
		return nil, nil, fmt.Errorf("kubeconfig %q is a list: give one file with --kubeconfig", path)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, nil, fmt.Errorf("kubeconfig %s: %w — give a readable kubeconfig with --kubeconfig", path, err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	if err := cluster.WaitReachable(ctx, "kubeconfig", cfg, wait.APIServerReachable, "check that the cluster is running and --kubeconfig points at it"); err != nil {
		return nil, nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	return cfg, cs, nil
}

// asExit maps target errors to exit codes: the caller's to fix → 2,
// image not available → 3 (blocked), the rest → 1.
func asExit(err error) error {
	var ie *loadtarget.InputError
	var be *imagepull.BlockedError
	var ue *cluster.UnreachableError
	switch {
	case errors.As(err, &ie), errors.As(err, &ue):
		return badInput(err)
	case errors.As(err, &be):
		return &exitError{code: exitBlocked, err: err}
	}
	return failed(err)
}

// openLoadForward opens the --port-forward; the caller closes it.
func openLoadForward(ctx context.Context, f loadFlags) (closeFn func(), addr, label string, err error) {
	spec, err := loadtarget.ParseForward(f.cluster.portForward)
	if err != nil {
		return nil, "", "", badInput(err)
	}
	cfg, cs, err := kubeClient(ctx, f.cluster.kubeconfig)
	if err != nil {
		return nil, "", "", badInput(err)
	}
	fwd, label, err := loadtarget.OpenForward(ctx, cfg, cs, spec)
	if err != nil {
		return nil, "", "", asExit(err)
	}
	return fwd.Close, fwd.Addr, label, nil
}

// jobEnv is what every play of one --job command shares: the cluster, the
// image and the instance.
type jobEnv struct {
	cmd    *cobra.Command
	f      loadFlags
	cfg    *rest.Config
	cs     kubernetes.Interface
	spec   loadtarget.JobSpec // Workload set per play
	logf   func(string, ...any)
	stderr io.Writer
	// counter reads the server's GET+SET count (default: INFO commandstats
	// through a port-forward to the instance); podLogs reads a load pod's
	// log (default: the pod log API). Tests replace both.
	counter func(context.Context) (int64, error)
	podLogs func(ctx context.Context, ns, pod, container string, follow bool) ([]byte, error)
}

// runLoadJob runs each play as a Job in the instance's namespace (one pod,
// or --parallel pods) and writes the files it measured, as an address run
// would; scenarios go into --out/<name>/.
func runLoadJob(cmd *cobra.Command, f loadFlags, plays []loadPlay) error {
	stderr := cmd.ErrOrStderr()
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, "dfe2e: "+format+"\n", a...) }
	var missing []string
	if f.namespace == "" {
		missing = append(missing, "--namespace (the instance's namespace; the Job runs there)")
	}
	if f.instance == "" {
		missing = append(missing, "--instance (the instance's name: its Service <instance>:6379 is loaded)")
	}
	if len(missing) > 0 {
		return badInput(fmt.Errorf("--job needs %s", strings.Join(missing, " and ")))
	}
	spec := loadtarget.JobSpec{Namespace: f.namespace, Instance: f.instance, Image: f.image,
		PasswordSecret: f.passwordSecret, PasswordKey: f.passKey, Parallel: f.parallel}
	if spec.Image == "" {
		spec.Image, spec.PullPolicy = "placeholder", "Never" // validated below, replaced once built
	}
	for _, p := range plays {
		spec.Workload = p.Workload
		if _, err := loadtarget.JobManifest(spec); err != nil {
			return badInput(fmt.Errorf("--job: %s%w", p.prefix(), err))
		}
	}
	if f.image == "" && f.cluster.kindCluster == "" {
		return badInput(errors.New("--job without --image: give --kind-cluster <name> to build the loadgen image here and load it into that kind cluster, or --image <ref> of a loadgen image the nodes can pull"))
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, cs, err := kubeClient(ctx, f.cluster.kubeconfig)
	if err != nil {
		return badInput(err)
	}
	if f.image == "" {
		ref, err := ensureLoadgenOnKind(ctx, cs, f.cluster.kindCluster, logf)
		if err != nil {
			return err
		}
		spec.Image = ref
	}
	e := jobEnv{cmd: cmd, f: f, cfg: cfg, cs: cs, spec: spec, logf: logf, stderr: stderr}
	out := f.out
	if out == "" {
		out = filepath.Join("artifacts", "load-"+time.Now().UTC().Format("20060102T150405Z"))
	}
	if len(plays) == 1 && plays[0].Name == "" && f.parallel == 0 && !f.findMax {
		return e.single(ctx, plays[0].Workload, out)
	}
	var broke []string
	for _, p := range plays {
		dir := out
		if p.Name != "" {
			dir = filepath.Join(out, p.Name)
		}
		var r *loadgen.Result
		switch {
		case f.findMax:
			r, err = e.findMax(ctx, p, dir)
		case f.parallel > 0:
			r, err = e.parallel(ctx, p, dir)
		default:
			if err = e.single(ctx, p.Workload, dir); err == nil {
				r, err = readJobResult(dir, p)
			}
		}
		if err != nil {
			return err
		}
		if k := r.Knee; k != nil {
			if k.MaxStep == 0 {
				broke = append(broke, fmt.Sprintf("%sno rate met %s: %s", p.prefix(), k.SLO, k.Stop))
			}
			continue
		}
		for _, v := range p.CheckBounds(*r) {
			broke = append(broke, v.String())
		}
	}
	if len(broke) > 0 {
		return failed(errors.New("failed:\n  " + strings.Join(broke, "\n  ")))
	}
	return nil
}

// readJobResult reads back the result a single-pod Job wrote into dir and
// names it after the scenario played.
func readJobResult(dir string, p loadPlay) (*loadgen.Result, error) {
	raw, err := os.ReadFile(filepath.Join(dir, loadgen.FileResult))
	if err != nil {
		return nil, failed(err)
	}
	var r loadgen.Result
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, failed(fmt.Errorf("%s: %w", loadgen.FileResult, err))
	}
	if p.Name != "" && r.Scenario != p.resultName() {
		r.Scenario = p.resultName()
		b, _ := json.MarshalIndent(r, "", "  ")
		if err := os.WriteFile(filepath.Join(dir, loadgen.FileResult), append(b, '\n'), 0o644); err != nil {
			return nil, failed(err)
		}
	}
	return &r, nil
}

// jobLength is how long the workload runs once started (its warmup alone
// for a count run, whose length is unknown).
func jobLength(w loadgen.Workload) time.Duration {
	if w.Requests > 0 {
		return w.Warmup
	}
	return w.Warmup + w.Duration
}

// single runs w as one Job pod and writes its files into out.
func (e jobEnv) single(ctx context.Context, w loadgen.Workload, out string) error {
	spec := e.spec
	spec.Workload, spec.Parallel = w, 0
	raw, err := loadtarget.JobManifest(spec)
	if err != nil {
		return badInput(fmt.Errorf("--job: %w", err))
	}
	job, err := loadtarget.JobFromManifest(raw)
	if err != nil {
		return failed(err)
	}
	r := &loadtarget.Runner{Client: e.cs, Logf: e.logf}
	log, err := r.Run(ctx, job, jobLength(w))
	stderr := e.stderr
	if err != nil {
		var ie *loadtarget.InterruptedError
		if errors.As(err, &ie) {
			if werr := writeJobResults(e.cmd.OutOrStdout(), stderr, e.f, out, ie.Log); werr == nil {
				fmt.Fprintln(stderr, "dfe2e: interrupted: the results above are partial (result.json has \"partial\": true); the load Job was deleted")
				return withCode(exitInterrupted)
			}
		}
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "dfe2e: interrupted: the load Job was deleted; no results:", err)
			return withCode(exitInterrupted)
		}
		var fe *loadtarget.FailedError
		if errors.As(err, &fe) && fe.ExitCode == exitBadInput {
			return badInput(err) // the generator's own bad input: unreachable, not RESP, AUTH
		}
		return asExit(err)
	}
	return writeJobResults(e.cmd.OutOrStdout(), stderr, e.f, out, log)
}

// writeJobResults unpacks the Job's bundle into --out and prints like an
// address run.
func writeJobResults(stdout, stderr io.Writer, f loadFlags, out string, log []byte) error {
	files, err := loadgen.ReadBundle(log)
	if err != nil {
		return failed(fmt.Errorf("load Job finished but its results are unreadable: %w", err))
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return failed(err)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(out, name), body, 0o644); err != nil {
			return failed(fmt.Errorf("writing results: %w", err))
		}
	}
	switch f.stdout {
	case "table":
		_, _ = stdout.Write(files[loadgen.FileSummary])
	case "json":
		_, _ = stdout.Write(files[loadgen.FileResult])
		_, _ = stderr.Write(files[loadgen.FileSummary])
	case "bundle":
		if err := loadgen.WriteBundle(stdout, out); err != nil {
			return failed(err)
		}
	}
	fmt.Fprintf(stderr, "wrote %d files to %s\n", len(files), out)
	return nil
}

// ensureLoadgenOnKind builds (or finds cached) the loadgen image and loads it
// into the kind cluster's node unless the node has it already.
func ensureLoadgenOnKind(ctx context.Context, cs kubernetes.Interface, kindName string, logf func(string, ...any)) (string, error) {
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", failed(fmt.Errorf("listing nodes: %w", err))
	}
	want := kindName + "-control-plane"
	var node *corev1.Node
	var names []string
	for i := range nodes.Items {
		names = append(names, nodes.Items[i].Name)
		if nodes.Items[i].Name == want {
			node = &nodes.Items[i]
		}
	}
	if node == nil {
		return "", badInput(fmt.Errorf("image not loadable: the kubeconfig's cluster has no node %s (nodes: %s), so it is not kind cluster %q: give the --kind-cluster that --kubeconfig points at, or --image",
			want, strings.Join(names, ", "), kindName))
	}
	bin, cleanup, err := staticDfe2e(ctx, logf)
	if err != nil {
		return "", badInput(fmt.Errorf("image not loadable: %w", err))
	}
	defer cleanup()
	img, err := images.EnsureLoadgen(bin, images.Logf(logf))
	if err != nil {
		return "", badInput(fmt.Errorf("image not loadable: %w", err))
	}
	if imagepull.OnNode(*node, img.Ref) {
		logf("node %s already has %s", node.Name, img.Ref)
		return img.Ref, nil
	}
	kc := kindconfig.New(kindconfig.Options{Name: kindName, Logf: kindconfig.Logf(logf)})
	if err := kc.LoadArchives(img.Archive); err != nil {
		return "", badInput(fmt.Errorf("image not loadable into kind cluster %q: %w", kindName, err))
	}
	return img.Ref, nil
}

// staticDfe2e is this executable when it is a static dfe2e, else a static
// build of ./cmd/dfe2e from the module around the working directory.
func staticDfe2e(ctx context.Context, logf func(string, ...any)) (string, func(), error) {
	if self, err := os.Executable(); err == nil {
		if bi, ok := debug.ReadBuildInfo(); ok && strings.HasSuffix(bi.Path, "/cmd/dfe2e") {
			if static, _ := images.IsStatic(self); static {
				return self, func() {}, nil
			}
		}
	}
	wd, _ := os.Getwd()
	root := images.ModuleRoot(ctx, wd)
	if root == "" {
		return "", nil, errors.New("this dfe2e is not static and no Go module is around the working directory to build one: run from the dragonfly-e2e checkout, build dfe2e with CGO_ENABLED=0, or give --image")
	}
	bin, err := images.BuildStaticDfe2e(ctx, root, images.Logf(logf))
	if err != nil {
		return "", nil, err
	}
	return bin, func() { os.Remove(bin) }, nil
}
