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
