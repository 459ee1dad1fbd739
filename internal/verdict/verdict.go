// Package verdict is the one way dragonfly-e2e states the outcome of a check.
//
// A conformance suite is worth exactly as much as its verdicts, so "blocked"
// (the workplace cannot run the real thing) and "skipped" (not selected at this
// depth or filter) are kept apart from "passed" everywhere: in reports, JUnit
// files and exit codes.
package verdict

import (
	"fmt"
	"strings"
)

// Status is the outcome of one check or spec.
type Status string

const (
	// Passed: the check ran against the real thing and held.
	Passed Status = "passed"
	// Failed: the check ran and found a defect; Reason names it.
	Failed Status = "failed"
	// Blocked: the check could not run here (e.g. an image is not available);
	// Reason says what is missing and Remedy how to supply it. Never a pass.
	Blocked Status = "blocked"
	// Skipped: deliberately not run (label filter, depth level, not yet
	// implemented); Reason says why. Never a pass.
	Skipped Status = "skipped"
)

// Valid reports whether s is one of the four statuses.
func (s Status) Valid() bool {
	switch s {
	case Passed, Failed, Blocked, Skipped:
		return true
	}
	return false
}

// Verdict is the outcome of one named check.
type Verdict struct {
	// Check is the sentence the report shows, e.g. "the CRD dragonflies.dragonflydb.io is Established".
	Check  string `json:"check"`
	Status Status `json:"status"`
	// Reason is required for every status but Passed.
	Reason string `json:"reason,omitempty"`
	// Remedy tells the user what to do (for Blocked and Failed).
	Remedy string `json:"remedy,omitempty"`
	// StandIn names a stand-in used instead of the real thing, if any
	// (e.g. "redis-server, unmanaged — not Dragonfly").
	StandIn string `json:"standIn,omitempty"`
}

func (v Verdict) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%s] %s", v.Status, v.Check)
	if v.Reason != "" {
		fmt.Fprintf(&b, ": %s", v.Reason)
	}
	if v.StandIn != "" {
		fmt.Fprintf(&b, " (stand-in: %s)", v.StandIn)
	}
	if v.Remedy != "" {
		fmt.Fprintf(&b, " — remedy: %s", v.Remedy)
	}
	return b.String()
}

// BlockedPrefix starts the message of every spec that ends as blocked, so that
// Ginkgo reports (where blocked specs are recorded as skips) can be told apart
// from ordinary skips when the run report is built.
const BlockedPrefix = "blocked: "

// BlockedMessage formats the skip message of a blocked spec.
func BlockedMessage(reason, remedy string) string {
	msg := BlockedPrefix + reason
	if remedy != "" {
		msg += " — remedy: " + remedy
	}
	return msg
}

// ParseSkipMessage classifies a skip message written by BlockedMessage (Blocked)
// or any other skip (Skipped), returning reason and remedy.
func ParseSkipMessage(msg string) (Status, string, string) {
	msg = strings.TrimSpace(msg)
	if !strings.HasPrefix(msg, BlockedPrefix) {
		return Skipped, msg, ""
	}
	rest := strings.TrimPrefix(msg, BlockedPrefix)
	reason, remedy, _ := strings.Cut(rest, " — remedy: ")
	return Blocked, reason, remedy
}

// Summary counts verdicts by status.
type Summary struct {
	Passed, Failed, Blocked, Skipped int
}

// Add counts one status.
func (s *Summary) Add(st Status) {
	switch st {
	case Passed:
		s.Passed++
	case Failed:
		s.Failed++
	case Blocked:
		s.Blocked++
	case Skipped:
		s.Skipped++
	}
}

// ExitCode is the process exit status for a run: 1 if anything failed, 3 if
// nothing failed but something was blocked (so a gate never mistakes a blocked
// run for a green one), else 0.
func (s Summary) ExitCode() int {
	switch {
	case s.Failed > 0:
		return 1
	case s.Blocked > 0:
		return 3
	}
	return 0
}

// Line is the plain closing line ("N passed, N failed, N skipped") plus blocked.
func (s Summary) Line() string {
	return fmt.Sprintf("%d passed, %d failed, %d skipped, %d blocked", s.Passed, s.Failed, s.Skipped, s.Blocked)
}
