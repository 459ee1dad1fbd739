// Package finding is the value every API-tier check returns: what it found,
// where, and whether that fails the check. Checks are plain functions that
// return findings, so the normal specs and the planted-defect self-tests run
// the same code and differ only in the input.
package finding

import (
	"fmt"
	"strings"
)

// Severity says whether a finding fails its check.
type Severity string

const (
	// Violation fails the check; the message names the defect.
	Violation Severity = "violation"
	// Info is reported but does not fail the check (a least-privilege
	// excess, "this release ships no webhook", "not validated at admission").
	Info Severity = "info"
)

// Finding is one observation of a check.
type Finding struct {
	// Check is the stable id of the check that produced it (e.g. "rbac.needed-permission-allowed").
	Check    string   `json:"check"`
	Severity Severity `json:"severity"`
	// Object is what the finding points at, e.g. "ClusterRoleBinding/dragonfly-operator-manager-rolebinding".
	Object  string `json:"object,omitempty"`
	Message string `json:"message"`
}

func (f Finding) String() string {
	if f.Object == "" {
		return fmt.Sprintf("[%s] %s: %s", f.Severity, f.Check, f.Message)
	}
	return fmt.Sprintf("[%s] %s: %s: %s", f.Severity, f.Check, f.Object, f.Message)
}

// Violations returns the findings that fail their check.
func Violations(fs []Finding) []Finding { return withSeverity(fs, Violation) }

// Infos returns the findings that are reported without failing.
func Infos(fs []Finding) []Finding { return withSeverity(fs, Info) }

func withSeverity(fs []Finding, s Severity) []Finding {
	var out []Finding
	for _, f := range fs {
		if f.Severity == s {
			out = append(out, f)
		}
	}
	return out
}

// Lines renders findings one per line, for failure messages and reports.
func Lines(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.String())
		b.WriteByte('\n')
	}
	return b.String()
}
