package loadtarget

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/loadgen"
	"github.com/dragonfly-e2e/dragonfly-e2e/loadgen/barrier"
)

// WorkloadFlag is the `dfe2e load` flag that takes the workload as JSON
// (loadgen.ParseWorkload). The Job passes its workload this way rather than
// as the individual flags, so no field can be lost or reinterpreted between
// the harness and the pod.
const WorkloadFlag = "workload-json"

// JobSpec describes the in-cluster load Job for one Dragonfly instance.
//
// The Job runs in the instance's own namespace because the operator's
// NetworkPolicy admits port 6379 only from pods of that namespace.
type JobSpec struct {
	Namespace string // the Dragonfly's namespace
	Instance  string // the Dragonfly's name: the operator's Service <name>:6379 points at the master
	Image     string // an image whose entrypoint path has `dfe2e` (built locally when no registry is reachable)
	// PasswordSecret/PasswordKey name the Secret key holding the instance's
	// password (spec.authentication.passwordFromSecret); empty: no AUTH.
	PasswordSecret string
	PasswordKey    string
	Workload       loadgen.Workload
	// PullPolicy is the container's imagePullPolicy (default IfNotPresent;
	// Never for an image built here and loaded into the node).
	PullPolicy string
	// Parallel > 0 makes the Job an Indexed Job of that many pods, spread
	// over the nodes, each playing loadgen.Share of Workload behind the start
	// barrier (RunParallel). 0 is the single-pod Job.
	Parallel int
	// BarrierTimeout bounds a parallel pod's wait for the start time.
	BarrierTimeout time.Duration
}

// Parallel pods' barrier plumbing: the readiness endpoint the kubelet
// probes, and the downward-API file showing the start annotation.
const (
	BarrierPort     = 8080
	barrierDir      = "/etc/dfe2e-start"
	barrierFile     = "start"
	shareIndexEnv   = "DFE2E_SHARE_INDEX"
	CompletionIndex = "batch.kubernetes.io/job-completion-index"
)

// JobUID is the non-root user the Job runs as (nobody).
const JobUID = 65534

var dnsLabelRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// JobName is the Job's name for an instance.
func JobName(instance string) string {
	name := "dfe2e-load-" + instance
	if len(name) > 63 {
		name = name[:63]
	}
	return name
}

// Args are the `dfe2e load` arguments for the Job's container: the workload
// (with its defaults filled in, so the manifest shows what runs) as JSON, and
// where to send it. The output files go to stdout as a bundle
// (loadgen.WriteBundle; the harness reads the pod log), the table to stderr.
func (s JobSpec) Args() ([]string, error) {
	w, err := json.Marshal(s.Workload.WithDefaults())
	if err != nil {
		return nil, fmt.Errorf("load Job workload: %w", err)
	}
	args := []string{"load", "--" + WorkloadFlag, string(w),
		"--addr", fmt.Sprintf("%s.%s.svc:6379", s.Instance, s.Namespace), "--allow-remote",
		"--out", "/tmp/dfe2e-load", "--stdout", "bundle",
		"--target-label", fmt.Sprintf("Job %s/%s → %s.%s.svc:6379", s.Namespace, JobName(s.Instance), s.Instance, s.Namespace),
	}
	if s.Parallel > 0 {
		// The pod takes its share of the whole workload by its completion
		// index, so every pod runs the same template.
		args = append(args, "--share-of", fmt.Sprint(s.Parallel), "--share-index", "$("+shareIndexEnv+")",
			"--barrier-file", barrierDir+"/"+barrierFile, "--barrier-timeout", s.barrierTimeout().String(),
			"--barrier-addr", fmt.Sprintf(":%d", BarrierPort))
	}
	return args, nil
}

func (s JobSpec) barrierTimeout() time.Duration {
	if s.BarrierTimeout > 0 {
		return s.BarrierTimeout
	}
	return 5 * time.Minute
}

