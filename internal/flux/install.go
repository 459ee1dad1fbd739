// Package flux installs Flux (source-controller and kustomize-controller)
// into a cluster through flux2's manifestgen/install, asks it to reconcile
// now (the Go equivalent of `flux reconcile kustomization --with-source`),
// and reads Kustomization and source status.
package flux

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fluxcd/flux2/v2/pkg/manifestgen/install"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/podwait"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
)

// Pinned Flux release and the controllers it ships.
const (
	Version                  = "v2.9.5"
	SourceControllerVersion  = "v1.9.5"
	KustomizeControllerVersn = "v1.9.5"
	Namespace                = "flux-system"
	Registry                 = "ghcr.io/fluxcd"
	// TierNamespace holds the Flux tier's GitRepository and Kustomizations
	// on a cluster whose Flux is the user's: apart from that Flux's own
	// objects (flux-system/flux-system, a cluster-apps of theirs …).
	TierNamespace = "dfe2e-flux"
)

// Components are the controllers this project installs.
var Components = []string{"source-controller", "kustomize-controller"}

// Options select where the manifests come from.
type Options struct {
	// ManifestsDir is an offline copy of the release manifests; empty: the
	// flux2 release is downloaded (needs GitHub).
	ManifestsDir string
}

// OptionsFromEnv reads DFE2E_FLUX_MANIFESTS.
func OptionsFromEnv() Options { return Options{ManifestsDir: config.FromEnv().FluxManifests} }

// requiredManifests are the files Generate reads for Components.
var requiredManifests = []string{"source-controller.yaml", "kustomize-controller.yaml", "rbac.yaml", "policies.yaml"}

// CheckManifestsDir says what is wrong with an offline manifests folder.
func CheckManifestsDir(dir string) error {
	for _, f := range requiredManifests {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return fmt.Errorf("Flux manifests folder %s lacks %s (%v): point --flux-manifests / %s at the manifests/ folder of an offline flux2 %s copy (e.g. ../shared/upstream/flux/%s/manifests), or leave it empty to download the release",
				dir, f, err, config.EnvFluxManifests, Version, Version)
		}
	}
	return nil
}

// Manifests renders the install YAML with install.Generate. Generate writes
// into its manifests base, so an offline folder is copied to a temp dir first
// (and the copy removed).
func Manifests(o Options) (string, error) {
	opts := install.MakeDefaultOptions()
	opts.Version = Version
	opts.Namespace = Namespace
	opts.Components = Components
	opts.ComponentsExtra = nil
	opts.Registry = Registry
	opts.Timeout = 2 * time.Minute
	base := ""
	if o.ManifestsDir != "" {
		if err := CheckManifestsDir(o.ManifestsDir); err != nil {
			return "", err
		}
		tmp, err := os.MkdirTemp("", "dfe2e-flux-manifests-")
		if err != nil {
			return "", err
		}
		defer os.RemoveAll(tmp)
		if err := copyDir(o.ManifestsDir, tmp); err != nil {
			return "", fmt.Errorf("copying Flux manifests %s: %w", o.ManifestsDir, err)
		}
		base = tmp
	}
	m, err := install.Generate(opts, base)
	if err != nil {
		if base == "" {
			return "", fmt.Errorf("generating Flux %s install manifests (download from %s): %w — offline, pass --flux-manifests / %s", Version, opts.BaseURL, err, config.EnvFluxManifests)
		}
		return "", fmt.Errorf("generating Flux %s install manifests from %s: %w", Version, o.ManifestsDir, err)
	}
	return m.Content, nil
}

func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		t := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(t, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(t, b, 0o644)
	})
}

// Decode splits multi-document YAML into objects.
func Decode(doc string) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(doc), 4096)
	var out []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		if len(u.Object) > 0 {
			out = append(out, u)
		}
	}
}

// Images lists the container images of the Deployments in objs.
func Images(objs []*unstructured.Unstructured) []string {
	var out []string
	for _, o := range objs {
		if o.GetKind() != "Deployment" {
			continue
		}
		cs, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
		for _, c := range cs {
			m, _ := c.(map[string]any)
			if img, ok := m["image"].(string); ok {
				out = append(out, img)
			}
		}
	}
	return out
}

// Install applies the manifests (CRDs Established first) and waits for
// every controller Deployment to be Available. A controller image the node
// cannot get ends the wait at once, naming it.
func Install(ctx context.Context, c client.Client, o Options) ([]*unstructured.Unstructured, error) {
	objs, err := Render(o)
	if err != nil {
		return nil, err
	}
	return objs, InstallObjects(ctx, c, objs)
}

// WaitDeployment waits (DeploymentAvailable) for ns/name to be Available with
// all replicas updated. It ends at once as *imagepull.CrashError when a
// container of its pods crashed, and as *imagepull.BlockedError when one
// waits on an image the node cannot get and nothing crashed.
func WaitDeployment(ctx context.Context, c client.Client, ns, name string) error {
	what := fmt.Sprintf("Deployment %s/%s to be Available", ns, name)
	// The selector is immutable: read it once the Deployment exists.
	var d appsv1.Deployment
	if _, err := wait.For(ctx, fmt.Sprintf("Deployment %s/%s to exist", ns, name), wait.ObjectPresent, func(ctx context.Context) (bool, string, error) {
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &d); err != nil {
			return false, err.Error(), nil
		}
		return true, "", nil
	}); err != nil {
		return err
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return fmt.Errorf("Deployment %s/%s: spec.selector: %w", ns, name, err)
	}
	return podwait.WaitPods(ctx, podwait.FromReader(c), what, wait.DeploymentAvailable, ns, sel, func(ctx context.Context, _ []corev1.Pod) (bool, string, error) {
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &d); err != nil {
			return false, err.Error(), nil
		}
		for _, cond := range d.Status.Conditions {
			if cond.Type == appsv1.DeploymentAvailable && cond.Status == corev1.ConditionTrue &&
				d.Status.ObservedGeneration == d.Generation && d.Status.UpdatedReplicas == d.Status.Replicas {
				return true, "", nil
			}
		}
		return false, fmt.Sprintf("%d/%d available", d.Status.AvailableReplicas, d.Status.Replicas), nil
	})
}
