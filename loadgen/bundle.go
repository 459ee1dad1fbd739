package loadgen

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The in-cluster Job hands its output files back through its pod log: a pod
// log merges stdout and stderr line by line, and the runtime splits long
// lines, so the files travel as short marked lines (gzip, base64) that any
// interleaving leaves intact, closed by a line with their count and hash.
const (
	bundleLine  = "DFE2E-BUNDLE "
	bundleEnd   = "DFE2E-BUNDLE-END "
	bundleChunk = 3000 // base64 characters per line, far below the runtime's 16 KiB line limit
)

// WriteBundle writes the files of dir (output files of a run) as bundle lines.
func WriteBundle(w io.Writer, dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	// []byte: JSON carries any bytes (base64), not only valid UTF-8.
	files := map[string][]byte{}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return err
		}
		files[e.Name()] = b
	}
	raw, err := json.Marshal(files)
	if err != nil {
		return err
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(raw); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	enc := base64.StdEncoding.EncodeToString(gz.Bytes())
	sum := sha256.Sum256([]byte(enc))
	var buf bytes.Buffer
	n := 0
	for i := 0; i < len(enc); i += bundleChunk {
		fmt.Fprintf(&buf, "%s%d %s\n", bundleLine, n, enc[i:min(i+bundleChunk, len(enc))])
		n++
	}
	fmt.Fprintf(&buf, "%s%d %s\n", bundleEnd, n, hex.EncodeToString(sum[:]))
	_, err = w.Write(buf.Bytes())
	return err
}

// ErrNoBundle is a log without a complete bundle (the run ended before
// writing its results, or the log was cut).
var ErrNoBundle = errors.New("the log holds no complete result bundle")

// ReadBundle extracts the files of the bundle in log; other lines are ignored.
func ReadBundle(log []byte) (map[string][]byte, error) {
	chunks := map[int]string{}
	want, sum := -1, ""
	for _, line := range strings.Split(string(log), "\n") {
		line = strings.TrimRight(line, "\r")
		// A line may carry a prefix (kubectl --timestamps); find the marker.
		if i := strings.Index(line, bundleEnd); i >= 0 {
			f := strings.Fields(line[i+len(bundleEnd):])
			if len(f) == 2 {
				if n, err := strconv.Atoi(f[0]); err == nil {
					want, sum = n, f[1]
				}
			}
			continue
		}
		if i := strings.Index(line, bundleLine); i >= 0 {
			f := strings.Fields(line[i+len(bundleLine):])
			if len(f) == 2 {
				if n, err := strconv.Atoi(f[0]); err == nil {
					chunks[n] = f[1]
				}
			}
		}
	}
	if want < 0 {
		return nil, fmt.Errorf("%w (no %q line)", ErrNoBundle, strings.TrimSpace(bundleEnd))
	}
	var sb strings.Builder
	for i := range want {
		c, ok := chunks[i]
		if !ok {
			return nil, fmt.Errorf("%w: line %d of %d is missing", ErrNoBundle, i, want)
		}
		sb.WriteString(c)
	}
	enc := sb.String()
	if got := sha256.Sum256([]byte(enc)); hex.EncodeToString(got[:]) != sum {
		return nil, fmt.Errorf("%w: hash mismatch (lines cut or mixed)", ErrNoBundle)
	}
	gz, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoBundle, err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoBundle, err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoBundle, err)
	}
	var files map[string][]byte
	if err := json.Unmarshal(raw, &files); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoBundle, err)
	}
	out := make(map[string][]byte, len(files))
	for name, body := range files {
		if name != filepath.Base(name) || name == "." || name == ".." {
			return nil, fmt.Errorf("%w: unsafe file name %q", ErrNoBundle, name)
		}
		out[name] = body
	}
	if _, ok := out[FileResult]; !ok {
		return nil, fmt.Errorf("%w: it lacks %s", ErrNoBundle, FileResult)
	}
	return out, nil
}
