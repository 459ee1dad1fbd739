package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/images"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/kindconfig"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/preflight"
)

func init() {
	var load string
	var controllers bool
	cmd := &cobra.Command{
		Use:   "flux-images",
		Short: "Build the Flux tier's images (git server; with --controllers the Flux controllers from Go modules) as archives, optionally loading them into a kind cluster",
		Long: `flux-images prints one line per image: reference and archive path
(docker save format, cached by content). --load NAME loads them into the
kind cluster NAME (what dfe2e e2e does by itself); for another cluster, load
the archives with your own tooling.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			root, err := preflight.FindModuleRoot()
			if err != nil {
				return badInput(err)
			}
			a, ref, err := images.EnsureGitServer(ctx, root, progress)
			if err != nil {
				return failed(err)
			}
			fmt.Println(ref, a)
			archives := []string{a}
			if controllers {
				for _, c := range images.FluxControllers {
					a, err := images.EnsureFluxImage(ctx, c, progress)
					if err != nil {
						return failed(err)
					}
					fmt.Println(c.Ref(), a)
					archives = append(archives, a)
				}
			}
			if load != "" {
				cl := kindconfig.New(kindconfig.Options{Name: load, Logf: progress})
				if err := cl.LoadArchives(archives...); err != nil {
					return failed(err)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&load, "load", "", "kind cluster to load the images into")
	cmd.Flags().BoolVar(&controllers, "controllers", false, "also build source-controller and kustomize-controller (minutes when cold)")
	root.AddCommand(cmd)
}
