//go:build e2e

package suites

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/dragonfly-e2e/dragonfly-e2e/fixtures/instances"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/types"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/checks/finding"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/checks/installcheck"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/dataset"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/failover"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/standin"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/cluster"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/instance"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/static/gitops"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
	"github.com/dragonfly-e2e/dragonfly-e2e/reports"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/artifacts"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/clients"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/failoverpair"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/snapshots"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/targets"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/writer"
)

// Suite-wide state, set once by BeforeSuite: one API server for every spec.
var (
	depth     Level
	provider  cluster.Provider
	envCfg    *envconf.Config
	envCtx    context.Context
	k8s       client.Client
	clientset kubernetes.Interface
	bundle    *operator.Bundle
	// dataEnv is what the data suites' targets work with; made before the
	// spec tree (titles name the data plane), clients filled in once up.
	dataEnv = &targets.Env{
		Logf:             func(f string, a ...any) { GinkgoWriter.Printf(f, a...) },
		DataPlaneStandIn: config.FromEnv().DragonflyStandIn,
		OperatorImage:    config.FromEnv().OperatorImage,
		StorageClass:     config.FromEnv().StorageClass,
	}
)

func TestSuites(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "dragonfly-e2e suites")
}

var _ = BeforeSuite(func(ctx SpecContext) {
	var err error
	depth, err = Depth()
	must(err)
	must(wait.CheckEnv())
	provider, err = cluster.FromEnv()
	must(err)
	if e, ok := provider.(*cluster.Envtest); ok {
		// Straight to stderr: a first run builds kube-apiserver and etcd for
		// minutes, and that must not look like a hang.
		e.Logf = func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, "%s envtest: "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
		}
	}
	version := cmp.Or(config.FromEnv().OperatorVersion, operator.DefaultVersion)

	// e2e-framework steps, run in order as its env.Setup would.
	envCfg = envconf.New()
	envCtx = context.Background()
	for _, step := range []types.EnvFunc{cluster.Setup(provider), renderBundle(version), applyBundle} {
		envCtx, err = step(envCtx, envCfg)
		must(err)
	}
}, NodeTimeout(40*time.Minute)) // a first run builds kube-apiserver and etcd

var _ = AfterSuite(func(ctx SpecContext) {
	if provider != nil {
		_, err := cluster.Teardown(provider)(ctx, envCfg)
		Expect(err).NotTo(HaveOccurred())
	}
}, NodeTimeout(2*time.Minute))

// renderBundle renders the relocated operator bundle and makes the clients.
func renderBundle(version string) types.EnvFunc {
	return func(ctx context.Context, cfg *envconf.Config) (context.Context, error) {
		c, ok := cluster.From(ctx)
		if !ok {
			return ctx, fmt.Errorf("renderBundle: no cluster in context (run cluster.Setup first)")
		}
		var err error
		if k8s, clientset, err = clients.New(c.Config); err != nil {
			return ctx, err
		}
		// On a cluster the run does not own, everything the specs create
		// carries the run's labels: dfe2e removes exactly that afterwards.
		k8s = cluster.LabelCreates(k8s, config.FromEnv().RunID)
		dataEnv.Client, dataEnv.Clientset, dataEnv.Config, dataEnv.Provider = k8s, clientset, c.Config, provider.Name()
		bundle, err = operator.Render(ctx, version, bundleSource())
		if err != nil {
			return ctx, fmt.Errorf("rendering operator %s: %w", version, err)
		}
		GinkgoWriter.Printf("operator %s rendered from %s: %d objects\n", bundle.Version, bundle.Origin, len(bundle.Objects))
		return ctx, nil
	}
}

// applyBundle is the install step: server-side apply, CRDs Established.
// The install specs then check what landed.
func applyBundle(ctx context.Context, _ *envconf.Config) (context.Context, error) {
	return ctx, installcheck.Apply(ctx, k8s, bundle.Objects)
}

// must fails the current node with err's own message (which says what to
// do) instead of a dump of the error's fields.
func must(err error) {
	GinkgoHelper()
	if err != nil {
		Fail(err.Error())
	}
}

