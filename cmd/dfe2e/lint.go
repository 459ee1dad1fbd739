package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/dragonfly-e2e/dragonfly-e2e/fixtures"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/static/gitops"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/static/lint"
)

func newLintCmd() *cobra.Command {
	var (
		of     operatorFlags
		format string
		rules  bool
	)
	cmd := &cobra.Command{
		Use:   "lint [path]",
		Short: "Static conformance of a GitOps tree (default: the built-in fixtures tree)",
		Long: "Renders the GitOps repository at path the way Flux would (every Flux Kustomization, in memory,\n" +
			"with the bundled operator materialized for `" + gitops.BundleRef + "` entries) and runs the lint rules.\n" +
			"Exit codes: 0 clean, 1 violations, 2 bad input. `--rules` prints the rule table as Markdown.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if rules {
				_, err := fmt.Fprint(cmd.OutOrStdout(), lint.RulesMarkdown())
				return err
			}
			if format != "human" && format != "json" {
				return badInput(fmt.Errorf("--format %q: use human or json", format))
			}
			if err := of.validate(); err != nil {
				return err
			}
			o := gitops.Options{OperatorVersion: of.version, Source: of.sourceOptions()}
			var (
				tree *gitops.Tree
				err  error
			)
			if len(args) == 0 {
				tree, err = gitops.Render(cmd.Context(), fixtures.Tree(), "built-in fixtures tree", o)
			} else {
				tree, err = gitops.Load(cmd.Context(), args[0], o)
			}
			if err != nil {
				return badInput(err)
			}
			report := lint.Lint(tree, of.version)
			if format == "json" {
				err = report.WriteJSON(cmd.OutOrStdout())
			} else {
				err = report.WriteHuman(cmd.OutOrStdout())
			}
			if err != nil {
				return err
			}
			if len(report.Findings) > 0 {
				return withCode(exitFailed)
			}
			return nil
		},
	}
	of.register(cmd)
	cmd.Flags().StringVar(&format, "format", "human", "output format: human or json")
	cmd.Flags().BoolVar(&rules, "rules", false, "print the rule table (Markdown) and exit")
	return cmd
}

func init() { root.AddCommand(newLintCmd()) }
