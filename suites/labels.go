package suites

// Ginkgo labels. Specs never spell a label inline; select suites with
// -ginkgo.label-filter (e.g. 'install || rbac').
const (
	// LabelInstall: server-side apply of the rendered bundle, CRD Established,
	// every object in the operator namespace, nothing in the upstream one.
	LabelInstall = "install"
	// LabelRBAC: SubjectAccessReviews as the operator's ServiceAccount for
	// everything it needs, and the least-privilege report.
	LabelRBAC = "rbac"
	// LabelAdmission: the table of Dragonfly objects and their admission
	// outcome, and the webhook checks.
	LabelAdmission = "admission"
	// LabelSelfTest: planted defects at the API level, each proven to make
	// the matching check fail with a message naming the defect.
	LabelSelfTest = "selftest"
	// LabelAPITier marks every spec that needs only an API server (no
	// kubelet, no images): all of the above.
	LabelAPITier = "api-tier"
)

// Labels of the Flux tier (kind or any cluster with nodes; run by make e2e
// after the install tier).
const (
	// LabelHealth: Flux installed, the fixtures served from an in-cluster Git
	// server, the Kustomization chain reconciled, operator and Dragonfly
	// health, drift and prune-safety. Needs nodes (not envtest).
	LabelHealth = "health"
	// LabelFluxDefect: planted defects in Flux Kustomizations (missing
	// health-check target, missing dependency, wrong path), each proven to
	// make the readiness check fail with a verdict naming it.
	LabelFluxDefect = "flux-defect"
	// LabelDisruptive marks specs that restart or remove the operator on
	// purpose; the operator-restart invariant does not apply to them.
	LabelDisruptive = "disruptive"
)

// Labels of the upgrade tier (kind; run by make e2e after the Flux tier).
const (
	// LabelUpgrade: the operator installed from the served GitOps tree at one
	// pinned release and upgraded release by release by commits that bump the
	// bundle, with a replicated and a snapshot instance holding a dataset;
	// after each hop the operator, the chain, the instances, the data, the
	// status fields and the bundle's consistency are checked. Its planted
	// defect (a tag-only bump) also carries LabelSelfTest. The install and
	// Flux tiers never select it (their filters exclude it).
	LabelUpgrade = "upgrade"
)
