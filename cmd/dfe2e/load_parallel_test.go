package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	batchv1 "k8s.io/api/batch/v1"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/loadtarget"
	"github.com/dragonfly-e2e/dragonfly-e2e/loadgen"
	"github.com/dragonfly-e2e/dragonfly-e2e/loadgen/merge"
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
		{"find-max job with rate", append([]string{"--parallel", "2", "--find-max", "--slo", "p99<=2ms", "--rate", "100"}, job...), "drop --rate"},
		{"find-max job with duration", append([]string{"--find-max", "--slo", "p99<=2ms", "--duration", "5s"}, job...), "drop --duration"},
		{"find-max job without slo", append([]string{"--parallel", "2", "--find-max"}, job...), "--find-max needs --slo"},
		{"find-max job bad slo", append([]string{"--parallel", "2", "--find-max", "--slo", "p98<=2ms"}, job...), "--slo: "},
		{"find-max job more pods than connections", append([]string{"--parallel", "5", "--connections", "4", "--find-max", "--slo", "p99<=2ms"}, job...), "lower --parallel or raise --connections"},
		{"find-max job bad staircase", append([]string{"--parallel", "2", "--find-max", "--slo", "p99<=2ms", "--step-factor", "1"}, job...), "step factor must be in (1, 10]"},
		{"find-max job bundle", append([]string{"--parallel", "2", "--find-max", "--slo", "p99<=2ms", "--stdout", "bundle"}, job...), "--stdout bundle"},
		{"staircase without find-max", append([]string{"--parallel", "2", "--start-rate", "100"}, job...), "--start-rate only applies with --find-max"},
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

// The pods of a parallel run, played here as processes of `dfe2e load`
// with the Job's pod flags against a real redis-server: each plays its
// share behind the barrier file, and their bundles merge into a result
// whose count is exactly what the server's INFO commandstats counted
// (prefill and warmup included). Mixing open-loop rate and prefill covers
// the uncorrected histograms and the unmeasured requests.
func TestParallelPodsMergeToTheServersCount(t *testing.T) {
	addr := startLoadRedis(t, "")
	total := loadgen.Workload{Connections: 5, Pipeline: 1, Keyspace: 500, Prefill: true, Warmup: 300 * time.Millisecond,
		Duration: time.Second, Rate: 1501, Seed: 40}
	raw, _ := json.Marshal(total)
	count := func() int64 {
		c := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true})
		defer c.Close()
		info, err := c.Info(context.Background(), "commandstats").Result()
		if err != nil {
			t.Fatal(err)
		}
		n, err := loadtarget.ParseCommandStats(info, loadtarget.WorkloadCommands)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count()
	const n = 3
	startFile := filepath.Join(t.TempDir(), "start")
	logs := make([]string, n)
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], logs[i], _ = runLoadCmd(t, context.Background(), "--"+loadtarget.WorkloadFlag, string(raw), "--addr", addr,
				"--share-of", fmt.Sprint(n), "--share-index", fmt.Sprint(i), "--barrier-file", startFile,
				"--barrier-addr", "127.0.0.1:0", "--barrier-timeout", "30s", "--out", t.TempDir(), "--stdout", "bundle")
		}()
	}
	// The release: one start time for all, ahead of now (loopback dials take milliseconds).
	at := time.Now().Add(2 * time.Second)
	if err := os.WriteFile(startFile, []byte(at.UTC().Format(time.RFC3339Nano)), 0o644); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	after := count()
	var pods []merge.Pod
	seeds := map[int64]bool{}
	for i := range n {
		if codes[i] != exitOK {
			t.Fatalf("pod %d: exit %d", i, codes[i])
		}
		files, err := loadgen.ReadBundle([]byte(logs[i]))
		if err != nil {
			t.Fatalf("pod %d: %v", i, err)
		}
		var r loadgen.Result
		if err := json.Unmarshal(files[loadgen.FileResult], &r); err != nil {
			t.Fatal(err)
		}
		if want := loadgen.Share(total, n, i); r.Workload != want {
			t.Errorf("pod %d played %+v, want its share %+v", i, r.Workload, want)
		}
		if d := r.Start.Sub(at.Add(total.Warmup)); d != 0 {
			t.Errorf("pod %d measured from %s, %s off the common start", i, r.Start, d)
		}
		seeds[r.Workload.Seed] = true
		pods = append(pods, merge.Pod{Index: i, Name: fmt.Sprint("pod-", i), Files: files})
	}
	if len(seeds) != n {
		t.Errorf("seeds %v: want %d distinct", seeds, n)
	}
	m, err := merge.Merge(total, n, pods)
	if err != nil {
		t.Fatal(err)
	}
	sc := loadgen.ServerCount{Commands: loadtarget.WorkloadCommands, Before: before, After: after}
	if err := merge.CrossCheck(m, sc); err != nil {
		t.Fatalf("%v\n%+v", err, m.Result.Parallel)
	}
	if m.Result.UnmeasuredRequests < total.Keyspace || m.Result.Requests == 0 {
		t.Errorf("merged %d requests, %d unmeasured; want the prefill's %d among the unmeasured", m.Result.Requests, m.Result.UnmeasuredRequests, total.Keyspace)
	}
	t.Logf("server %d GET+SET = merged %d measured + %d prefill/warmup; p50 %.0fµs p99 %.0fµs", sc.Delta(), m.Latency.TotalCount(), m.Result.UnmeasuredRequests, m.Result.Latency.P50, m.Result.Latency.P99)
}
