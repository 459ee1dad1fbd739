package kindconfig

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
)

// fakeKind models kind's create: nodes appear at once, then a long setup
// that fails as soon as its nodes are deleted (as kubeadm's docker exec would).
type fakeKind struct {
	mu        sync.Mutex
	nodes     map[string]bool
	deaf      bool // create never notices deletion
	createErr error
	nodeList  []nodes.Node // ListNodes' answer (nil: one control plane)
}

func (f *fakeKind) Create(name string, _ ...cluster.CreateOption) error {
	f.mu.Lock()
	f.nodes[name] = true
	f.mu.Unlock()
	if f.createErr != nil {
		return f.createErr // retained nodes stay, as kind does with retain
	}
	for {
		time.Sleep(5 * time.Millisecond)
		f.mu.Lock()
		gone := !f.nodes[name]
		f.mu.Unlock()
		if gone && !f.deaf {
			return errors.New("node container vanished")
		}
	}
}

func (f *fakeKind) Delete(name, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.nodes, name)
	return nil
}

func (f *fakeKind) List() ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for n := range f.nodes {
		out = append(out, n)
	}
	return out, nil
}

func (f *fakeKind) ListNodes(string) ([]nodes.Node, error) {
	if f.nodeList == nil {
		return []nodes.Node{&cmdNode{name: "dfe2e-control-plane", role: "control-plane"}}, nil
	}
	return f.nodeList, nil
}
func (f *fakeKind) CollectLogs(string, string) error { return nil }

func TestCancelledCreateLeavesNoNodes(t *testing.T) {
	fk := &fakeKind{nodes: map[string]bool{}}
	c := NewWithKind(Options{Name: "t"}, fk)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for {
			if l, _ := fk.List(); len(l) == 1 {
				cancel() // Ctrl-C while kind is mid-create
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	err := c.Create(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if l, _ := fk.List(); len(l) != 0 {
		t.Fatalf("nodes left behind after cancel: %v", l)
	}
	if c.Created() {
		t.Fatal("cluster still marked created after cleanup")
	}
}

func TestCancelledCreateThatHangsPrintsCleanupCommand(t *testing.T) {
	fk := &fakeKind{nodes: map[string]bool{}, deaf: true}
	c := NewWithKind(Options{Name: "stuck", CancelGrace: 50 * time.Millisecond}, fk)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	err := c.Create(ctx)
	if err == nil || !strings.Contains(err.Error(), "label=io.x-k8s.kind.cluster=stuck") {
		t.Fatalf("err = %v, want the one cleanup command naming the cluster", err)
	}
}

func TestExistingClusterNeedsReuse(t *testing.T) {
	fk := &fakeKind{nodes: map[string]bool{"dfe2e": true}}
	if err := NewWithKind(Options{}, fk).Create(context.Background()); !errors.Is(err, ErrExists) {
		t.Fatalf("err = %v, want ErrExists", err)
	}
	if err := NewWithKind(Options{Reuse: true}, fk).Create(context.Background()); err != nil {
		t.Fatalf("reuse: %v", err)
	}
}

// A second run under a live cluster's name must stop before it starts
// anything named after that cluster (its registry would replace the live one's).
func TestCheckFreeRefusesALiveClusterName(t *testing.T) {
	fk := &fakeKind{nodes: map[string]bool{"dfe2e": true}}
	err := NewWithKind(Options{}, fk).CheckFree()
	if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), `"dfe2e"`) || !strings.Contains(err.Error(), "--reuse-cluster") {
		t.Fatalf("CheckFree on a live cluster: %v, want ErrExists naming it and the remedy", err)
	}
	if err := NewWithKind(Options{Reuse: true}, fk).CheckFree(); err != nil {
		t.Fatalf("CheckFree with reuse: %v", err)
	}
	if err := NewWithKind(Options{Name: "other"}, fk).CheckFree(); err != nil {
		t.Fatalf("CheckFree on a free name: %v", err)
	}
}

func TestFailedCreateIsReported(t *testing.T) {
	fk := &fakeKind{nodes: map[string]bool{}, createErr: errors.New("kubeadm init failed")}
	c := NewWithKind(Options{Name: "x"}, fk)
	err := c.Create(context.Background())
	if err == nil || !strings.Contains(err.Error(), "kubeadm init failed") {
		t.Fatalf("err = %v", err)
	}
	// The failed nodes are kept for log export and owned by the caller.
	if !c.Created() {
		t.Fatal("failed create not marked as created: the caller would never delete its nodes")
	}
	if err := c.Delete(); err != nil {
		t.Fatal(err)
	}
	if l, _ := fk.List(); len(l) != 0 {
		t.Fatalf("nodes left after Delete: %v", l)
	}
}

func TestClusterConfigOfflineDisablesDefaultCNI(t *testing.T) {
	if !ClusterConfig(true, 1).Networking.DisableDefaultCNI || ClusterConfig(false, 1).Networking.DisableDefaultCNI {
		t.Fatal("offline must disable kindnetd (not buildable offline), online must keep it")
	}
}

func TestStorageManifestNamesLocalPathDefault(t *testing.T) {
	m := string(StorageManifest(StorageImages{Provisioner: "p:1", Helper: "h:2"}))
	for _, want := range []string{"name: local-path\n", `storageclass.kubernetes.io/is-default-class: "true"`, "image: p:1", "image: h:2", "provisioner: rancher.io/local-path"} {
		if !strings.Contains(m, want) {
			t.Errorf("storage manifest lacks %q", want)
		}
	}
}
