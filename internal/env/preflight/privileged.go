package preflight

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/preflight/capfilter"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
)

const (
	probeRepo  = "dfe2e.local/privileged-probe"
	hashLabel  = "io.dragonfly-e2e.inputs"
	wrapperPkg = "./cmd/dfe2e-runc-wrapper"
)

// capsFailure is how runc reports a capability the host cannot grant.
const capsFailure = "unable to apply caps"

// ensurePrivileged runs a privileged probe container and, only when it fails
// the way these VMs fail, registers the capability-filtering wrapper.
func ensurePrivileged(ctx context.Context, e *Engine, o Options, logf Logf) error {
	bin, err := buildWrapper(ctx, o)
	if err != nil {
		return err
	}
	defer os.RemoveAll(filepath.Dir(bin))
	img, err := probeImage(ctx, e.Docker, bin)
	if err != nil {
		return err
	}
	perr := probe(ctx, e.Docker, img)
	cfg, _ := readDaemonJSON()
	e.Wrapped = usesWrapper(cfg)
	if perr == nil {
		logf("privileged containers run (runtime wrapper in use: %v)", e.Wrapped)
		return nil
	}
	if !strings.Contains(perr.Error(), capsFailure) {
		return fmt.Errorf("%w: the Docker engine cannot run a privileged container (kind needs them): %v", ErrNotFixable, perr)
	}
	mask, _ := capfilter.Bounding()
	missing := strings.Join(capfilter.Missing(mask), ",")
	if !isRoot() {
		return fmt.Errorf("%w: privileged containers fail (%s): this host's capability bounding set lacks %s and the engine asks for it. As root: build the wrapper (go build -o %s %s), add {\"runtimes\":{%q:{\"path\":%q}},\"default-runtime\":%q} to %s, then send SIGHUP to dockerd — or run dfe2e as root to do this", ErrNotFixable, capsFailure, missing, WrapperPath, wrapperPkg, RuntimeName, WrapperPath, RuntimeName, DaemonJSON)
	}
	logf("privileged containers fail here (%s: capability bounding set lacks %s); registering runtime wrapper %s as the default runtime", capsFailure, missing, WrapperPath)
	if err := copyExecutable(bin, WrapperPath); err != nil {
		return err
	}
	if err := registerWrapper(); err != nil {
		return err
	}
	if err := reloadDockerd(); err != nil {
		return err
	}
	var last error
	_, err = wait.For(ctx, "dockerd to run a privileged probe container with runtime "+RuntimeName, wait.EngineReady, func(ctx context.Context) (bool, string, error) {
		last = probe(ctx, e.Docker, img)
		if last != nil {
			return false, last.Error(), nil
		}
		return true, "", nil
	})
	if err != nil {
		return fmt.Errorf("%w: registered %s in %s and reloaded dockerd, but privileged containers still fail: %v", ErrNotFixable, RuntimeName, DaemonJSON, err)
	}
	e.Wrapped = true
	logf("privileged containers run with runtime wrapper %s", RuntimeName)
	return nil
}

// installWrapper builds and installs the wrapper (used before starting a
// dockerd whose daemon.json already names it).
func installWrapper(ctx context.Context, o Options, logf Logf) error {
	bin, err := buildWrapper(ctx, o)
	if err != nil {
		return err
	}
	defer os.RemoveAll(filepath.Dir(bin))
	logf("installing runtime wrapper %s (named in %s)", WrapperPath, DaemonJSON)
	return copyExecutable(bin, WrapperPath)
}

// buildWrapper compiles the static wrapper into a fresh temp dir.
func buildWrapper(ctx context.Context, o Options) (string, error) {
	root := o.ModuleRoot
	if root == "" {
		var err error
		if root, err = FindModuleRoot(); err != nil {
			return "", err
		}
	}
	dir, err := os.MkdirTemp("", "dfe2e-wrapper-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "dfe2e-runc-wrapper")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, wrapperPkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("building %s: %w\n%s", wrapperPkg, err, out)
	}
	return bin, nil
}

