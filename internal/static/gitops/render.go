package gitops

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
)

// repoRoot is where the tree sits in the in-memory filesystem.
const repoRoot = "/repo"

// kustomizationFiles are the names kustomize accepts, in its order of preference.
var kustomizationFiles = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// Load renders the GitOps repository at dir. A path that is missing or not a
// directory is an error.
func Load(ctx context.Context, dir string, o Options) (*Tree, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("GitOps tree %s: %w (give the root of a GitOps repository)", dir, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("GitOps tree %s is not a directory (give the root of a GitOps repository, e.g. the directory holding kubernetes/)", dir)
	}
	return Render(ctx, os.DirFS(dir), dir, o)
}

// Render renders tree (a repository root). label names it in errors.
// Nothing is written to tree: the work happens in an in-memory copy.
func Render(ctx context.Context, tree fs.FS, label string, o Options) (*Tree, error) {
	mem, yamlFiles, kustFiles, err := copyToMemory(tree, label)
	if err != nil {
		return nil, err
	}
	t := &Tree{Root: label, OperatorVersion: o.version(), Source: o.Source}
	if t.Bundles, err = materializeBundles(ctx, mem, kustFiles, o); err != nil {
		return nil, err
	}

	// Entry points: every Flux Kustomization written in a file of the tree.
	defs := map[string]*Kustomization{}
	for _, f := range yamlFiles {
		objs, err := decodeFile(mem, f)
		if err != nil {
			return nil, err
		}
		for _, obj := range objs {
			if !isFluxKustomization(obj.Object) {
				continue
			}
			k, err := parseKustomization(obj, strings.TrimPrefix(f, repoRoot+"/"))
			if err != nil {
				return nil, err
			}
			if prev, dup := defs[k.Key()]; dup {
				return nil, fmt.Errorf("Flux Kustomization %s is defined twice: in %s and %s", k.Key(), prev.Origin, k.Origin)
			}
			defs[k.Key()] = k
		}
	}
	if len(defs) == 0 {
		return nil, fmt.Errorf("%s holds no Flux Kustomization (%s/v1 Kustomization): give the root of a GitOps repository", label, FluxGroup)
	}

	// Build every Kustomization; a build that yields a Flux Kustomization
	// replaces the file's definition with the rendered one (as applied by Flux)
	// and rebuilds it if that changed where or how it renders. Each key is
	// rebuilt at most a few times, so a cycle cannot loop forever.
	built := map[string]string{} // key → build signature
	for pass := 0; pass < 8; pass++ {
		changed := false
		keys := make([]string, 0, len(defs))
		for key := range defs {
			keys = append(keys, key)
		}
		sort.Strings(keys)
		for _, key := range keys {
			k := defs[key]
			sig := k.Path + "\x00" + k.TargetNamespace
			if built[key] == sig {
				continue
			}
			built[key] = sig
			changed = true
			if err := build(mem, k); err != nil {
				return nil, err
			}
			for _, obj := range k.Objects {
				if !isFluxKustomization(obj.Object) {
					continue
				}
				child, err := parseKustomization(obj, "rendered by "+k.Key())
				if err != nil {
					return nil, err
				}
				child.Parent = k.Key()
				if prev, ok := defs[child.Key()]; ok && prev.Parent != "" && prev.Parent != k.Key() {
					return nil, fmt.Errorf("Flux Kustomization %s is rendered by both %s and %s", child.Key(), prev.Parent, k.Key())
				}
				if prev, ok := defs[child.Key()]; ok && prev.Parent == "" && !strings.HasPrefix(prev.Origin, "rendered") {
					child.Origin = prev.Origin + ", rendered by " + k.Key()
				}
				if prev, ok := defs[child.Key()]; ok && prev.Path == child.Path && prev.TargetNamespace == child.TargetNamespace {
					child.Objects, child.PathExists = prev.Objects, prev.PathExists
				}
				defs[child.Key()] = child
			}
		}
		if !changed {
			break
		}
	}
	for _, k := range defs {
		t.Kustomizations = append(t.Kustomizations, k)
	}
	sortKustomizations(t.Kustomizations)
	t.markReachable()
	return t, nil
}

// copyToMemory copies tree into an in-memory filesystem under repoRoot and
// lists its YAML manifests and kustomization files. Hidden directories
// (.git, .github, ...) are skipped.
func copyToMemory(tree fs.FS, label string) (filesys.FileSystem, []string, []string, error) {
	mem := filesys.MakeFsInMemory()
	var yamlFiles, kustFiles []string
	err := fs.WalkDir(tree, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("reading %s: %w", filepath.Join(label, p), err)
		}
		if d.IsDir() {
			if p != "." && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir
			}
			return mem.MkdirAll(path.Join(repoRoot, p))
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := fs.ReadFile(tree, p)
		if err != nil {
			return fmt.Errorf("reading %s: %w", filepath.Join(label, p), err)
		}
		dst := path.Join(repoRoot, p)
		if err := mem.WriteFile(dst, data); err != nil {
			return err
		}
		switch {
		case isKustomizationFile(d.Name()):
			kustFiles = append(kustFiles, dst)
		case strings.HasSuffix(d.Name(), ".yaml") || strings.HasSuffix(d.Name(), ".yml"):
			yamlFiles = append(yamlFiles, dst)
		}
		return nil
	})
	return mem, yamlFiles, kustFiles, err
}

