// Command dfe2e-runc-wrapper is an OCI runtime that a Docker engine can use as
// its default runtime on hosts whose capability bounding set lacks some
// capabilities (see internal/env/preflight/capfilter). It removes those
// capabilities from the container config (create/run) and from exec process
// specs, then execs the real runc with the unchanged arguments.
//
// Run with --dfe2e-probe it only exits 0: preflight uses the same static
// binary as the payload of its privileged-container probe image.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/preflight/capfilter"
)

// globalWithValue are runc's global flags that take a separate value.
var globalWithValue = map[string]bool{"--root": true, "--log": true, "--log-format": true, "--criu": true, "--rootless": true}

func main() {
	if len(os.Args) == 2 && os.Args[1] == "--dfe2e-probe" {
		fmt.Println("dfe2e privileged probe: ok")
		return
	}
	runc, err := realRunc()
	if err != nil {
		fmt.Fprintln(os.Stderr, "dfe2e-runc-wrapper:", err)
		os.Exit(127)
	}
	if file, isProcess := specFile(os.Args[1:]); file != "" {
		if mask, err := capfilter.Bounding(); err == nil {
			if _, err := capfilter.FilterFile(file, isProcess, mask); err != nil {
				fmt.Fprintln(os.Stderr, "dfe2e-runc-wrapper: leaving spec unchanged:", err)
			}
		}
	}
	args := append([]string{runc}, os.Args[1:]...)
	err = syscall.Exec(runc, args, os.Environ())
	fmt.Fprintln(os.Stderr, "dfe2e-runc-wrapper: exec", runc+":", err)
	os.Exit(127)
}

// realRunc finds runc: $DFE2E_RUNC, else the usual install paths.
func realRunc() (string, error) {
	self, _ := os.Executable()
	cands := []string{config.FromEnv().Runc, "/usr/sbin/runc", "/usr/bin/runc", "/usr/local/sbin/runc", "/usr/local/bin/runc"}
	for _, c := range cands {
		if c == "" {
			continue
		}
		if p, err := filepath.EvalSymlinks(c); err == nil && p != self {
			return c, nil
		}
	}
	return "", fmt.Errorf("no runc found (tried %s); install runc or set DFE2E_RUNC", strings.Join(cands[1:], ", "))
}

// specFile returns the JSON file this runc invocation reads capabilities
// from: <bundle>/config.json for create/run, the --process file for exec.
func specFile(args []string) (file string, isProcess bool) {
	i := 0
	for i < len(args) {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			break
		}
		if globalWithValue[a] {
			i++
		}
		i++
	}
	if i >= len(args) {
		return "", false
	}
	sub, rest := args[i], args[i+1:]
	switch sub {
	case "create", "run":
		bundle := flagValue(rest, "--bundle", "-b")
		if bundle == "" {
			bundle = "."
		}
		return filepath.Join(bundle, "config.json"), false
	case "exec":
		if p := flagValue(rest, "--process", "-p"); p != "" {
			return p, true
		}
	}
	return "", false
}

func flagValue(args []string, long, short string) string {
	for i, a := range args {
		if a == "--" {
			break
		}
		if (a == long || a == short) && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, long+"="); ok {
			return v
		}
		if v, ok := strings.CutPrefix(a, short+"="); ok {
			return v
		}
	}
	return ""
}
