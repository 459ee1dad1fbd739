// Package registry runs the OCI registry an e2e run serves images from.
//
// The Dragonfly CRD defaults imagePullPolicy to Always, so images imported
// into a kind node never serve Dragonfly pods: air-gapped clusters pull
// through a registry mirror, and so does this project. The registry is a
// Docker container (cmd/dfe2e-registry, built here, no registry needed to
// get it) on the kind network, reachable from the nodes by its container name
// and from this host on a published loopback port for pushing.
//
// Order in a run: Start → PushArchive for every archive → kind cluster
// created with Mirrors(hosts...) → Attach → … → Stop (before the cluster is
// deleted, so that the kind network is left unused).
package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/images"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/kindconfig"
)

// Port is the registry's port inside its container (and in mirror URLs).
const Port = 5000

// Label marks the registry containers of this project; its value is the
// kind cluster name, so a run can remove what a killed run left behind.
const Label = "io.dragonfly-e2e.registry"

// Logf receives progress lines.
type Logf func(format string, args ...any)

// Options configure Start.
type Options struct {
	Docker  string // docker client binary (default "docker")
	Cluster string // kind cluster the registry serves (default kindconfig.DefaultClusterName)
	Network string // Docker network of the cluster's nodes (default "kind")
	Name    string // container name, the host part of mirror URLs (default "dfe2e-registry-<cluster>")
	// Image is a registry image already in the engine; empty: built from
	// Source's cmd/dfe2e-registry (cached by content) and loaded.
	Image string
	// Source is the dragonfly-e2e checkout to build from (default: the
	// module of the working directory).
	Source string
	// ReadyTimeout bounds the wait for the registry to answer (default 30s).
	ReadyTimeout time.Duration
	Logf         Logf
}

// Registry is a running registry container.
type Registry struct {
	o        Options
	hostAddr string
	stopped  bool
}

