// Command dfe2e-gitserver serves one tree (a gzipped tarball, e.g. mounted
// from a ConfigMap) as a read-only Git repository over smart HTTP. It runs
// inside the kind cluster so that Flux clones a real repository while every
// byte stays on this machine.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/flux/gitserver"
)

func main() {
	treeFile := flag.String("tree", "/tree/tree.tar.gz", "gzipped tarball of the repository tree")
	name := flag.String("repo", "fixtures.git", "repository name in the URL path")
	listen := flag.String("listen", ":8080", "listen address")
	flag.Parse()
	f, err := os.Open(*treeFile)
	if err != nil {
		fmt.Fprintf(os.Stderr, "dfe2e-gitserver: %v — mount the tree archive there or pass -tree\n", err)
		os.Exit(2)
	}
	files, err := gitserver.UntarGz(f)
	f.Close()
	if err != nil {
		fmt.Fprintf(os.Stderr, "dfe2e-gitserver: %s: %v\n", *treeFile, err)
		os.Exit(2)
	}
	repo, err := gitserver.NewRepo(files)
	if err != nil {
		fmt.Fprintf(os.Stderr, "dfe2e-gitserver: %v\n", err)
		os.Exit(2)
	}
	log.Printf("serving %d files as /%s, %s", len(files), *name, repo.Revision())
	srv := &http.Server{Addr: *listen, Handler: gitserver.Handler(map[string]*gitserver.Repo{*name: repo}), ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
