// Package images provides the images a kind cluster needs: the official ones
// when a registry is reachable, otherwise a node image (Kubernetes v1.34.4)
// and component images built from Go modules and Debian packages, cached by a
// hash of their inputs so a warm run rebuilds nothing.
package images

import (
	"context"
	"net/http"
	"strings"
	"time"

	"sigs.k8s.io/kind/pkg/apis/config/defaults"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/kindconfig"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/preflight"
)

// Logf receives progress lines.
type Logf func(format string, args ...any)

// hashLabel holds the hash of an image's inputs.
const hashLabel = "io.dragonfly-e2e.inputs"

// RegistryProbeURL is asked (HEAD, 3 s) whether a registry is reachable.
var RegistryProbeURL = "https://registry.k8s.io/v2/"

// RegistryReachable reports whether the official registry answers quickly.
func RegistryReachable(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, RegistryProbeURL, nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode < 500
}

// BuildTools maps the host commands (or files) the offline build uses to the
// Debian packages that provide them; preflight installs the missing ones.
var BuildTools = map[string]string{
	"debootstrap":                      "debootstrap",
	"gcc":                              "gcc",
	"/usr/lib/x86_64-linux-gnu/libc.a": "libc6-dev",
	"/bin/busybox":                     "busybox-static",
	"tar":                              "tar",
}

// Set is what a cluster run uses.
type Set struct {
	Offline   bool
	NodeImage string
	Storage   kindconfig.StorageImages
}

// OfficialNodeImage is kind's default node image (pulled when online);
// override with DFE2E_NODE_IMAGE.
var OfficialNodeImage = defaults.Image

// Resolve picks official images when a registry is reachable and offline is
// false; otherwise it builds (or finds cached) local images.
func Resolve(ctx context.Context, docker string, offline bool, logf Logf) (*Set, error) {
	if img := config.FromEnv().NodeImage; img != "" {
		// A node image built here carries the offline component images and no kindnetd.
		local := offline || strings.HasPrefix(img, NodeRepo+":")
		logf("node image from DFE2E_NODE_IMAGE: %s (locally built: %v)", img, local)
		st := kindconfig.OfficialStorageImages
		if local {
			st = OfflineStorageImages
		}
		return &Set{Offline: local, NodeImage: img, Storage: st}, nil
	}
	if !offline {
		if RegistryReachable(ctx) {
			logf("registry %s reachable: using official images (%s)", RegistryProbeURL, OfficialNodeImage)
			return &Set{NodeImage: OfficialNodeImage, Storage: kindconfig.OfficialStorageImages}, nil
		}
		logf("no registry reachable (%s did not answer within 3s): building images locally", RegistryProbeURL)
	}
	if err := preflight.EnsureTools(ctx, preflight.Logf(logf), BuildTools); err != nil {
		return nil, err
	}
	ref, err := BuildOfflineNode(ctx, docker, logf)
	if err != nil {
		return nil, err
	}
	return &Set{Offline: true, NodeImage: ref, Storage: OfflineStorageImages}, nil
}
