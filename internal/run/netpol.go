package run

import (
	"context"
	"fmt"
	"strings"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/images"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/netpolicy"
)

// NetworkLabel is the network suite's label: selecting it asks for a
// cluster that enforces NetworkPolicy.
const NetworkLabel = "network"

// Values of Options.NetpolEnforcer.
const (
	// EnforcerAuto installs kube-router on an offline cluster (its bridge
	// CNI enforces nothing) when the install tier selects network specs;
	// online, kind's kindnetd (≥ v0.24) enforces and nothing is installed.
	EnforcerAuto = "auto"
	// EnforcerKubeRouter installs it whatever the filter and the images.
	EnforcerKubeRouter = "kube-router"
	// EnforcerNone never installs one (the preflight then proves or blocks).
	EnforcerNone = "none"
)

// NetpolEnforcers are the values --netpol-enforcer accepts.
var NetpolEnforcers = []string{EnforcerAuto, EnforcerKubeRouter, EnforcerNone}

func checkEnforcer(v string) error {
	for _, e := range NetpolEnforcers {
		if v == e {
			return nil
		}
	}
	return fmt.Errorf("--netpol-enforcer %q: use one of %s", v, strings.Join(NetpolEnforcers, ", "))
}

// selectsNetwork says whether a tier's label filter can select a spec
// labelled network (an empty filter selects everything).
func selectsNetwork(filter string) (bool, error) {
	if strings.TrimSpace(filter) == "" {
		return true, nil
	}
	f, err := types.ParseLabelFilter(filter)
	if err != nil {
		return false, fmt.Errorf("--label-filter %q: %w", filter, err)
	}
	// The label sets the network suite's specs carry.
	return f([]string{NetworkLabel}) || f([]string{NetworkLabel, "disruptive"}), nil
}

// wantEnforcer: whether this run installs kube-router, and why not.
func wantEnforcer(o Options, offline bool) (bool, string) {
	switch o.NetpolEnforcer {
	case EnforcerNone:
		return false, "--netpol-enforcer=none"
	case EnforcerKubeRouter:
		return true, ""
	}
	if !offline {
		return false, "online: kind's kindnetd enforces NetworkPolicy"
	}
	if o.SkipInstall {
		return false, "no install tier"
	}
	if ok, _ := selectsNetwork(o.LabelFilter); !ok {
		return false, "the label filter selects no network spec"
	}
	return true, ""
}

// installEnforcer builds (cached) the enforcer image, loads it into the
// nodes and runs the DaemonSet until Ready on every node.
func installEnforcer(ctx context.Context, load func(...string) error, kubeconfig string, logf func(string, ...any)) (string, error) {
	img, err := images.EnsureEnforcer(ctx, images.Logf(logf))
	if err != nil {
		return "", err
	}
	if err := load(img.Archive); err != nil {
		return "", fmt.Errorf("loading %s into the nodes: %w", img.Ref, err)
	}
	return netpolicy.Install(ctx, kubeconfig, img.Ref, netpolicy.Logf(logf))
}
