package main

import (
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
