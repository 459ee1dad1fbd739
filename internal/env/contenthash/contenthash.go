// Package contenthash names build outputs by their content: the SHA-256 of
// a file, and the keys of content-addressed caches — a SHA-256 over every
// input of a build, cut to 16 hex digits.
//
// The bytes a key is computed over are its identity: the same inputs
// written another way make another key, and another key is a cold rebuild
// (10–30 minutes for the node image or a Flux controller). The callers pin
// their keys in golden tests.
package contenthash

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
)

// File is the hex SHA-256 of the file at path.
func File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hashing %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Key accumulates the inputs of one build.
type Key struct{ h hash.Hash }

// New starts a key with fields.
func New(fields ...string) *Key {
	k := &Key{h: sha256.New()}
	k.Fields(fields...)
	return k
}

// Fields adds each string followed by a NUL byte, so that no two lists of
// strings write the same bytes.
func (k *Key) Fields(fields ...string) {
	for _, f := range fields {
		io.WriteString(k.h, f+"\x00")
	}
}

// Blob adds named content: the name, its length and the bytes, so that
// content never reads as the next name.
func (k *Key) Blob(name string, b []byte) {
	fmt.Fprintf(k.h, "%s\x00%d\x00", name, len(b))
	k.h.Write(b)
}

// Dir adds every file directly in dir of fsys as a Blob, in name order.
func (k *Key) Dir(fsys fs.FS, dir string) error {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	for _, n := range names {
		b, err := fs.ReadFile(fsys, path.Join(dir, n))
		if err != nil {
			return err
		}
		k.Blob(n, b)
	}
	return nil
}

// Text adds s as it is, with nothing after it: only as the last input, or
// where a fixed-length one (a hex digest) leaves no doubt where it ends.
func (k *Key) Text(s string) { io.WriteString(k.h, s) }

// String is the key: the first 16 hex digits of the hash.
func (k *Key) String() string { return hex.EncodeToString(k.h.Sum(nil))[:16] }
