package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/cluster"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/flux"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/gitserver"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/images"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/preflight"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/verdict"
	"github.com/dragonfly-e2e/dragonfly-e2e/kindconfig"
	"github.com/dragonfly-e2e/dragonfly-e2e/reports"
)

// fluxFlags are the Flux tier's options of `dfe2e e2e`.
type fluxFlags struct {
	manifests   string
	labelFilter string
	skip        bool
}

func registerFluxFlags(fl *pflag.FlagSet, f *fluxFlags) {
	fl.StringVar(&f.manifests, "flux-manifests", os.Getenv(flux.ManifestsEnvVar),
		"offline copy of the flux2 "+flux.Version+" release manifests (folder with source-controller.yaml, …; env "+flux.ManifestsEnvVar+"); empty: downloaded from GitHub")
	fl.StringVar(&f.labelFilter, "flux-label-filter", "health", "Ginkgo label filter of the Flux tier, run after the install tier")
	fl.BoolVar(&f.skip, "skip-flux", false, "do not run the Flux tier")
}

// checkFluxFlags rejects a manifests folder that cannot work (exit 2).
func checkFluxFlags(f *e2eFlags) error {
	if f.flux.skip {
		return nil
	}
	if f.flux.manifests != "" {
		abs, err := filepath.Abs(f.flux.manifests)
		if err != nil {
			return err
		}
		f.flux.manifests = abs
		return flux.CheckManifestsDir(abs)
	}
	if f.offline {
		return fmt.Errorf("--offline needs --flux-manifests (or %s): the Flux %s release manifests cannot be downloaded offline", flux.ManifestsEnvVar, flux.Version)
	}
	return nil
}

// fluxImages is the background build of the Flux tier's images, started
// early because the controllers take minutes to compile cold.
type fluxImages struct {
	once      sync.Once
	done      chan struct{}
	archives  []string
	gitServer string
	err       error
	took      time.Duration
}

func startFluxImages(ctx context.Context, f *e2eFlags) *fluxImages {
	fi := &fluxImages{done: make(chan struct{})}
	if f.flux.skip {
		close(fi.done)
		return fi
	}
	logf := func(format string, args ...any) { progress("flux images: "+format, args...) }
	go func() {
		defer close(fi.done)
		start := time.Now()
		defer func() { fi.took = time.Since(start) }()
		root, err := preflight.FindModuleRoot()
		if err != nil {
			fi.err = err
			return
		}
		a, ref, err := images.EnsureGitServer(ctx, root, logf)
		if err != nil {
			fi.err = err
			return
		}
		fi.archives, fi.gitServer = append(fi.archives, a), ref
		if !f.offline && images.RegistryReachable(ctx) {
			logf("registry reachable: Flux controllers come from %s", flux.Registry)
			return
		}
		as, err := images.EnsureFluxImages(ctx, logf)
		if err != nil {
			fi.err = err
			return
		}
		fi.archives = append(fi.archives, as...)
	}()
	return fi
}

// runFluxTier loads the Flux images into the cluster and runs the health
// suite (after the install tier), returning its spec verdicts.
func runFluxTier(ctx context.Context, f *e2eFlags, cl *kindconfig.Cluster, art, kc string, fi *fluxImages, rec *runRecord,
	timed func(string, func() (string, error)) error) (verdict.Summary, error) {
	var sum verdict.Summary
	if f.flux.skip {
		rec.Steps = append(rec.Steps, step{Name: "suites: " + f.flux.labelFilter, Status: "not-run", Detail: "--skip-flux"})
		return sum, nil
	}
	if err := timed("flux: controller and git server images", func() (string, error) {
		waitStart := time.Now()
		select {
		case <-fi.done:
		case <-ctx.Done():
			return "", ctx.Err()
		}
		if fi.err != nil {
			return "", fi.err
		}
		return fmt.Sprintf("%d archives (background build %s, waited %s)", len(fi.archives), fi.took.Round(time.Second), time.Since(waitStart).Round(time.Second)), nil
	}); err != nil {
		return sum, err
	}
	if err := timed("flux: load images into the node", func() (string, error) {
		return strings.Join(fi.archives, " "), cl.LoadArchives(fi.archives...)
	}); err != nil {
		return sum, err
	}
	report := filepath.Join(art, "e2e-health.json")
	suiteErr := timed("suites: "+f.flux.labelFilter, func() (string, error) {
		root, err := preflight.FindModuleRoot()
		if err != nil {
			return "", err
		}
		args := []string{"test", "-count=1", "-timeout=60m", "-tags", "e2e", f.suites, "-args",
			"-ginkgo.label-filter=" + f.flux.labelFilter, "-ginkgo.timeout=55m",
			"-ginkgo.json-report=" + report, "-ginkgo.junit-report=" + filepath.Join(art, "e2e-health.junit.xml")}
		progress("running the Flux tier: go %s", strings.Join(args, " "))
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = root
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		cmd.Env = append(os.Environ(), cluster.EnvVar+"=kind", cluster.KindKubeconfigEnvVar+"="+kc, "KUBECONFIG="+kc,
			gitserver.ImageEnvVar+"="+fi.gitServer, flux.ManifestsEnvVar+"="+f.flux.manifests)
		cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
		cmd.WaitDelay = 60 * time.Second
		if err := cmd.Run(); err != nil {
			return report, fmt.Errorf("Flux tier: %v; report: %s", err, report)
		}
		return report, nil
	})
	if fileExists(report) {
		s, err := tierSummary(rec, report, filepath.Join(art, "e2e-kind.json"))
		if err != nil {
			progress("reading the Flux tier's report: %v", err)
		}
		sum = s
	}
	return sum, suiteErr
}

// fluxTierLabel marks the specs of this tier in both reports.
const fluxTierLabel = "health"

// tierSummary counts the Flux tier's own specs in its report (and lists
// those that did not pass in rec), minus the same specs the install tier's
// report already counted as skipped (not selected there), so that adding it
// to the install tier's summary counts every spec once.
func tierSummary(rec *runRecord, report, installReport string) (verdict.Summary, error) {
	var sum verdict.Summary
	suites, _, err := reports.ReadGinkgo(report)
	if err != nil {
		return sum, err
	}
	for _, su := range suites {
		for _, sp := range su.Specs {
			if !slices.Contains(sp.Labels, fluxTierLabel) {
				continue
			}
			sum.Add(sp.Verdict.Status)
			if sp.Verdict.Status != verdict.Passed {
				rec.Specs = append(rec.Specs, specLine{Status: sp.Verdict.Status, Spec: sp.FullName(), Reason: sp.Verdict.Reason})
			}
		}
	}
	if installed, _, err := reports.ReadGinkgo(installReport); err == nil {
		for _, su := range installed {
			for _, sp := range su.Specs {
				if slices.Contains(sp.Labels, fluxTierLabel) && sp.Verdict.Status == verdict.Skipped {
					sum.Skipped--
				}
			}
		}
	}
	return sum, nil
}
