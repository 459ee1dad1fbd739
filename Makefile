# dragonfly-e2e — make targets. `make deps test` is the README's test command
# (and what .ci/run calls); `make deps e2e` is the main job. Only `deps` and
# `e2e` install anything; the test targets check and say what is missing.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
GO ?= go
ARTIFACTS ?= $(CURDIR)/artifacts
# Offline source of the upstream operator manifests (directory with <version>/dragonfly-operator.yaml).
# Left empty, the pinned upstream URL is fetched and verified against its sha256.
DFE2E_OPERATOR_SOURCE ?= $(wildcard $(CURDIR)/../shared/upstream/dragonfly-operator)
export DFE2E_OPERATOR_SOURCE
# Offline copy of the flux2 release manifests (install.Generate's manifests base for the Flux tier).
# Left empty, the release is downloaded from GitHub.
DFE2E_FLUX_MANIFESTS ?= $(wildcard $(CURDIR)/../shared/upstream/flux/v2.9.5/manifests)
export DFE2E_FLUX_MANIFESTS
# Offline copies of the upstream operator images (docker save archives + SHA256SUMS),
# served to the cluster through the run's registry mirror. Left empty, the
# operator image must come from its registry.
DFE2E_OPERATOR_IMAGES ?= $(wildcard $(CURDIR)/../shared/images/operator)
export DFE2E_OPERATOR_IMAGES

.PHONY: all build test test-unit test-api e2e e2e-upgrade e2e-network lint bench deps check-deps envtest-assets clean help

all: build

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

build: ## build bin/dfe2e
	$(GO) build -o bin/dfe2e ./cmd/dfe2e

deps: ## install the Debian packages the tests run (redis-server, redis-tools, busybox-static) when missing; root or sudo
	@./hack/deps.sh

check-deps: ## exit 2 naming what is missing when a host tool the tests run is absent (installs nothing)
	@./hack/deps.sh --check

test: check-deps test-unit test-api ## everything that runs without Docker: unit, static self-tests, API tier

test-unit: check-deps ## unit tests and static-conformance self-tests (no cluster)
	$(GO) test -count=1 ./...

envtest-assets: ## build (once, cached) kube-apiserver and etcd for the API tier
	@$(GO) run ./cmd/dfe2e assets envtest

# API_LABELS selects API-tier specs (Ginkgo label filter); DFE2E_TEST_DEPTH (0-4, default 2) their depth.
API_LABELS ?= (install || rbac || admission || selftest) && !upgrade
# KUBEBUILDER_ASSETS, when set, names the kube-apiserver/etcd to use; unset, the pinned ones
# are built once into the cache (internal/env/k8sbuild) by a small command that does not link the CLI.
test-api: ## install/rbac/admission suites + planted-defect self-tests against one real kube-apiserver + etcd (envtest, no Docker)
	@assets="$${KUBEBUILDER_ASSETS:-$$($(GO) run ./internal/env/cluster/envtestassets)}"; \
	  mkdir -p $(ARTIFACTS); \
	  KUBEBUILDER_ASSETS="$$assets" DFE2E_CLUSTER=envtest DFE2E_ARTIFACTS=$(ARTIFACTS) \
	  $(GO) test -count=1 -timeout 20m -tags e2e ./suites -args \
	    -ginkgo.label-filter='$(API_LABELS)' -ginkgo.no-color -ginkgo.timeout=15m \
	    -ginkgo.json-report=$(ARTIFACTS)/api-tier.json -ginkgo.junit-report=$(ARTIFACTS)/api-tier.junit.xml

# E2E_FLAGS: extra `dfe2e e2e` flags, e.g. --offline, --keep-cluster, --keep-on-failure,
# --reuse-cluster, --image-archive=FILE (see `bin/dfe2e e2e --help`).
E2E_FLAGS ?=
e2e: ## the main job: preflight, images (built offline when no registry), kind + local-path, install/RBAC/admission suites, reports
	$(GO) build -o bin/dfe2e ./cmd/dfe2e
	exec ./bin/dfe2e e2e --artifacts $(ARTIFACTS) $(E2E_FLAGS)

# One node: the chain judges the operator's releases, not the topology, and
# on three nodes the same tier took 18 min against 20 min allowed in CI.
e2e-upgrade: ## the release gate's upgrade tier alone: Flux installs the oldest pinned operator, each next release is committed and judged (reports in $(ARTIFACTS)/upgrade)
	$(GO) build -o bin/dfe2e ./cmd/dfe2e
	exec ./bin/dfe2e e2e --upgrade --skip-install --skip-flux --nodes 1 --artifacts $(ARTIFACTS)/upgrade $(E2E_FLAGS)

# A cluster of its own (≈4 min warm), not make e2e's default filter: offline it installs kube-router
# (one cold ≈10 min build, then cached), and every policy then holds for the whole run, which the
# other tiers' clients are not written for.
e2e-network: ## the network suite alone: NetworkPolicy enforced (offline: kube-router's policy controller, built here), proven by a preflight, then the operator's per-instance policy (reports in $(ARTIFACTS)/network)
	$(GO) build -o bin/dfe2e ./cmd/dfe2e
	exec ./bin/dfe2e e2e --label-filter=network --skip-flux --artifacts $(ARTIFACTS)/network $(E2E_FLAGS)

lint: ## gofmt + go vet
	@out="$$(gofmt -l $$(git ls-files '*.go'))"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags e2e ./suites/...

# BENCH_FLAGS e.g. "-reps 3 -requests-p1 50000", or "-judge" to exit 1 on a missed target; see `go run ./cmd/loadbench -h`.
BENCH_FLAGS ?=
bench: check-deps build ## loadgen vs redis-benchmark on a local redis-server, 7 interleaved repetitions: spread and ratios of ops/s and ops per client-CPU-second (each over the whole client process) at pipelines 1 and 16 and where the server is the ceiling, and a PASS/FAIL line per target
	$(GO) run ./cmd/loadbench -dfe2e bin/dfe2e -out $(ARTIFACTS)/bench $(BENCH_FLAGS)

clean: ## remove build outputs and artifacts (not the build cache)
	rm -rf bin $(ARTIFACTS)
