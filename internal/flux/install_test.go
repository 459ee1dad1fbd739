package flux

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
)

// sharedManifests is the offline flux2 copy on this project's machines.
func sharedManifests(t *testing.T) string {
	dir := config.FromEnv().FluxManifests
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "upstream", "flux", Version, "manifests")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("no offline Flux manifests (%s): set %s", dir, config.EnvFluxManifests)
	}
	return dir
}

func TestManifestsOffline(t *testing.T) {
	dir := sharedManifests(t)
	doc, err := Manifests(Options{ManifestsDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	objs, err := Decode(doc)
	if err != nil {
		t.Fatal(err)
	}
	imgs := Images(objs)
	slices.Sort(imgs)
	want := []string{Registry + "/kustomize-controller:" + KustomizeControllerVersn, Registry + "/source-controller:" + SourceControllerVersion}
	if !slices.Equal(imgs, want) {
		t.Fatalf("images %v, want %v", imgs, want)
	}
	crds := map[string]bool{}
	for _, o := range objs {
		if o.GetKind() == "CustomResourceDefinition" {
			crds[o.GetName()] = true
		}
		if o.GetNamespace() != "" && o.GetNamespace() != Namespace {
			t.Errorf("%s %s outside %s", o.GetKind(), o.GetName(), Namespace)
		}
	}
	for _, c := range []string{"gitrepositories.source.toolkit.fluxcd.io", "kustomizations.kustomize.toolkit.fluxcd.io"} {
		if !crds[c] {
			t.Errorf("CRD %s missing", c)
		}
	}
	if crds["helmreleases.helm.toolkit.fluxcd.io"] {
		t.Error("helm-controller CRDs rendered although only source and kustomize controllers were asked for")
	}
	// Generate writes into its base: the offline folder must stay untouched.
	if _, err := os.Stat(filepath.Join(dir, "gotk-components.yaml")); err == nil {
		t.Fatalf("Generate wrote into the offline folder %s", dir)
	}
}

func TestManifestsDirMissingFiles(t *testing.T) {
	_, err := Manifests(Options{ManifestsDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "source-controller.yaml") || !strings.Contains(err.Error(), config.EnvFluxManifests) {
		t.Fatalf("want an error naming the missing file and %s, got %v", config.EnvFluxManifests, err)
	}
}
