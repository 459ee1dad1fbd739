// Package gitserver serves a directory tree to Flux as a real Git repository
// over the smart HTTP protocol (upload-pack only), so that source-controller
// clones it exactly as it would clone a forge, without leaving this machine.
//
// The repository is built in memory from the tree: one commit on one branch,
// with fixed author and time, so the same tree always has the same commit id.
// The commit has no parent, which makes every clone (shallow or full) the
// same single commit.
package gitserver

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-billy/v5/memfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
)

// DefaultBranch is the branch every served repository has.
const DefaultBranch = "main"

// commitTime is fixed so that a tree always yields the same commit id.
var commitTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Repo is an in-memory repository with one commit.
type Repo struct {
	Storage *memory.Storage
	Branch  string
	Commit  plumbing.Hash
}

// Revision is the revision string Flux reports for the commit (e.g. in a
// GitRepository's status.artifact.revision): "<branch>@sha1:<hash>".
func (r *Repo) Revision() string { return r.Branch + "@sha1:" + r.Commit.String() }

// NewRepo commits files (slash-separated path → content) on DefaultBranch.
func NewRepo(files map[string][]byte) (*Repo, error) {
	if len(files) == 0 {
		return nil, fmt.Errorf("gitserver: no files to commit")
	}
	st := memory.NewStorage()
	wt := memfs.New()
	repo, err := git.InitWithOptions(st, wt, git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName(DefaultBranch)})
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	w, err := repo.Worktree()
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		clean := path.Clean(strings.TrimPrefix(n, "/"))
		if clean == "." || strings.HasPrefix(clean, "../") || clean == ".." {
			return nil, fmt.Errorf("gitserver: file path %q leaves the tree", n)
		}
		f, err := wt.Create(clean)
		if err != nil {
			return nil, err
		}
		if _, err := f.Write(files[n]); err != nil {
			return nil, err
		}
		if err := f.Close(); err != nil {
			return nil, err
		}
		if _, err := w.Add(clean); err != nil {
			return nil, err
		}
	}
	sig := &object.Signature{Name: "dfe2e", Email: "dfe2e@dragonfly-e2e.local", When: commitTime}
	h, err := w.Commit("dfe2e fixtures tree", &git.CommitOptions{Author: sig, Committer: sig})
	if err != nil {
		return nil, err
	}
	return &Repo{Storage: st, Branch: DefaultBranch, Commit: h}, nil
}

// ReadFS collects the regular files of fsys.
func ReadFS(fsys fs.FS) (map[string][]byte, error) {
	files := map[string][]byte{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		files[p] = b
		return nil
	})
	return files, err
}

// TarGz packs files as a gzipped tarball (the form the in-cluster server
// receives its tree in: one ConfigMap key, far below the object size limit).
func TarGz(files map[string][]byte) ([]byte, error) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), ModTime: commitTime, Typeflag: tar.TypeReg}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(files[n]); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// UntarGz is the inverse of TarGz (regular files only).
func UntarGz(r io.Reader) (map[string][]byte, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("tree archive is not gzip: %w", err)
	}
	tr := tar.NewReader(zr)
	files := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading tree archive: %w", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		files[h.Name] = b
	}
}
