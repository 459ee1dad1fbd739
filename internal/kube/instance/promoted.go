package instance

import corev1 "k8s.io/api/core/v1"

// Promoted reports whether r shows a failover away from old: a Ready pod
// other than old labelled master, and not on failedNode when one is given.
// The reason says what is still missing, for the wait that polls it.
func (r Roles) Promoted(old *corev1.Pod, failedNode string) (*corev1.Pod, string) {
	switch {
	case r.Master == nil:
		return nil, "no pod labelled role=master"
	case r.Master.UID == old.UID:
		return nil, "the old master " + old.Name + " is still labelled master"
	case failedNode != "" && r.Master.Spec.NodeName == failedNode:
		return nil, "new master " + r.Master.Name + " is on the failed node " + failedNode
	case !PodReady(r.Master):
		return nil, "new master " + r.Master.Name + " not Ready"
	}
	return r.Master, ""
}
