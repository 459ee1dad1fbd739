package run

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// outlived is the check: the process whose pid the child wrote to pidFile
// (the test binary under `go test`) is gone once the run returned.
func outlived(t *testing.T, pidFile string) error {
	t.Helper()
	var pid int
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(pidFile)
		if err == nil {
			if pid, err = strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the child never wrote its grandchild's pid to %s", pidFile)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A killed grandchild may linger as a zombie until init reaps it.
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if syscall.Kill(pid, 0) != nil || zombie(pid) {
			return nil
		}
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	return fmt.Errorf("process %d (the test binary under go test) outlived the run and would go on changing the cluster after its cleanup", pid)
}

func zombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return strings.HasPrefix(rest, "Z")
}

// script runs sh with body; the grandchild is `sleep` started in the
// background, its pid in the returned file.
func script(t *testing.T, ctx context.Context, body string) (*exec.Cmd, string) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	cmd := exec.CommandContext(ctx, "sh", "-c", strings.ReplaceAll(body, "PIDFILE", pidFile))
	return cmd, pidFile
}

func cancelSoon(cancel context.CancelFunc) { time.AfterFunc(300*time.Millisecond, cancel) }

func TestRunGroupInterruptReachesTheGrandchild(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cmd, pidFile := script(t, ctx, `sleep 300 & echo $! > PIDFILE; exec sleep 301`)
	cancelSoon(cancel)
	start := time.Now()
	_ = runGroup(cmd, 30*time.Second)
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("took %s: the interrupt should end both at once, not the grace period", el)
	}
	if err := outlived(t, pidFile); err != nil {
		t.Fatal(err)
	}
}

func TestRunGroupKillsWhatIgnoresTheInterruptAfterTheGrace(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	// Both ignore SIGINT (inherited), as a go test whose binary's cleanup
	// outlasts the grace period.
	cmd, pidFile := script(t, ctx, `trap "" INT; sleep 300 & echo $! > PIDFILE; wait`)
	cancelSoon(cancel)
	_ = runGroup(cmd, time.Second)
	if err := outlived(t, pidFile); err != nil {
		t.Fatal(err)
	}
}

// Planted defect: the interrupt sent to `go test` alone and the process
// killed after the grace, as before — the test binary survived, orphaned.
func TestOutlivedNamesAnOrphanedGrandchild(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cmd, pidFile := script(t, ctx, `trap "" INT; sleep 300 & echo $! > PIDFILE; wait`)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = time.Second
	cancelSoon(cancel)
	_ = cmd.Run()
	err := outlived(t, pidFile)
	if err == nil || !strings.Contains(err.Error(), "outlived the run") {
		t.Fatalf("want the check to name the orphaned test binary, got %v", err)
	}
}
