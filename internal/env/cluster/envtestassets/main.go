// Command envtestassets prints a KUBEBUILDER_ASSETS directory (pinned
// kube-apiserver and etcd, built once into the cache by internal/env/k8sbuild).
// It is `dfe2e assets envtest` without the rest of the CLI, so that
// `make test-api` builds and links only what the API tier needs.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/k8sbuild"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logf := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
	}
	dir, err := k8sbuild.EnvtestAssets(ctx, logf)
	if err != nil {
		fmt.Fprintln(os.Stderr, "envtest assets:", err)
		os.Exit(1)
	}
	fmt.Println(dir)
}
