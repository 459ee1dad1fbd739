package suites

import (
	"fmt"
	"os"
	"strconv"
)

// Level is how important a spec is: lower runs in shorter runs.
type Level int

// The levels, from the specs every run needs to those only nightly runs afford.
const (
	// Highest: the install itself; without it nothing else means anything.
	Highest Level = iota
	// High: the checks the issue asks for on the bundled version.
	High
	// Medium: planted-defect self-tests and reports. The default depth.
	Medium
	// Low: the same checks repeated on the other pinned versions.
	Low
	// Lowest: exhaustive variants.
	Lowest
)

// DepthEnvVar selects the depth: specs above it (numerically) are skipped.
const DepthEnvVar = "DFE2E_TEST_DEPTH"

// DefaultDepth runs everything up to Medium.
const DefaultDepth = Medium

// Depth reads DFE2E_TEST_DEPTH.
func Depth() (Level, error) {
	raw := os.Getenv(DepthEnvVar)
	if raw == "" {
		return DefaultDepth, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < int(Highest) || n > int(Lowest) {
		return 0, fmt.Errorf("%s=%q: want an integer %d (highest only) … %d (everything)", DepthEnvVar, raw, Highest, Lowest)
	}
	return Level(n), nil
}

// SkipReason returns why a spec of level l does not run at depth d ("" when it runs).
func SkipReason(l, d Level) string {
	if l <= d {
		return ""
	}
	return fmt.Sprintf("spec level %d is deeper than test depth %s=%d (set %s=%d to run it)", l, DepthEnvVar, d, DepthEnvVar, l)
}
