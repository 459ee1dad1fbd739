package gitops

import (
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
)

// OperatorSource is where s says the upstream operator manifests come from:
// the offline copy ($DFE2E_OPERATOR_SOURCE) and dfe2e's cache. The operator
// package reads no environment, so every caller fills its SourceOptions
// here; a flag such as --operator-source then replaces Override.
func OperatorSource(s config.Settings) operator.SourceOptions {
	return operator.SourceOptions{Override: s.OperatorSource, CacheDir: s.OperatorCacheDir()}
}
