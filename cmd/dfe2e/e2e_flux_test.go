package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckFluxFlags(t *testing.T) {
	f := &e2eFlags{}
	f.flux.manifests = t.TempDir()
	if err := checkFluxFlags(f); err == nil || !strings.Contains(err.Error(), "source-controller.yaml") {
		t.Fatalf("empty manifests folder: want an error naming source-controller.yaml, got %v", err)
	}
	f = &e2eFlags{offline: true}
	if err := checkFluxFlags(f); err == nil || !strings.Contains(err.Error(), "--flux-manifests") {
		t.Fatalf("--offline without manifests: want an error naming --flux-manifests, got %v", err)
	}
	f = &e2eFlags{offline: true}
	f.flux.skip = true
	if err := checkFluxFlags(f); err != nil {
		t.Fatalf("--skip-flux: %v", err)
	}
}

// Uses the reports of a real run when present (DFE2E_TEST_HEALTH_REPORT_DIR).
func TestTierSummaryCountsEachSpecOnce(t *testing.T) {
	dir := os.Getenv("DFE2E_TEST_HEALTH_REPORT_DIR")
	if dir == "" {
		t.Skip("set DFE2E_TEST_HEALTH_REPORT_DIR to a dfe2e e2e artifacts dir")
	}
	rec := &runRecord{}
	sum, err := tierSummary(rec, filepath.Join(dir, "e2e-health.json"), filepath.Join(dir, "e2e-kind.json"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s; %d listed", sum.Line(), len(rec.Specs))
	if sum.Blocked == 0 || sum.Passed == 0 {
		t.Fatalf("want passed and blocked specs, got %s", sum.Line())
	}
}
