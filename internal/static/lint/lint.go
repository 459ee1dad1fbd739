// Package lint is the static conformance layer: rules with stable IDs run
// over a rendered GitOps tree (internal/static/gitops) before any cluster exists.
// Every rule has a description, a remediation, and names the object each
// finding points at; fixtures/mutants holds a planted defect per rule.
package lint

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/static/gitops"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
)

// Rule is one registered check.
type Rule struct {
	ID          string // stable, e.g. DFE001
	Name        string // short kebab-case name
	Description string // one line: what must hold
	Remediation string // one line: how to fix a finding
	check       func(*Context) []Finding
}

// Context is what rules see.
type Context struct {
	// Tree is the repository as rendered: every Flux Kustomization defined
	// in it, reachable or not.
	Tree *gitops.Tree
	// OperatorVersion is assumed for an operator whose image tag is not a version.
	OperatorVersion string
	// Notices are what the run assumed instead of reading it from the tree.
	Notices []Notice

	// applied is Tree as Flux applies it (reachable Kustomizations only):
	// what most rules check, since nothing else reaches the cluster.
	applied   *gitops.Tree
	ops       []operatorWorkload
	opsLoaded bool
}

// Notice is something lint assumed rather than read from the tree. It is not
// a violation, but it is never silent: a check that ran on an assumption says so.
type Notice struct {
	Object        gitops.ObjectRef `json:"object"`
	Kustomization string           `json:"kustomization,omitempty"`
	Message       string           `json:"message"`
}

func (n Notice) String() string {
	by := ""
	if n.Kustomization != "" {
		by = " (Kustomization " + n.Kustomization + ")"
	}
	return fmt.Sprintf("note: %s%s: %s", n.Object, by, n.Message)
}

func (c *Context) notice(o gitops.Object, msg string) {
	n := Notice{Object: gitops.RefOf(o.Unstructured), Message: msg}
	if o.By != nil {
		n.Kustomization = o.By.Key()
	}
	for _, have := range c.Notices {
		if have == n {
			return
		}
	}
	c.Notices = append(c.Notices, n)
}

// Finding is one violation.
type Finding struct {
	Rule          string           `json:"rule"`
	Object        gitops.ObjectRef `json:"object"`
	Kustomization string           `json:"kustomization,omitempty"` // Flux Kustomization that renders (or is) the object
	Message       string           `json:"message"`
	Remediation   string           `json:"remediation"`
}

func (f Finding) String() string {
	by := ""
	if f.Kustomization != "" && !(f.Object.Kind == "Kustomization" && f.Object.Namespace+"/"+f.Object.Name == f.Kustomization) {
		by = " (Kustomization " + f.Kustomization + ")"
	}
	return fmt.Sprintf("%s %s%s: %s", f.Rule, f.Object, by, f.Message)
}

var registry []Rule

func register(r Rule) {
	for _, existing := range registry {
		if existing.ID == r.ID {
			panic("lint: duplicate rule ID " + r.ID)
		}
	}
	registry = append(registry, r)
	sort.Slice(registry, func(i, j int) bool { return registry[i].ID < registry[j].ID })
}

// Rules lists the registered rules by ID.
func Rules() []Rule { return append([]Rule(nil), registry...) }

// Run applies every rule to the context and returns the findings, ordered by
// rule, object and message.
func Run(c *Context) []Finding {
	if c.OperatorVersion == "" {
		c.OperatorVersion = operator.DefaultVersion
	}
	c.applied = c.Tree.Applied()
	c.opsLoaded = false
	for _, op := range c.operators() {
		if op.Fallback {
			c.notice(op.Object, fmt.Sprintf("the operator version is not read from the manager image %s (%s): the RBAC and bundle checks assume %s from --operator-version; tag the image with its release (e.g. :%s) or pass --operator-version with the version it runs",
				op.Image, op.Why, op.Version, operator.DefaultVersion))
		}
	}
	var out []Finding
	for _, r := range registry {
		for _, f := range r.check(c) {
			f.Rule = r.ID
			if f.Remediation == "" {
				f.Remediation = r.Remediation
			}
			out = append(out, f)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Rule != out[j].Rule {
			return out[i].Rule < out[j].Rule
		}
		if a, b := out[i].Object.String(), out[j].Object.String(); a != b {
			return a < b
		}
		return out[i].Message < out[j].Message
	})
	return out
}

// RulesMarkdown renders the registry as a Markdown table (for the README).
func RulesMarkdown() string {
	var b strings.Builder
	b.WriteString("| ID | Name | Checks | Remediation |\n|---|---|---|---|\n")
	for _, r := range registry {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", r.ID, r.Name, escape(r.Description), escape(r.Remediation))
	}
	return b.String()
}

func escape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// Report is the outcome of linting one tree.
type Report struct {
	Tree            string    `json:"tree"`
	OperatorVersion string    `json:"operatorVersion"`
	Kustomizations  []string  `json:"kustomizations"`
	Objects         int       `json:"objects"`
	Rules           []string  `json:"rules"`
	Findings        []Finding `json:"findings"`
	Notices         []Notice  `json:"notices"`
}

// Lint runs every rule over tree.
func Lint(tree *gitops.Tree, operatorVersion string) Report {
	c := &Context{Tree: tree, OperatorVersion: operatorVersion}
	r := Report{Tree: tree.Root, Findings: Run(c), OperatorVersion: c.OperatorVersion, Notices: c.Notices}
	// Only what Flux applies counts as rendered; the rest is reported by DFE009.
	r.Objects = len(c.applied.Objects())
	for _, k := range c.applied.Kustomizations {
		r.Kustomizations = append(r.Kustomizations, k.Key())
	}
	for _, rule := range registry {
		r.Rules = append(r.Rules, rule.ID)
	}
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
	if r.Notices == nil {
		r.Notices = []Notice{}
	}
	return r
}

// WriteHuman prints the report for a terminal.
func (r Report) WriteHuman(w io.Writer) error {
	for _, f := range r.Findings {
		if _, err := fmt.Fprintf(w, "%s\n    fix: %s\n", f, f.Remediation); err != nil {
			return err
		}
	}
	for _, n := range r.Notices {
		if _, err := fmt.Fprintln(w, n); err != nil {
			return err
		}
	}
	verdict := "clean"
	if n := len(r.Findings); n > 0 {
		verdict = fmt.Sprintf("%d violation(s)", n)
	}
	if n := len(r.Notices); n > 0 {
		verdict += fmt.Sprintf(" (%d notice(s))", n)
	}
	_, err := fmt.Fprintf(w, "%s: %d Flux Kustomizations, %d objects, %d rules: %s\n",
		r.Tree, len(r.Kustomizations), r.Objects, len(r.Rules), verdict)
	return err
}

// WriteJSON prints the report as indented JSON.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
