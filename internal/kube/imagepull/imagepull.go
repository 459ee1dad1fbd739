// Package imagepull tells, from pod status alone, why the containers of a
// workload do not run: one that started and crashed (a failure), or one whose
// image cannot be had — the node cannot pull it and nobody loaded it (blocked).
// Specs use it to end within seconds instead of waiting out a Flux or
// Deployment timeout. A crash always wins over a missing image: blocked means
// only "could not start for lack of an image" and must never hide a failure.
package imagepull

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/dragonfly-e2e/dragonfly-e2e/verdict"
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
	s := fmt.Sprintf("image %s cannot be pulled (pod %s, container %s: %s", f.Image, f.Pod, f.Container, f.Reason)
	if msg := clip(f.Message, 200); msg != "" {
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

// ErrBlocked matches every *BlockedError with errors.Is.
var ErrBlocked = errors.New("blocked: an image cannot be pulled")

// ErrCrashed matches every *CrashError with errors.Is.
var ErrCrashed = errors.New("a container crashed")

// BlockedError ends a wait whose pods cannot start for lack of an image while
// nothing that could start has failed: the verdict is blocked, not failed.
type BlockedError struct {
	Failure *Failure
	// Remedy replaces Remedy(image) when the caller knows better (an image
	// the suite builds itself).
	Remedy string
}

func (e *BlockedError) remedy() string {
	if e.Remedy != "" {
		return e.Remedy
	}
	return Remedy(e.Failure.Image)
}

func (e *BlockedError) Error() string { return e.Failure.String() + " — " + e.remedy() }

// Is makes errors.Is(err, ErrBlocked) true for any BlockedError.
func (e *BlockedError) Is(target error) bool { return target == ErrBlocked }

// BlockedMessage is the Skip message of a spec blocked by e.
func (e *BlockedError) BlockedMessage(what string) string {
	return verdict.BlockedMessage(what+": "+e.Failure.String(), e.remedy())
}

// CrashError ends a wait because a container started and failed: the
// verdict is failed, whatever images of the same pods are also missing.
type CrashError struct {
	Pod, Container string
	Restarts       int32
	// Waiting is the container's current waiting reason (CrashLoopBackOff), if any.
	Waiting string
	// Reason, ExitCode and Message are those of the failed run; Reason is
	// empty when the kubelet no longer reports it.
	Reason   string
	ExitCode int32
	Message  string
	// Previous is true when the failed run is the previous one (the container
	// restarted since): its log is the previous log.
	Previous bool
	// LogTail is the end of the failed run's log, when it could be read.
	LogTail string
	// Others are further crashed containers, as "pod/container".
	Others []string
	// Unpulled is an image of the same pods that also cannot be pulled. It is
	// named so it is not lost, but it does not make the verdict blocked.
	Unpulled *Failure
}

func (e *CrashError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "container %s of pod %s crashed: restarted %d times", e.Container, e.Pod, e.Restarts)
	if e.Waiting != "" {
		b.WriteString(", now " + e.Waiting)
	}
	if e.Reason != "" {
		fmt.Fprintf(&b, ", last run ended %s with exit code %d", e.Reason, e.ExitCode)
		if msg := clip(e.Message, 300); msg != "" {
			b.WriteString(": " + msg)
		}
	}
	if len(e.Others) > 0 {
		b.WriteString("; also crashed: " + strings.Join(e.Others, ", "))
	}
	if e.Unpulled != nil {
		b.WriteString("; besides, " + e.Unpulled.String() + " — not blocked: a container that started has failed")
	}
	if e.LogTail != "" {
		which := "log"
		if e.Previous {
			which = "previous log"
		}
		b.WriteString("; " + which + " of " + e.Container + ":\n" + e.LogTail)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrCrashed) true for any CrashError.
func (e *CrashError) Is(target error) bool { return target == ErrCrashed }

// Check says why the containers of pods do not run, in the order that keeps a
// failure from reading as blocked: a container that started and failed
// (*CrashError), else an image that cannot be pulled (*BlockedError), else nil.
func Check(pods []corev1.Pod) error {
	if c := Crashing(pods); c != nil {
		c.Unpulled = unpulled(pods)
		return c
	}
	if f := unpulled(pods); f != nil {
		return &BlockedError{Failure: f}
	}
	return nil
}

// Failing returns the first container (init containers included) of pods
// that waits on an image the node cannot get, or nil; other such images are
// listed in Others. It is nil as well when a container of pods crashed: the
// pods are then failing, not blocked.
func Failing(pods []corev1.Pod) *Failure {
	if Crashing(pods) != nil {
		return nil
	}
	return unpulled(pods)
}

// Crashing returns the first container of pods that started and failed —
// it restarted, its last run ended in error, it ended non-zero, or it waits in
// CrashLoopBackOff — or nil; further ones are listed in Others. Pods being
// deleted are ignored: their containers were stopped on purpose.
func Crashing(pods []corev1.Pod) *CrashError {
	var first *CrashError
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		inits := len(p.Status.InitContainerStatuses)
		for i, st := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
			c := crashOf(st, i < inits)
			if c == nil {
				continue
			}
			c.Pod = p.Namespace + "/" + p.Name
			if first == nil {
				first = c
			} else {
				first.Others = append(first.Others, c.Pod+"/"+c.Container)
			}
		}
	}
	return first
}

// nodeRestart is the termination reason the kubelet gives containers lost to
// a node or runtime restart: the container itself did not fail.
const nodeRestart = "Unknown"

func crashOf(st corev1.ContainerStatus, init bool) *CrashError {
	c := &CrashError{Container: st.Name, Restarts: st.RestartCount}
	if w := st.State.Waiting; w != nil && w.Reason == "CrashLoopBackOff" {
		c.Waiting = w.Reason
	}
	last := st.LastTerminationState.Terminated
	if t := st.State.Terminated; t != nil && t.Reason != nodeRestart && (t.ExitCode != 0 || t.Reason == "Error") {
		c.Reason, c.ExitCode, c.Message = t.Reason, t.ExitCode, t.Message
		return c
	}
	// From here on the failed run, if any, is the previous one.
	c.Previous = true
	if last != nil {
		c.Reason, c.ExitCode, c.Message = last.Reason, last.ExitCode, last.Message
	}
	switch {
	case c.Waiting != "":
		return c
	case last != nil && last.Reason == nodeRestart:
		return nil
	case init && last != nil && last.ExitCode == 0:
		// A finished init container runs again only with a new sandbox.
		return nil
	case st.RestartCount > 0, last != nil:
		return c
	}
	return nil
}

func unpulled(pods []corev1.Pod) *Failure {
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

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n-3] + "..."
	}
	return s
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
