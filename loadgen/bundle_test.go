package loadgen

import (
	"bytes"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The Job's files survive the pod log: stderr lines between bundle lines,
// lines out of order, a timestamp prefix.
func TestBundleSurvivesAnInterleavedLog(t *testing.T) {
	dir := t.TempDir()
	big := strings.Repeat("0123456789abcdef", 4000)
	rnd := rand.New(rand.NewSource(1))
	noise := make([]byte, 20000)
	rnd.Read(noise)
	files := map[string]string{FileResult: `{"requests": 5000}`, FileHgrm: big, FileHlog: string(noise)}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := WriteBundle(&buf, dir); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) < 4 {
		t.Fatalf("want the bundle split over several lines, got %d", len(lines))
	}
	rnd.Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
	var log strings.Builder
	for i, l := range lines {
		log.WriteString("2026-11-26T01:00:00Z " + l + "\n")
		if i%2 == 0 {
			log.WriteString("requests      5000 (stderr table line)\n")
		}
	}
	got, err := ReadBundle([]byte(log.String()))
	if err != nil {
		t.Fatal(err)
	}
	for n, b := range files {
		if string(got[n]) != b {
			t.Errorf("%s differs after the round trip (%d bytes, want %d)", n, len(got[n]), len(b))
		}
	}

	// A log cut short (a line lost) or without the end line is not a result.
	var cut []string
	dropped := false
	for _, l := range lines {
		if !dropped && strings.HasPrefix(l, bundleLine) {
			dropped = true
			continue
		}
		cut = append(cut, l)
	}
	if _, err := ReadBundle([]byte(strings.Join(cut, "\n"))); !errors.Is(err, ErrNoBundle) || !strings.Contains(err.Error(), "missing") {
		t.Errorf("a lost line: %v; want ErrNoBundle naming the missing line", err)
	}
	if _, err := ReadBundle([]byte("dfe2e: 127.0.0.1:1: unreachable\n")); !errors.Is(err, ErrNoBundle) {
		t.Errorf("no bundle: %v; want ErrNoBundle", err)
	}
	// A mixed line (another bundle's chunk) fails the hash.
	mixed := strings.Replace(log.String(), bundleLine+"0 ", bundleLine+"0 AAAA", 1)
	if _, err := ReadBundle([]byte(mixed)); !errors.Is(err, ErrNoBundle) || !strings.Contains(err.Error(), "hash") {
		t.Errorf("a changed line: %v; want a hash mismatch", err)
	}
}