// atLevel skips the current spec when its level is below the test depth.
func atLevel(l Level) {
	if r := SkipReason(l, depth); r != "" {
		Skip(r)
	}
}

// The glue below is what ties the utils to Ginkgo: failing, skipping,
// cleanups and report entries stay here.

// bundleSource is how the suites render the operator: with the
// environment's Dragonfly image handed to the manager (--dragonfly-image),
// so the Dragonfly objects stay as users write them.
func bundleSource() operator.SourceOptions {
	o := upstreamSource()
	o.DragonflyImage = config.FromEnv().DragonflyImage
	return o
}

// upstreamSource is where the upstream operator manifests come from: the
// offline copy and cache of the configuration.
func upstreamSource() operator.SourceOptions { return gitops.OperatorSource(config.FromEnv()) }

// restConfig is the suite's cluster config (no client timeout: port-forwards
// and execs are long-lived streams bounded by their contexts).
func restConfig() *rest.Config {
	c, ok := cluster.From(envCtx)
	if !ok {
		Fail("no cluster in the suite context")
	}
	return c.Config
}

func disposable() bool {
	c, ok := cluster.From(envCtx)
	return ok && c.Disposable
}

// needNodes skips on envtest: these specs need a kubelet, images and storage.
func needNodes() {
	if r := noNodes(); r != "" {
		Skip(r)
	}
}

// noNodes says why the cluster cannot run pods ("" when it can): envtest,
// or a cluster reached through a kubeconfig that is an API server alone (a
// control plane without kubelets) — said, rather than timed out on.
func noNodes() string {
	if provider != nil && provider.Name() == "envtest" {
		return "needs a cluster with nodes and local-path storage (make e2e, or DFE2E_CLUSTER=kind|kubeconfig); envtest has an API server only"
	}
	var nodes corev1.NodeList
	if k8s != nil {
		must(k8s.List(context.Background(), &nodes, client.Limit(1)))
		if len(nodes.Items) == 0 {
			return "needs a cluster with nodes; the cluster (provider " + provider.Name() + ") has no Node objects"
		}
	}
	return ""
}

// needKindNodes skips unless the nodes are this run's kind containers
// (restarting or stopping a node is a docker command on its container).
func needKindNodes() {
	needNodes()
	if provider != nil && provider.Name() != "kind" {
		Skip("needs kind node containers; the cluster is external (provider " + provider.Name() + ")")
	}
}

// reportDataPlane marks the current spec as run on a stand-in data plane
// (the operator itself is real): its pass is never a Dragonfly verdict.
func reportDataPlane() {
	if s := dataEnv.DataPlaneStandIn; s != "" {
		AddReportEntry(reports.StandInEntry, s)
	}
}

func reportMetric(m reports.Metric) { AddReportEntry(reports.MetricEntry, m) }

// dumpOnFailure is registered with DeferCleanup: when the spec failed it
// writes the objects of the given namespaces (plus cluster-scoped RBAC and
// webhooks) to $DFE2E_ARTIFACTS/<spec>/objects.yaml. Passing specs write nothing.
func dumpOnFailure(namespaces ...string) func(ctx context.Context) {
	return func(ctx context.Context) {
		artifacts.OnFailure(ctx, k8s, artifacts.Dir(config.FromEnv().Artifacts), CurrentSpecReport(), GinkgoWriter.Printf, namespaces...)
	}
}

// FindingsEntry names the Ginkgo report entries that carry findings; the
// entry's value is a []finding.Finding (Value.AsJSON in the JSON report).
const FindingsEntry = "dfe2e.findings"

// report records findings in the Ginkgo report (JSON/JUnit) and the spec log;
// what says what they are ("least-privilege report").
func report(what string, fs []finding.Finding) {
	if len(fs) == 0 {
		return
	}
	AddReportEntry(FindingsEntry, fs)
	GinkgoWriter.Printf("%s:\n%s", what, finding.Lines(fs))
}

// messages joins the violations' messages, for matching.
func messages(fs []finding.Finding) string {
	return finding.Lines(finding.Violations(fs))
}

