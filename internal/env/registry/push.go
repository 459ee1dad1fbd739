package registry

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// PushArchiveTo pushes every tagged image of a `docker save` or OCI-layout
// tarball to the registry at addr (host:port, plain HTTP) under its original
// repository path and tag: docker.dragonflydb.io/dragonflydb/operator:v1.6.1
// becomes addr/dragonflydb/operator:v1.6.1, the path containerd asks a mirror
// for. It returns the original references, in the archive's order.
func PushArchiveTo(ctx context.Context, addr, path string) ([]string, error) {
	names, err := tarNames(path)
	if err != nil {
		return nil, err
	}
	switch {
	case names["manifest.json"]:
		return pushDockerSave(ctx, addr, path)
	case names["index.json"] && names["oci-layout"]:
		return pushOCILayout(ctx, addr, path)
	default:
		return nil, fmt.Errorf("%s is neither a docker-save archive (manifest.json) nor an OCI layout (index.json, oci-layout)", path)
	}
}

// MirrorRef is where ref lives in a mirror at addr: same repository path and
// tag (or digest), other host.
func MirrorRef(addr string, ref name.Reference) (name.Reference, error) {
	repo := addr + "/" + ref.Context().RepositoryStr()
	switch r := ref.(type) {
	case name.Tag:
		return name.NewTag(repo+":"+r.TagStr(), name.Insecure, name.StrictValidation)
	case name.Digest:
		return name.NewDigest(repo+"@"+r.DigestStr(), name.Insecure, name.StrictValidation)
	}
	return nil, fmt.Errorf("unsupported reference %s", ref)
}

// Hosts are the registry hosts of refs as containerd names them in certs.d
// (Docker Hub is docker.io), sorted and deduplicated: the hosts a cluster
// needs mirrors for.
func Hosts(refs []string) ([]string, error) {
	seen := map[string]bool{}
	for _, r := range refs {
		ref, err := name.ParseReference(r)
		if err != nil {
			return nil, err
		}
		h := ref.Context().RegistryStr()
		if h == name.DefaultRegistry {
			h = "docker.io"
		}
		seen[h] = true
	}
	out := make([]string, 0, len(seen))
	for h := range seen {
		out = append(out, h)
	}
	sort.Strings(out)
	return out, nil
}

func pushDockerSave(ctx context.Context, addr, path string) ([]string, error) {
	opener := func() (io.ReadCloser, error) { return os.Open(path) }
	m, err := tarball.LoadManifest(opener)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	var out []string
	for i, d := range m {
		if len(d.RepoTags) == 0 {
			return nil, fmt.Errorf("%s: image %d (%s) has no tag; a mirror serves images by name", path, i, d.Config)
		}
		for _, t := range d.RepoTags {
			tag, err := name.NewTag(t)
			if err != nil {
				return nil, fmt.Errorf("%s: tag %q: %w", path, t, err)
			}
			img, err := tarball.Image(opener, &tag)
			if err != nil {
				return nil, fmt.Errorf("%s: image %s: %w", path, t, err)
			}
			if err := push(ctx, addr, tag, img); err != nil {
				return nil, err
			}
			out = append(out, tag.String())
		}
	}
	return out, nil
}

// OCI layouts name their images in annotations: containerd's export writes
// the full reference, others the full reference or just the tag.
var refAnnotations = []string{"io.containerd.image.name", "org.opencontainers.image.ref.name"}

func pushOCILayout(ctx context.Context, addr, path string) ([]string, error) {
	dir, err := os.MkdirTemp("", "dfe2e-oci-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := untar(path, dir); err != nil {
		return nil, err
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("reading OCI layout %s: %w", path, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range im.Manifests {
		var ref name.Reference
		for _, a := range refAnnotations {
			if r, err := name.ParseReference(d.Annotations[a], name.StrictValidation); err == nil && strings.Contains(d.Annotations[a], "/") {
				ref = r
				break
			}
		}
		if ref == nil {
			return nil, fmt.Errorf("%s: manifest %s carries no full image reference (%s); a mirror serves images by name", path, d.Digest, strings.Join(refAnnotations, ", "))
		}
		var err error
		switch {
		case d.MediaType.IsIndex():
			var ii v1.ImageIndex
			if ii, err = idx.ImageIndex(d.Digest); err == nil {
				err = push(ctx, addr, ref, ii)
			}
		case d.MediaType.IsImage():
			var img v1.Image
			if img, err = idx.Image(d.Digest); err == nil {
				err = push(ctx, addr, ref, img)
			}
		default:
			err = fmt.Errorf("media type %s is not an image", d.MediaType)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, ref, err)
		}
		out = append(out, ref.String())
	}
	return out, nil
}

// options push anonymously and never through a proxy from the environment:
// the registry is on loopback.
func options(ctx context.Context) []remote.Option {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	return []remote.Option{remote.WithContext(ctx), remote.WithAuth(authn.Anonymous), remote.WithTransport(t)}
}

// push uploads an image or an index, with its blobs, to ref's place in the
// mirror at addr.
func push(ctx context.Context, addr string, ref name.Reference, t remote.Taggable) error {
	dst, err := MirrorRef(addr, ref)
	if err != nil {
		return err
	}
	if err := remote.Push(dst, t, options(ctx)...); err != nil {
		return fmt.Errorf("pushing %s as %s: %w", ref, dst, err)
	}
	return nil
}

func tarNames(path string) (map[string]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("image archive: %w", err)
	}
	defer f.Close()
	names := map[string]bool{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names, nil
		}
		if err != nil {
			return nil, fmt.Errorf("image archive %s: %w", path, err)
		}
		names[strings.TrimPrefix(h.Name, "./")] = true
	}
}

func untar(path, dir string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("image archive %s: %w", path, err)
		}
		rel := filepath.Clean(strings.TrimPrefix(h.Name, "./"))
		if rel == "." || filepath.IsAbs(rel) || rel == ".." || strings.HasPrefix(rel, "../") {
			continue
		}
		dst := filepath.Join(dir, rel)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			out, err := os.Create(dst)
			if err != nil {
				return err
			}
			_, err = io.Copy(out, tr)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		}
	}
}
