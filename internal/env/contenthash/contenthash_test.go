package contenthash

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func TestFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	os.WriteFile(p, []byte("content"), 0o644)
	if got, err := File(p); err != nil || got != sum("content") {
		t.Fatalf("File = %s, %v; want the SHA-256 of the content", got, err)
	}
	if _, err := File(filepath.Join(t.TempDir(), "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("a missing file must be an error naming it: %v", err)
	}
}

// The byte layout is the key's identity: each input kind writes exactly
// these bytes (the callers' golden keys rest on it).
func TestKeyLayout(t *testing.T) {
	fsys := fstest.MapFS{"m/b.txt": {Data: []byte("bee")}, "m/a.txt": {Data: []byte("ay")}}
	k := New("name", "v1")
	k.Fields("x=1")
	k.Blob("blob", []byte("data"))
	if err := k.Dir(fsys, "m"); err != nil {
		t.Fatal(err)
	}
	k.Text("tail")
	want := sum("name\x00v1\x00x=1\x00blob\x004\x00data" + "a.txt\x002\x00ay" + "b.txt\x003\x00bee" + "tail")[:16]
	if got := k.String(); got != want {
		t.Fatalf("key %s, want %s", got, want)
	}
	if New("ab", "c").String() == New("a", "bc").String() {
		t.Fatal("fields must be separated: (ab, c) and (a, bc) give the same key")
	}
	if err := New().Dir(fsys, "missing"); err == nil {
		t.Fatal("a missing module directory must be an error")
	}
}
