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

// Summary counts verdicts by status. A pass measured on a stand-in is kept in
// its own bucket: it proves the suite's machinery, not Dragonfly, so it is
// never added to Passed.
type Summary struct {
	Passed, Failed, Blocked, Skipped int
	// StandIn counts specs that passed against a stand-in.
	StandIn int
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

// AddVerdict counts v, putting a pass on a stand-in into StandIn.
func (s *Summary) AddVerdict(v Verdict) {
	if v.Status == Passed && v.StandIn != "" {
		s.StandIn++
		return
	}
	s.Add(v.Status)
}

// Merge adds every count of o.
func (s *Summary) Merge(o Summary) {
	s.Passed += o.Passed
	s.Failed += o.Failed
	s.Blocked += o.Blocked
	s.Skipped += o.Skipped
	s.StandIn += o.StandIn
}

// Status is the summary as one verdict: failed over blocked over passed. A
// summary with no pass against the real thing is Skipped ("nothing
// verified"), even when stand-in specs passed.
func (s Summary) Status() Status {
	switch {
	case s.Failed > 0:
		return Failed
	case s.Blocked > 0:
		return Blocked
	case s.Passed > 0:
		return Passed
	}
	return Skipped
}

// ExitCode is the process exit status for a run: 1 if anything failed, 3 if
// nothing failed but something was blocked (so a gate never mistakes a blocked
// run for a green one), else 0.
func (s Summary) ExitCode() int {
	return ExitCode(s.Status())
}

// Worst is the more severe of two statuses: failed over blocked over passed
// over skipped. A run that combines steps and specs states the worst of them.
func Worst(a, b Status) Status {
	rank := map[Status]int{Skipped: 0, Passed: 1, Blocked: 2, Failed: 3}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// ExitCode maps a run's overall status to its process exit status.
func ExitCode(st Status) int {
	switch st {
	case Failed:
		return 1
	case Blocked:
		return 3
	}
	return 0
}

// Line is the plain closing line ("N passed, N failed, N skipped, N blocked"),
// plus the stand-in passes when there are any, named as not passed.
func (s Summary) Line() string {
	l := fmt.Sprintf("%d passed, %d failed, %d skipped, %d blocked", s.Passed, s.Failed, s.Skipped, s.Blocked)
	if s.StandIn > 0 {
		l += fmt.Sprintf(", %d on a stand-in (not counted as passed)", s.StandIn)
	}
	return l
}
