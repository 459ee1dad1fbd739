package gitops

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/dragonfly-e2e/dragonfly-e2e/fixtures"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
)

func options(t *testing.T) Options {
	t.Helper()
	dir := config.FromEnv().OperatorSource
	if dir == "" {
		t.Fatalf("%s is not set: run `make test-unit`, or export %s=<dir with <version>/%s> (e.g. ../shared/upstream/dragonfly-operator)", config.EnvOperatorSource, config.EnvOperatorSource, operator.ManifestFile)
	}
	return Options{Source: operator.SourceOptions{Override: dir}}
}

func TestRenderFixtureTreeFollowsTheFluxChain(t *testing.T) {
	tree, err := Render(context.Background(), fixtures.Tree(), "fixtures", options(t))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{ // key → parent
		"flux-system/cluster-apps":       "",
		"flux-system/dragonfly-operator": "flux-system/cluster-apps",
		"flux-system/test-cache":         "flux-system/cluster-apps",
	}
	if len(tree.Kustomizations) != len(want) {
		t.Errorf("got %d Kustomizations, want %d", len(tree.Kustomizations), len(want))
	}
	for _, k := range tree.Kustomizations {
		parent, ok := want[k.Key()]
		if !ok {
			t.Errorf("unexpected Kustomization %s", k.Key())
			continue
		}
		if k.Parent != parent || !k.PathExists {
			t.Errorf("%s: parent %q (want %q), path exists %v", k.Key(), k.Parent, parent, k.PathExists)
		}
	}
	op := tree.Kustomization("flux-system", "dragonfly-operator")
	if got := tree.Find(ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: operator.Namespace, Name: operator.DeploymentName}); len(got) != 1 || got[0].By != op {
		t.Errorf("operator Deployment: found %d, want 1 rendered by dragonfly-operator", len(got))
	}
	if got := tree.Find(ObjectRef{Kind: "Dragonfly", Namespace: "database", Name: "test-cache"}); len(got) != 1 || got[0].By.Name != "test-cache" {
		t.Errorf("Dragonfly test-cache: found %d, want 1 rendered by test-cache", len(got))
	}
	if len(tree.Bundles) != 1 {
		t.Errorf("bundles materialized: %v", tree.Bundles)
	}
}

