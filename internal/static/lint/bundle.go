package lint

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/static/gitops"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
)

func init() {
	register(Rule{
		ID:          "DFE011",
		Name:        "operator-bundle-one-release",
		Description: "The operator's CRD (dragonflies.dragonflydb.io schema) and manager ClusterRole come from the same pinned release as the manager image: each is compared with the upstream manifests of every pinned version. Vendored manifests with only the image bumped, or a chart upgrade whose CRD Helm never upgrades, mix releases.",
		Remediation: "Take the CRD, the RBAC and the images from one release (bump the whole bundle; apply the release's CRD yourself when Helm installed it).",
		check:       checkBundleOneRelease,
	})
}

// release is what identifies the parts of one pinned upstream bundle.
type release struct {
	crd, managerRole map[string]bool
}

var (
	releasesMu sync.Mutex
	releases   = map[string]*release{} // version + source → parsed upstream bundle
)

// upstreamRelease parses the pinned upstream manifest of version, read from
// src (in place: the offline source, the cache, or the pinned URL).
func upstreamRelease(version string, src operator.SourceOptions) (*release, error) {
	key := version + "\x00" + src.Override + "\x00" + src.CacheDir
	releasesMu.Lock()
	defer releasesMu.Unlock()
	if r, ok := releases[key]; ok {
		return r, nil
	}
	data, origin, err := operator.Fetch(context.Background(), version, src)
	if err != nil {
		return nil, err
	}
	r := &release{}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", origin, err)
		}
		var m map[string]any
		if err := yaml.Unmarshal(doc, &m); err != nil {
			return nil, fmt.Errorf("%s: %w", origin, err)
		}
		o := &unstructured.Unstructured{Object: m}
		switch {
		case o.GetKind() == "CustomResourceDefinition" && o.GetName() == operator.CRDName:
			r.crd = crdFields(o)
		case o.GetKind() == "ClusterRole" && o.GetName() == operator.ManagerClusterRoleName:
			r.managerRole = grants(o)
		}
	}
	if r.crd == nil || r.managerRole == nil {
		return nil, fmt.Errorf("%s has no CRD %s or ClusterRole %s", origin, operator.CRDName, operator.ManagerClusterRoleName)
	}
	releases[key] = r
	return r, nil
}

// crdFields fingerprints a CRD by its schema: every field path with its type,
// per API version. Descriptions and formatting do not count, so a chart's
// copy of the same schema matches the release it came from.
func crdFields(o *unstructured.Unstructured) map[string]bool {
	out := map[string]bool{}
	versions, _, _ := unstructured.NestedSlice(o.Object, "spec", "versions")
	for _, v := range versions {
		m, _ := v.(map[string]any)
		name, _ := m["name"].(string)
		schema, _, _ := unstructured.NestedMap(m, "schema", "openAPIV3Schema")
		walkSchema(schema, name+":", out)
	}
	return out
}

func walkSchema(node map[string]any, at string, out map[string]bool) {
	if node == nil {
		return
	}
	t, _ := node["type"].(string)
	out[at+" "+t] = true
	props, _ := node["properties"].(map[string]any)
	for name, p := range props {
		child, _ := p.(map[string]any)
		sep := "."
		if strings.HasSuffix(at, ":") {
			sep = ""
		}
		walkSchema(child, at+sep+name, out)
	}
	if items, ok := node["items"].(map[string]any); ok {
		walkSchema(items, at+"[]", out)
	}
	if ap, ok := node["additionalProperties"].(map[string]any); ok {
		walkSchema(ap, at+".*", out)
	}
}

// grants fingerprints a role by every group/resource/verb it grants.
func grants(o *unstructured.Unstructured) map[string]bool {
	out := map[string]bool{}
	for _, r := range rulesOf(o) {
		for _, g := range r.groups {
			for _, res := range r.resources {
				for _, v := range r.verbs {
					out[groupResource(g, res)+" "+v] = true
				}
			}
		}
	}
	return out
}

func groupResource(g, res string) string {
	if g == "" {
		return res
	}
	if sub, rest, ok := strings.Cut(res, "/"); ok {
		return sub + "." + g + "/" + rest
	}
	return res + "." + g
}

// matchRelease returns the pinned versions whose part equals got; when none
// does, the versions whose part got contains and extends (the largest such),
// with exact false.
func matchRelease(got map[string]bool, part func(*release) map[string]bool, rels map[string]*release) (versions []string, exact bool) {
	for v, r := range rels {
		if sameSet(got, part(r)) {
			versions = append(versions, v)
		}
	}
	if len(versions) > 0 {
		sort.Strings(versions)
		return versions, true
	}
	best := 0
	for v, r := range rels {
		want := part(r)
		if !subset(want, got) {
			continue
		}
		switch {
		case len(want) > best:
			best, versions = len(want), []string{v}
		case len(want) == best:
			versions = append(versions, v)
		}
	}
	sort.Strings(versions)
	return versions, false
}

func sameSet(a, b map[string]bool) bool { return len(a) == len(b) && subset(a, b) }

