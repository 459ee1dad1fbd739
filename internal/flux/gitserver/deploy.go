package gitserver

import (
	"context"
	"errors"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/checks/installcheck"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/imagepull"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/podwait"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
)

// In-cluster names.
const (
	Name      = "dfe2e-gitserver"
	RepoName  = "fixtures.git"
	port      = 8080
	treeKey   = "tree.tar.gz"
	revisionA = "dragonfly-e2e.io/revision"
)

// Served is a repository running in the cluster.
type Served struct {
	URL      string // in-cluster clone URL
	Revision string // what Flux must report once it fetched this tree
	Objects  []*unstructured.Unstructured
}

// Objects are the namespace, tree ConfigMap, Deployment and Service that
// serve files from namespace ns with image.
func Objects(ns, image string, files map[string][]byte) (*Served, error) {
	repo, err := NewRepo(files)
	if err != nil {
		return nil, err
	}
	tgz, err := TarGz(files)
	if err != nil {
		return nil, err
	}
	// A ConfigMap holds at most 1 MiB; the bundled operator tree is ≈50 KiB gzipped.
	if len(tgz) > 900<<10 {
		return nil, fmt.Errorf("gitserver: tree archive is %d KiB, above what one ConfigMap holds (900 KiB)", len(tgz)>>10)
	}
	labels := map[string]string{"app.kubernetes.io/name": Name}
	objs := []runtime.Object{
		&corev1.Namespace{TypeMeta: tm("v1", "Namespace"), ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.ConfigMap{TypeMeta: tm("v1", "ConfigMap"), ObjectMeta: metav1.ObjectMeta{Name: Name + "-tree", Namespace: ns, Labels: labels,
			Annotations: map[string]string{revisionA: repo.Revision()}}, BinaryData: map[string][]byte{treeKey: tgz}},
		&appsv1.Deployment{TypeMeta: tm("apps/v1", "Deployment"), ObjectMeta: metav1.ObjectMeta{Name: Name, Namespace: ns, Labels: labels},
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To[int32](1),
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					// A new tree rolls the pod (the server reads the tree once).
					ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{revisionA: repo.Revision()}},
					Spec: corev1.PodSpec{
						SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](65534)},
						Containers: []corev1.Container{{
							Name: "server", Image: image, ImagePullPolicy: corev1.PullIfNotPresent,
							Args:  []string{"-tree=/tree/" + treeKey, "-repo=" + RepoName, fmt.Sprintf("-listen=:%d", port)},
							Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: port}},
							ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(port)}},
								PeriodSeconds: 2},
							SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true),
								Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
							VolumeMounts: []corev1.VolumeMount{{Name: "tree", MountPath: "/tree", ReadOnly: true}},
						}},
						Volumes: []corev1.Volume{{Name: "tree", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
							LocalObjectReference: corev1.LocalObjectReference{Name: Name + "-tree"}}}}},
					},
				},
			}},
		&corev1.Service{TypeMeta: tm("v1", "Service"), ObjectMeta: metav1.ObjectMeta{Name: Name, Namespace: ns, Labels: labels},
			Spec: corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(port)}}}},
	}
	s := &Served{URL: fmt.Sprintf("http://%s.%s.svc.cluster.local/%s", Name, ns, RepoName), Revision: repo.Revision()}
	for _, o := range objs {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
		if err != nil {
			return nil, err
		}
		u := &unstructured.Unstructured{Object: m}
		unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
		unstructured.RemoveNestedField(u.Object, "spec", "template", "metadata", "creationTimestamp")
		unstructured.RemoveNestedField(u.Object, "status")
		s.Objects = append(s.Objects, u)
	}
	return s, nil
}

func tm(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}

// Deploy applies Objects and waits until the server answers its readiness
// probe. A server image the node cannot get ends the wait at once as
// *imagepull.BlockedError saying how to load it; a server that crashed, as
// *imagepull.CrashError.
func Deploy(ctx context.Context, c client.Client, ns, image string, files map[string][]byte) (*Served, error) {
	s, err := Objects(ns, image, files)
	if err != nil {
		return nil, err
	}
	if err := installcheck.Apply(ctx, c, s.Objects); err != nil {
		return nil, fmt.Errorf("deploying the git server: %w", err)
	}
	what := fmt.Sprintf("git server Deployment %s/%s (serving %s) to be Available", ns, Name, s.Revision)
	sel := labels.SelectorFromSet(labels.Set{"app.kubernetes.io/name": Name})
	err = podwait.WaitPods(ctx, podwait.FromReader(c), what, wait.DeploymentAvailable, ns, sel,
		func(_ context.Context, pods []corev1.Pod) (bool, string, error) {
			// Done when every server pod (old ones of a previous tree included)
			// is gone but a ready one serving this revision: Flux must not
			// fetch the old tree through the Service.
			ready := 0
			for _, p := range pods {
				if p.Annotations[revisionA] != s.Revision {
					return false, podStates(pods), nil
				}
				for _, c := range p.Status.Conditions {
					if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue && p.DeletionTimestamp == nil {
						ready++
					}
				}
			}
			return ready == 1 && len(pods) == 1, podStates(pods), nil
		})
	var be *imagepull.BlockedError
	if errors.As(err, &be) {
		// The image is built locally, not pulled: the generic remedy would mislead.
		return nil, fmt.Errorf("waiting for %s: %w", what, &imagepull.BlockedError{Failure: be.Failure,
			Remedy: "the git server image is built locally: load it into the cluster (dfe2e e2e does) or set " + config.EnvGitServerImage})
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

func podStates(pods []corev1.Pod) string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name+" "+string(p.Status.Phase)+" serving "+p.Annotations[revisionA])
	}
	if len(out) == 0 {
		return "no pods yet"
	}
	return strings.Join(out, ", ")
}
