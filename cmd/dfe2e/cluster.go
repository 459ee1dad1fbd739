package main

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/images"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/kindconfig"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/preflight"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/registry"
)

// progress prints timestamped progress lines on stderr.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func init() {
	cl := &cobra.Command{
		Use:   "cluster",
		Short: "Host preflight, offline images and the kind cluster of the e2e tier, step by step",
	}
	cl.AddCommand(&cobra.Command{
		Use:   "preflight",
		Short: "Find (install, start) a Docker engine and make sure it runs privileged containers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := preflight.Ensure(cmd.Context(), preflight.Options{Logf: progress})
			return hostErr(err)
		},
	})
	env := config.FromEnv()
	offline, offlineErr := env.OfflineEnabled()
	imagesCmd := &cobra.Command{
		Use:   "images",
		Short: "Print the node image to use, building it offline (cached by content) when no registry is reachable",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if offlineErr != nil && !cmd.Flags().Changed("offline") {
				return badInput(offlineErr)
			}
			eng, err := preflight.Ensure(cmd.Context(), preflight.Options{Logf: progress})
			if err != nil {
				return hostErr(err)
			}
			set, err := images.Resolve(cmd.Context(), eng.Docker, offline, progress)
			if err != nil {
				return err
			}
			fmt.Println(set.NodeImage)
			return nil
		},
	}
	imagesCmd.Flags().BoolVar(&offline, "offline", offline, "build every image locally even if a registry is reachable (env "+config.EnvOffline+"=1)")
	cl.AddCommand(imagesCmd)
	var delName string
	del := &cobra.Command{
		Use:   "delete",
		Short: "Delete a kind cluster (its kubeconfig under --artifacts, and the registry a kept run left beside it)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			art, _ := cmd.Flags().GetString("artifacts")
			c := kindconfig.New(kindconfig.Options{Name: delName, Logf: progress, Kubeconfig: filepath.Join(art, "kind-"+delName+".kubeconfig")})
			return failedIf(deleteClusterAndRegistry(c.Delete, func() error {
				return registry.RemoveLeftovers(cmd.Context(), "docker", delName)
			}))
		},
	}
	del.Flags().StringVar(&delName, "name", kindconfig.DefaultClusterName, "kind cluster name")
	del.Flags().String("artifacts", artifactsDefault(env), "artifacts directory of the run that created it (env "+config.EnvArtifacts+")")
	cl.AddCommand(del)
	root.AddCommand(cl)
}

// deleteClusterAndRegistry deletes the cluster, then the run's registry
// container (kept with a --keep-cluster run, labelled with the cluster's
// name), even when the cluster was already gone.
func deleteClusterAndRegistry(deleteCluster, removeRegistry func() error) error {
	var errs []error
	if err := deleteCluster(); err != nil {
		errs = append(errs, fmt.Errorf("deleting the kind cluster: %w", err))
	}
	if err := removeRegistry(); err != nil {
		errs = append(errs, fmt.Errorf("removing its registry container: %w", err))
	}
	return errors.Join(errs...)
}

// artifactsDefault is --artifacts' default on every command that has it.
func artifactsDefault(env config.Settings) string { return cmp.Or(env.Artifacts, "artifacts") }

// hostErr maps host problems a human must fix to exit 2 (bad input/environment).
func hostErr(err error) error {
	if err == nil {
		return nil
	}
	return badInput(err)
}

func failedIf(err error) error {
	if err == nil {
		return nil
	}
	return failed(err)
}
