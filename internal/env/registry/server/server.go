// Package server is the OCI registry the e2e run serves its images from:
// go-containerregistry's in-memory registry with blobs on disk (images are
// tens of MB each; manifests stay in memory). Kept apart from the package
// that runs it so that the registry binary links nothing else.
package server

import (
	"io"
	"log"
	"net/http"
	"os"

	"github.com/google/go-containerregistry/pkg/registry"
)

// Handler serves the registry API, storing blobs under blobDir (in memory
// when blobDir is empty). Logs go to w; nil keeps the registry quiet.
func Handler(blobDir string, w io.Writer) (http.Handler, error) {
	if w == nil {
		w = io.Discard
	}
	opts := []registry.Option{registry.Logger(log.New(w, "registry: ", log.LstdFlags))}
	if blobDir != "" {
		if err := os.MkdirAll(blobDir, 0o755); err != nil {
			return nil, err
		}
		opts = append(opts, registry.WithBlobHandler(registry.NewDiskBlobHandler(blobDir)))
	}
	return registry.New(opts...), nil
}
