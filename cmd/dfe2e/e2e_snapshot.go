package main

import (
	"fmt"
	"strings"
)

// snapshotTargets are the values --snapshot-target accepts.
var snapshotTargets = []string{"dragonfly", "redis-standin"}

// checkSnapshotTarget validates --snapshot-target (empty: the suite's default).
func checkSnapshotTarget(v string) error {
	if v == "" {
		return nil
	}
	for _, t := range strings.Split(v, ",") {
		t = strings.TrimSpace(t)
		ok := false
		for _, k := range snapshotTargets {
			ok = ok || t == k
		}
		if !ok {
			return fmt.Errorf("--snapshot-target %q: unknown target %q; use a comma list of %s", v, t, strings.Join(snapshotTargets, ", "))
		}
	}
	return nil
}
