package loadgen

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
)

func TestJobManifestRunsInTheInstanceNamespace(t *testing.T) {
	raw, err := JobManifest(JobSpec{
		Namespace: "database", Instance: "test-cache", Image: "dfe2e:dev",
		PasswordSecret: "cache-auth", PasswordKey: "password",
		Workload: Workload{Pipeline: 16, Duration: time.Minute, Rate: 5000},
	})
	if err != nil {
		t.Fatal(err)
	}
	var job struct {
		Kind     string
		Metadata struct{ Name, Namespace string }
		Spec     struct {
			Template struct {
				Spec struct {
					Containers []struct {
						Image string
						Args  []string
						Env   []struct {
							Name      string
							ValueFrom struct{ SecretKeyRef struct{ Name, Key string } }
						}
					}
				}
			}
		}
	}
	if err := json.Unmarshal(raw, &job); err != nil {
		t.Fatal(err)
	}
	if job.Kind != "Job" || job.Metadata.Namespace != "database" || job.Metadata.Name != "dfe2e-load-test-cache" {
		t.Errorf("kind %s name %s namespace %s; want Job dfe2e-load-test-cache in database (the NetworkPolicy admits only same-namespace pods)",
			job.Kind, job.Metadata.Name, job.Metadata.Namespace)
	}
	c := job.Spec.Template.Spec.Containers[0]
	args := strings.Join(c.Args, " ")
	for _, want := range []string{"--addr test-cache.database.svc:6379", "--allow-remote", "--pipeline 16", "--rate 5000", "--duration 1m0s", "--stdout bundle"} {
		if !strings.Contains(args, want) {
			t.Errorf("args lack %q: %s", want, args)
		}
	}
	if len(c.Env) != 1 || c.Env[0].Name != config.EnvRedisPassword || c.Env[0].ValueFrom.SecretKeyRef.Name != "cache-auth" {
		t.Errorf("password env not taken from the Secret: %+v", c.Env)
	}

	for name, spec := range map[string]JobSpec{
		"bad namespace": {Namespace: "Data_Base", Instance: "x", Image: "i", Workload: Workload{Pipeline: 1, Duration: time.Second}},
		"no image":      {Namespace: "db", Instance: "x", Workload: Workload{Pipeline: 1, Duration: time.Second}},
		"bad workload":  {Namespace: "db", Instance: "x", Image: "i", Workload: Workload{Duration: time.Second}},
		"half a secret": {Namespace: "db", Instance: "x", Image: "i", PasswordSecret: "s", Workload: Workload{Pipeline: 1, Duration: time.Second}},
	} {
		if _, err := JobManifest(spec); err == nil {
			t.Errorf("%s: manifest rendered, want an error", name)
		}
	}
}
