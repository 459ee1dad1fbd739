package operator

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
)

// sourceDir is the offline copy of the upstream manifests the tests read
// (the Makefile exports DFE2E_OPERATOR_SOURCE). Without it the tests fail
// with the remedy instead of passing vacuously.
func sourceDir(t *testing.T) string {
	t.Helper()
	dir := config.FromEnv().OperatorSource
	if dir == "" {
		t.Fatalf("%s is not set: run `make test-unit`, or export %s=<dir with <version>/%s> (e.g. ../shared/upstream/dragonfly-operator)", config.EnvOperatorSource, config.EnvOperatorSource, ManifestFile)
	}
	if _, err := os.Stat(filepath.Join(dir, DefaultVersion, ManifestFile)); err != nil {
		t.Fatalf("%s=%s does not hold %s/%s: %v", config.EnvOperatorSource, dir, DefaultVersion, ManifestFile, err)
	}
	return dir
}

// noNetwork fails the test if anything tries the pinned URL.
var noNetwork = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
	return nil, &os.PathError{Op: "dial", Path: r.URL.String(), Err: os.ErrPermission}
})}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestRenderRelocatesEverythingToDatabase(t *testing.T) {
	src := sourceDir(t)
	for _, v := range Versions() {
		t.Run(v, func(t *testing.T) {
			t.Parallel()
			b, err := Render(context.Background(), v, SourceOptions{Override: src, HTTPClient: noNetwork})
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(b.YAML), UpstreamNamespace) {
				for _, l := range strings.Split(string(b.YAML), "\n") {
					if strings.Contains(l, UpstreamNamespace) {
						t.Errorf("rendered bundle still mentions %s: %q", UpstreamNamespace, strings.TrimSpace(l))
					}
				}
			}
			want := map[string]bool{
				"Namespace//" + Namespace:                                                false,
				"CustomResourceDefinition//" + CRDName:                                   false,
				"ServiceAccount/database/" + ServiceAccountName:                          false,
				"Role/database/dragonfly-operator-leader-election-role":                  false,
				"RoleBinding/database/dragonfly-operator-leader-election-rolebinding":    false,
				"ClusterRole//" + ManagerClusterRoleName:                                 false,
				"ClusterRole//dragonfly-operator-metrics-reader":                         false,
				"ClusterRole//dragonfly-operator-proxy-role":                             false,
				"ClusterRoleBinding//dragonfly-operator-manager-rolebinding":             false,
				"ClusterRoleBinding//dragonfly-operator-proxy-rolebinding":               false,
				"Service/database/dragonfly-operator-controller-manager-metrics-service": false,
				"Deployment/database/" + DeploymentName:                                  false,
			}
			for _, o := range b.Objects {
				key := o.GetKind() + "/" + o.GetNamespace() + "/" + o.GetName()
				if _, ok := want[key]; !ok {
					t.Errorf("unexpected object %s", key)
				}
				want[key] = true
				if subs, ok := o.Object["subjects"].([]any); ok {
					for _, s := range subs {
						if ns := s.(map[string]any)["namespace"]; ns != Namespace {
							t.Errorf("%s: subject %v in namespace %v, want %s", key, s, ns, Namespace)
						}
					}
				}
				if o.GetKind() == "Namespace" && o.GetAnnotations()[PruneAnnotation] != PruneDisabled {
					t.Errorf("Namespace %s lacks %s: %s (it is shared with other tenants)", o.GetName(), PruneAnnotation, PruneDisabled)
				}
			}
			for k, seen := range want {
				if !seen {
					t.Errorf("expected object %s missing from the rendered bundle", k)
				}
			}
		})
	}
}

func TestLookupUnknownVersionListsKnown(t *testing.T) {
	_, err := Lookup("v9.9.9")
	if err == nil || !strings.Contains(err.Error(), "v9.9.9") || !strings.Contains(err.Error(), "v1.5.0, v1.6.0, v1.6.1") {
		t.Fatalf("want error naming v9.9.9 and the known versions, got %v", err)
	}
	if _, err := Render(context.Background(), "v9.9.9", SourceOptions{Override: t.TempDir()}); err == nil {
		t.Fatal("Render of an unknown version succeeded")
	}
}

