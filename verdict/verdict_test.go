package verdict

import (
	"strings"
	"testing"
)

func TestBlockedMessageRoundTrips(t *testing.T) {
	msg := BlockedMessage("image x:1 cannot be pulled", "load it with --image-archive")
	st, reason, remedy := ParseSkipMessage(msg)
	if st != Blocked || reason != "image x:1 cannot be pulled" || remedy != "load it with --image-archive" {
		t.Fatalf("parsed %q as %s / %q / %q", msg, st, reason, remedy)
	}
	if st, reason, _ := ParseSkipMessage("not at this depth"); st != Skipped || reason != "not at this depth" {
		t.Fatalf("an ordinary skip parsed as %s / %q", st, reason)
	}
}

// A pass on a stand-in never lands in Passed: counting it there would let a
// run that verified nothing on Dragonfly read as green.
func TestStandInPassIsNotAPass(t *testing.T) {
	var s Summary
	s.AddVerdict(Verdict{Status: Passed, StandIn: "redis-server"})
	if s.Passed != 0 || s.StandIn != 1 {
		t.Fatalf("stand-in pass counted as %+v", s)
	}
	if s.Status() == Passed {
		t.Fatalf("a summary of stand-in passes only says %s", s.Status())
	}
	if !strings.Contains(s.Line(), "1 on a stand-in (not counted as passed)") || !strings.HasPrefix(s.Line(), "0 passed") {
		t.Fatalf("line %q hides the stand-in", s.Line())
	}
	s.AddVerdict(Verdict{Status: Passed})
	if s.Passed != 1 || s.Status() != Passed {
		t.Fatalf("a real pass: %+v, %s", s, s.Status())
	}
}

func TestFailedOverBlockedOverPassed(t *testing.T) {
	for _, c := range []struct {
		s    Summary
		want Status
		code int
	}{
		{Summary{Passed: 3, Failed: 1, Blocked: 5}, Failed, 1},
		{Summary{Passed: 3, Blocked: 1}, Blocked, 3},
		{Summary{Passed: 3, Skipped: 2}, Passed, 0},
		{Summary{Skipped: 2}, Skipped, 0},
	} {
		if got := c.s.Status(); got != c.want || c.s.ExitCode() != c.code {
			t.Errorf("%+v: status %s exit %d, want %s exit %d", c.s, got, c.s.ExitCode(), c.want, c.code)
		}
	}
	if Worst(Passed, Failed) != Failed || Worst(Blocked, Passed) != Blocked || Worst(Failed, Blocked) != Failed || Worst(Skipped, Passed) != Passed {
		t.Fatal("Worst does not order failed > blocked > passed > skipped")
	}
}

func TestMergeAddsEveryBucket(t *testing.T) {
	a := Summary{Passed: 1, Failed: 2, Blocked: 3, Skipped: 4, StandIn: 5}
	a.Merge(a)
	if a != (Summary{Passed: 2, Failed: 4, Blocked: 6, Skipped: 8, StandIn: 10}) {
		t.Fatalf("merge: %+v", a)
	}
}
