package lint

import (
	"fmt"
	"sort"
	"strings"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/flux"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/static/gitops"
)

func init() {
	register(Rule{
		ID:          "DFE009",
		Name:        "kustomization-reachable",
		Description: "Every Flux Kustomization defined in the repository is applied: reachable from the entry point (the `flux-system` Kustomization's path, else the Kustomizations outside every other one's path), through what each renders. An unreachable one, and all it renders, never reaches the cluster; other rules see only what is reachable.",
		Remediation: "List the Kustomization's file in the kustomization.yaml of the directory that renders it (e.g. kubernetes/apps/database/kustomization.yaml), or delete the file.",
		check:       checkReachable,
	})
	register(Rule{
		ID:          "DFE010",
		Name:        "dependson-acyclic",
		Description: "The Flux Kustomizations have a Ready order: no cycle through spec.dependsOn (or a dependsOn on a Kustomization that is applied only through the dependent one).",
		Remediation: "Break the cycle: drop the dependsOn entry that points back (the operator does not depend on its instances).",
		check:       checkDependsOnCycle,
	})
}

func checkReachable(c *Context) []Finding {
	var out []Finding
	entries := strings.Join(c.Tree.Entries, ", ")
	for _, k := range c.Tree.Unreachable() {
		n := len(k.Objects)
		var why string
		switch parent := c.Tree.Kustomization(namespaceOf(k.Parent), nameOf(k.Parent)); {
		case parent != nil:
			why = fmt.Sprintf("only %s renders it, and Flux never applies that one", parent.Key())
		case c.Tree.CoveringPath(k) != nil:
			cover := c.Tree.CoveringPath(k)
			why = fmt.Sprintf("%s lies in spec.path %s of %s, but no kustomization.yaml there lists it", k.File(), cover.Path, cover.Key())
		default:
			why = fmt.Sprintf("%s lies outside what the entry point renders", k.File())
		}
		out = append(out, ksFinding(k, fmt.Sprintf("Kustomization %s (%s) is not reachable from the Flux entry point %s: %s, so Flux never applies it nor the %d object(s) it renders",
			k.Key(), k.Origin, entries, why, n)))
	}
	return out
}

func namespaceOf(key string) string { ns, _, _ := strings.Cut(key, "/"); return ns }
func nameOf(key string) string      { _, n, _ := strings.Cut(key, "/"); return n }

// checkDependsOnCycle asks flux.ChainOrder (the order the Flux tier waits in)
// for a Ready order of the applied Kustomizations. A dependsOn on a missing
// Kustomization is DFE004's; without those, a tree with no order has a
// cycle, which is named by following the edges.
func checkDependsOnCycle(c *Context) []Finding {
	view := *c.applied
	view.Kustomizations = nil
	byKey := map[string]*gitops.Kustomization{}
	for _, k := range c.applied.Kustomizations {
		cp := *k
		cp.DependsOn = nil
		for _, d := range k.DependsOn {
			if c.applied.Kustomization(d.Namespace, d.Name) != nil {
				cp.DependsOn = append(cp.DependsOn, d)
			}
		}
		if cp.Parent == cp.Key() {
			cp.Parent = "" // bootstrap's flux-system applies itself
		}
		view.Kustomizations = append(view.Kustomizations, &cp)
		byKey[cp.Key()] = &cp
	}
	order, err := flux.ChainOrder(&view)
	if err == nil {
		return nil
	}
	done := map[string]bool{}
	for _, k := range order {
		done[k.Key()] = true
	}
	// waitsFor lists what k cannot become Ready before: its dependsOn, and
	// the Kustomization that applies it.
	waitsFor := func(k *gitops.Kustomization) []edge {
		var out []edge
		for i, d := range k.DependsOn {
			out = append(out, edge{d.Namespace + "/" + d.Name, fmt.Sprintf("spec.dependsOn[%d]", i)})
		}
		if k.Parent != "" {
			out = append(out, edge{k.Parent, "applied by"})
		}
		return out
	}
	var out []Finding
	seen := map[string]bool{}
	for _, k := range view.Kustomizations {
		if done[k.Key()] {
			continue
		}
		cycle := findCycle(k.Key(), byKey, waitsFor)
		if cycle == nil {
			continue // stuck behind a cycle, which is reported on its own
		}
		members := append([]string(nil), cycle.keys...)
		sort.Strings(members)
		id := strings.Join(members, ",")
		if seen[id] {
			continue
		}
		seen[id] = true
		first := byKey[members[0]]
		out = append(out, ksFinding(c.applied.Kustomization(first.Namespace, first.Name), fmt.Sprintf(
			"spec.dependsOn forms a cycle: %s, so none of %s ever becomes Ready", cycle.path(), strings.Join(members, ", "))))
	}
	for _, k := range c.applied.Kustomizations {
		if len(out) == 0 && !done[k.Key()] {
			// No order, yet no cycle traced: report ChainOrder's verdict as is.
			out = append(out, ksFinding(k, err.Error()))
		}
	}
	return out
}

type edge struct{ to, label string }

type cycle struct {
	keys   []string
	labels []string // labels[i] is the edge from keys[i] to keys[i+1] (wrapping)
}

func (c cycle) path() string {
	var b strings.Builder
	for i, k := range c.keys {
		b.WriteString(k)
		next := c.keys[(i+1)%len(c.keys)]
		if c.labels[i] == "applied by" {
			fmt.Fprintf(&b, " (applied by %s) → ", next)
			continue
		}
		fmt.Fprintf(&b, " (%s) → ", c.labels[i])
	}
	b.WriteString(c.keys[0])
	return b.String()
}

// findCycle returns the shortest cycle through start over the edges, or nil
// when start is not on a cycle (it may still wait behind one).
func findCycle(start string, nodes map[string]*gitops.Kustomization, edges func(*gitops.Kustomization) []edge) *cycle {
	type step struct{ from, label string }
	prev := map[string]step{}
	queue := []string{start}
	for len(queue) > 0 {
		key := queue[0]
		queue = queue[1:]
		k, ok := nodes[key]
		if !ok {
			continue
		}
		for _, e := range edges(k) {
			if e.to == start {
				// Walk back from key to start, then reverse.
				c := &cycle{keys: []string{key}, labels: []string{e.label}}
				for at := key; at != start; at = prev[at].from {
					c.keys = append(c.keys, prev[at].from)
					c.labels = append(c.labels, prev[at].label)
				}
				for i, j := 0, len(c.keys)-1; i < j; i, j = i+1, j-1 {
					c.keys[i], c.keys[j] = c.keys[j], c.keys[i]
					c.labels[i], c.labels[j] = c.labels[j], c.labels[i]
				}
				return c
			}
			if _, seen := prev[e.to]; seen {
				continue
			}
			prev[e.to] = step{key, e.label}
			queue = append(queue, e.to)
		}
	}
	return nil
}
