package suites

import (
	"fmt"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
)

// Level is how important a spec is: lower runs in shorter runs.
type Level int

// The levels, from the specs every run needs to those only nightly runs afford.
const (
	// Highest: the install itself; without it nothing else means anything.
	Highest Level = iota
	// High: the conformance checks of the bundled version.
	High
	// Medium: planted-defect self-tests and reports. The default depth.
	Medium
	// Low: the same checks repeated on the other pinned versions.
	Low
	// Lowest: exhaustive variants.
	Lowest
)

// DefaultDepth runs everything up to Medium.
const DefaultDepth = Medium

// Depth reads DFE2E_TEST_DEPTH: specs above it (numerically) are skipped.
func Depth() (Level, error) {
	s := config.FromEnv()
	n, set, err := s.TestDepthValue()
	if !set && err == nil {
		return DefaultDepth, nil
	}
	if err != nil || n < int(Highest) || n > int(Lowest) {
		return 0, fmt.Errorf("%s=%q: want an integer %d (highest only) … %d (everything)", config.EnvTestDepth, s.TestDepth, Highest, Lowest)
	}
	return Level(n), nil
}

// SkipReason returns why a spec of level l does not run at depth d ("" when it runs).
func SkipReason(l, d Level) string {
	if l <= d {
		return ""
	}
	return fmt.Sprintf("spec level %d is deeper than test depth %s=%d (set %s=%d to run it)", l, config.EnvTestDepth, d, config.EnvTestDepth, l)
}
