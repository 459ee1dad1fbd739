package images

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/contenthash"
)

// Upstream operator images for clusters that reach no registry: docker-save
// archives named operator-<version>.tar beside a SHA256SUMS file, read in
// place (they are data shared between checkouts, tens of MB each).

// OperatorRepo is the repository the operator's manifests pull from.
const OperatorRepo = "docker.dragonflydb.io/dragonflydb/operator"

// OperatorRef is the image reference of an operator version.
func OperatorRef(version string) string { return OperatorRepo + ":" + version }

var operatorArchive = regexp.MustCompile(`^operator-(v\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)\.tar$`)

// OperatorArchives maps each operator version in dir to its archive path,
// after checking every archive named in dir/SHA256SUMS against its sum. An
// archive without a sum, a sum without an archive, or a mismatch is an error:
// a corrupted or swapped image would otherwise surface as a crash-looping
// operator much later.
func OperatorArchives(dir string) (map[string]string, error) {
	sums, err := readSHA256SUMS(filepath.Join(dir, "SHA256SUMS"))
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("operator image archives: %w", err)
	}
	out := map[string]string{}
	for _, e := range entries {
		m := operatorArchive.FindStringSubmatch(e.Name())
		if m == nil || e.IsDir() {
			continue
		}
		if _, ok := sums[e.Name()]; !ok {
			return nil, fmt.Errorf("operator image archive %s has no line in %s", filepath.Join(dir, e.Name()), filepath.Join(dir, "SHA256SUMS"))
		}
		out[m[1]] = filepath.Join(dir, e.Name())
	}
	for name, want := range sums {
		p := filepath.Join(dir, name)
		got, err := contenthash.File(p)
		if err != nil {
			return nil, fmt.Errorf("operator image archive listed in SHA256SUMS: %w", err)
		}
		if got != want {
			return nil, fmt.Errorf("sha256 mismatch for %s: expected %s (SHA256SUMS), actual %s", p, want, got)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no operator-<version>.tar archives in %s", dir)
	}
	return out, nil
}

// readSHA256SUMS reads sha256sum's output format ("<hex>  <name>", binary
// mode "<hex> *<name>").
func readSHA256SUMS(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("operator image checksums: %w", err)
	}
	defer f.Close()
	sums := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		sum, name, ok := strings.Cut(line, " ")
		name = strings.TrimPrefix(strings.TrimLeft(name, " "), "*")
		if !ok || len(sum) != 64 || strings.Trim(strings.ToLower(sum), "0123456789abcdef") != "" || name == "" || strings.ContainsAny(name, `/\`) {
			return nil, fmt.Errorf("%s:%d: not a sha256sum line: %q", path, n, line)
		}
		sums[name] = strings.ToLower(sum)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return sums, nil
}
