package gitserver

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/format/pktline"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/revlist"
)

// Handler serves repos (URL path "/<name>", e.g. "/fixtures.git") read-only
// over Git's smart HTTP protocol, plus GET /healthz.
//
// go-git's own server session refuses shallow requests, and source-controller
// always clones with depth 1; since every served commit is a root commit,
// the answer to "deepen 1" is simply the whole (one-commit) history with an
// empty shallow update, which this handler writes itself.
func Handler(repos map[string]*Repo) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	for name, repo := range repos {
		base := "/" + strings.Trim(name, "/")
		mux.HandleFunc("GET "+base+"/info/refs", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("service") != "git-upload-pack" {
				http.Error(w, "only git-upload-pack (clone/fetch) is served; pushes are not accepted", http.StatusForbidden)
				return
			}
			advertise(w, repo)
		})
		mux.HandleFunc("POST "+base+"/git-upload-pack", func(w http.ResponseWriter, r *http.Request) {
			uploadPack(w, r, repo)
		})
	}
	return mux
}

func advertise(w http.ResponseWriter, repo *Repo) {
	ar := packp.NewAdvRefs()
	ar.Prefix = [][]byte{[]byte("# service=git-upload-pack"), pktline.Flush}
	head := plumbing.NewBranchReferenceName(repo.Branch)
	for _, c := range []struct {
		c capability.Capability
		v []string
	}{
		{capability.Agent, []string{"dfe2e-gitserver"}},
		{capability.OFSDelta, nil},
		{capability.Shallow, nil},
		{capability.SymRef, []string{"HEAD:" + head.String()}},
	} {
		if err := ar.Capabilities.Set(c.c, c.v...); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	h := repo.Commit
	ar.Head = &h
	ar.References[head.String()] = repo.Commit
	w.Header().Set("Content-Type", "application/x-git-upload-pack-advertisement")
	w.Header().Set("Cache-Control", "no-cache")
	if err := ar.Encode(w); err != nil {
		// Headers are out; the client sees a truncated advertisement.
		return
	}
}

func uploadPack(w http.ResponseWriter, r *http.Request, repo *Repo) {
	req := packp.NewUploadPackRequest()
	if err := req.Decode(r.Body); err != nil {
		http.Error(w, fmt.Sprintf("bad upload-pack request: %v", err), http.StatusBadRequest)
		return
	}
	for _, want := range req.Wants {
		if want != repo.Commit {
			http.Error(w, fmt.Sprintf("want %s: not the served commit %s", want, repo.Commit), http.StatusBadRequest)
			return
		}
	}
	objs, err := revlist.Objects(repo.Storage, req.Wants, nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	pr, pw := io.Pipe()
	go func() {
		_, err := packfile.NewEncoder(pw, repo.Storage, false).Encode(objs, 10)
		pw.CloseWithError(err)
	}()
	defer pr.Close()
	resp := packp.NewUploadPackResponseWithPackfile(req, pr)
	w.Header().Set("Content-Type", "application/x-git-upload-pack-result")
	w.Header().Set("Cache-Control", "no-cache")
	_ = resp.Encode(w)
}