// FindModuleRoot walks up from the working directory to this project's go.mod.
func FindModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/dragonfly-e2e/dragonfly-e2e\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("run dfe2e from inside the dragonfly-e2e checkout (it builds helper binaries from source)")
		}
		dir = parent
	}
}

// probeImage imports (once) an image holding only the static wrapper binary,
// which exits 0 when run with --dfe2e-probe. No registry is needed.
func probeImage(ctx context.Context, docker, bin string) (string, error) {
	b, err := os.ReadFile(bin)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	h := hex.EncodeToString(sum[:])[:16]
	ref := probeRepo + ":" + h
	if out, err := exec.CommandContext(ctx, docker, "image", "inspect", "--format", "{{index .Config.Labels \""+hashLabel+"\"}}", ref).Output(); err == nil && strings.TrimSpace(string(out)) == h {
		return ref, nil
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "probe", Mode: 0o755, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
		return "", err
	}
	tw.Write(b)
	tw.Close()
	cmd := exec.CommandContext(ctx, docker, "import", "--change", "LABEL "+hashLabel+"="+h, "--change", `ENTRYPOINT ["/probe"]`, "-", ref)
	cmd.Stdin = &buf
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("docker import of the probe image: %w: %s", err, out)
	}
	return ref, nil
}

func probe(ctx context.Context, docker, img string) error {
	out, err := exec.CommandContext(ctx, docker, "run", "--rm", "--privileged", "--network", "none", img, "--dfe2e-probe").CombinedOutput()
	if err != nil {
		return fmt.Errorf("docker run --privileged: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

func copyExecutable(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	tmp := dst + ".new"
	if err := os.WriteFile(tmp, b, 0o755); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

func readDaemonJSON() (map[string]any, error) {
	b, err := os.ReadFile(DaemonJSON)
	if os.IsNotExist(err) {
		return map[string]any{}, nil
	}
	if err != nil {
		return nil, err
	}
	m := map[string]any{}
	if len(bytes.TrimSpace(b)) == 0 {
		return m, nil
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s is not valid JSON: %w", DaemonJSON, err)
	}
	return m, nil
}

func usesWrapper(cfg map[string]any) bool {
	return cfg != nil && cfg["default-runtime"] == RuntimeName
}

// MergeWrapper adds the wrapper runtime to a daemon.json document, keeping
// every other setting. It refuses to replace another default runtime.
func MergeWrapper(cfg map[string]any, path string) error {
	if d, ok := cfg["default-runtime"].(string); ok && d != "" && d != RuntimeName && d != "runc" {
		return fmt.Errorf("%w: %s already sets default-runtime %q; not replacing it — add a runtime that drops capabilities missing from CapBnd yourself", ErrNotFixable, DaemonJSON, d)
	}
	rt, _ := cfg["runtimes"].(map[string]any)
	if rt == nil {
		rt = map[string]any{}
	}
	rt[RuntimeName] = map[string]any{"path": path}
	cfg["runtimes"] = rt
	cfg["default-runtime"] = RuntimeName
	return nil
}

func registerWrapper() error {
	cfg, err := readDaemonJSON()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNotFixable, err)
	}
	if err := MergeWrapper(cfg, WrapperPath); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(cfg, "", "  ")
	if err := os.MkdirAll(filepath.Dir(DaemonJSON), 0o755); err != nil {
		return err
	}
	if old, err := os.ReadFile(DaemonJSON); err == nil {
		_ = os.WriteFile(DaemonJSON+".dfe2e-backup", old, 0o644)
	}
	return os.WriteFile(DaemonJSON, append(b, '\n'), 0o644)
}

// reloadDockerd sends SIGHUP so dockerd re-reads runtimes and default-runtime.
func reloadDockerd() error {
	b, err := os.ReadFile(DockerPIDFile)
	if err != nil {
		return fmt.Errorf("%w: cannot find dockerd's pid (%v): reload it yourself (kill -HUP $(pidof dockerd)) and re-run", ErrNotFixable, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("%s: %w", DockerPIDFile, err)
	}
	return syscall.Kill(pid, syscall.SIGHUP)
}
