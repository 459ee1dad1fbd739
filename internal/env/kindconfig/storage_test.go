package kindconfig

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// The storage manifest for the locally built images is written into the
// offline node image and hashed into its cache key: changed bytes mean a
// cold node-image rebuild on every machine. The golden file pins them; when
// the manifest changes on purpose, rewrite the file with the new output.
func TestStorageManifestIsPinned(t *testing.T) {
	want, err := os.ReadFile("testdata/storage-offline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got := StorageManifest(StorageImages{Provisioner: "docker.io/rancher/local-path-provisioner:v0.0.30", Helper: "dfe2e.local/busybox:1.35.0"})
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) || i < len(wl); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("storage manifest differs from testdata/storage-offline.yaml at line %d:\n got  %q\n want %q\n(the node image key changes with it: a cold node-image rebuild)", i+1, g, w)
			}
		}
	}
}
