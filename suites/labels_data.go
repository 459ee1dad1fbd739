package suites

// Labels of the data suites (snapshot-restore, failover); they need nodes,
// storage and a RESP server, so they run on kind (make e2e), not envtest.
const (
	// LabelSnapshotRestore: dataset → SAVE → snapshot files bounded →
	// pod deletion, scale 0→N, node restart → dataset verifies, 0 keys lost.
	LabelSnapshotRestore = "snapshot-restore"
	// LabelFailover: master killed under write load → promotion, Service
	// follows, RTO/RPO measured, dataset verifies.
	LabelFailover = "failover"
	// LabelRollingUpdate: a spec change on a replicated instance → the
	// operator replaces pods one at a time, hands the master over with
	// REPLTAKEOVER, deletes the old master last; dataset and writes kept.
	LabelRollingUpdate = "rolling-update"
	// LabelDataSelfTest: planted defects of the data suites (snapshot dir off
	// the volume), each proven to make its check fail naming the defect.
	// Not "selftest": those run on envtest, these need nodes.
	LabelDataSelfTest = "data-selftest"
	// LabelNodeFailure: on a cluster of 2 or more kind nodes, the node under
	// the master is stopped, then (another spec) paused, under write load →
	// a replica on another node promoted, Service repointed within the
	// stated bound, RTO/RPO reported, the node restored. Selected by the
	// default filter only with --nodes > 1; skipped with the reason on one node.
	LabelNodeFailure = "node-failure"
	// LabelNetwork: NetworkPolicy enforced in the cluster (a preflight
	// proves it, else every network spec is blocked with the reason) and
	// operator v1.6.1's per-instance policy: 6379 from the instance's
	// namespace, 9999 from the operator's pods; its planted defects (an
	// operator without its pod label, a policy leaving the operator out).
	LabelNetwork = "network"
	// labelDataDisruptive is the value of the Flux tier's LabelDisruptive
	// (specs that restart the operator on purpose, e.g. a node restart).
	labelDataDisruptive = "disruptive"
)
