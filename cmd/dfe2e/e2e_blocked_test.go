package main

import (
	"errors"
	"testing"
)

// A blocked run exits 3 unless --blocked-ok was given; it never exits like a failure.
func TestBlockedExit(t *testing.T) {
	var ee *exitError
	if err := blockedExit(&e2eFlags{}); !errors.As(err, &ee) || ee.code != exitBlocked {
		t.Fatalf("blocked run without --blocked-ok: got %v, want exit %d", err, exitBlocked)
	}
	if err := blockedExit(&e2eFlags{blockedOK: true}); err != nil {
		t.Fatalf("blocked run with --blocked-ok: got %v, want exit 0", err)
	}
}
