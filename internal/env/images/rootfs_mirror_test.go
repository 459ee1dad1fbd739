package images

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// aptTree writes files (path relative to the apt directory → content) into a
// temporary apt directory and returns it.
func aptTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "sources.list.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestAptMirrorOneLineFormat(t *testing.T) {
	dir := aptTree(t, map[string]string{
		"sources.list": `# deb http://commented.example.invalid/debian bookworm main
deb-src http://source-only.example.invalid/debian bookworm main
deb http://security.example.invalid/debian-security bookworm-security main
deb http://updates.example.invalid/debian bookworm-updates main
deb http://contrib-only.example.invalid/debian bookworm contrib non-free
deb http://other-suite.example.invalid/debian trixie main
deb cdrom:[Debian GNU/Linux 12]/ bookworm main
deb [ arch=amd64 signed-by=/usr/share/keyrings/k.gpg ]	http://one.example.invalid/debian bookworm main contrib # the archive
deb http://later.example.invalid/debian bookworm main
`,
	})
	got, err := aptMirror(dir, "bookworm")
	if err != nil || got != "http://one.example.invalid/debian" {
		t.Fatalf("got %q, %v; want the first enabled deb entry for bookworm main", got, err)
	}
}

func TestAptMirrorDeb822Format(t *testing.T) {
	dir := aptTree(t, map[string]string{
		"sources.list.d/a-disabled.sources": `Types: deb
URIs: http://disabled.example.invalid/debian
Suites: bookworm
Components: main
Enabled: no
`,
		"sources.list.d/debian.sources": `# Debian archive
Types: deb-src
URIs: http://source-only.example.invalid/debian
Suites: bookworm
Components: main

Types: deb
# a comment inside a stanza
URIs: mirror+file:/etc/apt/mirrors.txt
 http://first.example.invalid/debian http://second.example.invalid/debian
Suites: bookworm bookworm-updates
Components: contrib
 main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://security.example.invalid/debian-security
Suites: bookworm-security
Components: main
`,
		// Not a sources file: apt ignores it, so must this.
		"sources.list.d/z.sources.disabled": "Types: deb\nURIs: http://ignored.example.invalid/debian\nSuites: bookworm\nComponents: main\n",
	})
	got, err := aptMirror(dir, "bookworm")
	if err != nil || got != "http://first.example.invalid/debian" {
		t.Fatalf("got %q, %v; want the first fetchable URI of the enabled stanza", got, err)
	}
}

// sources.list comes first, then sources.list.d by name, mixing both formats.
func TestAptMirrorReadingOrder(t *testing.T) {
	dir := aptTree(t, map[string]string{
		"sources.list.d/b.list":    "deb http://b.example.invalid/debian bookworm main\n",
		"sources.list.d/a.sources": "Types: deb\nURIs: http://a.example.invalid/debian\nSuites: bookworm\nComponents: main\n",
	})
	if got, err := aptMirror(dir, "bookworm"); err != nil || got != "http://a.example.invalid/debian" {
		t.Fatalf("got %q, %v", got, err)
	}
	os.WriteFile(filepath.Join(dir, "sources.list"), []byte("deb http://main.example.invalid/debian bookworm main\n"), 0o644)
	if got, err := aptMirror(dir, "bookworm"); err != nil || got != "http://main.example.invalid/debian" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestAptMirrorNoneSaysWhatToSet(t *testing.T) {
	dir := aptTree(t, map[string]string{
		"sources.list":                  "deb http://security.example.invalid/debian-security bookworm-security main\n",
		"sources.list.d/debian.sources": "Types: deb\nURIs: http://updates.example.invalid/debian\nSuites: bookworm-updates\nComponents: main\n",
	})
	_, err := aptMirror(dir, "bookworm")
	if err == nil || !strings.Contains(err.Error(), "DFE2E_DEBIAN_MIRROR") || !strings.Contains(err.Error(), "bookworm") {
		t.Fatalf("want an error naming DFE2E_DEBIAN_MIRROR, got %v", err)
	}
	// No apt configuration at all is the same case, not a read failure.
	if _, err := aptMirror(filepath.Join(t.TempDir(), "none"), "bookworm"); err == nil || !strings.Contains(err.Error(), "DFE2E_DEBIAN_MIRROR") {
		t.Fatalf("missing apt directory: %v", err)
	}
}

func TestDebianMirrorSettingWinsOverApt(t *testing.T) {
	aptDir = aptTree(t, map[string]string{"sources.list": "deb http://apt.example.invalid/debian bookworm main\n"})
	t.Cleanup(func() { aptDir = "/etc/apt" })
	t.Setenv("DFE2E_DEBIAN_MIRROR", "http://setting.example.invalid/debian")
	if got, err := debianMirror(); err != nil || got != "http://setting.example.invalid/debian" {
		t.Fatalf("got %q, %v", got, err)
	}
	t.Setenv("DFE2E_DEBIAN_MIRROR", "")
	if got, err := debianMirror(); err != nil || got != "http://apt.example.invalid/debian" {
		t.Fatalf("got %q, %v", got, err)
	}
}

// The cached root filesystem is found by rootfsKey alone: a mirror in it, or
// any other change, would throw the cache away and cost a cold debootstrap.
// Change this value only together with rootfsRecipe or the package list.
func TestRootfsKeyIndependentOfMirror(t *testing.T) {
	t.Setenv("DFE2E_DEBIAN_MIRROR", "http://setting.example.invalid/debian")
	if got := rootfsKey(); got != "eb4812e694f22463" {
		t.Fatalf("rootfsKey %s changed", got)
	}
}
