package main

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dragonfly-e2e/dragonfly-e2e/reports"
)

func init() {
	report := &cobra.Command{
		Use:   "report",
		Short: "Build run reports (JSON, Markdown, JUnit, HTML) and compare a run against a baseline",
	}
	report.AddCommand(reportBuildCmd(), reportCompareCmd())
	root.AddCommand(report)
}

func reportBuildCmd() *cobra.Command {
	var in reports.Inputs
	var out string
	cmd := &cobra.Command{
		Use:   "build --ginkgo <report.json>... --load <result.json|dir>... [--env key=value]... --out <dir>",
		Short: "Write report.json, report.md, junit.xml and report.html from Ginkgo JSON reports and load results",
		Long: `Build one run report from Ginkgo JSON reports (-ginkgo.json-report), loadgen
result files (or directories of them: each *.json is one repetition; runs with
the same workload are grouped into one scenario) and metric files, and write
report.json, report.md, junit.xml and report.html (self-contained, offline)
into --out.

--env records the environment: kubernetes, cluster, operator, operator-image,
dragonfly, dragonfly-image, stand-in (repeatable); any other key is kept as is.

Exit code follows the verdicts: 1 if a spec failed, 3 if nothing failed but a
spec was blocked, 0 otherwise; 2 for bad input.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return badInput(errors.New("--out is required: the directory to write the report files into"))
			}
			r, err := reports.Build(in)
			if err != nil {
				return badInput(inputError(err))
			}
			if err := r.WriteAll(out); err != nil {
				return badInput(fmt.Errorf("--out %s: %v", out, err))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\n%s\nwrote %s/{%s,%s,%s,%s}\n", r.Headline(), r.Summary.Line(), out,
				reports.JSONFile, reports.MarkdownFile, reports.JUnitFile, reports.HTMLFile)
			for _, b := range r.Blocked {
				fmt.Fprintf(cmd.OutOrStdout(), "blocked: %s: %s\n", b.Spec, b.Reason)
			}
			if code := r.Summary.ExitCode(); code != exitOK {
				return withCode(code)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&in.Ginkgo, "ginkgo", nil, "Ginkgo JSON report (-ginkgo.json-report); repeatable")
	f.StringArrayVar(&in.Load, "load", nil, "loadgen result.json, or a directory of them; repeatable")
	f.StringArrayVar(&in.Metrics, "metrics", nil, `JSON file with a metric {"name","unit","better":"lower|higher","values":[...]} or a list; repeatable`)
	f.StringArrayVar(&in.Env, "env", nil, "environment key=value; repeatable")
	f.StringVar(&out, "out", "", "output directory (created if missing)")
	return cmd
}

func reportCompareCmd() *cobra.Command {
	var thresholdsFile string
	cmd := &cobra.Command{
		Use:   "compare <baseline> <run> [--thresholds file.yaml]",
		Short: "Gate a release: judge each metric of a run against a baseline, beyond noise and threshold",
		Long: `Compare a run against a baseline. Each side is a report.json, a loadgen
result.json, or a directory holding a report.json or loadgen result
repetitions (*.json).

Metrics: ops/s, p50, p99, p99.9 of every load scenario, and every free-form
metric (e.g. a failover RTO). A metric REGRESSES only when its median got worse
beyond its threshold AND the difference is outside the noise measured from the
repetitions (two-sided Mann-Whitney U, p < alpha). With too few repetitions for
the test to reach alpha (fewer than 4 vs 4 at alpha 0.05) the threshold alone
decides, and the output says so.

Default thresholds (percent worsening): ops/s 5 (a 5% drop), p50 10, p99 10,
p99.9 15, anything else 10; alpha 0.05. A --thresholds YAML file overrides them:

  alpha: 0.05
  thresholds:
    ops/s: 5
    p99: 10
    "failover RTO": 20

Exit code: 1 on any regression, 0 otherwise, 2 for bad input.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return badInput(fmt.Errorf("compare takes exactly two arguments, <baseline> <run>; got %d", len(args)))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			th := reports.DefaultThresholds()
			if thresholdsFile != "" {
				var err error
				if th, err = reports.ReadThresholds(thresholdsFile); err != nil {
					return badInput(fmt.Errorf("--thresholds: %v", inputError(err)))
				}
			}
			base, err := reports.LoadSide(args[0])
			if err != nil {
				return badInput(fmt.Errorf("baseline: %v", inputError(err)))
			}
			run, err := reports.LoadSide(args[1])
			if err != nil {
				return badInput(fmt.Errorf("run: %v", inputError(err)))
			}
			c, err := reports.Compare(base, run, th)
			if err != nil {
				return badInput(err)
			}
			c.Baseline, c.Run = args[0], args[1]
			c.WriteText(cmd.OutOrStdout())
			if code := c.ExitCode(); code != exitOK {
				return withCode(code)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&thresholdsFile, "thresholds", "", "YAML file of per-metric thresholds (see above)")
	return cmd
}

// inputError adds what to do to a missing-file error.
func inputError(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return fmt.Errorf("%s does not exist: check the path", pe.Path)
		}
	}
	if strings.Contains(err.Error(), "is a directory") {
		return fmt.Errorf("%v: give a file", err)
	}
	return err
}
