// Package wait is the one way dragonfly-e2e waits: poll a condition with a
// named timeout, and say what was awaited when the deadline passes.
//
// Timeouts live in one table (Defaults) and can be raised without code changes
// through the DFE2E_TIMEOUTS environment variable, a JSON object of
// name → Go duration (e.g. {"ClusterReady":"10m"}), as CloudNativePG does.
package wait

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
)

// Name identifies one timeout in the table.
type Name string

// The named timeouts. Each says what it bounds.
const (
	// APIServerReady bounds the start of a kube-apiserver (envtest or kind).
	APIServerReady Name = "APIServerReady"
	// APIServerReachable bounds the first answer of an existing API server
	// (kubeconfig provider); short, so a wrong KUBECONFIG fails fast.
	APIServerReachable Name = "APIServerReachable"
	// RBACSettled bounds how long a denied SubjectAccessReview is re-asked
	// after bindings change: the authorizer reads RBAC through informers.
	RBACSettled Name = "RBACSettled"
	// WebhookEffective bounds a new webhook configuration taking effect.
	WebhookEffective Name = "WebhookEffective"
	// ObjectDeleted bounds an object (or a namespace being finalized) disappearing.
	ObjectDeleted Name = "ObjectDeleted"
	// CRDEstablished bounds a CRD reaching condition Established.
	CRDEstablished Name = "CRDEstablished"
	// ObjectPresent bounds an applied object becoming readable.
	ObjectPresent Name = "ObjectPresent"
	// ClusterReady bounds kind cluster creation (node Ready).
	ClusterReady Name = "ClusterReady"
	// DeploymentAvailable bounds a Deployment reaching Available.
	DeploymentAvailable Name = "DeploymentAvailable"
	// PVCBound bounds a PersistentVolumeClaim becoming Bound.
	PVCBound Name = "PVCBound"
	// KustomizationReady bounds a Flux Kustomization becoming Ready.
	KustomizationReady Name = "KustomizationReady"
	// DragonflyReady bounds a Dragonfly instance reaching phase Ready.
	DragonflyReady Name = "DragonflyReady"
	// ServerReachable bounds a RESP server answering PING.
	ServerReachable Name = "ServerReachable"
	// EngineReady bounds a Docker engine answering on its socket (after a start or reload).
	EngineReady Name = "EngineReady"
	// NodeImageStep bounds one step inside a node-image build container (containerd start, image import).
	NodeImageStep Name = "NodeImageStep"
	// PodsReady bounds the pods of a StatefulSet (re)becoming Ready after a
	// create, pod deletion, scale-up or node restart (snapshot suite).
	PodsReady Name = "PodsReady"
	// NodeRestarted bounds a restarted kind node container serving the API
	// and reporting the node Ready again.
	NodeRestarted Name = "NodeRestarted"
	// FailoverRecovered bounds the time from killing the master until
	// writes through the Service succeed again (the RTO budget); a Service
	// left pointing at the dead master fails within it instead of hanging.
	FailoverRecovered Name = "FailoverRecovered"
	// ImagePullVerdict bounds how long a spec waits for pods to either start
	// or show that their image cannot be pulled (then: blocked).
	ImagePullVerdict Name = "ImagePullVerdict"
	// PeriodicSnapshot bounds the wait for a snapshot nobody asked for (a
	// Dragonfly snapshot cron of every minute, redis-server's save policy).
	PeriodicSnapshot Name = "PeriodicSnapshot"
	// SourceReady bounds a Flux source (GitRepository) fetching a requested revision.
	// 5 m: after the data tier restarts the kind node, source-controller was
	// seen getting 404s through the git server's Service for up to 3 m while
	// the server itself was up.
	SourceReady Name = "SourceReady"
	// FluxRestored bounds Flux acting on a drift or a removal: the request waits
	// for any in-flight reconcile, which can hold for a Kustomization's 5m
	// health-check timeout when its workload cannot start.
	FluxRestored Name = "FluxRestored"
	// LoadJobFinished bounds an in-cluster load Job beyond its workload's own
	// length (warmup + duration; the whole bound for a request-count run):
	// scheduling, image start, prefill, dialling and the result upload.
	LoadJobFinished Name = "LoadJobFinished"
	// BackgroundSaveDone bounds a SAVE waiting for a background save (a
	// save policy's or snapshot schedule's BGSAVE) to finish writing.
	BackgroundSaveDone Name = "BackgroundSaveDone"
	// RollingUpdateDone bounds an operator-driven rolling update of a
	// 3-pod instance: each pod replaced and Ready in turn, then the takeover.
	RollingUpdateDone Name = "RollingUpdateDone"
)