func TestFetchSHA256MismatchSaysExpectedGotOrigin(t *testing.T) {
	f := filepath.Join(t.TempDir(), "tampered.yaml")
	data := []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n")
	if err := os.WriteFile(f, data, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	pin, _ := Lookup(DefaultVersion)
	_, _, err := Fetch(context.Background(), DefaultVersion, SourceOptions{Override: f})
	if err == nil {
		t.Fatal("tampered manifest accepted")
	}
	for _, part := range []string{"sha256 mismatch", "expected " + pin.SHA256, "got " + hex.EncodeToString(sum[:]), f} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q lacks %q", err, part)
		}
	}
}

func TestFetchWrongVersionFileIsRejected(t *testing.T) {
	src := sourceDir(t)
	// The v1.5.0 file offered as v1.6.1 must fail verification.
	_, _, err := Fetch(context.Background(), DefaultVersion, SourceOptions{Override: filepath.Join(src, "v1.5.0", ManifestFile)})
	if err == nil || !strings.Contains(err.Error(), "sha256 mismatch") {
		t.Fatalf("want sha256 mismatch, got %v", err)
	}
}

func TestFetchMissingSourceIsClear(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	_, _, err := Fetch(context.Background(), DefaultVersion, SourceOptions{Override: missing})
	if err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "--operator-source") {
		t.Fatalf("want error naming %s and the flag, got %v", missing, err)
	}
	// A directory without <version>/dragonfly-operator.yaml.
	dir := t.TempDir()
	_, _, err = Fetch(context.Background(), DefaultVersion, SourceOptions{Override: dir})
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, DefaultVersion, ManifestFile)) {
		t.Fatalf("want error naming the expected file, got %v", err)
	}
}

func TestFetchOfflineWithoutSourceSaysWhatToDo(t *testing.T) {
	_, _, err := Fetch(context.Background(), DefaultVersion, SourceOptions{CacheDir: t.TempDir(), HTTPClient: noNetwork})
	if err == nil || !strings.Contains(err.Error(), "--operator-source") || !strings.Contains(err.Error(), config.EnvOperatorSource) {
		t.Fatalf("want error with the remedy, got %v", err)
	}
}

func TestFetchFillsAndReusesCache(t *testing.T) {
	src := sourceDir(t)
	good, err := os.ReadFile(filepath.Join(src, DefaultVersion, ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	served := 0
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		served++
		return &http.Response{StatusCode: 200, Status: "200 OK", Body: nopCloser{strings.NewReader(string(good))}, Request: r}, nil
	})}
	cache := t.TempDir()
	o := SourceOptions{CacheDir: cache, HTTPClient: client}
	_, origin, err := Fetch(context.Background(), DefaultVersion, o)
	if err != nil || !strings.HasPrefix(origin, "https://") {
		t.Fatalf("first fetch: origin %q err %v", origin, err)
	}
	_, origin, err = Fetch(context.Background(), DefaultVersion, o)
	if err != nil || origin != filepath.Join(cache, DefaultVersion, ManifestFile) || served != 1 {
		t.Fatalf("second fetch: origin %q err %v served %d", origin, err, served)
	}
	// A corrupted cache entry is reported, not used.
	if err := os.WriteFile(origin, []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Fetch(context.Background(), DefaultVersion, o); err == nil || !strings.Contains(err.Error(), origin) {
		t.Fatalf("corrupted cache: want error naming %s, got %v", origin, err)
	}
}

// The package reads no environment: a source in $DFE2E_OPERATOR_SOURCE is
// not used unless the caller puts it into SourceOptions.
func TestFetchIgnoresTheEnvironment(t *testing.T) {
	t.Setenv(config.EnvOperatorSource, sourceDir(t))
	_, origin, err := Fetch(context.Background(), DefaultVersion, SourceOptions{CacheDir: t.TempDir(), HTTPClient: noNetwork})
	if err == nil {
		t.Fatalf("Fetch read %s; want it to ignore $%s and fail offline", origin, config.EnvOperatorSource)
	}
}

type nopCloser struct{ *strings.Reader }

func (nopCloser) Close() error { return nil }

