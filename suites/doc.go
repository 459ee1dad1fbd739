// Package suites holds the dragonfly-e2e Ginkgo suites. The specs are behind
// the `e2e` build tag, so a plain `go test ./...` starts no API server:
//
//	go test -tags e2e ./suites/... -args -ginkgo.label-filter='install || rbac || admission || selftest'
//
// The cluster comes from internal/env/cluster (DFE2E_CLUSTER=envtest|kubeconfig),
// the depth from DFE2E_TEST_DEPTH (levels.go), labels from labels.go; object
// dumps of failed specs go to DFE2E_ARTIFACTS (default ./artifacts).
package suites
