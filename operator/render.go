package operator

import (
	"context"
	"embed"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
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
	if err := writeBundleFiles(fsys, dir, data, o.DragonflyImage); err != nil {
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
	return writeBundleFiles(filesys.MakeFsOnDisk(), dir, data, o.DragonflyImage)
}

// MaterializeFS is Materialize into a kustomize filesystem (e.g. in-memory).
func MaterializeFS(ctx context.Context, version string, o SourceOptions, fsys filesys.FileSystem, dir string) error {
	data, _, err := Fetch(ctx, version, o)
	if err != nil {
		return err
	}
	return writeBundleFiles(fsys, dir, data, o.DragonflyImage)
}

func writeBundleFiles(fsys filesys.FileSystem, dir string, manifest []byte, dragonflyImage string) error {
	if err := fsys.MkdirAll(dir); err != nil {
		return err
	}
	kust := Kustomization()
	if dragonflyImage != "" {
		p, err := dragonflyImagePatch(manifest, dragonflyImage)
		if err != nil {
			return err
		}
		kust = append(append([]byte{}, kust...), p...)
	}
	if err := fsys.WriteFile(filepath.Join(dir, "kustomization.yaml"), kust); err != nil {
		return err
	}
	return fsys.WriteFile(filepath.Join(dir, ManifestFile), manifest)
}

// dragonflyImagePatch is a patches entry (the relocating kustomization ends
// with its patches list) adding --dragonfly-image to the manager container.
// A JSON patch appends to args without restating upstream's own, so it
// needs the container's index, read from the manifest itself.
func dragonflyImagePatch(manifest []byte, image string) ([]byte, error) {
	if strings.ContainsAny(image, " \n\"'") {
		return nil, fmt.Errorf("dragonfly image %q: not an image reference", image)
	}
	for _, doc := range strings.Split(string(manifest), "\n---") {
		var u unstructured.Unstructured
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil || u.GetKind() != "Deployment" || u.GetName() != DeploymentName {
			continue
		}
		cs, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
		for i, c := range cs {
			if m, ok := c.(map[string]any); ok && m["name"] == ManagerContainer {
				if _, has := m["args"]; !has {
					return nil, fmt.Errorf("operator manifest: container %s of Deployment %s has no args to extend", ManagerContainer, DeploymentName)
				}
				return []byte(fmt.Sprintf(`  # The environment's Dragonfly image (see SourceOptions.DragonflyImage).
  - target:
      kind: Deployment
      name: %s
    patch: |-
      - op: add
        path: /spec/template/spec/containers/%d/args/-
        value: --dragonfly-image=%s
`, DeploymentName, i, image)), nil
			}
		}
	}
	return nil, fmt.Errorf("operator manifest: no Deployment %s with a container %s to hand --dragonfly-image to", DeploymentName, ManagerContainer)
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