func TestMaterializeWritesKustomizeRoot(t *testing.T) {
	src := sourceDir(t)
	dir := filepath.Join(t.TempDir(), "app")
	if err := Materialize(context.Background(), DefaultVersion, SourceOptions{Override: src}, dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"kustomization.yaml", ManifestFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}

// Everything the Needed table lists must be granted by upstream's own RBAC at
// each pinned version (the manager ClusterRole, the proxy ClusterRole for the
// sidecar's reviews, the leader-election Role for leases); otherwise the table,
// which both the lint rule and the rbac suite read, asks for more than the
// operator's authors found necessary. And the table's "since" must be real:
// v1.5.0's manager ClusterRole lacks configmaps.
func TestNeededIsGrantedByUpstreamRBAC(t *testing.T) {
	src := sourceDir(t)
	for _, v := range Versions() {
		b, err := Render(context.Background(), v, SourceOptions{Override: src})
		if err != nil {
			t.Fatal(err)
		}
		granted := map[string]map[string]bool{} // "role|group/resource" → verbs
		for _, o := range b.Objects {
			if o.GetKind() != "ClusterRole" && o.GetKind() != "Role" {
				continue
			}
			rules, _ := o.Object["rules"].([]any)
			for _, r := range rules {
				rm := r.(map[string]any)
				groups, _ := rm["apiGroups"].([]any)
				resources, _ := rm["resources"].([]any)
				for _, g := range groups {
					for _, res := range resources {
						key := o.GetName() + "|" + g.(string) + "/" + res.(string)
						if granted[key] == nil {
							granted[key] = map[string]bool{}
						}
						for _, verb := range rm["verbs"].([]any) {
							granted[key][verb.(string)] = true
						}
					}
				}
			}
		}
		role := map[Scope]string{
			AllNamespaces:     ManagerClusterRoleName,
			ClusterScoped:     "dragonfly-operator-proxy-role",
			OperatorNamespace: "dragonfly-operator-leader-election-role",
		}
		for _, p := range NeededFor(v) {
			res := p.Resource
			if p.Subresource != "" {
				res += "/" + p.Subresource
			}
			key := role[p.Scope] + "|" + p.Group + "/" + res
			for _, verb := range p.Verbs {
				if !granted[key][verb] {
					t.Errorf("%s: Needed lists %s %s, which upstream's %s does not grant", v, verb, p.Name(), role[p.Scope])
				}
			}
		}
		cm := granted[ManagerClusterRoleName+"|/configmaps"]["list"]
		if want := CompareVersions(v, "v1.6.0") >= 0; cm != want {
			t.Errorf("%s: upstream manager ClusterRole grants list configmaps = %v, want %v (the v1.6.0 RBAC change)", v, cm, want)
		}
	}
	if CompareVersions("v1.10.0", "v1.6.0") != 1 || CompareVersions("v1.6.0", "v1.6.0") != 0 || !IsVersion("v1.6.1") || IsVersion("latest") {
		t.Error("version comparison is wrong")
	}
}

// The environment's Dragonfly image reaches the manager as --dragonfly-image,
// after upstream's own args, at every pinned version; without it the
// Deployment is upstream's.
func TestDragonflyImageIsHandedToTheManager(t *testing.T) {
	const img = "dfe2e.local/dragonfly-contract-standin:0123456789abcdef"
	src := sourceDir(t)
	for _, v := range Versions() {
		plain, err := Render(context.Background(), v, SourceOptions{Override: src})
		if err != nil {
			t.Fatal(err)
		}
		with, err := Render(context.Background(), v, SourceOptions{Override: src, DragonflyImage: img})
		if err != nil {
			t.Fatal(err)
		}
		before, after := managerArgs(t, plain), managerArgs(t, with)
		if len(after) != len(before)+1 || after[len(after)-1] != "--dragonfly-image="+img {
			t.Fatalf("%s: manager args %v, want %v then --dragonfly-image=%s", v, after, before, img)
		}
		for _, a := range before {
			if strings.HasPrefix(a, "--dragonfly-image") {
				t.Fatalf("%s: upstream args already carry %s", v, a)
			}
		}
	}
	if _, err := Render(context.Background(), DefaultVersion, SourceOptions{Override: src, DragonflyImage: "bad image"}); err == nil {
		t.Fatal("an image with a space was accepted")
	}
}

func managerArgs(t *testing.T, b *Bundle) []string {
	t.Helper()
	for _, o := range b.Objects {
		if o.GetKind() != "Deployment" || o.GetName() != DeploymentName {
			continue
		}
		cs, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
		for _, c := range cs {
			m := c.(map[string]any)
			if m["name"] == ManagerContainer {
				var out []string
				for _, a := range m["args"].([]any) {
					out = append(out, a.(string))
				}
				return out
			}
		}
	}
	t.Fatalf("no %s container in %s", ManagerContainer, b.Version)
	return nil
}
