package run

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/images"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/registry"
)

// airGap is how images reach a cluster with no registry: a registry of the
// run's own that the node's containerd uses as a mirror for the images'
// registries, filled from archives. Pull policy Always then works as it does
// for an air-gapped user, so no object under test needs an override.
type airGap struct {
	archives []string
	// dragonfly is the image handed to the operator (--dragonfly-image), and
	// standIn its description when it is a stand-in.
	dragonfly, standIn string
	reg                *registry.Registry
	hosts              []string
}

// collect gathers every archive the cluster pulls through the mirror.
func (a *airGap) collect(ctx context.Context, o Options, logf func(string, ...any)) (string, error) {
	a.archives = append([]string{}, o.Archives...)
	var notes []string
	if o.OperatorImages != "" {
		archives, err := images.OperatorArchives(o.OperatorImages)
		if err != nil {
			return "", err
		}
		// Every pinned release, not only the one under test: an upgrade
		// spec pulls the others through the same mirror.
		versions := make([]string, 0, len(archives))
		for v, ar := range archives {
			a.archives = append(a.archives, ar)
			versions = append(versions, v)
		}
		sort.Strings(versions)
		notes = append(notes, "operator "+strings.Join(versions, ", ")+" from "+o.OperatorImages)
	} else {
		notes = append(notes, "no operator archive (--operator-images): the operator image comes from its registry")
	}
	proxy, err := images.EnsureRBACProxy(ctx, images.Logf(logf))
	if err != nil {
		return "", err
	}
	a.archives = append(a.archives, proxy)
	notes = append(notes, "kube-rbac-proxy built here")
	switch o.DragonflyImage {
	case DragonflyOperatorDefault:
		notes = append(notes, "Dragonfly: the operator's default image")
	case DragonflyStandIn:
		si, err := images.EnsureDragonflyStandIn(ctx, images.Logf(logf))
		if err != nil {
			return "", err
		}
		a.archives = append(a.archives, si.Archive)
		a.dragonfly = si.Ref
		a.standIn = "Dragonfly-contract stand-in " + si.Ref + " (Debian redis-server behind dfe2e-dfstandin, " + si.Package + "; the operator is real)"
		notes = append(notes, "Dragonfly: contract stand-in "+si.Ref)
	default:
		a.dragonfly = o.DragonflyImage
		notes = append(notes, "Dragonfly: "+o.DragonflyImage)
	}
	return strings.Join(notes, "; "), nil
}

// start runs the registry and pushes every archive under its own name.
func (a *airGap) start(ctx context.Context, o Options, docker string, logf func(string, ...any)) (string, error) {
	reg, err := registry.Start(ctx, registry.Options{Docker: docker, Cluster: o.Cluster, Logf: registry.Logf(logf)})
	if err != nil {
		return "", err
	}
	a.reg = reg
	var refs []string
	for _, ar := range a.archives {
		rs, err := reg.PushArchive(ctx, ar)
		if err != nil {
			return "", fmt.Errorf("pushing %s: %w", ar, err)
		}
		refs = append(refs, rs...)
	}
	if a.hosts, err = registry.Hosts(refs); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d images for %s: %s", len(refs), strings.Join(a.hosts, ", "), strings.Join(refs, " ")), nil
}

// mirrors are the node's containerd mirrors (nil when no registry runs).
func (a *airGap) mirrors() map[string]string {
	if a.reg == nil {
		return nil
	}
	return a.reg.Mirrors(a.hosts...)
}
