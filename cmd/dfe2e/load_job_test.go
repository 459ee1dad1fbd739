package main

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/loadtarget"
	"github.com/dragonfly-e2e/dragonfly-e2e/loadgen"
)

// workloadOf is the Workload a `dfe2e load` command line builds, through the
// same parsing runLoad does.
func workloadOf(t *testing.T, args []string) (loadgen.Workload, error) {
	t.Helper()
	cmd, f := newLoadCmdFlags()
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatalf("parsing %q: %v", args, err)
	}
	return workloadFromFlags(cmd, *f)
}

// jobArgs is the container command line of the Job `dfe2e load --emit-job`
// prints for the workload flags given.
func jobArgs(t *testing.T, workload []string) []string {
	t.Helper()
	code, stdout, stderr := runLoadCmd(t, context.Background(), append([]string{"--emit-job",
		"--namespace", "database", "--instance", "test-cache", "--image", "dfe2e:dev"}, workload...)...)
	if code != exitOK {
		t.Fatalf("--emit-job: exit %d: %s", code, stderr)
	}
	job, err := loadtarget.JobFromManifest([]byte(stdout))
	if err != nil {
		t.Fatal(err)
	}
	c := job.Spec.Template.Spec.Containers[0]
	if !slices.Equal(c.Command, []string{"dfe2e"}) || len(c.Args) == 0 || c.Args[0] != "load" {
		t.Fatalf("the Job runs %q %q, want dfe2e load …", c.Command, c.Args)
	}
	return c.Args[1:]
}

// The workload crosses into the Job as loadgen.Workload JSON, and `dfe2e
// load` in the pod, given the Job's arguments, builds the very Workload the
// flags here built: every field, closed and open loop, duration and count.
func TestLoadJobWorkloadRoundTrip(t *testing.T) {
	every := []string{"--connections", "7", "--pipeline", "16", "--ratio", "9:2", "--keyspace", "12345",
		"--key-dist", "zipf", "--value-size", "300", "--ttl", "90s", "--prefill", "--warmup", "1.5s",
		"--rate", "1234.5", "--seed", "77"}
	for name, flags := range map[string][]string{
		"every field, duration": append(slices.Clone(every), "--duration", "42s"),
		"every field, requests": append(slices.Clone(every), "--requests", "5000"),
		"closed loop defaults":  {"--pipeline", "4", "--duration", "30s"},
		"seed 0 takes default":  {"--seed", "0", "--requests", "10"},
	} {
		t.Run(name, func(t *testing.T) {
			want, err := workloadOf(t, flags)
			if err != nil {
				t.Fatal(err)
			}
			want = want.WithDefaults()
			if strings.HasPrefix(name, "every field") {
				v := reflect.ValueOf(want)
				for i := 0; i < v.NumField(); i++ {
					// Duration and Requests exclude each other; the two cases cover both.
					if n := v.Type().Field(i).Name; v.Field(i).IsZero() && n != "Duration" && n != "Requests" {
						t.Fatalf("the flags leave Workload.%s zero: set it here so the Job is shown to carry it", n)
					}
				}
			}
			args := jobArgs(t, flags)
			i := slices.Index(args, "--"+loadtarget.WorkloadFlag)
			if i < 0 {
				t.Fatalf("the Job's args carry no --%s: %q", loadtarget.WorkloadFlag, args)
			}
			var carried loadgen.Workload
			if err := json.Unmarshal([]byte(args[i+1]), &carried); err != nil || carried != want {
				t.Fatalf("the Job carries\n%s\nwant\n%+v (%v)", args[i+1], want, err)
			}
			got, err := workloadOf(t, args)
			if err != nil {
				t.Fatalf("dfe2e load with the Job's args: %v", err)
			}
			if got != want {
				t.Errorf("the pod builds\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

func TestLoadWorkloadJSONStandsAlone(t *testing.T) {
	good := `{"connections":1,"pipeline":1,"getRatio":1,"setRatio":1,"keyspace":10,"keyDist":"uniform","valueSize":8,"prefill":false,"warmup":0,"requests":10,"seed":1}`
	for name, c := range map[string]struct {
		args []string
		want string
	}{
		"beside a workload flag": {[]string{"--" + loadtarget.WorkloadFlag, good, "--pipeline", "2", "--rate", "5"}, "drop --pipeline, --rate"},
		"unknown field":          {[]string{"--" + loadtarget.WorkloadFlag, `{"pipeline":1,"pipelin":2}`}, `unknown field "pipelin"`},
		"not JSON":               {[]string{"--" + loadtarget.WorkloadFlag, "pipeline=1"}, "--" + loadtarget.WorkloadFlag},
		"invalid workload":       {[]string{"--" + loadtarget.WorkloadFlag, `{"pipeline":0,"requests":10}`}, "pipeline must be ≥ 1"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := workloadOf(t, c.args)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want one containing %q", err, c.want)
			}
		})
	}
	if _, err := workloadOf(t, []string{"--" + loadtarget.WorkloadFlag, good}); err != nil {
		t.Fatal(err)
	}
}
