package lint

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/dragonfly-e2e/dragonfly-e2e/fixtures"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/static/gitops"
)

// overlay is the fixtures tree with files replaced or added.
func overlay(t *testing.T, files map[string]string) fs.FS {
	t.Helper()
	out := fstest.MapFS{}
	err := fs.WalkDir(fixtures.Tree(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(fixtures.Tree(), p)
		out[p] = &fstest.MapFile{Data: data}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for p, data := range files {
		out[p] = &fstest.MapFile{Data: []byte(data)}
	}
	return out
}

func lintOverlay(t *testing.T, version string, files map[string]string) Report {
	t.Helper()
	tree, err := gitops.Render(context.Background(), overlay(t, files), "overlay", options(t, version))
	if err != nil {
		t.Fatal(err)
	}
	return Lint(tree, version)
}

const operatorApp = "kubernetes/apps/database/dragonfly-operator/app/kustomization.yaml"

// When the manager image does not say its version, the checks that depend on
// it run on --operator-version; the output says so, in both formats.
func TestVersionFallbackIsReported(t *testing.T) {
	digest := "sha256:" + strings.Repeat("ab", 32)
	r := lintOverlay(t, "v1.5.0", map[string]string{operatorApp: `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - operator-bundle
images:
  - name: docker.dragonflydb.io/dragonflydb/operator
    newName: registry.example.com/mirror/dragonfly-operator
    digest: ` + digest + "\n"})
	for _, f := range r.Findings {
		t.Errorf("a digest-pinned v1.5.0 bundle checked as v1.5.0 has no violation, got %s", f)
	}
	want := []string{"registry.example.com/mirror/dragonfly-operator@" + digest, "pinned by digest, without a version tag", "assume v1.5.0 from --operator-version"}
	if len(r.Notices) != 1 {
		t.Fatalf("want one notice naming the fallback, got %v", r.Notices)
	}
	if got := r.Notices[0]; got.Object.Kind != "Deployment" || got.Object.Name != "dragonfly-operator-controller-manager" {
		t.Errorf("notice names %s, want the operator Deployment", got.Object)
	}
	var human, js bytes.Buffer
	if err := r.WriteHuman(&human); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var decoded struct{ Notices []Notice }
	if err := json.Unmarshal(js.Bytes(), &decoded); err != nil || len(decoded.Notices) != 1 {
		t.Fatalf("JSON notices: %v (%v)\n%s", decoded.Notices, err, js.String())
	}
	for _, w := range want {
		if !strings.Contains(human.String(), w) {
			t.Errorf("human output lacks %q:\n%s", w, human.String())
		}
		if !strings.Contains(decoded.Notices[0].Message, w) {
			t.Errorf("JSON notice lacks %q: %s", w, decoded.Notices[0].Message)
		}
	}
	if !strings.Contains(human.String(), "clean (1 notice(s))") {
		t.Errorf("summary line does not count the notice:\n%s", human.String())
	}
}

// A version tag is read with or without its v; nothing else is a version.
func TestVersionOfTag(t *testing.T) {
	for tag, want := range map[string]string{"v1.6.1": "v1.6.1", "1.6.1": "v1.6.1", "v1.10.0": "v1.10.0",
		"latest": "", "1.6": "", "v1.6.1-rc1": "", "": "", "1.6.x": "", "vv1.6.1": "", "1..1": ""} {
		got, ok := versionOfTag(tag)
		if got != want || ok != (want != "") {
			t.Errorf("versionOfTag(%q) = %q, %v; want %q", tag, got, ok, want)
		}
	}
}

func TestFloatingTags(t *testing.T) {
	for _, tag := range []string{"latest", "Latest", "latest-alpine", "nightly", "main", "master", "edge", "dev"} {
		if !floatingTag(tag) {
			t.Errorf("%s is a floating tag", tag)
		}
	}
	for _, tag := range []string{"v1.6.1", "1.27.1", "alpine-3.20", "develop-2024", "mainline-1.27", "edge-20240101"} {
		if floatingTag(tag) {
			t.Errorf("%s is not a floating tag", tag)
		}
	}
}

// Every image a Dragonfly runs is checked, whichever field holds it.
func TestDragonflyImagesAllChecked(t *testing.T) {
	r := lintOverlay(t, "", map[string]string{"kubernetes/apps/database/test-cache/app/dragonfly.yaml": `apiVersion: dragonflydb.io/v1alpha1
kind: Dragonfly
metadata: {name: test-cache, namespace: database}
spec:
  image: docker.dragonflydb.io/dragonflydb/dragonfly:nightly
  initContainers:
    - {name: init, image: "busybox:1.36"}
    - {name: prep, image: busybox}
  additionalContainers:
    - {name: exporter, image: "oliver006/redis_exporter:latest-alpine"}
  additionalVolumes:
    - name: scripts
      image: {reference: "registry.example.com/probes:dev"}
`})
	want := []string{
		"container dragonfly (spec.image) image docker.dragonflydb.io/dragonflydb/dragonfly:nightly uses the floating tag :nightly",
		"container prep (spec.initContainers[1]) image busybox has no tag",
		"container exporter (spec.additionalContainers[0]) image oliver006/redis_exporter:latest-alpine uses the floating tag :latest-alpine",
		"volume scripts (spec.additionalVolumes[0].image.reference) image registry.example.com/probes:dev uses the floating tag :dev",
	}
	var got []string
	for _, f := range r.Findings {
		if f.Rule == "DFE006" && f.Object.Kind == "Dragonfly" && f.Object.Name == "test-cache" {
			got = append(got, f.Message)
		}
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || strings.Contains(g, w)
		}
		if !found {
			t.Errorf("no DFE006 finding on Dragonfly test-cache containing %q; got:\n  %s", w, strings.Join(got, "\n  "))
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d DFE006 findings on test-cache, want %d (busybox:1.36 is pinned)", len(got), len(want))
	}
}

// Every pinned release, unmodified, is one release: no part is reported.
func TestEveryPinnedBundleIsOneRelease(t *testing.T) {
	for _, v := range []string{"v1.5.0", "v1.6.0"} {
		r := lintOverlay(t, v, nil)
		for _, f := range r.Findings {
			t.Errorf("bundle %s: %s", v, f)
		}
		for _, n := range r.Notices {
			t.Errorf("bundle %s: %s", v, n)
		}
	}
}
