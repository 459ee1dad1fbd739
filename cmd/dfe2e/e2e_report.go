package main

import (
	"path/filepath"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/k8sbuild"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
	"github.com/dragonfly-e2e/dragonfly-e2e/reports"
)

// writeRunReport turns every tier's Ginkgo report into the run report
// (reports.Build: JUnit with blocked kept apart, JSON, Markdown, HTML) under
// <artifacts>/report, so `make e2e` leaves the same outputs as `dfe2e report build`.
func writeRunReport(art string, rec *runRecord) (string, error) {
	var in reports.Inputs
	for _, name := range []string{"e2e-kind.json", "e2e-health.json"} {
		if p := filepath.Join(art, name); fileExists(p) {
			in.Ginkgo = append(in.Ginkgo, p)
		}
	}
	version := envOr("DFE2E_OPERATOR_VERSION", operator.DefaultVersion)
	in.Env = []string{
		"cluster=kind",
		"operator=" + version,
		"operator-image=" + operator.ManagerImageRepository + ":" + version,
		"node-image=" + rec.NodeImage,
	}
	if rec.Offline {
		// Offline node images are built here at the pinned version.
		in.Env = append(in.Env, "kubernetes="+k8sbuild.KubernetesVersion)
	}
	r, err := reports.Build(in)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(art, "report")
	return dir, r.WriteAll(dir)
}
