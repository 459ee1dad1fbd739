package kindconfig

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"
	kindlog "sigs.k8s.io/kind/pkg/log"
)

// Kind is the part of *cluster.Provider this package uses (a fake in tests).
type Kind interface {
	Create(name string, options ...cluster.CreateOption) error
	Delete(name, explicitKubeconfigPath string) error
	List() ([]string, error)
	ListNodes(name string) ([]nodes.Node, error)
	CollectLogs(name, dir string) error
}

// Logf receives progress lines.
type Logf func(format string, args ...any)

// Options configure a Cluster.
type Options struct {
	Name      string // kind cluster name (default DefaultClusterName)
	NodeImage string
	Offline   bool // node image built offline: bridge CNI instead of kindnetd
	// Nodes is the node count: one control plane and Nodes-1 workers
	// (0: DefaultNodes). A reused cluster must have as many.
	Nodes      int
	Kubeconfig string // where the cluster's kubeconfig is written
	Reuse      bool   // use an existing cluster of that name instead of failing
	Logf       Logf
	// ReadyTimeout bounds kind's wait for the control plane to be Ready.
	ReadyTimeout time.Duration
	// CancelGrace bounds how long a cancelled create may take to stop before
	// cleanup gives up and prints the removal command.
	CancelGrace time.Duration
	// Docker is the docker client binary (for image saves and cleanup).
	Docker string
	// Mirrors maps upstream registry hosts (docker.dragonflydb.io) to mirror
	// URLs (http://dfe2e-registry-dfe2e:5000) the node's containerd pulls
	// through; see mirrors.go.
	Mirrors map[string]string
}

// Cluster is one kind cluster managed by this run.
type Cluster struct {
	o       Options
	kind    Kind
	created bool // created by this run (so deleted by it)
	// manageNetwork: remove kind's shared "kind" network on delete when this
	// run created it and nothing else uses it (real engine only).
	manageNetwork bool
	netExisted    bool
	// sysctlDir is where the host's kernel limits are raised before a
	// create (real engine only: /proc/sys).
	sysctlDir string
}

// New returns a Cluster on the kind library with the docker provider.
func New(o Options) *Cluster {
	c := NewWithKind(o, cluster.NewProvider(cluster.ProviderWithDocker(), cluster.ProviderWithLogger(logger{o.logf()})))
	c.manageNetwork = true
	c.sysctlDir = "/proc/sys"
	return c
}

// NewWithKind returns a Cluster on any Kind implementation.
func NewWithKind(o Options, k Kind) *Cluster {
	if o.Name == "" {
		o.Name = DefaultClusterName
	}
	if o.CancelGrace == 0 {
		o.CancelGrace = 90 * time.Second
	}
	if o.Docker == "" {
		o.Docker = "docker"
	}
	return &Cluster{o: o, kind: k}
}

func (o Options) logf() Logf {
	if o.Logf == nil {
		return func(string, ...any) {}
	}
	return o.Logf
}

// Name is the kind cluster name.
func (c *Cluster) Name() string { return c.o.Name }

// Kubeconfig is the path of the cluster's kubeconfig.
func (c *Cluster) Kubeconfig() string { return c.o.Kubeconfig }

// Created reports whether this run created the cluster.
func (c *Cluster) Created() bool { return c.created }

// CleanupCommand is the one command that removes what a run may leave behind.
func (c *Cluster) CleanupCommand() string {
	return fmt.Sprintf("docker rm -f -v $(docker ps -aq --filter label=io.x-k8s.kind.cluster=%s); docker network rm %s", c.o.Name, kindNetwork)
}

// exists reports whether a kind cluster of this name is there.
func (c *Cluster) exists() (bool, error) {
	existing, err := c.kind.List()
	if err != nil {
		return false, fmt.Errorf("listing kind clusters (is the Docker engine running?): %w", err)
	}
	for _, n := range existing {
		if n == c.o.Name {
			return true, nil
		}
	}
	return false, nil
}

// CheckFree fails with ErrExists when the cluster exists and reuse was not
// asked for. A run checks it before it starts anything under the cluster's
// name (its registry), so a second run never replaces a running one's.
func (c *Cluster) CheckFree() error {
	found, err := c.exists()
	if err != nil {
		return err
	}
	if found && !c.o.Reuse {
		return fmt.Errorf("%w: %q; delete it (dfe2e cluster delete --name %s) or pass --reuse-cluster", ErrExists, c.o.Name, c.o.Name)
	}
	return nil
}

// ErrExists is returned when the cluster exists and reuse was not asked for.
var ErrExists = errors.New("kind cluster already exists")

