// Package imagepull tells, from pod status alone, that a container can never
// start because its image cannot be had: the node cannot pull it and nobody
// loaded it. Specs use it to end as blocked within seconds instead of waiting
// out a Flux or Deployment timeout.
package imagepull

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/verdict"
)

// pullReasons are the kubelet's waiting reasons for an image it cannot get.
var pullReasons = map[string]bool{
	"ErrImagePull":      true,
	"ImagePullBackOff":  true,
	"ErrImageNeverPull": true,
}

// Failure is one container waiting on an image it cannot get.
type Failure struct {
	Pod, Container, Image, Reason, Message string
	// Others are further images of the same pods that cannot be pulled.
	Others []string
}

func (f *Failure) String() string {
	msg := f.Message
	if len(msg) > 200 {
		msg = msg[:197] + "..."
	}
	s := fmt.Sprintf("image %s cannot be pulled (pod %s, container %s: %s", f.Image, f.Pod, f.Container, f.Reason)
	if msg != "" {
		s += ": " + msg
	}
	s += ")"
	if len(f.Others) > 0 {
		s += "; also cannot be pulled: " + strings.Join(f.Others, ", ")
	}
	return s
}

// Remedy says how to supply an image the node cannot pull.
func Remedy(image string) string {
	return fmt.Sprintf("supply it offline: dfe2e e2e --image-archive=<docker save of %s> (or --load-image %s from the local Docker engine), or override the image to one the node has", image, image)
}

// BlockedMessage is the Skip message of a spec blocked by f.
func (f *Failure) BlockedMessage(what string) string {
	return verdict.BlockedMessage(what+": "+f.String(), Remedy(f.Image))
}

// Failing returns the first container (init containers included) of pods
// that waits on an image the node cannot get, or nil; other such images are
// listed in Others.
func Failing(pods []corev1.Pod) *Failure {
	var first *Failure
	for _, p := range pods {
		images := map[string]string{}
		for _, c := range append(append([]corev1.Container{}, p.Spec.InitContainers...), p.Spec.Containers...) {
			images[c.Name] = c.Image
		}
		for _, st := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
			if st.State.Waiting == nil || !pullReasons[st.State.Waiting.Reason] {
				continue
			}
			img := images[st.Name]
			if img == "" {
				img = st.Image
			}
			switch {
			case first == nil:
				first = &Failure{Pod: p.Namespace + "/" + p.Name, Container: st.Name, Image: img,
					Reason: st.State.Waiting.Reason, Message: st.State.Waiting.Message}
			case img != first.Image && !slices.Contains(first.Others, img):
				first.Others = append(first.Others, img)
			}
		}
	}
	return first
}

// OnNode reports whether the node's image list (status.images) holds image.
// Short names are compared the way containerd stores them (docker.io/library/).
func OnNode(node corev1.Node, image string) bool {
	want := normalize(image)
	for _, im := range node.Status.Images {
		for _, n := range im.Names {
			if normalize(n) == want {
				return true
			}
		}
	}
	return false
}

func normalize(ref string) string {
	if i := strings.Index(ref, "@"); i >= 0 && !strings.Contains(ref[:i], ":") {
		return ref
	}
	first, _, found := strings.Cut(ref, "/")
	if !found || (!strings.ContainsAny(first, ".:") && first != "localhost") {
		if !found {
			ref = "library/" + ref
		}
		ref = "docker.io/" + ref
	}
	if !strings.Contains(ref[strings.LastIndex(ref, "/")+1:], ":") && !strings.Contains(ref, "@") {
		ref += ":latest"
	}
	return ref
}
