package kindconfig

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"sigs.k8s.io/kind/pkg/cluster/nodes"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/podnet"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
)

// wirePodNetwork gives every node of a multi-node offline cluster its CNI
// config on its spec.podCIDR and routes to the other nodes' ranges
// (podnet), then waits until every node is Ready. Nothing to do with one
// node or kindnetd.
func (c *Cluster) wirePodNetwork(ctx context.Context) error {
	if !c.o.perNodeCNI() {
		return nil
	}
	cp, err := c.Node()
	if err != nil {
		return err
	}
	ns, err := c.kind.ListNodes(c.o.Name)
	if err != nil {
		return err
	}
	want := len(ns)
	var pn []podnet.Node
	_, err = wait.For(ctx, fmt.Sprintf("the %d nodes of kind cluster %q to be registered with a pod range (spec.podCIDR)", want, c.o.Name), wait.ClusterReady,
		func(ctx context.Context) (bool, string, error) {
			out, err := kubectl(ctx, cp, nil, "get", "nodes", "-o", "jsonpath="+podnet.NodesJSONPath)
			if err != nil {
				return false, err.Error(), nil
			}
			pn = podnet.Parse(out)
			if len(pn) < want {
				return false, fmt.Sprintf("%d of %d nodes registered", len(pn), want), nil
			}
			if err := podnet.Check(pn, podnet.ClusterCIDR); err != nil {
				return false, err.Error(), nil
			}
			return true, "", nil
		})
	if err != nil {
		return err
	}
	if err := podnet.Apply(ctx, nodeExec(ns), pn, podnet.ClusterCIDR); err != nil {
		return err
	}
	ranges := make([]string, 0, len(pn))
	for _, n := range pn {
		ranges = append(ranges, n.Name+"="+n.PodCIDR)
	}
	sort.Strings(ranges)
	c.o.logf()("pod network: per-node bridge ranges %s, routed between the nodes", strings.Join(ranges, " "))
	_, err = wait.For(ctx, fmt.Sprintf("the %d nodes of kind cluster %q to be Ready", want, c.o.Name), wait.ClusterReady,
		func(ctx context.Context) (bool, string, error) {
			out, err := kubectl(ctx, cp, nil, "get", "nodes", "-o", `jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status} {end}`)
			if err != nil {
				return false, err.Error(), nil
			}
			return allReady(out, want), strings.TrimSpace(out), nil
		})
	return err
}

// allReady reads "name=True name=False …" and reports whether want nodes
// are there and every one is Ready.
func allReady(out string, want int) bool {
	f := strings.Fields(out)
	if len(f) < want {
		return false
	}
	for _, kv := range f {
		if !strings.HasSuffix(kv, "=True") {
			return false
		}
	}
	return true
}

// nodeExec runs commands in the kind node containers by node name.
func nodeExec(ns []nodes.Node) podnet.Exec {
	by := map[string]nodes.Node{}
	for _, n := range ns {
		by[n.String()] = n
	}
	return func(ctx context.Context, node string, stdin io.Reader, args ...string) error {
		n, ok := by[node]
		if !ok {
			return fmt.Errorf("node %s is not a container of this kind cluster", node)
		}
		var out bytes.Buffer
		cmd := n.CommandContext(ctx, args[0], args[1:]...).SetStdout(&out).SetStderr(&out)
		if stdin != nil {
			cmd.SetStdin(stdin)
		}
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%w: %s", err, strings.TrimSpace(out.String()))
		}
		return nil
	}
}