func isKustomizationFile(name string) bool {
	for _, n := range kustomizationFiles {
		if name == n {
			return true
		}
	}
	return false
}

// materializeBundles makes the operator available offline, in the in-memory tree:
//   - a BundleRef entry (and no such directory in the tree) gets the relocated
//     operator (operator/kustomize + the verified upstream manifest);
//   - an entry that is the pinned upstream URL of a release is replaced by a
//     local copy of that release, verified by sha256 (the tree's own
//     kustomization then does the relocation);
//   - any other remote entry is an error: it cannot be rendered offline.
func materializeBundles(ctx context.Context, mem filesys.FileSystem, kustFiles []string, o Options) ([]string, error) {
	var written []string
	for _, f := range kustFiles {
		name := strings.TrimPrefix(f, repoRoot+"/")
		data, err := mem.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var kust map[string]any
		if err := yaml.Unmarshal(data, &kust); err != nil {
			return nil, fmt.Errorf("%s does not parse: %w", name, err)
		}
		resources, _ := kust["resources"].([]any)
		rewritten := false
		for i, entry := range resources {
			r, _ := entry.(string)
			switch {
			case path.Clean(r) == BundleRef:
				dir := path.Join(path.Dir(f), BundleRef)
				if mem.Exists(dir) {
					continue // the tree brings its own
				}
				if err := operator.MaterializeFS(ctx, o.version(), o.Source, mem, dir); err != nil {
					return nil, fmt.Errorf("%s lists %s: %w", name, BundleRef, err)
				}
				written = append(written, strings.TrimPrefix(dir, repoRoot+"/"))
			case isRemote(r):
				version := pinnedVersionOf(r)
				if version == "" {
					return nil, fmt.Errorf("%s lists remote resource %s, which cannot be rendered offline or verified: use a pinned dragonfly-operator release URL (%s), the %s entry, or vendor the manifests into the tree",
						name, r, strings.ReplaceAll(mustPin(operator.DefaultVersion).URL, operator.DefaultVersion, "<"+strings.Join(operator.Versions(), "|")+">"), BundleRef)
				}
				manifest, _, err := operator.Fetch(ctx, version, o.Source)
				if err != nil {
					return nil, fmt.Errorf("%s lists %s: %w", name, r, err)
				}
				local := "dfe2e-upstream-" + version + "-" + operator.ManifestFile
				if err := mem.WriteFile(path.Join(path.Dir(f), local), manifest); err != nil {
					return nil, err
				}
				resources[i] = local
				rewritten = true
				written = append(written, path.Join(path.Dir(name), local))
			}
		}
		if rewritten {
			kust["resources"] = resources
			out, err := yaml.Marshal(kust)
			if err != nil {
				return nil, err
			}
			if err := mem.WriteFile(f, out); err != nil {
				return nil, err
			}
		}
	}
	return written, nil
}

func isRemote(r string) bool {
	return strings.Contains(r, "://") || strings.HasPrefix(r, "github.com/") || strings.HasPrefix(r, "git@")
}

// pinnedVersionOf returns the release whose pinned URL r is, or "".
func pinnedVersionOf(r string) string {
	for _, v := range operator.Versions() {
		if mustPin(v).URL == r {
			return v
		}
	}
	return ""
}

func mustPin(v string) operator.Pin {
	p, err := operator.Lookup(v)
	if err != nil {
		panic(err) // v comes from operator.Versions
	}
	return p
}

// decodeFile parses every document of a YAML file; documents without
// apiVersion and kind (values files, empty documents) are skipped.
func decodeFile(mem filesys.FileSystem, f string) ([]*unstructured.Unstructured, error) {
	data, err := mem.ReadFile(f)
	if err != nil {
		return nil, err
	}
	name := strings.TrimPrefix(f, repoRoot+"/")
	r := utilyaml.NewYAMLReader(bufioReader(data))
	var out []*unstructured.Unstructured
	for i := 0; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d does not parse: %w", name, i+1, err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(doc, &m); err != nil {
			return nil, fmt.Errorf("%s: document %d does not parse as YAML: %w", name, i+1, err)
		}
		if _, ok := m["apiVersion"].(string); !ok {
			continue
		}
		if _, ok := m["kind"].(string); !ok {
			continue
		}
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", name, i+1, err)
		}
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(js); err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", name, i+1, err)
		}
		out = append(out, obj)
	}
}

