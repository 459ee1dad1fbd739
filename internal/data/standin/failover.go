package standin

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Failover stand-in: two plain redis-server pods and a Service that selects
// role=master, the way the operator's Service does. The failover suite's
// machinery (writer through the Service, RTO, exact RPO, Service-follows
// check) runs against it with the test itself doing what the operator would:
// REPLICAOF NO ONE on the replica and moving the role label. It proves the
// machinery, never the operator.
const (
	FailoverApp     = "redis-fo"
	FailoverService = "redis-fo"
	FailoverA       = "redis-fo-a"
	FailoverB       = "redis-fo-b"
	RoleLabel       = "role"
)

// FailoverObjects returns pod a (role=master), pod b (role=replica; made a
// replica of a by the suite) and the Service selecting role=master.
func FailoverObjects(ns, image string) (a, b *corev1.Pod, svc *corev1.Service) {
	pod := func(name, role string) *corev1.Pod {
		zero := int64(0)
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": FailoverApp, RoleLabel: role}},
			Spec: corev1.PodSpec{
				TerminationGracePeriodSeconds: &zero, // a kill, not a shutdown
				Containers: []corev1.Container{{
					Name: Container, Image: image, ImagePullPolicy: corev1.PullNever,
					Command: []string{"redis-server", "--port", "6379", "--protected-mode", "no", "--save", "", "--appendonly", "no"},
					Ports:   []corev1.ContainerPort{{Name: "redis", ContainerPort: Port}},
					ReadinessProbe: &corev1.Probe{
						ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"/bin/sh", "-c", "redis-cli -p 6379 ping | grep -q PONG"}}},
						PeriodSeconds: 1, TimeoutSeconds: 2,
					},
				}},
			},
		}
	}
	svc = &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: FailoverService, Namespace: ns},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": FailoverApp, RoleLabel: "master"},
			Ports:    []corev1.ServicePort{{Name: "redis", Port: Port, TargetPort: intstr.FromInt32(Port)}},
		},
	}
	return pod(FailoverA, "master"), pod(FailoverB, "replica"), svc
}
