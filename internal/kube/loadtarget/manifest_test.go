package loadtarget

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/loadgen"
)

// fullWorkload sets every field of loadgen.Workload to a value that is not
// its default, so a field the Job drops or alters shows in a comparison.
func fullWorkload(t *testing.T) loadgen.Workload {
	t.Helper()
	w := loadgen.Workload{
		Connections: 7, Pipeline: 16, GetRatio: 9, SetRatio: 2, Keyspace: 12345,
		KeyDist: loadgen.DistZipf, ValueSize: 300, TTL: 90 * time.Second, Prefill: true,
		Warmup: 1500 * time.Millisecond, Duration: 42 * time.Second, Rate: 1234.5, Seed: 77,
	}
	v := reflect.ValueOf(w)
	for i := 0; i < v.NumField(); i++ {
		if name := v.Type().Field(i).Name; v.Field(i).IsZero() && name != "Requests" { // Requests excludes Duration
			t.Fatalf("fullWorkload leaves %s zero: give it a value so the Job's handling of it is tested", name)
		}
	}
	return w
}

type manifestJob struct {
	Kind     string
	Metadata struct{ Name, Namespace string }
	Spec     struct {
		Template struct {
			Spec struct {
				Containers []struct {
					Image   string
					Command []string
					Args    []string
					Env     []struct {
						Name      string
						ValueFrom struct{ SecretKeyRef struct{ Name, Key string } }
					}
				}
			}
		}
	}
}

func decodeManifest(t *testing.T, raw []byte) manifestJob {
	t.Helper()
	var job manifestJob
	if err := json.Unmarshal(raw, &job); err != nil {
		t.Fatal(err)
	}
	if n := len(job.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("%d containers, want 1", n)
	}
	return job
}

// workloadArg is the value of --workload-json in the container's args.
func workloadArg(t *testing.T, args []string) string {
	t.Helper()
	i := slices.Index(args, "--"+WorkloadFlag)
	if i < 0 || i+1 >= len(args) {
		t.Fatalf("args carry no --%s: %q", WorkloadFlag, args)
	}
	return args[i+1]
}

func TestJobManifestRunsInTheInstanceNamespace(t *testing.T) {
	raw, err := JobManifest(JobSpec{
		Namespace: "database", Instance: "test-cache", Image: "dfe2e:dev",
		PasswordSecret: "cache-auth", PasswordKey: "password",
		Workload: loadgen.Workload{Pipeline: 16, Duration: time.Minute, Rate: 5000},
	})
	if err != nil {
		t.Fatal(err)
	}
	job := decodeManifest(t, raw)
	if job.Kind != "Job" || job.Metadata.Namespace != "database" || job.Metadata.Name != "dfe2e-load-test-cache" {
		t.Errorf("kind %s name %s namespace %s; want Job dfe2e-load-test-cache in database (the NetworkPolicy admits only same-namespace pods)",
			job.Kind, job.Metadata.Name, job.Metadata.Namespace)
	}
	c := job.Spec.Template.Spec.Containers[0]
	args := strings.Join(c.Args, " ")
	for _, want := range []string{"--addr test-cache.database.svc:6379", "--allow-remote", "--stdout bundle"} {
		if !strings.Contains(args, want) {
			t.Errorf("args lack %q: %s", want, args)
		}
	}
	if len(c.Env) != 1 || c.Env[0].Name != config.EnvRedisPassword || c.Env[0].ValueFrom.SecretKeyRef.Name != "cache-auth" {
		t.Errorf("password env not taken from the Secret: %+v", c.Env)
	}

	for name, spec := range map[string]JobSpec{
		"bad namespace": {Namespace: "Data_Base", Instance: "x", Image: "i", Workload: loadgen.Workload{Pipeline: 1, Duration: time.Second}},
		"no image":      {Namespace: "db", Instance: "x", Workload: loadgen.Workload{Pipeline: 1, Duration: time.Second}},
		"bad workload":  {Namespace: "db", Instance: "x", Image: "i", Workload: loadgen.Workload{Duration: time.Second}},
		"half a secret": {Namespace: "db", Instance: "x", Image: "i", PasswordSecret: "s", Workload: loadgen.Workload{Pipeline: 1, Duration: time.Second}},
	} {
		if _, err := JobManifest(spec); err == nil {
			t.Errorf("%s: manifest rendered, want an error", name)
		}
	}
}

// The container carries the workload as loadgen.Workload JSON, every field
// as given (defaults filled in), and no per-field workload flags beside it.
func TestJobManifestCarriesTheWorkloadAsJSON(t *testing.T) {
	for name, w := range map[string]loadgen.Workload{
		"every field": fullWorkload(t),
		"count run":   {Pipeline: 2, Requests: 5000, Warmup: time.Second},
		"defaults":    {Pipeline: 1, Duration: time.Minute},
	} {
		t.Run(name, func(t *testing.T) {
			raw, err := JobManifest(JobSpec{Namespace: "database", Instance: "cache", Image: "dfe2e:dev", Workload: w})
			if err != nil {
				t.Fatal(err)
			}
			args := decodeManifest(t, raw).Spec.Template.Spec.Containers[0].Args
			got, err := loadgen.ParseWorkload([]byte(workloadArg(t, args)))
			if err != nil {
				t.Fatal(err)
			}
			if want := w.WithDefaults(); got != want {
				t.Errorf("the Job's workload\n%+v\nwant\n%+v", got, want)
			}
			for _, a := range args {
				switch a {
				case "--connections", "--pipeline", "--ratio", "--keyspace", "--key-dist", "--value-size",
					"--ttl", "--prefill", "--warmup", "--duration", "--requests", "--rate", "--seed":
					t.Errorf("args carry %s beside the workload JSON: %q", a, args)
				}
			}
		})
	}
}