func (o *Options) defaults() {
	if o.Docker == "" {
		o.Docker = "docker"
	}
	if o.Cluster == "" {
		o.Cluster = kindconfig.DefaultClusterName
	}
	if o.Network == "" {
		o.Network = "kind"
	}
	if o.Name == "" {
		o.Name = "dfe2e-registry-" + o.Cluster
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 30 * time.Second
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
}

// Start runs the registry container: image built and loaded when needed, a
// leftover of the same name from a killed run removed, joined to the
// cluster's network when that exists already (else Attach joins it after the
// cluster is created), answering on its loopback port. On error nothing is
// left running.
func Start(ctx context.Context, o Options) (*Registry, error) {
	o.defaults()
	start := time.Now()
	if o.Image == "" {
		src := o.Source
		if src == "" {
			src = images.ModuleRoot(ctx, ".")
		}
		if src == "" {
			return nil, errors.New("registry image: not in a dragonfly-e2e checkout; run from one or set Options.Source")
		}
		archive, ref, err := EnsureImage(ctx, src, o.Logf)
		if err != nil {
			return nil, err
		}
		if err := loadImage(ctx, o.Docker, ref, archive); err != nil {
			return nil, err
		}
		o.Image = ref
	}
	if err := removeNamed(ctx, o.Docker, o.Name); err != nil {
		return nil, err
	}
	args := []string{"run", "-d", "--name", o.Name,
		"--label", Label + "=" + o.Cluster,
		"-p", "127.0.0.1::" + strconv.Itoa(Port)}
	onNetwork := networkExists(ctx, o.Docker, o.Network)
	if onNetwork {
		args = append(args, "--network", o.Network)
	}
	args = append(args, o.Image, "-listen", ":"+strconv.Itoa(Port), "-blobs", "/tmp/blobs", "-quiet")
	r := &Registry{o: o}
	if _, err := docker(ctx, o.Docker, args...); err != nil {
		// A failed run can still leave a created container behind.
		return nil, errors.Join(fmt.Errorf("starting the registry container: %w", err), r.cleanup(ctx))
	}
	if err := r.ready(ctx); err != nil {
		return nil, errors.Join(err, r.cleanup(ctx))
	}
	o.Logf("registry %s up in %s (push: %s, nodes: %s, network %s: %v)", o.Name, time.Since(start).Round(100*time.Millisecond), r.hostAddr, r.MirrorURL(), o.Network, onNetwork)
	return r, nil
}

// cleanup removes the container even when ctx is cancelled (Ctrl-C during
// Start), bounded so a hung engine does not hang the run.
func (r *Registry) cleanup(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := r.Stop(ctx); err != nil {
		return fmt.Errorf("%w; or run: %s", err, CleanupCommand(r.o.Cluster))
	}
	return nil
}

// ready finds the published port and waits for /v2/ to answer.
func (r *Registry) ready(ctx context.Context) error {
	out, err := docker(ctx, r.o.Docker, "port", r.o.Name, strconv.Itoa(Port)+"/tcp")
	if err != nil {
		return fmt.Errorf("registry port: %w", err)
	}
	addr, err := loopbackAddr(out)
	if err != nil {
		return err
	}
	r.hostAddr = addr
	ctx, cancel := context.WithTimeout(ctx, r.o.ReadyTimeout)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 2 * time.Second}
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v2/", nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET /v2/: %s", resp.Status)
		}
		last = err
		select {
		case <-ctx.Done():
			logs, _ := docker(context.WithoutCancel(ctx), r.o.Docker, "logs", "--tail", "20", r.o.Name)
			return fmt.Errorf("registry %s did not answer on %s within %s: %v\n%s", r.o.Name, addr, r.o.ReadyTimeout, last, logs)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// loopbackAddr picks the 127.0.0.1 binding from `docker port` output.
func loopbackAddr(out string) (string, error) {
	for _, l := range strings.Fields(out) {
		host, port, err := net.SplitHostPort(l)
		if err == nil && host == "127.0.0.1" && port != "" && port != "0" {
			return l, nil
		}
	}
	return "", fmt.Errorf("registry: no 127.0.0.1 port in `docker port` output %q", out)
}

// Name is the container name.
func (r *Registry) Name() string { return r.o.Name }

// HostAddr is the loopback host:port this host pushes to.
func (r *Registry) HostAddr() string { return r.hostAddr }

// MirrorURL is the registry's URL as the cluster's nodes reach it.
func (r *Registry) MirrorURL() string { return "http://" + r.o.Name + ":" + strconv.Itoa(Port) }

// Mirrors maps each upstream host to this registry, for
// kindconfig.Options.Mirrors.
func (r *Registry) Mirrors(hosts ...string) map[string]string {
	m := map[string]string{}
	for _, h := range hosts {
		m[h] = r.MirrorURL()
	}
	return m
}

// PushArchive pushes every image of a docker-save or OCI tarball under its
// original repository path and returns the original references.
func (r *Registry) PushArchive(ctx context.Context, path string) ([]string, error) {
	if r.stopped {
		return nil, errors.New("registry: push after Stop")
	}
	start := time.Now()
	refs, err := PushArchiveTo(ctx, r.hostAddr, path)
	if err != nil {
		return nil, err
	}
	r.o.Logf("pushed %s to %s in %s", strings.Join(refs, " "), r.o.Name, time.Since(start).Round(100*time.Millisecond))
	return refs, nil
}

// Attach joins the registry to the cluster's network, so the nodes resolve
// its name; call it after the cluster is created (kind creates the network).
// Joining twice is not an error.
func (r *Registry) Attach(ctx context.Context) error {
	out, err := docker(ctx, r.o.Docker, "inspect", "-f", "{{json .NetworkSettings.Networks}}", r.o.Name)
	if err != nil {
		return fmt.Errorf("registry %s: %w", r.o.Name, err)
	}
	if strings.Contains(out, `"`+r.o.Network+`":`) {
		return nil
	}
	if _, err := docker(ctx, r.o.Docker, "network", "connect", r.o.Network, r.o.Name); err != nil {
		return fmt.Errorf("joining registry %s to network %s: %w", r.o.Name, r.o.Network, err)
	}
	r.o.Logf("registry %s joined network %s", r.o.Name, r.o.Network)
	return nil
}

// Stop removes the container (and its blobs). Calling it again, or on a
// container already gone, is not an error.
func (r *Registry) Stop(ctx context.Context) error {
	if r.stopped {
		return nil
	}
	if err := removeNamed(ctx, r.o.Docker, r.o.Name); err != nil {
		return err
	}
	r.stopped = true
	return nil
}

// RemoveLeftovers removes registry containers a killed run left for cluster.
func RemoveLeftovers(ctx context.Context, dockerBin, cluster string) error {
	out, err := docker(ctx, dockerBin, "ps", "-aq", "--filter", "label="+Label+"="+cluster)
	if err != nil {
		return err
	}
	ids := strings.Fields(out)
	if len(ids) == 0 {
		return nil
	}
	_, err = docker(ctx, dockerBin, append([]string{"rm", "-f", "-v"}, ids...)...)
	return err
}

// CleanupCommand removes every registry container of cluster by hand.
func CleanupCommand(cluster string) string {
	return fmt.Sprintf("docker rm -f -v $(docker ps -aq --filter label=%s=%s)", Label, cluster)
}

// removeNamed removes the container called name when it is one of ours; a
// container of that name without Label is someone else's and is kept.
func removeNamed(ctx context.Context, dockerBin, name string) error {
	out, err := docker(ctx, dockerBin, "ps", "-a", "--filter", "name=^/"+name+"$", "--format", `{{.ID}} {{.Label "`+Label+`"}}`)
	if err != nil {
		return err
	}
	line := strings.TrimSpace(out)
	if line == "" {
		return nil
	}
	id, owner, _ := strings.Cut(line, " ")
	if owner == "" {
		return fmt.Errorf("a container named %s exists without label %s: not ours, not removed; remove or rename it", name, Label)
	}
	if _, err := docker(ctx, dockerBin, "rm", "-f", "-v", id); err != nil && !strings.Contains(err.Error(), "No such container") {
		return fmt.Errorf("removing registry container %s: %w; or run: %s", name, err, CleanupCommand(owner))
	}
	return nil
}

func networkExists(ctx context.Context, dockerBin, network string) bool {
	_, err := docker(ctx, dockerBin, "network", "inspect", network)
	return err == nil
}

func loadImage(ctx context.Context, dockerBin, ref, archive string) error {
	if _, err := docker(ctx, dockerBin, "image", "inspect", ref); err == nil {
		return nil
	}
	if _, err := docker(ctx, dockerBin, "load", "-i", archive); err != nil {
		return fmt.Errorf("loading the registry image %s: %w", ref, err)
	}
	return nil
}

func docker(ctx context.Context, bin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}