// JobManifest renders the batch/v1 Job as JSON (kubectl apply -f accepts it).
// Runner.Run runs it (after JobFromManifest) and collects its log.
func JobManifest(s JobSpec) ([]byte, error) {
	var errs []error
	if !dnsLabelRE.MatchString(s.Namespace) {
		errs = append(errs, fmt.Errorf("namespace %q is not a DNS label", s.Namespace))
	}
	if !dnsLabelRE.MatchString(s.Instance) {
		errs = append(errs, fmt.Errorf("instance %q is not a DNS label", s.Instance))
	}
	if s.Image == "" {
		errs = append(errs, errors.New("image is empty: give the locally built loadgen image (e.g. dfe2e:dev loaded into kind)"))
	}
	switch s.PullPolicy {
	case "":
		s.PullPolicy = "IfNotPresent"
	case "IfNotPresent", "Never", "Always":
	default:
		errs = append(errs, fmt.Errorf("image pull policy %q is unknown: use IfNotPresent, Never or Always", s.PullPolicy))
	}
	if (s.PasswordSecret == "") != (s.PasswordKey == "") {
		errs = append(errs, errors.New("password secret and key go together: give both or neither"))
	}
	w := s.Workload.WithDefaults()
	if err := w.Validate(); err != nil {
		errs = append(errs, err)
	}
	if s.Parallel < 0 {
		errs = append(errs, fmt.Errorf("parallel %d: give the number of pods", s.Parallel))
	} else if s.Parallel > 0 {
		if err := loadgen.CheckShare(w, s.Parallel); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	args, err := s.Args()
	if err != nil {
		return nil, err
	}
	// The Job may not outlive its workload by much: warmup + duration (or a generous
	// bound for count runs) + setup time.
	deadline := w.Warmup + w.Duration + 2*time.Minute
	if w.Requests > 0 {
		deadline = w.Warmup + 30*time.Minute
	}
	if s.Parallel > 0 {
		deadline += s.barrierTimeout()
	}
	labels := map[string]string{
		"app.kubernetes.io/name":       "dfe2e-loadgen",
		"app.kubernetes.io/part-of":    "dragonfly-e2e",
		"app.kubernetes.io/instance":   s.Instance,
		"app.kubernetes.io/managed-by": "dfe2e",
	}
	container := map[string]any{
		"name":            "loadgen",
		"image":           s.Image,
		"imagePullPolicy": s.PullPolicy,
		"command":         []string{"dfe2e"},
		"args":            args,
		"resources": map[string]any{
			// A small CPU request keeps the Job schedulable beside the instance on a
			// small node; no CPU limit, so it may use what is free.
			"requests": map[string]string{"cpu": "250m", "memory": "128Mi"},
			"limits":   map[string]string{"memory": "1Gi"},
		},
		"securityContext": map[string]any{
			"allowPrivilegeEscalation": false,
			"readOnlyRootFilesystem":   true,
			"runAsNonRoot":             true,
			"runAsUser":                JobUID,
			"runAsGroup":               JobUID,
			"capabilities":             map[string]any{"drop": []string{"ALL"}},
			"seccompProfile":           map[string]string{"type": "RuntimeDefault"},
		},
		"volumeMounts": []map[string]any{{"name": "out", "mountPath": "/tmp"}},
	}
	if s.PasswordSecret != "" {
		container["env"] = []map[string]any{{
			"name": config.EnvRedisPassword,
			"valueFrom": map[string]any{"secretKeyRef": map[string]string{
				"name": s.PasswordSecret, "key": s.PasswordKey,
			}},
		}}
	}
	podSpec := map[string]any{
		"restartPolicy":                "Never",
		"automountServiceAccountToken": false,
		"containers":                   []any{container},
		"volumes":                      []map[string]any{{"name": "out", "emptyDir": map[string]any{}}},
	}
	spec := map[string]any{
		"backoffLimit":            0,
		"activeDeadlineSeconds":   int64(deadline.Seconds()),
		"ttlSecondsAfterFinished": 3600,
		"template": map[string]any{
			"metadata": map[string]any{"labels": labels},
			"spec":     podSpec,
		},
	}
	if s.Parallel > 0 {
		// All pods run at once; any failure fails the Job (backoffLimit 0),
		// and the Job controller then stops the others.
		spec["completionMode"] = "Indexed"
		spec["completions"] = s.Parallel
		spec["parallelism"] = s.Parallel
		// One node still works: spread where possible, never refuse to schedule.
		podSpec["topologySpreadConstraints"] = []map[string]any{{
			"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
			"labelSelector": map[string]any{"matchLabels": map[string]string{JobNameLabel: JobName(s.Instance)}},
		}}
		podSpec["volumes"] = append(podSpec["volumes"].([]map[string]any), map[string]any{
			"name": "start",
			"downwardAPI": map[string]any{"items": []map[string]any{{
				"path": barrierFile, "fieldRef": map[string]string{"fieldPath": "metadata.annotations['" + barrier.StartAnnotation + "']"},
			}}},
		})
		container["volumeMounts"] = append(container["volumeMounts"].([]map[string]any), map[string]any{"name": "start", "mountPath": barrierDir, "readOnly": true})
		env, _ := container["env"].([]map[string]any)
		container["env"] = append(env, map[string]any{
			"name":      shareIndexEnv,
			"valueFrom": map[string]any{"fieldRef": map[string]string{"fieldPath": "metadata.annotations['" + CompletionIndex + "']"}},
		})
		container["ports"] = []map[string]any{{"name": "barrier", "containerPort": BarrierPort}}
		// Ready = connected and waiting at the barrier: the harness releases
		// the pods once all are.
		container["readinessProbe"] = map[string]any{
			"httpGet":       map[string]any{"path": barrier.ReadyPath, "port": "barrier"},
			"periodSeconds": 1, "failureThreshold": 1,
		}
	}
	job := map[string]any{
		"apiVersion": "batch/v1",
		"kind":       "Job",
		"metadata": map[string]any{
			"name": JobName(s.Instance), "namespace": s.Namespace, "labels": labels,
		},
		"spec": spec,
	}
	return json.MarshalIndent(job, "", "  ")
}
