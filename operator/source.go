package operator

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// ManifestFile is the upstream manifest's file name, in the release tree and
// in an override directory (<dir>/<version>/dragonfly-operator.yaml).
const ManifestFile = "dragonfly-operator.yaml"

// overrideHint tells a dfe2e user how to give an offline copy; dfe2e fills
// SourceOptions.Override from the flag or the variable.
const overrideHint = "--operator-source / DFE2E_OPERATOR_SOURCE"

// fetchTimeout keeps an offline machine from hanging on the pinned URL.
const fetchTimeout = 20 * time.Second

// SourceOptions says where the upstream manifest comes from: Override if
// set, else the cache, else the pinned URL. The package reads no environment
// variable; dfe2e fills the fields from its configuration.
type SourceOptions struct {
	// Override is a manifest file (for the requested version) or a directory
	// holding <version>/dragonfly-operator.yaml. Empty: none.
	Override string
	// CacheDir holds <version>/dragonfly-operator.yaml; empty: DefaultCacheDir().
	CacheDir string
	// HTTPClient fetches the pinned URL; nil: a client with a short timeout.
	HTTPClient *http.Client
	// DragonflyImage, when set, is handed to the manager as --dragonfly-image,
	// the operator's own switch for the image of every instance without
	// spec.image. A run uses it to give the operator a Dragonfly-contract
	// stand-in under a name of its own, leaving the Dragonfly objects as users
	// write them.
	DragonflyImage string
}

// DefaultCacheDir is the cache of a caller that gives no CacheDir: the
// user's cache directory, as dfe2e's own cache root is when DFE2E_CACHE is
// unset, else a directory under the system temp dir.
func DefaultCacheDir() string {
	if dir, err := os.UserCacheDir(); err == nil {
		return filepath.Join(dir, "dragonfly-e2e", "operator")
	}
	return filepath.Join(os.TempDir(), "dragonfly-e2e-cache", "operator")
}

func (o SourceOptions) cacheFile(version string) string {
	dir := o.CacheDir
	if dir == "" {
		dir = DefaultCacheDir()
	}
	return filepath.Join(dir, version, ManifestFile)
}

// Fetch returns the verified upstream manifest of version and where it came
// from. Every source is checked against the pinned sha256.
func Fetch(ctx context.Context, version string, o SourceOptions) (data []byte, origin string, err error) {
	pin, err := Lookup(version)
	if err != nil {
		return nil, "", err
	}
	if src := o.Override; src != "" {
		path, err := overridePath(src, version)
		if err != nil {
			return nil, "", err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, "", fmt.Errorf("operator source %s: %w (set %s to a manifest file or a directory holding <version>/%s)", path, err, overrideHint, ManifestFile)
		}
		return data, path, verify(pin, data, path)
	}

	cached := o.cacheFile(version)
	if data, err := os.ReadFile(cached); err == nil {
		if err := verify(pin, data, cached); err != nil {
			return nil, "", fmt.Errorf("%w (delete the cached file to fetch it again)", err)
		}
		return data, cached, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, "", fmt.Errorf("reading cached operator manifest: %w", err)
	}

	data, err = download(ctx, pin, o.HTTPClient)
	if err != nil {
		return nil, "", fmt.Errorf("fetching operator %s from %s: %w; offline, point %s at a copy (a file, or a directory with <version>/%s)", version, pin.URL, err, overrideHint, ManifestFile)
	}
	if err := verify(pin, data, pin.URL); err != nil {
		return nil, "", err
	}
	if err := writeAtomic(cached, data); err != nil {
		return nil, "", fmt.Errorf("caching operator manifest: %w", err)
	}
	return data, pin.URL, nil
}

// overridePath resolves an override (file or directory) to the manifest file.
func overridePath(src, version string) (string, error) {
	st, err := os.Stat(src)
	if err != nil {
		return "", fmt.Errorf("operator source %s: %w (set %s to a manifest file or a directory holding <version>/%s)", src, err, overrideHint, ManifestFile)
	}
	if !st.IsDir() {
		return src, nil
	}
	return filepath.Join(src, version, ManifestFile), nil
}

func verify(pin Pin, data []byte, origin string) error {
	sum := sha256.Sum256(data)
	got := hex.EncodeToString(sum[:])
	if got != pin.SHA256 {
		return fmt.Errorf("sha256 mismatch for operator %s manifest from %s: expected %s, got %s (the source is not the pinned upstream release; use an unmodified copy of %s)", pin.Version, origin, pin.SHA256, got, pin.URL)
	}
	return nil
}

func download(ctx context.Context, pin Pin, client *http.Client) ([]byte, error) {
	if client == nil {
		client = &http.Client{Timeout: fetchTimeout}
	}
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, pin.URL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %s", resp.Status)
	}
	// The manifests are about 0.5 MB; cap reads so a wrong URL cannot fill memory.
	return io.ReadAll(io.LimitReader(resp.Body, 16<<20))
}

// writeAtomic writes data so that readers never see a partial cache entry.
func writeAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
