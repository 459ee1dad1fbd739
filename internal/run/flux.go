package run

import (
	"context"
	"fmt"
	"time"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/images"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/preflight"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/flux"
)

// fluxImages is the background build of the Flux tier's images, started
// right after preflight because the controllers take minutes to compile cold.
type fluxImages struct {
	done      chan struct{}
	archives  []string
	gitServer string
	err       error
	took      time.Duration
}

func startFluxImages(ctx context.Context, o Options, logf func(string, ...any)) *fluxImages {
	fi := &fluxImages{done: make(chan struct{})}
	if o.Flux.Skip && !o.Upgrade.Run {
		close(fi.done)
		return fi
	}
	flogf := func(format string, args ...any) { logf("flux images: "+format, args...) }
	go func() {
		defer close(fi.done)
		start := time.Now()
		defer func() { fi.took = time.Since(start) }()
		root, err := preflight.FindModuleRoot()
		if err != nil {
			fi.err = err
			return
		}
		a, ref, err := images.EnsureGitServer(ctx, root, flogf)
		if err != nil {
			fi.err = err
			return
		}
		fi.archives, fi.gitServer = append(fi.archives, a), ref
		if !o.Offline && images.RegistryReachable(ctx) {
			flogf("registry reachable: Flux controllers come from %s", flux.Registry)
			return
		}
		as, err := images.EnsureFluxImages(ctx, flogf)
		if err != nil {
			fi.err = err
			return
		}
		fi.archives = append(fi.archives, as...)
	}()
	return fi
}

// wait blocks until the background build ended.
func (fi *fluxImages) wait(ctx context.Context) (string, error) {
	if fi == nil {
		return "", fmt.Errorf("the Flux images were never started (preflight did not pass)")
	}
	start := time.Now()
	select {
	case <-fi.done:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	if fi.err != nil {
		return "", fi.err
	}
	return fmt.Sprintf("%d archives (background build %s, waited %s)", len(fi.archives), fi.took.Round(time.Second), time.Since(start).Round(time.Second)), nil
}