// build renders spec.path of k the way kustomize-controller does.
func build(mem filesys.FileSystem, k *Kustomization) error {
	rel := path.Clean(strings.TrimPrefix(k.Path, "./"))
	if k.Path == "" {
		rel = "." // Flux builds the source root when no path is given
	}
	dir := path.Join(repoRoot, rel)
	k.Objects = nil
	k.PathExists = rel != ".." && !strings.HasPrefix(rel, "../") && mem.IsDir(dir)
	if !k.PathExists {
		return nil // reported by the lint rule on paths
	}
	if err := ensureKustomization(mem, dir); err != nil {
		return err
	}
	target := dir
	if k.TargetNamespace != "" {
		// Flux puts targetNamespace into a kustomization around the path.
		target = path.Join("/overlays", k.Namespace, k.Name)
		relDir, _ := filepath.Rel(target, dir)
		overlay := fmt.Sprintf("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: %s\nresources:\n  - %s\n", k.TargetNamespace, relDir)
		if err := mem.MkdirAll(target); err != nil {
			return err
		}
		if err := mem.WriteFile(path.Join(target, "kustomization.yaml"), []byte(overlay)); err != nil {
			return err
		}
	}
	opts := krusty.MakeDefaultOptions()
	// Flux lifts kustomize's root-only restriction but confines builds to the
	// source; here the in-memory filesystem holds nothing but the tree.
	opts.LoadRestrictions = types.LoadRestrictionsNone
	m, err := krusty.MakeKustomizer(opts).Run(mem, target)
	if err != nil {
		return fmt.Errorf("Flux Kustomization %s (%s): kustomize build of %s failed: %s", k.Key(), k.Origin, kustFileName(mem, dir), trimRoot(err.Error()))
	}
	for _, r := range m.Resources() {
		// Through JSON so numbers are int64/float64, as unstructured expects.
		js, err := r.MarshalJSON()
		if err != nil {
			return fmt.Errorf("Flux Kustomization %s: %w", k.Key(), err)
		}
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(js); err != nil {
			return fmt.Errorf("Flux Kustomization %s: %s: %w", k.Key(), r.CurId(), err)
		}
		k.Objects = append(k.Objects, obj)
	}
	return nil
}

func kustFileName(mem filesys.FileSystem, dir string) string {
	for _, n := range kustomizationFiles {
		if f := path.Join(dir, n); mem.Exists(f) {
			return strings.TrimPrefix(f, repoRoot+"/")
		}
	}
	return strings.TrimPrefix(dir, repoRoot+"/")
}

// ensureKustomization gives a directory without a kustomization file the one
// kustomize-controller would generate: every manifest below it, except that a
// subdirectory with its own kustomization file is included as a whole.
func ensureKustomization(mem filesys.FileSystem, dir string) error {
	for _, n := range kustomizationFiles {
		if mem.Exists(path.Join(dir, n)) {
			return nil
		}
	}
	var resources []string
	var walk func(d string) error
	walk = func(d string) error {
		names, err := mem.ReadDir(d)
		if err != nil {
			return err
		}
		sort.Strings(names)
		for _, n := range names {
			p := path.Join(d, n)
			rel := strings.TrimPrefix(p, dir+"/")
			if mem.IsDir(p) {
				if hasKustomization(mem, p) {
					resources = append(resources, rel)
				} else if err := walk(p); err != nil {
					return err
				}
				continue
			}
			if !(strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml")) {
				continue
			}
			objs, err := decodeFile(mem, p)
			if err != nil {
				return err
			}
			if len(objs) > 0 {
				resources = append(resources, rel)
			}
		}
		return nil
	}
	if err := walk(dir); err != nil {
		return err
	}
	var b bytes.Buffer
	b.WriteString("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n")
	for _, r := range resources {
		fmt.Fprintf(&b, "  - %s\n", r)
	}
	if len(resources) == 0 {
		b.Reset()
		b.WriteString("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n")
	}
	return mem.WriteFile(path.Join(dir, "kustomization.yaml"), b.Bytes())
}

func hasKustomization(mem filesys.FileSystem, dir string) bool {
	for _, n := range kustomizationFiles {
		if mem.Exists(path.Join(dir, n)) {
			return true
		}
	}
	return false
}

// Export writes tree to dir (which must not exist yet) with every BundleRef
// materialized, e.g. for serving to a real Flux from a temporary directory.
// On error nothing is left behind.
func Export(ctx context.Context, tree fs.FS, dir string, o Options) (err error) {
	if _, err := os.Stat(dir); err == nil {
		return fmt.Errorf("export target %s already exists", dir)
	}
	mem, _, kustFiles, err := copyToMemory(tree, "tree")
	if err != nil {
		return err
	}
	if _, err := materializeBundles(ctx, mem, kustFiles, o); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	return mem.Walk(repoRoot, func(p string, info fs.FileInfo, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, strings.TrimPrefix(p, repoRoot))
		if info.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		data, err := mem.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
}

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }

// trimRoot shows in-memory paths as paths of the tree.
func trimRoot(s string) string {
	for _, q := range []string{"'", " ", "\""} {
		s = strings.ReplaceAll(s, q+repoRoot+"/", q)
	}
	return s
}
