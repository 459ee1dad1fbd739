package capfilter

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const vmMask = 0x000001fffeffffff // the bounding set of these VMs: no CAP_SYS_RESOURCE

func TestParseCapBnd(t *testing.T) {
	m, err := ParseCapBnd(strings.NewReader("Name:\tx\nCapBnd:\t000001fffeffffff\nCapAmb:\t0\n"))
	if err != nil || m != vmMask {
		t.Fatalf("got %x, %v", m, err)
	}
	if _, err := ParseCapBnd(strings.NewReader("Name:\tx\n")); err == nil {
		t.Fatal("status without CapBnd accepted")
	}
	if got := Missing(vmMask); len(got) != 1 || got[0] != "CAP_SYS_RESOURCE" {
		t.Fatalf("Missing = %v, want [CAP_SYS_RESOURCE]", got)
	}
}

func TestFilterFileDropsOnlyUngrantableCaps(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.json")
	in := `{"ociVersion":"1.0.2","process":{"user":{"uid":4294967294},"capabilities":{"bounding":["CAP_CHOWN","CAP_SYS_RESOURCE","CAP_FUTURE_THING"],"effective":["CAP_SYS_RESOURCE"]}},"root":{"path":"rootfs"}}`
	if err := os.WriteFile(cfg, []byte(in), 0o600); err != nil {
		t.Fatal(err)
	}
	removed, err := FilterFile(cfg, false, vmMask)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || removed[0] != "CAP_SYS_RESOURCE" {
		t.Fatalf("removed %v, want [CAP_SYS_RESOURCE]", removed)
	}
	out, _ := os.ReadFile(cfg)
	s := string(out)
	if strings.Contains(s, "CAP_SYS_RESOURCE") {
		t.Errorf("CAP_SYS_RESOURCE still present: %s", s)
	}
	for _, keep := range []string{"CAP_CHOWN", "CAP_FUTURE_THING", "4294967294", `"root":{"path":"rootfs"}`} {
		if !strings.Contains(s, keep) {
			t.Errorf("lost %s: %s", keep, s)
		}
	}
}

func TestFilterFileProcessSpecAndNoop(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "process.json")
	os.WriteFile(p, []byte(`{"args":["sh"],"capabilities":{"permitted":["CAP_SYS_RESOURCE","CAP_KILL"]}}`), 0o600)
	removed, err := FilterFile(p, true, vmMask)
	if err != nil || len(removed) != 1 {
		t.Fatalf("removed %v, err %v", removed, err)
	}
	// A full bounding set removes nothing and leaves the file byte-identical.
	orig := `{"process":{"capabilities":{"bounding":["CAP_SYS_RESOURCE"]}}}`
	c := filepath.Join(dir, "config.json")
	os.WriteFile(c, []byte(orig), 0o600)
	if removed, err := FilterFile(c, false, ^uint64(0)); err != nil || removed != nil {
		t.Fatalf("full mask removed %v, err %v", removed, err)
	}
	if b, _ := os.ReadFile(c); string(b) != orig {
		t.Fatalf("file rewritten: %s", b)
	}
}
