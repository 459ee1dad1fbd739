package kindconfig

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// MultiNodeDefault is the node count a run without --nodes gets on a host
// with the memory for it: one control plane and two workers, so the
// replicated instance spreads over two nodes and the failover specs see a
// master and replicas on different nodes.
const MultiNodeDefault = 3

// MultiNodeMinAvailable is the host MemAvailable a run without --nodes
// needs to get MultiNodeDefault nodes. Measured on kind with the
// Dragonfly-contract stand-in (install and data tier): the three node
// containers peaked at 775, 225 and 218 MiB, the one node of a 1-node run
// at 792 MiB. The real Dragonfly image needs more on the workers (the
// replicated instance alone has three 512 MiB limits), the suites' go test
// build runs beside the cluster, and the host is shared: 8 GiB leaves room
// for all of that, so the choice does not make a run swap.
const MultiNodeMinAvailable = 8 << 30

// NodeChoice is a run's node count and why, for the run log and the
// report's environment line.
type NodeChoice struct {
	Nodes  int
	Reason string
}

// ChooseNodes is the node count of a run: requested when given (> 0),
// else MultiNodeDefault when the host's MemAvailable (avail, or the error
// reading it) reaches MultiNodeMinAvailable, else DefaultNodes — with the
// numbers it decided on.
func ChooseNodes(requested int, avail uint64, availErr error) NodeChoice {
	if requested > 0 {
		return NodeChoice{requested, fmt.Sprintf("--nodes %d", requested)}
	}
	need := fmt.Sprintf("%s needed for 1 control plane + %d workers", gib(MultiNodeMinAvailable), MultiNodeDefault-1)
	switch {
	case availErr != nil:
		return NodeChoice{DefaultNodes, fmt.Sprintf("default: host memory unknown (%v), %s; pass --nodes %d to ask for them", availErr, need, MultiNodeDefault)}
	case avail < MultiNodeMinAvailable:
		return NodeChoice{DefaultNodes, fmt.Sprintf("default: host MemAvailable %s < %s", gib(avail), need)}
	}
	return NodeChoice{MultiNodeDefault, fmt.Sprintf("default: host MemAvailable %s ≥ %s", gib(avail), need)}
}

func gib(b uint64) string { return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30)) }

// MemAvailable is the host's MemAvailable from /proc/meminfo, in bytes:
// what can be allocated without swapping, page cache included.
func MemAvailable() (uint64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return parseMemAvailable(f)
}

func parseMemAvailable(r io.Reader) (uint64, error) {
	s := bufio.NewScanner(r)
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) == 3 && f[0] == "MemAvailable:" && f[2] == "kB" {
			kb, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/meminfo MemAvailable %q: %w", f[1], err)
			}
			return kb << 10, nil
		}
	}
	if err := s.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("/proc/meminfo has no MemAvailable line in kB")
}
