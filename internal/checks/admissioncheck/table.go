// Package admissioncheck probes how the API server admits Dragonfly objects:
// a table of objects with the outcome the CRD's schema and CEL rule promise,
// created as server-side dry runs with strict field validation, plus the
// webhook checks (none ships upstream; when one does, its service must live
// in the operator's namespace and it must answer).
package admissioncheck

// Outcome is what admission should do with a case.
type Outcome string

const (
	Accepted Outcome = "accepted"
	Rejected Outcome = "rejected"
)

// Case is one Dragonfly spec and the admission outcome expected for it.
type Case struct {
	// Name is the sentence the report shows.
	Name string
	// Spec is the Dragonfly's spec.
	Spec map[string]any
	Want Outcome
	// Rule names what should reject it (schema type, CEL rule, strict field
	// validation) — it appears in the failure message when it does not.
	Rule string
	// WantMessage is a substring the rejection must contain, proving it came
	// from Rule and not from something else.
	WantMessage string
	// NotValidated marks a value that admission accepts although it is
	// meaningless; the suite reports it as "not validated at admission".
	NotValidated bool
}

// Table is what the v1.5.0–v1.6.x CRD promises at admission.
var Table = []Case{
	{Name: "a minimal valid Dragonfly is accepted", Spec: map[string]any{"replicas": int64(1)}, Want: Accepted},
	{Name: "a string in the integer field spec.replicas is rejected", Spec: map[string]any{"replicas": "three"}, Want: Rejected,
		Rule: "schema type integer of spec.replicas", WantMessage: "spec.replicas"},
	// The CRD declares format int32, but the API server does not enforce
	// integer formats at admission (observed on v1.34): another value the
	// operator must cope with. Reported, like replicas: -1.
	{Name: "spec.replicas beyond int32 (3000000000) is accepted: not validated at admission", Spec: map[string]any{"replicas": int64(3000000000)}, Want: Accepted, NotValidated: true},
	{Name: "a number in the string field spec.image is rejected", Spec: map[string]any{"replicas": int64(1), "image": int64(42)}, Want: Rejected,
		Rule: "schema type string of spec.image", WantMessage: "spec.image"},
	{Name: "a malformed memory quantity in spec.resources is rejected", Spec: map[string]any{"replicas": int64(1), "resources": map[string]any{"limits": map[string]any{"memory": "lots"}}}, Want: Rejected,
		Rule: "quantity pattern of spec.resources.limits", WantMessage: "spec.resources.limits.memory"},
	{Name: "a pdb with both minAvailable and maxUnavailable is rejected by the CEL rule", Spec: map[string]any{"replicas": int64(2), "pdb": map[string]any{"minAvailable": int64(1), "maxUnavailable": int64(1)}}, Want: Rejected,
		Rule: "CEL rule on spec.pdb (minAvailable and maxUnavailable not both)", WantMessage: "minAvailable and maxUnavailable cannot be both set"},
	{Name: "a pdb with minAvailable only is accepted", Spec: map[string]any{"replicas": int64(2), "pdb": map[string]any{"minAvailable": int64(1)}}, Want: Accepted},
	{Name: "an unknown field spec.replicaCount is rejected under strict field validation", Spec: map[string]any{"replicas": int64(1), "replicaCount": int64(3)}, Want: Rejected,
		Rule: "strict field validation against the structural schema", WantMessage: `unknown field "spec.replicaCount"`},
	{Name: "replicas: -1 is accepted: not validated at admission", Spec: map[string]any{"replicas": int64(-1)}, Want: Accepted, NotValidated: true},
}
