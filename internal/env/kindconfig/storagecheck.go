package kindconfig

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"sigs.k8s.io/kind/pkg/cluster/nodes"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
)

// kubectl runs kubectl with the admin kubeconfig on the node (the node
// carries the matching kubectl; the host needs none).
func kubectl(ctx context.Context, n nodes.Node, stdin []byte, args ...string) (string, error) {
	var out bytes.Buffer
	cmd := n.CommandContext(ctx, "kubectl", append([]string{"--kubeconfig=/etc/kubernetes/admin.conf"}, args...)...)
	if stdin != nil {
		cmd.SetStdin(bytes.NewReader(stdin))
	}
	cmd.SetStdout(&out)
	cmd.SetStderr(&out)
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

// EnsureStorage installs local-path-provisioner with the default
// StorageClass local-path (idempotent), removes the default mark from kind's
// own "standard" class when present, and waits for the provisioner.
func (c *Cluster) EnsureStorage(ctx context.Context, img StorageImages) error {
	n, err := c.Node()
	if err != nil {
		return err
	}
	if _, err := kubectl(ctx, n, StorageManifest(img), "apply", "-f", "-"); err != nil {
		return err
	}
	if out, err := kubectl(ctx, n, nil, "get", "storageclass", "-o", "name"); err == nil && strings.Contains(out, "storageclass.storage.k8s.io/standard") {
		if _, err := kubectl(ctx, n, nil, "annotate", "storageclass", "standard", "--overwrite", "storageclass.kubernetes.io/is-default-class=false"); err != nil {
			return err
		}
	}
	_, err = wait.For(ctx, "Deployment local-path-storage/local-path-provisioner to be Available", wait.DeploymentAvailable, func(ctx context.Context) (bool, string, error) {
		out, _ := kubectl(ctx, n, nil, "-n", "local-path-storage", "get", "deployment", "local-path-provisioner", "-o", "jsonpath={.status.availableReplicas}")
		return strings.TrimSpace(out) == "1", "availableReplicas=" + strings.TrimSpace(out), nil
	})
	return err
}

// CheckStorage verifies the guide's prerequisite and that a claim on the
// default class binds on every node: StorageClass local-path exists and is
// the default, and per node a PVC without storageClassName, used by a pod
// pinned to that node, becomes Bound on local-path (local volumes live on
// one node, so a worker without a working provisioner path is its own failure).
func (c *Cluster) CheckStorage(ctx context.Context, helperImage string) error {
	n, err := c.Node()
	if err != nil {
		return err
	}
	out, err := kubectl(ctx, n, nil, "get", "storageclass", StorageClassName, "-o", `jsonpath={.metadata.annotations.storageclass\.kubernetes\.io/is-default-class}`)
	if err != nil {
		return fmt.Errorf("StorageClass %s missing (the install guide's prerequisite `kubectl get storageclass %s` fails): %w", StorageClassName, StorageClassName, err)
	}
	if strings.TrimSpace(out) != "true" {
		return fmt.Errorf("StorageClass %s is not the default class (is-default-class=%q)", StorageClassName, strings.TrimSpace(out))
	}
	out, err = kubectl(ctx, n, nil, "get", "nodes", "-o", "jsonpath={.items[*].metadata.name}")
	if err != nil {
		return err
	}
	nodeNames := strings.Fields(out)
	if len(nodeNames) == 0 {
		return fmt.Errorf("the cluster lists no nodes")
	}
	ns := fmt.Sprintf("dfe2e-pvc-check-%d", time.Now().Unix())
	defer func() {
		c2, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, _ = kubectl(c2, n, nil, "delete", "namespace", ns, "--wait=false")
	}()
	if _, err := kubectl(ctx, n, []byte(PVCCheckManifest(ns, helperImage, nodeNames)), "apply", "-f", "-"); err != nil {
		return err
	}
	for i, node := range nodeNames {
		if err := c.claimBinds(ctx, n, ns, claimName(i, len(nodeNames)), node); err != nil {
			return err
		}
	}
	return nil
}

// claimBinds waits for claim ns/name (used by a pod on node) to be Bound on
// the default class.
func (c *Cluster) claimBinds(ctx context.Context, n nodes.Node, ns, name, node string) error {
	var class string
	_, err := wait.For(ctx, "PVC "+ns+"/"+name+" on the default StorageClass, used by a pod on node "+node+", to be Bound", wait.PVCBound, func(ctx context.Context) (bool, string, error) {
		out, _ := kubectl(ctx, n, nil, "-n", ns, "get", "pvc", name, "-o", "jsonpath={.status.phase} {.spec.storageClassName}")
		f := strings.Fields(out)
		if len(f) == 2 {
			class = f[1]
		}
		return len(f) == 2 && f[0] == "Bound", strings.TrimSpace(out), nil
	})
	if err != nil {
		// Say why: the provisioner reports its failures as events on the claim.
		ev, _ := kubectl(context.Background(), n, nil, "-n", ns, "get", "events", "--field-selector", "involvedObject.name="+name, "-o", "jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}")
		if lines := strings.Split(strings.TrimSpace(ev), "\n"); len(lines) > 0 && lines[len(lines)-1] != "" {
			return fmt.Errorf("%w; last event on the claim: %s", err, lines[len(lines)-1])
		}
		return err
	}
	if class != StorageClassName {
		return fmt.Errorf("PVC %s/%s bound on StorageClass %q, want the default %q", ns, name, class, StorageClassName)
	}
	return nil
}

// claimName is the check's claim for node i: "data" on a single node (as
// before), "data-<i>" with several.
func claimName(i, n int) string {
	if n == 1 {
		return "data"
	}
	return fmt.Sprintf("data-%d", i)
}

// PVCCheckManifest is the storage check's namespace with, per node, a claim
// without a class and a pod pinned to the node (by hostname label: the
// scheduler must pick the node so the claim is provisioned there) that
// writes to it. The pods tolerate the control plane's taint.
func PVCCheckManifest(ns, image string, nodeNames []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, pvcCheckNamespace, ns)
	for i, node := range nodeNames {
		name := claimName(i, len(nodeNames))
		fmt.Fprintf(&b, pvcCheckClaim, name, ns, "writer"+strings.TrimPrefix(name, "data"), ns, node, image, name)
	}
	return b.String()
}

const pvcCheckNamespace = `apiVersion: v1
kind: Namespace
metadata:
  name: %s
`

const pvcCheckClaim = `---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: %s
  namespace: %s
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: 16Mi
---
apiVersion: v1
kind: Pod
metadata:
  name: %s
  namespace: %s
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 0
  nodeSelector:
    kubernetes.io/hostname: %q
  tolerations:
  - key: node-role.kubernetes.io/control-plane
    operator: Exists
    effect: NoSchedule
  containers:
  - name: writer
    image: %s
    imagePullPolicy: IfNotPresent
    command: [sh, -c, "echo ok > /data/probe && cat /data/probe"]
    volumeMounts:
    - name: data
      mountPath: /data
  volumes:
  - name: data
    persistentVolumeClaim:
      claimName: %s
`