func subset(a, b map[string]bool) bool {
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

// difference lists what want has and got lacks, outermost first: a missing
// field is named, not each of its subfields.
func difference(want, got map[string]bool, limit int) []string {
	var miss []string
	for k := range want {
		if !got[k] {
			miss = append(miss, k)
		}
	}
	sort.Strings(miss)
	var out []string
	for _, k := range miss {
		path, _, _ := strings.Cut(k, " ")
		covered := false
		for _, o := range out {
			covered = covered || strings.HasPrefix(path, o+".") || strings.HasPrefix(path, o+"[")
		}
		if !covered {
			out = append(out, path)
		}
	}
	if len(out) > limit {
		out = append(out[:limit], fmt.Sprintf("and %d more", len(out)-limit))
	}
	return out
}

// missingGrants lists, per resource, the verbs want grants and got lacks.
func missingGrants(want, got map[string]bool) []string {
	verbs := map[string][]string{}
	for k := range want {
		if !got[k] {
			res, verb, _ := strings.Cut(k, " ")
			verbs[res] = append(verbs[res], verb)
		}
	}
	var out []string
	for res, vs := range verbs {
		sort.Strings(vs)
		out = append(out, res+" ("+strings.Join(vs, ",")+")")
	}
	sort.Strings(out)
	return out
}

func checkBundleOneRelease(c *Context) []Finding {
	ops := c.operators()
	if len(ops) == 0 {
		return nil
	}
	rels := map[string]*release{}
	for _, v := range operator.Versions() {
		r, err := upstreamRelease(v, c.Tree.Source)
		if err != nil {
			c.notice(ops[0].Object, fmt.Sprintf("the bundle's parts were not compared with the pinned releases (DFE011): %v", err))
			return nil
		}
		rels[v] = r
	}
	var out []Finding
	for _, op := range ops {
		ref, ok := rels[op.Version]
		if !ok {
			c.notice(op.Object, fmt.Sprintf("operator %s (from %s) is not a pinned release (%s), so its CRD and RBAC were not compared with it (DFE011)",
				op.Version, op.From, strings.Join(operator.Versions(), ", ")))
			continue
		}
		anchor := "manager image is " + op.Version
		if op.Fallback {
			anchor = "operator version assumed from --operator-version is " + op.Version
		}
		for _, crd := range c.applied.Objects() {
			if crd.GetKind() != "CustomResourceDefinition" || crd.GetName() != operator.CRDName {
				continue
			}
			got := crdFields(crd.Unstructured)
			vs, exact := matchRelease(got, func(r *release) map[string]bool { return r.crd }, rels)
			if len(vs) == 0 || contains(vs, op.Version) {
				continue // a schema of no pinned release cannot be placed; one of the anchor's is fine
			}
			msg := fmt.Sprintf("CRD %s matches %s, %s (%s, from %s)", operator.CRDName, releaseLabel(vs, exact), anchor, op.Image, gitops.RefOf(op.Unstructured))
			if lack := difference(ref.crd, got, 4); len(lack) > 0 {
				msg += fmt.Sprintf(": its schema lacks %s, which %s has", strings.Join(lack, ", "), op.Version)
			}
			if extra := difference(got, ref.crd, 4); len(extra) > 0 {
				msg += fmt.Sprintf("; it has %s, which %s does not", strings.Join(extra, ", "), op.Version)
			}
			out = append(out, objFinding(crd, msg+"; Helm installs a chart's CRDs once and never upgrades them"))
		}
		ns, sa := serviceAccountOf(op.Unstructured)
		for _, cr := range boundTo(c.applied, "ClusterRoleBinding", "ClusterRole", ns, sa) {
			got := grants(cr.Unstructured)
			if !mentionsDragonflies(got) {
				continue // the proxy role: the same in every release
			}
			vs, exact := matchRelease(got, func(r *release) map[string]bool { return r.managerRole }, rels)
			if len(vs) == 0 || contains(vs, op.Version) {
				continue
			}
			msg := fmt.Sprintf("ClusterRole %s matches %s, %s (%s, from %s)", cr.GetName(), releaseLabel(vs, exact), anchor, op.Image, gitops.RefOf(op.Unstructured))
			if lack := missingGrants(ref.managerRole, got); len(lack) > 0 {
				msg += fmt.Sprintf(": it lacks %s, which %s grants", strings.Join(lack, ", "), op.Version)
			}
			out = append(out, objFinding(cr, msg))
		}
	}
	return out
}

func mentionsDragonflies(g map[string]bool) bool {
	for k := range g {
		if strings.Contains(k, ".dragonflydb.io") {
			return true
		}
	}
	return false
}

func releaseLabel(vs []string, exact bool) string {
	l := strings.Join(vs, "/")
	if !exact {
		l += " (with additions of its own)"
	}
	return l
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// CRDReleases names the pinned releases whose Dragonfly CRD schema crd
// carries: exactly, or, when none matches exactly, the largest ones it
// extends (exact false). A live check uses it to tell which release the API
// server serves, whatever the running operator is.
func CRDReleases(crd *unstructured.Unstructured, src operator.SourceOptions) ([]string, bool, error) {
	rels := map[string]*release{}
	for _, v := range operator.Versions() {
		r, err := upstreamRelease(v, src)
		if err != nil {
			return nil, false, err
		}
		rels[v] = r
	}
	vs, exact := matchRelease(crdFields(crd), func(r *release) map[string]bool { return r.crd }, rels)
	return vs, exact, nil
}