// Create creates the cluster (or reuses it with Options.Reuse). When ctx is
// cancelled mid-create the partly created nodes are removed before it returns.
// The nodes of a failed create are kept so that ExportLogs can collect them;
// the caller then deletes them (Delete) unless it keeps them for inspection.
func (c *Cluster) Create(ctx context.Context) error {
	logf := c.o.logf()
	found, err := c.exists()
	if err != nil {
		return err
	}
	if found {
		if err := c.CheckFree(); err != nil {
			return err
		}
		logf("reusing existing kind cluster %q", c.o.Name)
		if err := c.checkNodeCount(); err != nil {
			return err
		}
		if err := c.writeKubeconfig(); err != nil {
			return err
		}
		if err := c.applyMirrors(); err != nil {
			return err
		}
		return c.wirePodNetwork(ctx)
	}
	if err := ensureInotify(c.sysctlDir, logf); err != nil {
		return err
	}
	start := time.Now()
	logf("creating kind cluster %q from %s", c.o.Name, c.o.NodeImage)
	ready := c.o.ReadyTimeout
	if ready == 0 {
		ready = 5 * time.Minute
	}
	if c.manageNetwork {
		c.netExisted = exec.Command(c.o.Docker, "network", "inspect", kindNetwork).Run() == nil
	}
	done := make(chan error, 1)
	c.created = true
	kindReady := ready
	if c.o.perNodeCNI() {
		// No node is Ready before its CNI config is written, after kind's
		// create: wirePodNetwork waits for Ready instead.
		kindReady = 0
	}
	go func() {
		done <- c.kind.Create(c.o.Name,
			cluster.CreateWithV1Alpha4Config(c.o.clusterConfig()),
			cluster.CreateWithNodeImage(c.o.NodeImage),
			cluster.CreateWithRetain(true), // failed nodes stay for log export; the caller deletes
			cluster.CreateWithWaitForReady(kindReady),
			cluster.CreateWithKubeconfigPath(c.o.Kubeconfig),
			cluster.CreateWithDisplayUsage(false),
			cluster.CreateWithDisplaySalutation(false),
		)
	}()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("creating kind cluster %q: %w", c.o.Name, err)
		}
		if err := c.applyMirrors(); err != nil {
			return err
		}
		if err := c.wirePodNetwork(ctx); err != nil {
			return err
		}
		logf("kind cluster %q (%d nodes) ready in %s (kubeconfig: %s)", c.o.Name, c.o.nodes(), time.Since(start).Round(time.Second), c.o.Kubeconfig)
		return nil
	case <-ctx.Done():
		logf("interrupted while creating kind cluster %q: removing its nodes", c.o.Name)
		return errors.Join(ctx.Err(), c.abortCreate(done))
	}
}

// abortCreate removes the nodes while kind's create (not cancellable) is still
// running: delete, wait for create to fail on the missing nodes, delete again.
func (c *Cluster) abortCreate(done <-chan error) error {
	_ = c.kind.Delete(c.o.Name, c.o.Kubeconfig)
	t := time.NewTimer(c.o.CancelGrace)
	defer t.Stop()
	// A node whose `docker run` was in flight during a delete appears after
	// it: keep deleting until kind's create gives up.
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
wait:
	for {
		select {
		case <-done:
			break wait
		case <-tick.C:
			_ = c.kind.Delete(c.o.Name, c.o.Kubeconfig)
		case <-t.C:
			return fmt.Errorf("kind create of %q did not stop within %s; remove what is left with: %s", c.o.Name, c.o.CancelGrace, c.CleanupCommand())
		}
	}
	if err := c.kind.Delete(c.o.Name, c.o.Kubeconfig); err != nil {
		return fmt.Errorf("deleting cluster %q: %w; remove what is left with: %s", c.o.Name, err, c.CleanupCommand())
	}
	c.created = false
	c.removeNetwork()
	return nil
}

// kindNetwork is the Docker network kind puts every cluster on.
const kindNetwork = "kind"

// removeNetwork removes the "kind" network when this run created it and no
// container is attached any more (other clusters keep it alive).
func (c *Cluster) removeNetwork() {
	if !c.manageNetwork || c.netExisted {
		return
	}
	out, err := exec.Command(c.o.Docker, "network", "inspect", "-f", "{{len .Containers}}", kindNetwork).Output()
	if err != nil || strings.TrimSpace(string(out)) != "0" {
		return
	}
	if err := exec.Command(c.o.Docker, "network", "rm", kindNetwork).Run(); err == nil {
		c.o.logf()("removed Docker network %q (created by this run)", kindNetwork)
	}
}

// Delete deletes the cluster and its kubeconfig file.
func (c *Cluster) Delete() error {
	start := time.Now()
	if err := c.kind.Delete(c.o.Name, c.o.Kubeconfig); err != nil {
		return fmt.Errorf("deleting kind cluster %q: %w; or run: %s", c.o.Name, err, c.CleanupCommand())
	}
	if c.o.Kubeconfig != "" {
		_ = os.Remove(c.o.Kubeconfig)
	}
	c.created = false
	c.removeNetwork()
	c.o.logf()("deleted kind cluster %q in %s", c.o.Name, time.Since(start).Round(100*time.Millisecond))
	return nil
}

