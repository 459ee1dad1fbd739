package upgrade

import (
	"context"
	"fmt"
	"io/fs"

	"sigs.k8s.io/controller-runtime/pkg/client"

	fixture "github.com/dragonfly-e2e/dragonfly-e2e/fixtures/upgrade"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/flux"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/flux/gitserver"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/static/gitops"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/fluxfixture"
)

// GitServerNamespace is the upgrade suite's own Git server: nothing it
// serves is shared with the Flux tier's.
const GitServerNamespace = "dfe2e-upgrade-git"

// Commit is one state of the served repository.
type Commit struct {
	// Version is the operator release the commit's bundle is at (for a
	// tag-only bump: the release of its CRD and RBAC).
	Version string
	Files   map[string][]byte
	Tree    *gitops.Tree
	// Order is the tree's Flux Kustomizations in dependency order.
	Order []*gitops.Kustomization
}

// NewCommit is the upgrade tree with the bundle of version, as a user's
// repository holds it after bumping the bundle to that release. defect, when
// set, changes the tree first (fixture.TagOnlyBump).
func NewCommit(ctx context.Context, version string, src operator.SourceOptions, defect func(fs.FS) (fs.FS, error)) (*Commit, error) {
	tree, err := fixture.Tree()
	if err != nil {
		return nil, err
	}
	if defect != nil {
		if tree, err = defect(tree); err != nil {
			return nil, err
		}
	}
	files, t, err := fluxfixture.ExportFS(ctx, tree, version, src)
	if err != nil {
		return nil, err
	}
	order, err := flux.ChainOrder(t)
	if err != nil {
		return nil, err
	}
	return &Commit{Version: version, Files: files, Tree: t, Order: order}, nil
}

// Serve makes commit the head of the served repository and waits until the
// server serves it (gitserver.Deploy), then until the GitRepository fetched
// it: what `git push` followed by `flux reconcile source git` does.
func Serve(ctx context.Context, c client.Client, image string, commit *Commit) (*gitserver.Served, error) {
	served, err := gitserver.Deploy(ctx, c, GitServerNamespace, image, commit.Files)
	if err != nil {
		return nil, err
	}
	return served, Fetch(ctx, c, served.Revision)
}

// Fetch requests a reconcile of the GitRepository and checks it holds revision.
func Fetch(ctx context.Context, c client.Client, revision string) error {
	key := fluxfixture.KSKey(fluxfixture.SourceName)
	token, err := flux.RequestReconcile(ctx, c, flux.GitRepositoryGVK, key)
	if client.IgnoreNotFound(err) != nil {
		return err
	}
	if err != nil {
		return nil // not applied yet: it fetches when it is
	}
	st, err := flux.WaitHandled(ctx, c, flux.GitRepositoryGVK, key, token, wait.SourceReady)
	if err != nil {
		return err
	}
	if st.ArtifactRevision != revision {
		return fmt.Errorf("GitRepository %s fetched %s, not the served %s: %s", key, st.ArtifactRevision, revision, st)
	}
	return nil
}
