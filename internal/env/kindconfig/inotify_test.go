package kindconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func sysctls(t *testing.T, instances, watches string) string {
	t.Helper()
	d := t.TempDir()
	if err := os.MkdirAll(filepath.Join(d, "fs", "inotify"), 0o755); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"max_user_instances": instances, "max_user_watches": watches} {
		if err := os.WriteFile(filepath.Join(d, "fs", "inotify", k), []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func read(t *testing.T, d, k string) string {
	b, _ := os.ReadFile(filepath.Join(d, "fs", "inotify", k))
	return strings.TrimSpace(string(b))
}

// The planted defect is Debian's default: 128 instances.
func TestEnsureInotifyRaisesLowLimitsAndSaysSo(t *testing.T) {
	d := sysctls(t, "128", "1048576")
	var log []string
	if err := ensureInotify(d, func(f string, a ...any) { log = append(log, f) }); err != nil {
		t.Fatal(err)
	}
	if read(t, d, "max_user_instances") != "8192" || read(t, d, "max_user_watches") != "1048576" {
		t.Fatalf("instances %s, watches %s: want 8192 and the higher value kept", read(t, d, "max_user_instances"), read(t, d, "max_user_watches"))
	}
	if len(log) != 1 || !strings.Contains(log[0], "raised") {
		t.Fatalf("log %q", log)
	}
}

func TestEnsureInotifyNamesTheCommandWhenItMayNotWrite(t *testing.T) {
	d := sysctls(t, "128", "8192")
	// A directory where the file is: the write fails as it would unprivileged.
	p := filepath.Join(d, "fs", "inotify", "max_user_instances")
	os.Remove(p)
	os.Mkdir(p, 0o755)
	err := ensureInotify(d, t.Logf)
	if err == nil || !strings.Contains(err.Error(), "reading") {
		t.Fatalf("unreadable limit: %v", err)
	}
	d = sysctls(t, "128", "8192")
	ro := filepath.Join(d, "fs", "inotify")
	if err := os.Chmod(filepath.Join(ro, "max_user_instances"), 0o444); err != nil {
		t.Fatal(err)
	}
	if os.Getuid() == 0 {
		t.Skip("root writes read-only files: the unprivileged message is not reachable here")
	}
	err = ensureInotify(d, t.Logf)
	if err == nil || !strings.Contains(err.Error(), "sudo sysctl -w fs.inotify.max_user_instances=8192") {
		t.Fatalf("err %v", err)
	}
}

func TestEnsureInotifyLeavesHighLimitsAndMissingFilesAlone(t *testing.T) {
	d := sysctls(t, "8192", "1048576")
	if err := ensureInotify(d, func(f string, a ...any) { t.Fatalf("logged %q", f) }); err != nil {
		t.Fatal(err)
	}
	if err := ensureInotify(t.TempDir(), t.Logf); err != nil {
		t.Fatalf("no limits present: %v", err)
	}
	if err := ensureInotify(sysctls(t, "lots", "1"), t.Logf); err == nil || !strings.Contains(err.Error(), `"lots" is not a number`) {
		t.Fatalf("garbage: %v", err)
	}
}
