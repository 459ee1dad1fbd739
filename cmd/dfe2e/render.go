package main

import (
	"cmp"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/static/gitops"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
)

// operatorSourceUsage is --operator-source's help on every command that has it.
var operatorSourceUsage = "offline upstream manifest: a file, or a directory holding <version>/" + operator.ManifestFile + " (default $" + config.EnvOperatorSource + ", then the cache, then the pinned URL)"

// operatorFlags are the flags that choose and locate the bundled operator.
type operatorFlags struct {
	version string
	source  string
}

func (f *operatorFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.version, "operator-version", cmp.Or(config.FromEnv().OperatorVersion, operator.DefaultVersion),
		fmt.Sprintf("bundled operator version (%v; env %s)", operator.Versions(), config.EnvOperatorVersion))
	cmd.Flags().StringVar(&f.source, "operator-source", "", operatorSourceUsage)
}

// validate rejects an unknown version before any work starts.
func (f *operatorFlags) validate() error {
	if _, err := operator.Lookup(f.version); err != nil {
		return badInput(fmt.Errorf("--operator-version: %w", err))
	}
	return nil
}

// sourceOptions are the configuration's operator source and cache, with
// --operator-source, when given, in place of $DFE2E_OPERATOR_SOURCE.
func (f *operatorFlags) sourceOptions() operator.SourceOptions {
	o := gitops.OperatorSource(config.FromEnv())
	if f.source != "" {
		o.Override = f.source
	}
	return o
}

func newRenderCmd() *cobra.Command {
	var of operatorFlags
	cmd := &cobra.Command{
		Use:   "render",
		Short: "Print the bundled operator, relocated to the database namespace, as YAML",
		Long: "Fetches (or reads from --operator-source) the pinned upstream dragonfly-operator manifest,\n" +
			"verifies its sha256, relocates it from " + operator.UpstreamNamespace + " to " + operator.Namespace + "\n" +
			"in-process with kustomize, and prints the result.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := of.validate(); err != nil {
				return err
			}
			b, err := operator.Render(cmd.Context(), of.version, of.sourceOptions())
			if err != nil {
				return badInput(err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "# dragonfly-operator %s from %s, relocated to %s\n", b.Version, b.Origin, operator.Namespace)
			_, err = cmd.OutOrStdout().Write(b.YAML)
			return err
		},
	}
	of.register(cmd)
	return cmd
}

func init() { root.AddCommand(newRenderCmd()) }
