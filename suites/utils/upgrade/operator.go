// Package upgrade holds the upgrade suite's mechanics: reading the operator's
// evidence for upgradecheck, waiting for instances to settle after a hop,
// watching their pods, serving each commit, and owning the install (removing
// what an earlier run left, and what the suite created).
package upgrade

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/checks/upgradecheck"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/instance"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/operatorpods"
)

// logBytes bounds each log read, which starts at the log's beginning: the
// manager logs its start and its first denials there, and a tail would lose
// them behind its reconcile lines.
const logBytes = 4 << 20

// ReadOperator gathers the evidence upgradecheck judges: the Deployment's
// availability and, per operator pod, its manager image, readiness, restarts
// and manager logs (the previous run's too after a restart). cs nil reads no
// logs.
func ReadOperator(ctx context.Context, c client.Reader, cs kubernetes.Interface, version string) (upgradecheck.OperatorRun, error) {
	r := upgradecheck.OperatorRun{Version: version}
	var d appsv1.Deployment
	if err := c.Get(ctx, client.ObjectKey{Namespace: operator.Namespace, Name: operator.DeploymentName}, &d); err != nil {
		return r, fmt.Errorf("operator Deployment %s/%s: %w", operator.Namespace, operator.DeploymentName, err)
	}
	for _, cond := range d.Status.Conditions {
		if cond.Type == appsv1.DeploymentAvailable && cond.Status == corev1.ConditionTrue &&
			d.Status.ObservedGeneration == d.Generation && d.Status.UpdatedReplicas == d.Status.Replicas {
			r.Available = true
		}
	}
	pods, err := operatorpods.List(ctx, c)
	if err != nil {
		return r, err
	}
	for i := range pods {
		r.Pods = append(r.Pods, readPod(ctx, cs, &pods[i]))
	}
	return r, nil
}

func readPod(ctx context.Context, cs kubernetes.Interface, p *corev1.Pod) upgradecheck.OperatorPod {
	op := upgradecheck.OperatorPod{Name: p.Name, Ready: instance.PodReady(p), Deleting: p.DeletionTimestamp != nil}
	for _, ct := range p.Spec.Containers {
		if ct.Name == operator.ManagerContainer {
			op.Image = ct.Image
		}
	}
	restarted := false
	for _, st := range p.Status.ContainerStatuses {
		c := upgradecheck.Container{Name: st.Name, Restarts: st.RestartCount}
		if st.State.Waiting != nil {
			c.Waiting = st.State.Waiting.Reason
		}
		if t := st.LastTerminationState.Terminated; t != nil {
			c.LastReason, c.LastExit = t.Reason, t.ExitCode
		}
		if st.Name == operator.ManagerContainer && st.RestartCount > 0 {
			restarted = true
		}
		op.Containers = append(op.Containers, c)
	}
	if cs != nil {
		op.Log = podLog(ctx, cs, p, false)
		if restarted {
			op.PreviousLog = podLog(ctx, cs, p, true)
		}
	}
	return op
}

// podLog is the manager's log, "" when it cannot be read (not started yet).
func podLog(ctx context.Context, cs kubernetes.Interface, p *corev1.Pod, previous bool) string {
	b, err := cs.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{
		Container: operator.ManagerContainer, Previous: previous, LimitBytes: ptr.To[int64](logBytes)}).DoRaw(ctx)
	if err != nil {
		return ""
	}
	return string(b)
}

// WaitOperator waits (DeploymentAvailable) until the operator of version runs
// as upgradecheck judges it: one pod, that version, Ready, 0 restarts,
// controllers started. A restart or an RBAC denial ends the wait at once.
func WaitOperator(ctx context.Context, c client.Reader, cs kubernetes.Interface, version string) (upgradecheck.OperatorRun, time.Duration, error) {
	var r upgradecheck.OperatorRun
	took, err := wait.For(ctx, "operator "+version+" to run: Deployment "+operator.Namespace+"/"+operator.DeploymentName+" Available, one pod of that version, Ready, 0 restarts, controllers started", wait.DeploymentAvailable,
		func(ctx context.Context) (bool, string, error) {
			var err error
			if r, err = ReadOperator(ctx, c, cs, version); err != nil {
				return false, err.Error(), nil
			}
			return r.Judge()
		})
	return r, took, err
}