// applyAside applies objects beside the normal install (a planted defect, an
// isolated copy) and registers their removal; the dump
// of a failed spec (registered after, so it runs first) still sees it.
func applyAside(ctx context.Context, objs []*unstructured.Unstructured, namespaces ...string) {
	GinkgoHelper()
	DeferCleanup(func(ctx context.Context) {
		Expect(installcheck.Remove(ctx, k8s, clientset, objs, disposable())).To(Succeed())
	})
	DeferCleanup(dumpOnFailure(namespaces...))
	Expect(installcheck.Apply(ctx, k8s, objs)).To(Succeed())
}

// datasetSpec is the data suites' dataset (DFE2E_DATASET_KEYS keys).
func datasetSpec() dataset.Spec {
	ds, err := snapshots.DatasetSpec(config.FromEnv())
	must(err)
	return ds
}

// writeThroughService starts the failover writer on ns/svc, following the
// Service as a client would, and waits for n acknowledged writes. stop ends
// the writer and waits for it (before an RPO count); it also runs, then the
// port-forwards close, when the spec ends.
func writeThroughService(ctx context.Context, ns, svc string, n int) (*writer.Forwards, *failover.Log, func()) {
	sf, log, stop, err := writer.Start(ctx, k8s, restConfig(), clientset, ns, svc, n)
	DeferCleanup(sf.Close)
	DeferCleanup(stop)
	Expect(err).NotTo(HaveOccurred())
	return sf, log, stop
}

// requireTarget skips a snapshot spec whose target cannot run, and marks
// the specs of a stand-in target.
func requireTarget(s *snapshots.Run) {
	needNodes()
	if s.Skip != "" {
		Skip(s.Skip)
	}
	if s.Target.StandIn() != "" {
		AddReportEntry(reports.StandInEntry, s.Target.StandIn())
	}
}

// startFailoverPair starts the redis-server failover pair (removed when the
// spec ends; the spec is blocked when its image cannot be had) and names the
// stand-in in the report.
func startFailoverPair(ctx context.Context) *failoverpair.Pair {
	GinkgoHelper()
	needNodes()
	p, blocked, err := failoverpair.Start(ctx, dataEnv, instances.Namespace)
	DeferCleanup(p.Teardown, NodeTimeout(2*time.Minute))
	Expect(err).NotTo(HaveOccurred())
	if blocked != "" {
		Skip(blocked)
	}
	AddReportEntry(reports.StandInEntry, standin.Description)
	return p
}

// replicatedWithDataset deploys the replicated instance (removed when the
// spec ends; the spec is blocked when its images cannot be had), waits for
// its roles and loads the dataset through the master, which it returns.
func replicatedWithDataset(ctx context.Context) (*corev1.Pod, dataset.Spec) {
	GinkgoHelper()
	t := &targets.Dragonfly{Name: instances.Replicated, Env: dataEnv}
	blocked, err := t.Deploy(ctx)
	DeferCleanup(func(ctx SpecContext) { t.Teardown(ctx) }, NodeTimeout(3*time.Minute))
	Expect(err).NotTo(HaveOccurred())
	if blocked != "" {
		Skip(blocked)
	}
	roles, err := instance.WaitReady(ctx, k8s, instances.Namespace, instances.Replicated)
	Expect(err).NotTo(HaveOccurred())
	m := roles.Master
	GinkgoWriter.Printf("master %s, replicas %d (by role label)\n", m.Name, len(roles.Others))
	By("loading the dataset through the master")
	ds := datasetSpec()
	f, err := instance.PortForward(ctx, restConfig(), clientset, m.Namespace, m.Name, 6379)
	Expect(err).NotTo(HaveOccurred())
	defer f.Close()
	c, err := dataset.Connect(ctx, f.Addr, "", 4)
	Expect(err).NotTo(HaveOccurred())
	defer c.Close()
	_, err = dataset.Write(ctx, c, ds, dataset.Options{})
	Expect(err).NotTo(HaveOccurred())
	return m, ds
}
