package registry

import (
	"archive/tar"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/images"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/registry/server"
)

// newServer is the registry handler cmd/dfe2e-registry serves, in process.
func newServer(t *testing.T) string {
	t.Helper()
	h, err := server.Handler(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// TestPushOperatorArchive pushes the upstream operator archive and fetches
// it back by its original repository path, as containerd asks a mirror.
func TestPushOperatorArchive(t *testing.T) {
	archive := "/work/shared/images/operator/operator-v1.6.1.tar"
	if _, err := os.Stat(archive); err != nil {
		t.Skip("no operator archive on this machine")
	}
	addr := newServer(t)
	refs, err := PushArchiveTo(context.Background(), addr, archive)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(refs, []string{"docker.dragonflydb.io/dragonflydb/operator:v1.6.1"}) {
		t.Fatalf("refs %v", refs)
	}
	got, err := remote.Image(mustRef(t, addr+"/dragonflydb/operator:v1.6.1"), options(context.Background())...)
	if err != nil {
		t.Fatal(err)
	}
	tag := name.MustParseReference("docker.dragonflydb.io/dragonflydb/operator:v1.6.1").(name.Tag)
	want, err := tarball.ImageFromPath(archive, &tag)
	if err != nil {
		t.Fatal(err)
	}
	gd, _ := got.Digest()
	wd, _ := want.Digest()
	gc, _ := got.ConfigName()
	wc, _ := want.ConfigName()
	if gd != wd || gc != wc {
		t.Fatalf("pulled %s (config %s), archive holds %s (config %s)", gd, gc, wd, wc)
	}
	cfg, err := got.ConfigFile()
	if err != nil || cfg.Config.User != "65532:65532" || len(cfg.Config.Entrypoint) == 0 || cfg.Config.Entrypoint[0] != "/manager" {
		t.Fatalf("config %+v %v", cfg, err)
	}
	// containerd names the upstream host in a query parameter when it asks a mirror.
	req, _ := http.NewRequest(http.MethodHead, "http://"+addr+"/v2/dragonflydb/operator/manifests/v1.6.1?ns=docker.dragonflydb.io", nil)
	req.Header.Set("Accept", "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.index.v1+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK || resp.Header.Get("Docker-Content-Digest") != gd.String() {
		t.Fatalf("HEAD as containerd asks: %v %+v", err, resp)
	}
	resp.Body.Close()
	hosts, err := Hosts(refs)
	if err != nil || !reflect.DeepEqual(hosts, []string{"docker.dragonflydb.io"}) {
		t.Fatalf("hosts %v %v", hosts, err)
	}
}

// TestPushDockerSaveAllTags: every tag of a docker-save archive, original
// paths, Docker Hub names included.
func TestPushDockerSaveAllTags(t *testing.T) {
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "img.tar")
	a := name.MustParseReference("quay.io/brancz/kube-rbac-proxy:v0.16.0")
	b := name.MustParseReference("redis:7")
	if err := tarball.MultiRefWriteToFile(p, map[name.Reference]v1.Image{a: img, b: img}); err != nil {
		t.Fatal(err)
	}
	addr := newServer(t)
	refs, err := PushArchiveTo(context.Background(), addr, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != 2 {
		t.Fatalf("refs %v", refs)
	}
	for _, path := range []string{"/brancz/kube-rbac-proxy:v0.16.0", "/library/redis:7"} {
		if _, err := remote.Head(mustRef(t, addr+path), options(context.Background())...); err != nil {
			t.Errorf("%s: %v", path, err)
		}
	}
	hosts, _ := Hosts(refs)
	if !reflect.DeepEqual(hosts, []string{"docker.io", "quay.io"}) {
		t.Fatalf("hosts %v", hosts)
	}
}

// TestPushOCILayout: an OCI-layout tarball (ctr export, docker save ≥ 25
// without manifest.json) is pushed under the names in its annotations, a
// multi-platform index with the images it lists.
func TestPushOCILayout(t *testing.T) {
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := random.Index(128, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	lp, err := layout.Write(filepath.Join(dir, "layout"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{"io.containerd.image.name": "ghcr.io/fluxcd/source-controller:v1.9.5", "org.opencontainers.image.ref.name": "v1.9.5"})); err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "docker.io/library/busybox:1.37.0"})); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "oci.tar")
	tarDir(t, filepath.Join(dir, "layout"), p)
	addr := newServer(t)
	refs, err := PushArchiveTo(context.Background(), addr, p)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(refs, []string{"ghcr.io/fluxcd/source-controller:v1.9.5", "docker.io/library/busybox:1.37.0"}) {
		t.Fatalf("refs %v", refs)
	}
	got, err := remote.Image(mustRef(t, addr+"/fluxcd/source-controller:v1.9.5"), options(context.Background())...)
	if err != nil {
		t.Fatal(err)
	}
	gd, _ := got.Digest()
	wd, _ := img.Digest()
	if gd != wd {
		t.Fatalf("digest %s, want %s", gd, wd)
	}
	gotIdx, err := remote.Index(mustRef(t, addr+"/library/busybox:1.37.0"), options(context.Background())...)
	if err != nil {
		t.Fatal(err)
	}
	gd, _ = gotIdx.Digest()
	wd, _ = idx.Digest()
	if gd != wd {
		t.Fatalf("index digest %s, want %s", gd, wd)
	}
	im, _ := idx.IndexManifest()
	child, err := gotIdx.Image(im.Manifests[1].Digest)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := child.RawConfigFile(); err != nil {
		t.Fatalf("the index's images were not pushed with it: %v", err)
	}
}

