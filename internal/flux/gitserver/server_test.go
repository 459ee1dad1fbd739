package gitserver

import (
	"bytes"
	"context"
	"net/http/httptest"
	"testing"

	"github.com/go-git/go-billy/v5/memfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/storage/memory"
)

var tree = map[string][]byte{
	"kubernetes/flux/cluster-apps.yaml":      []byte("kind: Kustomization\n"),
	"kubernetes/apps/kustomization.yaml":     []byte("resources: []\n"),
	"kubernetes/apps/database/a/b/deep.yaml": []byte("deep\n"),
}

// Clones over real HTTP on loopback with go-git's client, shallow (as
// source-controller does) and full, and checks every file and the commit id.
func TestCloneOverHTTP(t *testing.T) {
	repo, err := NewRepo(tree)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(Handler(map[string]*Repo{"fixtures.git": repo}))
	defer srv.Close()
	for _, depth := range []int{1, 0} {
		fs := memfs.New()
		cl, err := git.CloneContext(context.Background(), memory.NewStorage(), fs, &git.CloneOptions{
			URL: srv.URL + "/fixtures.git", Depth: depth, SingleBranch: true,
			ReferenceName: plumbing.NewBranchReferenceName(DefaultBranch),
		})
		if err != nil {
			t.Fatalf("clone depth %d: %v", depth, err)
		}
		head, err := cl.Head()
		if err != nil {
			t.Fatal(err)
		}
		if head.Hash() != repo.Commit {
			t.Fatalf("depth %d: HEAD %s, want %s", depth, head.Hash(), repo.Commit)
		}
		for p, want := range tree {
			f, err := fs.Open(p)
			if err != nil {
				t.Fatalf("depth %d: %s missing in clone: %v", depth, p, err)
			}
			var got bytes.Buffer
			got.ReadFrom(f)
			f.Close()
			if got.String() != string(want) {
				t.Fatalf("depth %d: %s = %q, want %q", depth, p, got.String(), want)
			}
		}
	}
}

func TestUnknownRepoAndPushRefused(t *testing.T) {
	repo, err := NewRepo(tree)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(Handler(map[string]*Repo{"fixtures.git": repo}))
	defer srv.Close()
	_, err = git.Clone(memory.NewStorage(), memfs.New(), &git.CloneOptions{URL: srv.URL + "/other.git"})
	if err == nil {
		t.Fatal("clone of an unknown repository succeeded")
	}
	resp, err := srv.Client().Get(srv.URL + "/fixtures.git/info/refs?service=git-receive-pack")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("receive-pack advertisement: status %d, want 403", resp.StatusCode)
	}
}

// The same tree always gives the same commit (Flux revisions are stable
// across runs); a different tree gives another.
func TestCommitDeterministic(t *testing.T) {
	a, _ := NewRepo(tree)
	b, _ := NewRepo(tree)
	if a.Commit != b.Commit {
		t.Fatalf("same tree, commits %s and %s", a.Commit, b.Commit)
	}
	other := map[string][]byte{"x.yaml": []byte("x\n")}
	c, _ := NewRepo(other)
	if c.Commit == a.Commit {
		t.Fatal("different trees, same commit")
	}
	if _, err := NewRepo(map[string][]byte{"../escape": nil}); err == nil {
		t.Fatal("path leaving the tree accepted")
	}
}

func TestTarGzRoundTrip(t *testing.T) {
	b, err := TarGz(tree)
	if err != nil {
		t.Fatal(err)
	}
	got, err := UntarGz(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(tree) {
		t.Fatalf("%d files back, want %d", len(got), len(tree))
	}
	for p, want := range tree {
		if string(got[p]) != string(want) {
			t.Fatalf("%s = %q, want %q", p, got[p], want)
		}
	}
	if _, err := UntarGz(bytes.NewReader([]byte("not gzip"))); err == nil {
		t.Fatal("garbage accepted")
	}
}