// Defaults holds the timeout for each name on an unloaded 2-core machine.
var Defaults = map[Name]time.Duration{
	APIServerReady:      60 * time.Second,
	APIServerReachable:  15 * time.Second,
	ObjectDeleted:       30 * time.Second,
	RBACSettled:         3 * time.Second,
	WebhookEffective:    15 * time.Second,
	CRDEstablished:      30 * time.Second,
	ObjectPresent:       30 * time.Second,
	ClusterReady:        5 * time.Minute,
	DeploymentAvailable: 3 * time.Minute,
	PVCBound:            2 * time.Minute,
	KustomizationReady:  6 * time.Minute,
	DragonflyReady:      5 * time.Minute,
	ServerReachable:     30 * time.Second,
	EngineReady:         90 * time.Second,
	NodeImageStep:       5 * time.Minute,
	PodsReady:           3 * time.Minute,
	NodeRestarted:       4 * time.Minute,
	FailoverRecovered:   60 * time.Second,
	ImagePullVerdict:    2 * time.Minute,
	PeriodicSnapshot:    150 * time.Second,
	SourceReady:         5 * time.Minute,
	FluxRestored:        7 * time.Minute,
	LoadJobFinished:     5 * time.Minute,
	RollingUpdateDone:   6 * time.Minute,
	BackgroundSaveDone:  time.Minute,
}

var (
	overridesMu  sync.Mutex
	overridesRaw string
	overrides    map[Name]time.Duration
	overridesErr error
)

// currentOverrides parses DFE2E_TIMEOUTS, again only when it changed, so a
// test's t.Setenv takes effect whenever it is set.
func currentOverrides() (map[Name]time.Duration, error) {
	raw := config.FromEnv().Timeouts
	overridesMu.Lock()
	defer overridesMu.Unlock()
	if raw != overridesRaw || (overrides == nil && overridesErr == nil) {
		overridesRaw = raw
		overrides, overridesErr = parseOverrides(raw)
	}
	return overrides, overridesErr
}

func parseOverrides(raw string) (map[Name]time.Duration, error) {
	out := map[Name]time.Duration{}
	if raw == "" {
		return out, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return nil, fmt.Errorf("%s is not a JSON object of name → duration (e.g. {\"ClusterReady\":\"10m\"}): %w", config.EnvTimeouts, err)
	}
	for k, v := range m {
		if _, ok := Defaults[Name(k)]; !ok {
			return nil, fmt.Errorf("%s names unknown timeout %q; known: %v", config.EnvTimeouts, k, Names())
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("%s: timeout %s=%q is not a positive Go duration (e.g. 90s, 10m)", config.EnvTimeouts, k, v)
		}
		out[Name(k)] = d
	}
	return out, nil
}

// CheckEnv validates DFE2E_TIMEOUTS; call it at start-up to fail fast on bad input.
func CheckEnv() error {
	_, err := currentOverrides()
	return err
}

// Timeout returns the timeout for name, after overrides.
func Timeout(name Name) time.Duration {
	// A bad value was reported by CheckEnv at start-up; the defaults stand.
	o, _ := currentOverrides()
	if d, ok := o[name]; ok {
		return d
	}
	if d, ok := Defaults[name]; ok {
		return d
	}
	panic(fmt.Sprintf("wait: unknown timeout name %q", name))
}

// Names lists the timeout names, sorted.
func Names() []string {
	out := make([]string, 0, len(Defaults))
	for n := range Defaults {
		out = append(out, string(n))
	}
	sort.Strings(out)
	return out
}

// TimeoutError says what was awaited, for how long, and the last observation.
type TimeoutError struct {
	What    string
	Timeout time.Duration
	Last    string
}

func (e *TimeoutError) Error() string {
	msg := fmt.Sprintf("timed out after %s waiting for %s", e.Timeout, e.What)
	if e.Last != "" {
		msg += " (last seen: " + e.Last + ")"
	}
	return msg
}

// Condition reports done, or a short description of the current state
// (used in the timeout message). A non-nil error stops the wait at once.
type Condition func(ctx context.Context) (done bool, state string, err error)

// For polls cond every interval until it is done, it errs, ctx ends, or the
// named timeout passes. what is a phrase like "Deployment database/x to be Available".
func For(ctx context.Context, what string, name Name, cond Condition) (time.Duration, error) {
	return ForDuration(ctx, what, Timeout(name), cond)
}

// ForDuration is For with an explicit timeout.
func ForDuration(ctx context.Context, what string, timeout time.Duration, cond Condition) (time.Duration, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	interval := 100 * time.Millisecond
	var last string
	for {
		done, state, err := cond(ctx)
		if state != "" {
			last = state
		}
		if err != nil {
			return time.Since(start), fmt.Errorf("waiting for %s: %w", what, err)
		}
		if done {
			return time.Since(start), nil
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return time.Since(start), &TimeoutError{What: what, Timeout: timeout, Last: last}
			}
			return time.Since(start), fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-t.C:
		}
		if interval < 2*time.Second {
			interval *= 2
		}
	}
}
