// Package standin is the unmanaged RESP target of the snapshot suite: a
// StatefulSet of Debian's redis-server with its snapshot dir on a local-path
// PersistentVolumeClaim. It exercises the suite's machinery — dataset,
// snapshot, pod deletion, volume reuse, node restart — against a real server
// and real storage where the Dragonfly images cannot be had. It is never
// Dragonfly, and reports say so (Description).
package standin

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
)

// Description is how every report names the stand-in.
const Description = "redis-server, unmanaged — not Dragonfly"

// TargetName is the stand-in's name among the snapshot suite's targets
// (DFE2E_SNAPSHOT_TARGET; the other is "dragonfly", the CRD-managed instance).
const TargetName = "redis-standin"

// Names, container and paths of the stand-in.
const (
	Name      = "redis-standin"
	Container = "redis-server"
	Port      = 6379
	// DataMount is where the claim is mounted; SnapshotDir is on it.
	DataMount   = "/data"
	SnapshotDir = DataMount + "/snapshots"
	// OffVolumeName is the planted defect: the same server with its dir on
	// the container's filesystem, beside an unused claim.
	OffVolumeName = "redis-standin-offvol"
	OffVolumeDir  = "/var/lib/redis-snapshots"
	// GrowingName is the planted defect of snapshots that accumulate.
	GrowingName = "redis-standin-growing"
)

// Options describe one stand-in StatefulSet.
type Options struct {
	Name, Namespace, Image string
	// Dir is redis-server's --dir (the snapshot directory).
	Dir          string
	StorageClass string // default local-path
	// SavePolicy is redis-server's --save ("seconds changes"): its periodic
	// snapshot, the stand-in's counterpart of Dragonfly's snapshot cron.
	SavePolicy string
	// TimestampedSnapshots (planted defect): every snapshot is taken under
	// its own file name, so none replaces the last (the snapshot suite's
	// save step switches dbfilename before each SAVE).
	TimestampedSnapshots bool
}

// Default is the stand-in with its snapshot dir on the claim.
func Default(ns, image string) Options {
	return Options{Name: Name, Namespace: ns, Image: image, Dir: SnapshotDir, StorageClass: "local-path", SavePolicy: "5 1"}
}

// OffVolume is the planted defect: snapshot dir off the claim.
func OffVolume(ns, image string) Options {
	o := Default(ns, image)
	o.Name, o.Dir = OffVolumeName, OffVolumeDir
	return o
}

// Labels select the stand-in's pods.
func (o Options) Labels() map[string]string {
	return map[string]string{"app.kubernetes.io/name": "redis-standin", "app.kubernetes.io/instance": o.Name}
}

// Objects returns the headless Service and the StatefulSet.
func (o Options) Objects() (*corev1.Service, *appsv1.StatefulSet) {
	if o.StorageClass == "" {
		o.StorageClass = "local-path"
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: o.Name, Namespace: o.Namespace, Labels: o.Labels()},
		Spec: corev1.ServiceSpec{
			ClusterIP: corev1.ClusterIPNone,
			Selector:  o.Labels(),
			Ports:     []corev1.ServicePort{{Name: "redis", Port: Port, TargetPort: intstr.FromInt32(Port)}},
		},
	}
	one := int32(1)
	script := fmt.Sprintf(`mkdir -p %q && exec redis-server --port %d --protected-mode no --dir %q --dbfilename dump.rdb --appendonly no --save %q`,
		o.Dir, Port, o.Dir, o.SavePolicy)
	if o.TimestampedSnapshots {
		// dbfilename is a protected config in redis 7: allow CONFIG SET of it.
		script += " --enable-protected-configs yes"
	}
	probe := &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"/bin/sh", "-c", "redis-cli -p 6379 ping | grep -q PONG"}}},
		PeriodSeconds: 1, TimeoutSeconds: 2, FailureThreshold: 3,
	}
	sts := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: o.Name, Namespace: o.Namespace, Labels: o.Labels()},
		Spec: appsv1.StatefulSetSpec{
			Replicas:    &one,
			ServiceName: o.Name,
			Selector:    &metav1.LabelSelector{MatchLabels: o.Labels()},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: o.Labels()},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{
						Name:            Container,
						Image:           o.Image,
						ImagePullPolicy: corev1.PullNever, // built and loaded locally
						Command:         []string{"/bin/sh", "-c", script},
						Ports:           []corev1.ContainerPort{{Name: "redis", ContainerPort: Port}},
						ReadinessProbe:  probe,
						VolumeMounts:    []corev1.VolumeMount{{Name: "data", MountPath: DataMount}},
					}},
				},
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{
					StorageClassName: &o.StorageClass,
					AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
				},
			}},
		},
	}
	return svc, sts
}

// LoadIntoKindNode imports a docker-save archive into a kind node's
// containerd (the node name is its container name).
func LoadIntoKindNode(ctx context.Context, docker, node, archive string) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := exec.CommandContext(ctx, docker, "exec", "-i", node, "ctr", "--namespace=k8s.io", "images", "import", "--digests", "--snapshotter=overlayfs", "-")
	cmd.Stdin = f
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("loading %s into kind node %s: %w: %s", archive, node, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// DockerBinary is the docker client the e2e run found ($DFE2E_DOCKER), or "docker".
func DockerBinary() string {
	return config.FromEnv().DockerBinary()
}
