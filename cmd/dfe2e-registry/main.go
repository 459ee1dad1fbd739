// Command dfe2e-registry is the OCI registry a run starts next to its kind
// cluster: the node's containerd pulls through it as a mirror, because pods
// with imagePullPolicy Always never use images imported into the node.
package main

import (
	"flag"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/registry/server"
)

func main() {
	listen := flag.String("listen", ":5000", "listen address")
	blobs := flag.String("blobs", "/tmp/blobs", "blob directory (empty: in memory)")
	quiet := flag.Bool("quiet", false, "do not log requests")
	flag.Parse()
	var w = os.Stderr
	if *quiet {
		w = nil
	}
	h, err := server.Handler(*blobs, w)
	if err != nil {
		log.Fatalf("dfe2e-registry: %v", err)
	}
	log.Printf("dfe2e-registry listening on %s, blobs in %q", *listen, *blobs)
	srv := &http.Server{Addr: *listen, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
