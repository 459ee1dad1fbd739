package images

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeOperatorDir(t *testing.T, files map[string]string, sums string) string {
	t.Helper()
	dir := t.TempDir()
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(sums), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func sumOf(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }

func TestOperatorArchives(t *testing.T) {
	dir := writeOperatorDir(t, map[string]string{"operator-v1.6.1.tar": "a", "operator-v1.5.0.tar": "b", "README.md": "x"},
		sumOf("a")+"  operator-v1.6.1.tar\n"+sumOf("b")+" *operator-v1.5.0.tar\n")
	got, err := OperatorArchives(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["v1.6.1"] != filepath.Join(dir, "operator-v1.6.1.tar") || got["v1.5.0"] != filepath.Join(dir, "operator-v1.5.0.tar") {
		t.Fatalf("archives: %v", got)
	}
	if OperatorRef("v1.6.1") != "docker.dragonflydb.io/dragonflydb/operator:v1.6.1" {
		t.Fatal(OperatorRef("v1.6.1"))
	}
}

func TestOperatorArchivesMismatch(t *testing.T) {
	dir := writeOperatorDir(t, map[string]string{"operator-v1.6.1.tar": "tampered"}, sumOf("a")+"  operator-v1.6.1.tar\n")
	_, err := OperatorArchives(dir)
	if err == nil {
		t.Fatal("no error for a tampered archive")
	}
	for _, want := range []string{"sha256 mismatch", filepath.Join(dir, "operator-v1.6.1.tar"), "expected " + sumOf("a"), "actual " + sumOf("tampered")} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestOperatorArchivesIncomplete(t *testing.T) {
	for name, dir := range map[string]string{
		"archive without a sum": writeOperatorDir(t, map[string]string{"operator-v1.6.1.tar": "a", "operator-v1.6.0.tar": "c"}, sumOf("a")+"  operator-v1.6.1.tar\n"),
		"sum without archive":   writeOperatorDir(t, map[string]string{"operator-v1.6.1.tar": "a"}, sumOf("a")+"  operator-v1.6.1.tar\n"+sumOf("c")+"  operator-v1.6.0.tar\n"),
		"bad line":              writeOperatorDir(t, map[string]string{"operator-v1.6.1.tar": "a"}, "nothex  operator-v1.6.1.tar\n"),
		"no archives":           writeOperatorDir(t, nil, ""),
	} {
		if _, err := OperatorArchives(dir); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := OperatorArchives(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing dir: no error")
	}
}

// TestSharedOperatorArchives checks the real archives when this machine has them.
func TestSharedOperatorArchives(t *testing.T) {
	dir := "/work/shared/images/operator"
	if _, err := os.Stat(filepath.Join(dir, "SHA256SUMS")); err != nil {
		t.Skip("no shared operator archives on this machine")
	}
	got, err := OperatorArchives(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"v1.5.0", "v1.6.0", "v1.6.1"} {
		if got[v] == "" {
			t.Errorf("no archive for %s: %v", v, got)
		}
	}
}
