// Package preflight makes sure the host can run kind: a Docker engine that
// answers, that runs privileged containers, and the Debian tools the offline
// image build needs. It fixes what it can as root on Debian and otherwise says
// exactly what to do. It never rewrites the configuration of an engine that
// already runs privileged containers.
package preflight

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/k8sbuild"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/tail"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
)

// Logf receives progress lines.
type Logf func(format string, args ...any)

// Engine is a Docker engine that answers and runs privileged containers.
type Engine struct {
	// Docker is the docker client binary used for every call (absolute path).
	Docker string
	// ClientVersion and ServerVersion as reported by `docker version`.
	ClientVersion, ServerVersion string
	// Started is true when this run started dockerd (it is left running).
	Started bool
	// DaemonLog is where a dockerd started by this run logs.
	DaemonLog string
	// Wrapped is true when the engine uses the capability-filtering runtime wrapper.
	Wrapped bool

	pid int // of the dockerd this run started
}

// Stop stops the dockerd this run started (nothing otherwise) and waits for
// it to exit, so a CI job can leave the machine as it found it.
func (e *Engine) Stop(ctx context.Context) error {
	if !e.Started || e.pid == 0 {
		return nil
	}
	if err := syscall.Kill(e.pid, syscall.SIGTERM); err != nil {
		return nil // already gone
	}
	_, err := wait.For(ctx, fmt.Sprintf("dockerd (pid %d) to exit", e.pid), wait.EngineReady, func(context.Context) (bool, string, error) {
		return syscall.Kill(e.pid, 0) != nil, "still running", nil
	})
	return err
}

// Options tune Ensure.
type Options struct {
	Logf Logf
	// ModuleRoot is the checkout holding cmd/dfe2e-runc-wrapper (found from
	// the working directory when empty).
	ModuleRoot string
}

// ErrNotFixable marks host problems that need a human (not root, no apt...).
var ErrNotFixable = errors.New("host not ready")

// Paths used on the host. Variables so tests can redirect them.
var (
	DaemonJSON    = "/etc/docker/daemon.json"
	DockerPIDFile = "/var/run/docker.pid"
	WrapperPath   = "/usr/local/libexec/dfe2e/dfe2e-runc-wrapper"
)

// RuntimeName is the name the wrapper is registered under in daemon.json.
const RuntimeName = "dfe2e-runc"

// Ensure returns an engine ready for kind, starting or fixing it if needed.
func Ensure(ctx context.Context, o Options) (*Engine, error) {
	logf := o.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	start := time.Now()
	e := &Engine{}
	docker, err := findDockerCLI()
	if err == nil {
		e.Docker = docker
	}
	if e.Docker == "" || !engineAnswers(ctx, e.Docker) {
		if err := startEngine(ctx, e, o, logf); err != nil {
			return nil, err
		}
	}
	e.ClientVersion, e.ServerVersion = versions(ctx, e.Docker)
	logf("docker engine %s via client %s (%s)", e.ServerVersion, e.Docker, e.ClientVersion)
	if err := ensurePrivileged(ctx, e, o, logf); err != nil {
		return nil, err
	}
	logf("preflight ok in %s", time.Since(start).Round(100*time.Millisecond))
	return e, nil
}

// findDockerCLI picks the docker client: $DFE2E_DOCKER, else `docker` on
// PATH. Both the Docker CE client (/usr/local/bin) and Debian's (/usr/bin)
// talk to either engine; the choice is logged.
func findDockerCLI() (string, error) {
	return exec.LookPath(config.FromEnv().DockerBinary())
}

func engineAnswers(ctx context.Context, docker string) bool {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, docker, "version", "--format", "{{.Server.Version}}").Run() == nil
}

func versions(ctx context.Context, docker string) (client, server string) {
	out, _ := exec.CommandContext(ctx, docker, "version", "--format", "{{.Client.Version}} {{.Server.Version}}").Output()
	f := strings.Fields(string(out))
	if len(f) == 2 {
		return f[0], f[1]
	}
	return "?", "?"
}

func isRoot() bool { return os.Geteuid() == 0 }