func TestRenderRespectsTargetNamespaceAndGeneratesKustomization(t *testing.T) {
	fsys := fstest.MapFS{
		"ks.yaml":         {Data: []byte("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: app, namespace: flux-system}\nspec: {path: ./app, targetNamespace: database}\n")},
		"app/cm.yaml":     {Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")},
		"app/values.yaml": {Data: []byte("replicas: 3\n")},
	}
	tree, err := Render(context.Background(), fsys, "mem", Options{})
	if err != nil {
		t.Fatal(err)
	}
	k := tree.Kustomization("flux-system", "app")
	if k == nil || len(k.Objects) != 1 || k.Objects[0].GetNamespace() != "database" {
		t.Fatalf("want ConfigMap c in database, got %+v", k)
	}
}

func TestRenderBadInputsAreNamed(t *testing.T) {
	ks := "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: app, namespace: flux-system}\nspec: {path: ./app}\n"
	cases := map[string]struct {
		fs   fstest.MapFS
		want []string
	}{
		"yaml that does not parse":          {fstest.MapFS{"ks.yaml": {Data: []byte(ks)}, "app/broken.yaml": {Data: []byte("kind: [unclosed\n")}}, []string{"app/broken.yaml", "does not parse"}},
		"kustomization that fails to build": {fstest.MapFS{"ks.yaml": {Data: []byte(ks)}, "app/kustomization.yaml": {Data: []byte("resources: [missing.yaml]\n")}}, []string{"app/kustomization.yaml", "flux-system/app"}},
		"no Flux Kustomization":             {fstest.MapFS{"README.md": {Data: []byte("hi")}}, []string{"no Flux Kustomization"}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Render(context.Background(), c.fs, "mem", Options{})
			if err == nil {
				t.Fatal("rendered without error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestLoadRejectsWhatIsNotATree(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file.yaml")
	if err := os.WriteFile(file, []byte("a: b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{file, filepath.Join(t.TempDir(), "missing")} {
		if _, err := Load(context.Background(), p, Options{}); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("Load(%s): want error naming the path, got %v", p, err)
		}
	}
}

func TestExportMaterializesBundleAndLeavesNothingOnError(t *testing.T) {
	o := options(t)
	dir := filepath.Join(t.TempDir(), "tree")
	if err := Export(context.Background(), fixtures.Tree(), dir, o); err != nil {
		t.Fatal(err)
	}
	b := filepath.Join(dir, "kubernetes/apps/database/dragonfly-operator/app", BundleRef, operator.ManifestFile)
	if _, err := os.Stat(b); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad")
	o.OperatorVersion = "v0.0.1"
	if err := Export(context.Background(), fixtures.Tree(), bad, o); err == nil {
		t.Fatal("export with an unknown version succeeded")
	}
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Errorf("failed export left %s behind", bad)
	}
}

// A user tree that pulls the upstream release by its pinned URL renders
// offline from the verified copy; a moving URL (the guide's .../main/...) is
// refused with the remedy.
func TestRenderRemoteOperatorURL(t *testing.T) {
	o := options(t)
	pin, _ := operator.Lookup("v1.6.0")
	ks := "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: op, namespace: flux-system}\nspec: {path: ./app, prune: true}\n"
	kust := func(url string) []byte {
		return []byte("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: database\nresources:\n  - " + url + "\n")
	}
	tree, err := Render(context.Background(), fstest.MapFS{"ks.yaml": {Data: []byte(ks)}, "app/kustomization.yaml": {Data: kust(pin.URL)}}, "mem", o)
	if err != nil {
		t.Fatal(err)
	}
	if got := tree.Find(ObjectRef{Kind: "Deployment", Namespace: "database", Name: operator.DeploymentName}); len(got) != 1 {
		t.Fatalf("want the operator Deployment in database, found %d", len(got))
	}
	guide := "https://raw.githubusercontent.com/dragonflydb/dragonfly-operator/main/manifests/dragonfly-operator.yaml"
	_, err = Render(context.Background(), fstest.MapFS{"ks.yaml": {Data: []byte(ks)}, "app/kustomization.yaml": {Data: kust(guide)}}, "mem", o)
	if err == nil || !strings.Contains(err.Error(), guide) || !strings.Contains(err.Error(), "pinned") || !strings.Contains(err.Error(), "app/kustomization.yaml") {
		t.Fatalf("want an error naming the file, the URL and the remedy, got %v", err)
	}
}

// Flux applies only what its entry point reaches: a ks.yaml that no
// kustomization.yaml lists is defined in the tree but never applied.
func TestRenderMarksWhatFluxNeverApplies(t *testing.T) {
	ks := func(name, p string) []byte {
		return []byte("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: " + name + ", namespace: flux-system}\nspec: {path: " + p + "}\n")
	}
	cm := []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: database}\n")
	base := fstest.MapFS{
		"kubernetes/flux/apps.yaml":                 {Data: ks("apps", "./kubernetes/apps")},
		"kubernetes/apps/kustomization.yaml":        {Data: []byte("resources: [./a/ks.yaml]\n")},
		"kubernetes/apps/a/ks.yaml":                 {Data: ks("a", "./kubernetes/apps/a/app")},
		"kubernetes/apps/a/app/cm.yaml":             {Data: cm},
		"kubernetes/apps/orphan/ks.yaml":            {Data: ks("orphan", "./kubernetes/apps/orphan/app")},
		"kubernetes/apps/orphan/app/cm.yaml":        {Data: cm},
		"clusters/other/kustomization.yaml":         {Data: []byte("resources: []\n")},
		"clusters/other/unrelated-entry-point.yaml": {Data: ks("unrelated", "./clusters/other")},
	}
	tree, err := Render(context.Background(), base, "mem", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(tree.Entries, ","); got != "flux-system/apps,flux-system/unrelated" {
		t.Errorf("entry points %s, want flux-system/apps,flux-system/unrelated", got)
	}
	var orphans []string
	for _, k := range tree.Unreachable() {
		orphans = append(orphans, k.Key())
	}
	if strings.Join(orphans, ",") != "flux-system/orphan" {
		t.Errorf("unreachable %v, want flux-system/orphan", orphans)
	}
	if c := tree.CoveringPath(tree.Kustomization("flux-system", "orphan")); c == nil || c.Key() != "flux-system/apps" {
		t.Errorf("orphan's covering Kustomization: %v, want flux-system/apps", c)
	}
	if applied := tree.Applied(); applied.Kustomization("flux-system", "orphan") != nil || len(applied.Find(ObjectRef{Kind: "ConfigMap", Namespace: "database", Name: "c"})) != 1 {
		t.Errorf("the applied tree must drop the orphan and keep a's ConfigMap")
	}

	// With the bootstrap Kustomization in the tree, only what it reaches is applied.
	base["clusters/prod/flux-system.yaml"] = &fstest.MapFile{Data: ks("flux-system", "./clusters/prod")}
	base["clusters/prod/apps.yaml"] = &fstest.MapFile{Data: ks("apps", "./kubernetes/apps")}
	delete(base, "kubernetes/flux/apps.yaml")
	tree, err = Render(context.Background(), base, "mem", Options{})
	if err != nil {
		t.Fatal(err)
	}
	orphans = nil
	for _, k := range tree.Unreachable() {
		orphans = append(orphans, k.Key())
	}
	if strings.Join(tree.Entries, ",") != "flux-system/flux-system" || strings.Join(orphans, ",") != "flux-system/orphan,flux-system/unrelated" {
		t.Errorf("entries %v, unreachable %v", tree.Entries, orphans)
	}
}

func TestFixtureTreeIsReachable(t *testing.T) {
	tree, err := Render(context.Background(), fixtures.Tree(), "fixtures", options(t))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(tree.Entries, ",") != "flux-system/cluster-apps" || len(tree.Unreachable()) != 0 {
		t.Errorf("entries %v, unreachable %d", tree.Entries, len(tree.Unreachable()))
	}
}