func TestPushRejectsUnnamed(t *testing.T) {
	img, _ := random.Image(64, 1)
	img = mutate.MediaType(img, "application/vnd.oci.image.manifest.v1+json")
	dir := t.TempDir()
	lp, _ := layout.Write(filepath.Join(dir, "layout"), empty.Index)
	if err := lp.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "oci.tar")
	tarDir(t, filepath.Join(dir, "layout"), p)
	if _, err := PushArchiveTo(context.Background(), newServer(t), p); err == nil || !strings.Contains(err.Error(), "no full image reference") {
		t.Fatalf("err = %v", err)
	}
	notImage := filepath.Join(dir, "x.tar")
	tarDir(t, t.TempDir(), notImage)
	if _, err := PushArchiveTo(context.Background(), "127.0.0.1:1", notImage); err == nil {
		t.Fatal("no error for a tarball that holds no image")
	}
}

func TestMirrorRef(t *testing.T) {
	for in, want := range map[string]string{
		"docker.dragonflydb.io/dragonflydb/operator:v1.6.1": "127.0.0.1:5000/dragonflydb/operator:v1.6.1",
		"quay.io/brancz/kube-rbac-proxy:v0.16.0":            "127.0.0.1:5000/brancz/kube-rbac-proxy:v0.16.0",
		"busybox":                                           "127.0.0.1:5000/library/busybox:latest",
		"ghcr.io/a/b@sha256:" + strings.Repeat("ab", 32):    "127.0.0.1:5000/a/b@sha256:" + strings.Repeat("ab", 32),
	} {
		got, err := MirrorRef("127.0.0.1:5000", mustRef(t, in))
		if err != nil || got.String() != want {
			t.Errorf("MirrorRef(%s) = %v, %v; want %s", in, got, err, want)
		}
	}
}

func TestHostsToml(t *testing.T) {
	got := HostsToml("docker.dragonflydb.io", "http://dfe2e-registry-dfe2e:5000")
	if !strings.HasPrefix(got, "server = \"https://docker.dragonflydb.io\"\n") || !strings.Contains(got, "[host.\"http://dfe2e-registry-dfe2e:5000\"]\n  capabilities = [\"pull\", \"resolve\"]\n") {
		t.Fatalf("hosts.toml:\n%s", got)
	}
	files, err := HostsTomlFiles("http://dfe2e-registry-dfe2e:5000", "docker.dragonflydb.io", "quay.io")
	if err != nil || len(files) != 2 || files["/etc/containerd/certs.d/quay.io/hosts.toml"] != HostsToml("quay.io", "http://dfe2e-registry-dfe2e:5000") {
		t.Fatalf("files %v %v", files, err)
	}
}

func tarDir(t *testing.T, dir, out string) {
	t.Helper()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	err = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		h, _ := tar.FileInfoHeader(info, "")
		h.Name = rel
		if info.IsDir() {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if info.IsDir() {
			return nil
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		_, err = io.Copy(tw, in)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestPushBuiltArchive: the archives this project writes (images.WriteArchive,
// uncompressed layers) push like docker's own.
func TestPushBuiltArchive(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "rbac.tar")
	a := images.Archive{Ref: images.RBACProxyRef, Files: []images.File{{Path: "/usr/local/bin/kube-rbac-proxy", Data: []byte("bin"), Mode: 0o755}},
		Entrypoint: []string{"/usr/local/bin/kube-rbac-proxy"}, User: "65532:65532"}
	if err := images.WriteArchive(a, p); err != nil {
		t.Fatal(err)
	}
	addr := newServer(t)
	refs, err := PushArchiveTo(context.Background(), addr, p)
	if err != nil || !reflect.DeepEqual(refs, []string{"quay.io/brancz/kube-rbac-proxy:v0.16.0"}) {
		t.Fatalf("refs %v %v", refs, err)
	}
	got, err := remote.Image(mustRef(t, addr+"/brancz/kube-rbac-proxy:v0.16.0"), options(context.Background())...)
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err := got.ConfigFile(); err != nil || cfg.Config.User != "65532:65532" {
		t.Fatalf("config %+v %v", cfg, err)
	}
}
