// Package operatorpods finds the operator's pods, waits for them and says
// what keeps them from running.
package operatorpods

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/imagepull"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/instance"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/podwait"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
	"github.com/dragonfly-e2e/dragonfly-e2e/verdict"
)

// Labels select the operator's pods (the upstream Deployment's selector;
// there is no app.kubernetes.io/name=dragonfly-operator label).
var Labels = client.MatchingLabels{"control-plane": "controller-manager"}

// List returns the operator's pods in its namespace.
func List(ctx context.Context, c client.Reader) ([]corev1.Pod, error) {
	var pods corev1.PodList
	err := c.List(ctx, &pods, client.InNamespace(operator.Namespace), Labels)
	return pods.Items, err
}

// Running waits until an operator pod is Ready; when its image cannot be
// pulled it returns a verdict.BlockedMessage naming the images the node
// lacks, with the remedy.
func Running(ctx context.Context, c client.Reader, cs kubernetes.Interface) (blocked string, err error) {
	var seen []corev1.Pod
	err = podwait.WaitPods(ctx, podwait.FromReader(c).WithLogs(cs), "the operator pod (control-plane=controller-manager) in "+operator.Namespace+" to be Ready",
		wait.ImagePullVerdict, operator.Namespace, labels.SelectorFromSet(labels.Set(Labels)),
		func(_ context.Context, pods []corev1.Pod) (bool, string, error) {
			seen = pods
			for i := range pods {
				if instance.PodReady(&pods[i]) {
					return true, "", nil
				}
			}
			return false, fmt.Sprintf("%d operator pods, none Ready", len(pods)), nil
		})
	var be *imagepull.BlockedError
	if errors.As(err, &be) {
		return verdict.BlockedMessage(
			"the operator cannot start: "+be.Failure.String()+"; images its pod needs that the node lacks: "+strings.Join(ImagesNotOnNode(ctx, c, seen), ", ")+
				"; the instance then needs the Dragonfly image (spec.image, default docker.dragonflydb.io/dragonflydb/dragonfly at the operator's pinned tag)",
			"supply the images offline: dfe2e e2e --image-archive=<docker save of each> (or --load-image from the local Docker engine); "+
				"to use other images, set "+config.EnvOperatorImage+" and "+config.EnvDragonflyImage+" — the same specs then run unchanged"), nil
	}
	return "", err
}

// ImagesNotOnNode lists the container images (init containers first) of
// pods that their node does not hold, each once.
func ImagesNotOnNode(ctx context.Context, c client.Reader, pods []corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		var n corev1.Node
		if err := c.Get(ctx, client.ObjectKey{Name: p.Spec.NodeName}, &n); err != nil {
			continue
		}
		for _, ct := range append(append([]corev1.Container{}, p.Spec.InitContainers...), p.Spec.Containers...) {
			if !imagepull.OnNode(n, ct.Image) && !slices.Contains(out, ct.Image) {
				out = append(out, ct.Image)
			}
		}
	}
	return out
}

// SetImage points the operator Deployment's manager container at img.
func SetImage(ctx context.Context, c client.Client, img string) error {
	var d appsv1.Deployment
	if err := c.Get(ctx, client.ObjectKey{Namespace: operator.Namespace, Name: operator.DeploymentName}, &d); err != nil {
		return err
	}
	for i := range d.Spec.Template.Spec.Containers {
		if d.Spec.Template.Spec.Containers[i].Name == "manager" {
			d.Spec.Template.Spec.Containers[i].Image = img
		}
	}
	return c.Update(ctx, &d)
}
