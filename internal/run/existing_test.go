package run

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/verdict"
)

func kubeconfigFile(t *testing.T, server string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(p, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "`+server+`", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: ops, context: {cluster: c, user: u}}]
current-context: ops
`), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// existingOptions are options that validate, on an existing cluster.
func existingOptions(t *testing.T, kubeconfig string) Options {
	return Options{Repeat: 1, Suites: "./suites", Artifacts: t.TempDir(), DragonflyImage: DragonflyOperatorDefault,
		Flux: FluxOptions{Skip: true}, Existing: ExistingOptions{Kubeconfig: kubeconfig}}
}

func TestExistingClusterFlagValidation(t *testing.T) {
	kc := kubeconfigFile(t, "https://127.0.0.1:1")
	missing := filepath.Join(t.TempDir(), "nope.kubeconfig")
	cases := []struct {
		name string
		edit func(*Options)
		want []string
	}{
		{"a missing kubeconfig is named", func(o *Options) { o.Existing.Kubeconfig = missing }, []string{"--kubeconfig " + missing, "give the path"}},
		{"a directory is not a kubeconfig", func(o *Options) { o.Existing.Kubeconfig = t.TempDir() }, []string{"is a directory"}},
		{"kind-only flags conflict, each named", func(o *Options) { o.Reuse, o.Cluster, o.Keep = true, "mine", true },
			[]string{"conflicts with --reuse-cluster, --keep-cluster, --name", "leave out --kubeconfig to run on kind"}},
		{"images put into kind nodes conflict", func(o *Options) { o.Archives, o.LoadImages = []string{"a.tar"}, []string{"x"} },
			[]string{"--image-archive, --load-image"}},
		{"the upgrade tier conflicts", func(o *Options) { o.Upgrade.Run = true }, []string{"--upgrade"}},
		{"more kind nodes conflict", func(o *Options) { o.Nodes = 3 }, []string{"--nodes"}},
		{"the stand-in built here cannot reach the cluster", func(o *Options) { o.DragonflyImage = DragonflyStandIn },
			[]string{"--dragonfly-image standin", "leave --dragonfly-image out"}},
		{"--context without --kubeconfig", func(o *Options) { o.Existing = ExistingOptions{Context: "ops", SkipFluxInstall: true} },
			[]string{"--context, --skip-flux-install only apply to an existing cluster", "add --kubeconfig"}},
		{"--storage-class without --kubeconfig", func(o *Options) { o.Existing = ExistingOptions{StorageClass: "gold"} },
			[]string{"--storage-class only applies"}},
		{"--git-server-image without --kubeconfig", func(o *Options) { o.Existing = ExistingOptions{GitServerImage: "reg.example/gitserver:1"} },
			[]string{"--git-server-image only applies to an existing cluster", "builds and loads its Git server image itself"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := existingOptions(t, kc)
			c.edit(&o)
			err := o.Validate()
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
	o := existingOptions(t, kc)
	if err := o.Validate(); err != nil {
		t.Fatalf("valid options refused: %v", err)
	}
	if !filepath.IsAbs(o.Existing.Kubeconfig) {
		t.Errorf("kubeconfig not made absolute: %s", o.Existing.Kubeconfig)
	}
}

// An API server that does not answer is bad input (exit 2) naming the
// kubeconfig and the context, and nothing runs.
func TestExistingClusterUnreachableIsBadInput(t *testing.T) {
	t.Setenv(config.EnvTimeouts, `{"APIServerReachable":"1s"}`)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	kc := kubeconfigFile(t, "https://"+addr)
	o := existingOptions(t, kc)
	o.Existing.Context = "ops"
	ran := false
	o.Logf = func(f string, a ...any) {
		if strings.HasPrefix(f, "running suites") {
			ran = true
		}
	}
	rec, err := E2E(context.Background(), o)
	if err == nil || rec.ExitCode(false) != 2 {
		t.Fatalf("want bad input (exit 2), got exit %d, %v", rec.ExitCode(false), err)
	}
	for _, w := range []string{addr, kc, "context ops", "does not answer"} {
		if !strings.Contains(rec.BadInput, w) {
			t.Errorf("bad input %q does not name %q", rec.BadInput, w)
		}
	}
	if ran || rec.Tiers["install and data"] == "ran" {
		t.Error("the suites ran against an unreachable cluster")
	}
}

func TestExistingSettingsCarryStorageClassRunIDAndNoKindKubeconfig(t *testing.T) {
	base := config.Settings{KindKubeconfig: "/old/kind.kubeconfig", Home: "/root"}
	o := Options{Artifacts: "/a", OperatorVersion: "v1.6.1", DragonflyImage: "dfe2e.local/dragonfly-contract-standin:abc",
		Existing: ExistingOptions{Kubeconfig: "/k/config", Context: "ops"}}
	env := existingSettings(base, o, "gold", "r1").ChildEnv()
	for _, want := range []string{"DFE2E_CLUSTER=kubeconfig", "KUBECONFIG=/k/config", "DFE2E_KUBE_CONTEXT=ops",
		"DFE2E_STORAGE_CLASS=gold", "DFE2E_RUN_ID=r1", "DFE2E_DRAGONFLY_IMAGE=dfe2e.local/dragonfly-contract-standin:abc"} {
		if !slices.Contains(env, want) {
			t.Errorf("the suites are not told %s", want)
		}
	}
	if slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, config.EnvKindKubeconfig+"=") }) {
		t.Error("a kind kubeconfig leaks into a run on an existing cluster")
	}
	// The stand-in, even pulled by reference, is named as one: its passes
	// are never Dragonfly's.
	if !slices.ContainsFunc(env, func(kv string) bool {
		return strings.HasPrefix(kv, config.EnvDragonflyStandIn+"=Dragonfly-contract stand-in")
	}) {
		t.Error("the stand-in image by reference is not named as a stand-in")
	}
	o.DragonflyImage = DragonflyOperatorDefault
	s := existingSettings(base, o, "gold", "r1")
	if s.DragonflyImage != "" || s.DragonflyStandIn != "" {
		t.Errorf("operator-default must hand no image and no stand-in: %q %q", s.DragonflyImage, s.DragonflyStandIn)
	}
}

func TestNotRunErrorLeavesTheTierNotRunWithItsReason(t *testing.T) {
	dir := t.TempDir()
	ran := false
	tier := Tier{Name: "flux", LabelFilter: "health", Report: filepath.Join(dir, "flux.json"),
		Before: []Step{{"flux: detect", func(context.Context) (string, error) {
			return "", &NotRunError{Why: "--skip-flux-install and the cluster has no Flux"}
		}}},
		Run: func(context.Context, string) error { ran = true; return nil }}
	rec, err := Execute(context.Background(), Plan{Tiers: []Tier{tier}})
	if err != nil {
		t.Fatal(err)
	}
	if ran {
		t.Fatal("the tier ran")
	}
	if got := rec.Tiers["flux"]; got != "not run: --skip-flux-install and the cluster has no Flux" {
		t.Errorf("tier: %q", got)
	}
	if rec.Outcome == verdict.Failed || rec.Outcome == verdict.Blocked {
		t.Errorf("a tier that does not apply is neither failed nor blocked: %s", rec.Outcome)
	}
	if len(rec.Steps) != 2 || rec.Steps[0].Status != verdict.Skipped || !strings.Contains(rec.Steps[0].Detail, "not run: --skip-flux-install") ||
		rec.Steps[1].Name != "suites: flux" || rec.Steps[1].Status != verdict.Skipped {
		t.Errorf("want the step and the tier, each once, skipped: %+v", rec.Steps)
	}
}
