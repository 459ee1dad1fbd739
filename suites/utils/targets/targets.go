// Package targets is what the data suites run against: the CRD-managed
// Dragonfly instance or the redis-server stand-in. The specs are the same
// for both.
package targets

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/standin"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/imagepull"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/podwait"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
	"github.com/dragonfly-e2e/dragonfly-e2e/verdict"
)

// Target is one data-plane target.
type Target interface {
	// Label names the target in spec texts and metrics.
	Label() string
	// StandIn is "" for Dragonfly, else the stand-in's description.
	StandIn() string
	// Deploy creates the target and waits until it serves; blocked is a
	// verdict.BlockedMessage when an image cannot be had.
	Deploy(ctx context.Context) (blocked string, err error)
	// Master waits until the target serves from a container started after
	// since (so a stale Ready status after a disruption does not count) and
	// returns the pod that takes writes.
	Master(ctx context.Context, since time.Time) (*corev1.Pod, error)
	// Scale sets the number of pods (0 and back is a disruption).
	Scale(ctx context.Context, n int32) error
	// PodsGone is a wait condition: no pod of the target is left.
	PodsGone(ctx context.Context) (bool, string, error)
	Container() string
	DataPort() int
	// AdminPort is where SAVE goes (Dragonfly's admin port).
	AdminPort() int
	SnapshotDir() string
	// LsCommand lists the snapshot dir's files, one per line.
	LsCommand() []string
	// Save takes a snapshot now through c (connected to AdminPort).
	Save(ctx context.Context, c *redis.Client) error
	Teardown(ctx context.Context)
}

// Env is what a target works with. Targets hold a pointer: they are made
// when the spec tree is built, the clients only once the cluster is up.
type Env struct {
	Client    client.Client
	Clientset kubernetes.Interface
	// Config opens port-forwards and execs (no client timeout: they are
	// long-lived streams bounded by their contexts).
	Config *rest.Config
	// Provider is the cluster provider's name: only on "kind" are missing
	// images loaded into the node.
	Provider string
	Logf     func(format string, args ...any)
	// DataPlaneStandIn is the stand-in serving CRD-managed instances, or "".
	DataPlaneStandIn string
	// OperatorImage, when set, replaces the operator's manager image.
	OperatorImage string
	// StorageClass, when set, is the class of every PVC a target creates
	// (DFE2E_STORAGE_CLASS); empty: the fixtures' own (local-path).
	StorageClass string
}

// The target keys of DFE2E_SNAPSHOT_TARGET.
const (
	DragonflyKey = "dragonfly"
	StandInKey   = standin.TargetName
)

// Keys are the targets every data suite knows, in spec order.
var Keys = []string{DragonflyKey, StandInKey}

// Selected reads a DFE2E_SNAPSHOT_TARGET value: a comma list of keys,
// Dragonfly when empty.
func Selected(setting string) []string {
	if setting == "" {
		return []string{DragonflyKey}
	}
	var out []string
	for _, s := range strings.Split(setting, ",") {
		out = append(out, strings.TrimSpace(s))
	}
	return out
}

// NotSelected is why key's specs skip under setting, or "" when it runs.
func NotSelected(key, setting string) string {
	sel := Selected(setting)
	for _, k := range sel {
		if k == key {
			return ""
		}
	}
	return fmt.Sprintf("snapshot target %s not selected (%s=%s; set %s=dragonfly,%s to run both)",
		key, config.EnvSnapshotTarget, strings.Join(sel, ","), config.EnvSnapshotTarget, StandInKey)
}

// CheckSelected fails on a key no target answers to.
func CheckSelected(setting string) error {
	for _, k := range Selected(setting) {
		if k != DragonflyKey && k != StandInKey {
			return fmt.Errorf("%s=%q: unknown target %q; use dragonfly and/or %s", config.EnvSnapshotTarget, setting, k, StandInKey)
		}
	}
	return nil
}

// StartedAfter reports whether container c of p is running since after t
// (truncated to seconds, as the API reports it).
func StartedAfter(p *corev1.Pod, c string, t time.Time) bool {
	for _, st := range p.Status.ContainerStatuses {
		if st.Name == c && st.State.Running != nil {
			return !st.State.Running.StartedAt.Time.Before(t.Truncate(time.Second))
		}
	}
	return false
}

// PodsBlocked waits until the selected pods either run a container or show
// that an image cannot be had (then: a blocked message, with the remedy).
func PodsBlocked(ctx context.Context, c client.Reader, cs kubernetes.Interface, ns string, sel map[string]string, what string) (string, error) {
	err := podwait.WaitPods(ctx, podwait.FromReader(c).WithLogs(cs), what+": pods to start or show an image they cannot get", wait.ImagePullVerdict,
		ns, labels.SelectorFromSet(sel), func(_ context.Context, pods []corev1.Pod) (bool, string, error) {
			return AnyRunning(pods), fmt.Sprintf("%d pods, no container running yet", len(pods)), nil
		})
	var be *imagepull.BlockedError
	if errors.As(err, &be) {
		return verdict.BlockedMessage(what+" cannot start: "+be.Failure.String(),
			imagepull.Remedy(be.Failure.Image)+"; or set "+config.EnvDragonflyImage+" to an image the node has"), nil
	}
	return "", err
}

// AnyRunning reports whether a container of any of pods runs.
func AnyRunning(pods []corev1.Pod) bool {
	for _, p := range pods {
		for _, c := range p.Status.ContainerStatuses {
			if c.State.Running != nil {
				return true
			}
		}
	}
	return false
}
