package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/k8sbuild"
)

func init() {
	assets := &cobra.Command{
		Use:   "assets",
		Short: "Build (once, cached by content) the binaries the tiers need",
	}
	assets.AddCommand(&cobra.Command{
		Use:   "envtest",
		Short: "Print a KUBEBUILDER_ASSETS directory with kube-apiserver and etcd, building them from pinned Go modules if needed",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if d := config.FromEnv().KubebuilderAssets; d != "" {
				for _, b := range []string{"kube-apiserver", "etcd"} {
					if _, err := os.Stat(d + "/" + b); err != nil {
						return badInput(fmt.Errorf("KUBEBUILDER_ASSETS=%s has no %s: unset it to build pinned binaries, or point it at a directory holding kube-apiserver and etcd", d, b))
					}
				}
				fmt.Println(d)
				return nil
			}
			dir, err := k8sbuild.EnvtestAssets(cmd.Context(), progress)
			if err != nil {
				return err
			}
			fmt.Println(dir)
			return nil
		},
	})
	root.AddCommand(assets)
}