// ExportLogs collects node logs (journal, containerd, pods) into dir.
func (c *Cluster) ExportLogs(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return c.kind.CollectLogs(c.o.Name, dir)
}

func (c *Cluster) writeKubeconfig() error {
	p, ok := c.kind.(*cluster.Provider)
	if !ok || c.o.Kubeconfig == "" {
		return nil
	}
	return p.ExportKubeConfig(c.o.Name, c.o.Kubeconfig, false)
}

// LoadImages copies images from the local engine into every node (one
// `docker save` per node: a stream is read once).
func (c *Cluster) LoadImages(ctx context.Context, refs ...string) error {
	ns, err := c.kind.ListNodes(c.o.Name)
	if err != nil {
		return err
	}
	for _, ref := range refs {
		for _, n := range ns {
			if err := c.saveInto(ctx, ref, n); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *Cluster) saveInto(ctx context.Context, ref string, n nodes.Node) error {
	cmd := exec.CommandContext(ctx, c.o.Docker, "save", ref)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	lerr := c.loadArchive(out, ref, n)
	werr := cmd.Wait()
	if werr != nil {
		return fmt.Errorf("docker save %s: %w: %s (is the image in the local engine? docker images %s)", ref, werr, stderr.String(), ref)
	}
	return lerr
}

// LoadArchives loads image archives (`docker save` or OCI tarballs) into
// every node: the air-gapped path, no engine image store needed.
func (c *Cluster) LoadArchives(paths ...string) error {
	ns, err := c.kind.ListNodes(c.o.Name)
	if err != nil {
		return err
	}
	for _, p := range paths {
		for _, n := range ns {
			f, err := os.Open(p)
			if err != nil {
				return fmt.Errorf("image archive: %w", err)
			}
			err = c.loadArchive(f, p, n)
			f.Close()
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *Cluster) loadArchive(r io.Reader, what string, n nodes.Node) error {
	start := time.Now()
	if err := nodeutils.LoadImageArchive(n, r); err != nil {
		return fmt.Errorf("loading %s into node %s: %w", what, n.String(), err)
	}
	c.o.logf()("loaded %s into %s in %s", what, n.String(), time.Since(start).Round(100*time.Millisecond))
	return nil
}

// Node runs commands on the control-plane node (the one with kubectl's
// admin kubeconfig).
func (c *Cluster) Node() (nodes.Node, error) {
	ns, err := c.kind.ListNodes(c.o.Name)
	if err != nil {
		return nil, err
	}
	if len(ns) == 0 {
		return nil, fmt.Errorf("kind cluster %q has no nodes", c.o.Name)
	}
	cps, err := nodeutils.ControlPlaneNodes(ns)
	if err != nil || len(cps) == 0 {
		return nil, fmt.Errorf("kind cluster %q has no control-plane node among %d nodes: %v", c.o.Name, len(ns), err)
	}
	return cps[0], nil
}

// checkNodeCount refuses a reused cluster whose node count is not the one
// asked for: the suites would judge a different topology than reported.
func (c *Cluster) checkNodeCount() error {
	ns, err := c.kind.ListNodes(c.o.Name)
	if err != nil {
		return fmt.Errorf("listing the nodes of %q: %w", c.o.Name, err)
	}
	if len(ns) != c.o.nodes() {
		return fmt.Errorf("kind cluster %q has %d nodes, not the %d asked for (--nodes %d); delete it (dfe2e cluster delete --name %s) or pass --nodes %d", c.o.Name, len(ns), c.o.nodes(), c.o.nodes(), c.o.Name, len(ns))
	}
	return nil
}

// logger forwards kind's status lines to Logf.
type logger struct{ logf Logf }

func (l logger) Warn(m string)                        { l.logf("kind: %s", m) }
func (l logger) Warnf(f string, a ...any)             { l.logf("kind: "+f, a...) }
func (l logger) Error(m string)                       { l.logf("kind: %s", m) }
func (l logger) Errorf(f string, a ...any)            { l.logf("kind: "+f, a...) }
func (l logger) V(v kindlog.Level) kindlog.InfoLogger { return infoLogger{l, v == 0} }

type infoLogger struct {
	l  logger
	on bool
}

func (i infoLogger) Enabled() bool { return i.on }
func (i infoLogger) Info(m string) {
	if i.on && strings.TrimSpace(m) != "" {
		i.l.logf("kind: %s", strings.TrimSpace(m))
	}
}
func (i infoLogger) Infof(f string, a ...any) { i.Info(fmt.Sprintf(f, a...)) }
