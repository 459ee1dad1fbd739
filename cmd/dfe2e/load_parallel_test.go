package main

import (
	"context"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/loadtarget"
)

// Bad --parallel combinations are bad input (exit 2) saying what to do,
// before anything is created.
func TestLoadParallelBadInputExits2(t *testing.T) {
	job := []string{"--job", "--namespace", "database", "--instance", "cache", "--image", "x"}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"parallel without job", []string{"--parallel", "3"}, "add --job"},
		{"parallel 0", append([]string{"--parallel", "0"}, job...), "--parallel 0: give the number of load pods, ≥ 1"},
		{"parallel negative", append([]string{"--parallel", "-2"}, job...), "≥ 1"},
		{"more pods than connections", append([]string{"--parallel", "5", "--connections", "4"}, job...), "lower --parallel or raise --connections"},
		{"rate finer than the split", append([]string{"--parallel", "2", "--rate", "100.0001"}, job...), "more than 3 decimals"},
		{"rate below the pods", append([]string{"--parallel", "3", "--rate", "0.002"}, job...), "leaves a pod without rate"},
		{"fewer requests than pods", append([]string{"--parallel", "3", "--requests", "2"}, job...), "raise --requests or lower --parallel"},
		{"barrier lead without parallel", append([]string{"--barrier-lead", "3s"}, job...), "add --parallel N"},
		{"barrier lead too short", append([]string{"--parallel", "2", "--barrier-lead", "10ms"}, job...), "≥ 1s"},
		{"scenario split too far", append([]string{"--parallel", "60", "--scenario", "cache"}, job...), "scenario cache: --parallel 60 is more than the 50 connections"},
		{"find-max with job", append([]string{"--parallel", "2", "--find-max", "--slo", "p99<=2ms"}, job...), "--port-forward"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runLoadCmd(t, context.Background(), append(c.args, "--out", t.TempDir())...)
			if code != exitBadInput || !strings.Contains(stderr, c.want) {
				t.Fatalf("exit %d, want 2 with %q:\n%s", code, c.want, stderr)
			}
		})
	}
}

// --emit-job --parallel prints the Indexed Job the run would create.
func TestLoadEmitParallelJob(t *testing.T) {
	code, stdout, stderr := runLoadCmd(t, context.Background(), "--emit-job", "--parallel", "3", "--namespace", "database",
		"--instance", "cache", "--image", "dfe2e:dev", "--connections", "7", "--rate", "1000")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	job, err := loadtarget.JobFromManifest([]byte(stdout))
	if err != nil {
		t.Fatal(err)
	}
	if job.Spec.CompletionMode == nil || *job.Spec.CompletionMode != batchv1.IndexedCompletion || *job.Spec.Completions != 3 {
		t.Errorf("not an Indexed Job of 3: %+v", job.Spec)
	}
	// The pod, given the Job's args with its index, plays its share.
	args := job.Spec.Template.Spec.Containers[0].Args[1:]
	for i, a := range args {
		args[i] = strings.ReplaceAll(a, "$(DFE2E_SHARE_INDEX)", "2")
	}
	cmd, f := newLoadCmdFlags()
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatal(err)
	}
	if f.pod.of != 3 || f.pod.index != 2 || f.pod.barrierFile == "" {
		t.Errorf("pod flags %+v", f.pod)
	}
}
