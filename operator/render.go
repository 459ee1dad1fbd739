package operator

import (
	"context"
	"embed"
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

//go:embed kustomize/kustomization.yaml
var kustomizeDir embed.FS

// Kustomization is the relocating kustomization (it lists ManifestFile as its resource).
func Kustomization() []byte {
	b, err := kustomizeDir.ReadFile("kustomize/kustomization.yaml")
	if err != nil {
		panic(err) // embedded at build time
	}
	return b
}

// Bundle is the relocated operator of one version.
type Bundle struct {
	Version string
	Origin  string // where the verified upstream manifest came from
	YAML    []byte // multi-document YAML, as kustomize build prints it
	Objects []*unstructured.Unstructured
}

// Render fetches and verifies the upstream manifest of version and relocates it.
func Render(ctx context.Context, version string, o SourceOptions) (*Bundle, error) {
	data, origin, err := Fetch(ctx, version, o)
	if err != nil {
		return nil, err
	}
	fsys := filesys.MakeFsInMemory()
	const dir = "/bundle"
	if err := writeBundleFiles(fsys, dir, data); err != nil {
		return nil, err
	}
	objs, yml, err := Build(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("relocating operator %s (from %s): %w", version, origin, err)
	}
	return &Bundle{Version: version, Origin: origin, YAML: yml, Objects: objs}, nil
}

// Materialize writes the relocating kustomization and the verified upstream
// manifest of version into dir (created if needed), so dir is a kustomize root.
func Materialize(ctx context.Context, version string, o SourceOptions, dir string) error {
	data, _, err := Fetch(ctx, version, o)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return writeBundleFiles(filesys.MakeFsOnDisk(), dir, data)
}

// MaterializeFS is Materialize into a kustomize filesystem (e.g. in-memory).
func MaterializeFS(ctx context.Context, version string, o SourceOptions, fsys filesys.FileSystem, dir string) error {
	data, _, err := Fetch(ctx, version, o)
	if err != nil {
		return err
	}
	return writeBundleFiles(fsys, dir, data)
}

func writeBundleFiles(fsys filesys.FileSystem, dir string, manifest []byte) error {
	if err := fsys.MkdirAll(dir); err != nil {
		return err
	}
	if err := fsys.WriteFile(filepath.Join(dir, "kustomization.yaml"), Kustomization()); err != nil {
		return err
	}
	return fsys.WriteFile(filepath.Join(dir, ManifestFile), manifest)
}

// Build runs kustomize on dir of fsys and returns the objects and their YAML.
func Build(fsys filesys.FileSystem, dir string) ([]*unstructured.Unstructured, []byte, error) {
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fsys, dir)
	if err != nil {
		return nil, nil, err
	}
	yml, err := m.AsYaml()
	if err != nil {
		return nil, nil, err
	}
	objs := make([]*unstructured.Unstructured, 0, m.Size())
	for _, r := range m.Resources() {
		// Through JSON so numbers are int64/float64, as unstructured expects.
		js, err := r.MarshalJSON()
		if err != nil {
			return nil, nil, err
		}
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(js); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", r.CurId(), err)
		}
		objs = append(objs, obj)
	}
	return objs, yml, nil
}