// startEngine installs Debian's docker.io when no dockerd exists, then starts
// dockerd in the background and waits for it to answer.
func startEngine(ctx context.Context, e *Engine, o Options, logf Logf) error {
	dockerd, err := exec.LookPath("dockerd")
	if err != nil {
		if !isRoot() {
			return fmt.Errorf("%w: no Docker engine answers and dockerd is not installed; as root run: apt-get install -y docker.io && dockerd >/var/log/dockerd.log 2>&1 & — or start your Docker engine, then re-run", ErrNotFixable)
		}
		if err := AptInstall(ctx, logf, "docker.io"); err != nil {
			return err
		}
		if dockerd, err = exec.LookPath("dockerd"); err != nil {
			return fmt.Errorf("%w: docker.io installed but dockerd not on PATH", ErrNotFixable)
		}
	}
	if e.Docker == "" {
		if e.Docker, err = findDockerCLI(); err != nil {
			return fmt.Errorf("%w: dockerd present but no docker client on PATH: apt-get install -y docker.io", ErrNotFixable)
		}
	}
	if !isRoot() {
		return fmt.Errorf("%w: the Docker engine is not running; start it (e.g. sudo systemctl start docker, or sudo dockerd >/var/log/dockerd.log 2>&1 &), or run dfe2e as root to let it start dockerd", ErrNotFixable)
	}
	// A daemon.json that names the wrapper needs the wrapper binary before start.
	if cfg, _ := readDaemonJSON(); usesWrapper(cfg) {
		if _, err := os.Stat(WrapperPath); err != nil {
			if err := installWrapper(ctx, o, logf); err != nil {
				return err
			}
		}
	}
	e.DaemonLog = filepath.Join(k8sbuild.CacheRoot(), "dockerd.log")
	if err := os.MkdirAll(filepath.Dir(e.DaemonLog), 0o755); err != nil {
		return err
	}
	lf, err := os.OpenFile(e.DaemonLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer lf.Close()
	// Not CommandContext: the engine must outlive this run (and its Ctrl-C).
	cmd := exec.Command(dockerd)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	logf("starting %s in the background (log: %s)", dockerd, e.DaemonLog)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting dockerd: %w", err)
	}
	e.pid = cmd.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	_, err = wait.For(ctx, "dockerd to answer on its socket", wait.EngineReady, func(ctx context.Context) (bool, string, error) {
		select {
		case err := <-exited:
			return false, "", fmt.Errorf("dockerd exited (%v); see %s", err, e.DaemonLog)
		default:
		}
		return engineAnswers(ctx, e.Docker), "no answer yet", nil
	})
	if err != nil {
		return err
	}
	e.Started = true
	return nil
}

// AptInstall installs Debian packages (root, apt-get) with a clear error otherwise.
func AptInstall(ctx context.Context, logf Logf, pkgs ...string) error {
	if _, err := exec.LookPath("apt-get"); err != nil || !isRoot() {
		return fmt.Errorf("%w: missing %s; install with: sudo apt-get install -y %s", ErrNotFixable, strings.Join(pkgs, " "), strings.Join(pkgs, " "))
	}
	start := time.Now()
	logf("installing Debian packages: %s", strings.Join(pkgs, " "))
	run := func(args ...string) error {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("apt-get %s: %w\n%s", strings.Join(args, " "), err, tail.Lines(strings.TrimSpace(string(out)), 20))
		}
		return nil
	}
	args := append([]string{"-o", "DPkg::Lock::Timeout=300", "install", "-y", "-qq", "--no-install-recommends"}, pkgs...)
	if err := run(args...); err != nil {
		// Stale package lists are the usual cause on fresh machines.
		if err2 := run("-o", "DPkg::Lock::Timeout=300", "update", "-qq"); err2 != nil {
			return err2
		}
		if err := run(args...); err != nil {
			return err
		}
	}
	logf("installed %s in %s", strings.Join(pkgs, " "), time.Since(start).Round(time.Second))
	return nil
}

// EnsureTools installs the Debian packages that provide the named commands
// when a command is missing (command → package).
func EnsureTools(ctx context.Context, logf Logf, tools map[string]string) error {
	var need []string
	seen := map[string]bool{}
	for cmd, pkg := range tools {
		if _, err := exec.LookPath(cmd); err == nil {
			continue
		}
		if _, err := os.Stat(cmd); err == nil {
			continue
		}
		if !seen[pkg] {
			seen[pkg] = true
			need = append(need, pkg)
		}
	}
	if len(need) == 0 {
		return nil
	}
	return AptInstall(ctx, logf, need...)
}
