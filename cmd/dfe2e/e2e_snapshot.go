package main

import (
	"fmt"
	"sort"
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

// standInSuffix says how many passes ran on a stand-in, so a summary never
// reads as if they were Dragonfly verdicts.
func standInSuffix(rec *runRecord) string {
	names := make([]string, 0, len(rec.StandInPasses))
	for n := range rec.StandInPasses {
		names = append(names, n)
	}
	sort.Strings(names)
	out := ""
	for _, n := range names {
		out += fmt.Sprintf("; %d passed on a stand-in (%s), not Dragonfly verdicts", rec.StandInPasses[n], n)
	}
	return out
}
