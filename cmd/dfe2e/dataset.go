package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/dataset"
)

type datasetFlags struct {
	addr, password, prefix string
	allowRemote, jsonOut   bool
	allowExtra             bool
	keys, maxNames         int
	seed                   int64
}

func init() { root.AddCommand(newDatasetCmd()) }

// newDatasetCmd builds `dfe2e dataset write|verify` (fresh flags each time, for tests).
func newDatasetCmd() *cobra.Command {
	f := &datasetFlags{}
	cmd := &cobra.Command{
		Use:   "dataset",
		Short: "Write a reproducible dataset (strings, hashes, lists, sets, sorted sets, some with TTLs) and verify it key by key",
		Long: `dataset write puts N keys generated from a seed into a RESP server; dataset
verify reads them back and compares type, content checksum and expiry, then
looks for keys under the dataset prefix that were never written. Missing,
changed and extra keys are named (lists capped by --max-names, counts exact).

Exit codes: 0 clean, 1 keys lost/changed (or extra, unless --allow-extra),
2 bad input or unreachable server.`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.addr, "addr", "127.0.0.1:6379", "server host:port (loopback or a port-forward)")
	pf.StringVar(&f.password, "password", "", "password (default: $"+config.EnvRedisPassword+")")
	pf.BoolVar(&f.allowRemote, "allow-remote", false, "allow a non-loopback address (inside the cluster)")
	pf.IntVar(&f.keys, "keys", dataset.DefaultKeys, "number of keys")
	pf.Int64Var(&f.seed, "seed", 1, "seed: the same seed and --keys always mean the same data")
	pf.StringVar(&f.prefix, "prefix", dataset.DefaultPrefix, "key prefix of the dataset")
	write := &cobra.Command{
		Use:   "write",
		Short: "Write (overwrite) the dataset",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDatasetWrite(cmd, f)
		},
	}
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Verify the dataset key by key; exit 1 when keys are lost",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDatasetVerify(cmd, f)
		},
	}
	verify.Flags().IntVar(&f.maxNames, "max-names", 20, "key names listed per category")
	verify.Flags().BoolVar(&f.jsonOut, "json", false, "print the report as JSON")
	verify.Flags().BoolVar(&f.allowExtra, "allow-extra", false, "do not fail on extra keys under the prefix (still reported)")
	cmd.AddCommand(write, verify)
	return cmd
}

func (f *datasetFlags) spec() (dataset.Spec, error) {
	s := dataset.Spec{Keys: f.keys, Seed: f.seed, Prefix: f.prefix}
	if f.prefix == "" {
		return s, errors.New("--prefix must not be empty: the verifier looks for extra keys under it")
	}
	if f.maxNames < 0 {
		return s, fmt.Errorf("--max-names %d: want ≥ 0", f.maxNames)
	}
	if err := checkAddr(f.addr, f.allowRemote); err != nil {
		return s, err
	}
	if f.password == "" {
		f.password = config.FromEnv().RedisPassword
	}
	return s, s.Validate()
}

// connect checks the flags and connects to the server; either failing is
// bad input (exit 2).
func (f *datasetFlags) connect(cmd *cobra.Command) (dataset.Spec, *redis.Client, error) {
	s, err := f.spec()
	if err != nil {
		return s, nil, badInput(err)
	}
	c, err := dataset.Connect(cmd.Context(), f.addr, f.password, 4)
	if err != nil {
		return s, nil, badInput(err)
	}
	return s, c, nil
}

func runDatasetWrite(cmd *cobra.Command, f *datasetFlags) error {
	s, c, err := f.connect(cmd)
	if err != nil {
		return err
	}
	defer c.Close()
	w, err := dataset.Write(cmd.Context(), c, s, dataset.Options{})
	if err != nil {
		return failed(err)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "wrote %d keys (seed %d, prefix %s) to %s in %s\n", w.Keys, s.Seed, f.prefix, f.addr, w.Duration.Round(time.Millisecond))
	return nil
}

func runDatasetVerify(cmd *cobra.Command, f *datasetFlags) error {
	s, c, err := f.connect(cmd)
	if err != nil {
		return err
	}
	defer c.Close()
	r, err := dataset.Verify(cmd.Context(), c, s, dataset.Options{MaxNames: f.maxNames})
	if err != nil {
		return failed(err)
	}
	printDatasetReport(cmd.OutOrStdout(), r, f.jsonOut)
	if r.Lost() > 0 || (r.ExtraCount > 0 && !f.allowExtra) {
		return withCode(exitFailed)
	}
	return nil
}

func printDatasetReport(w io.Writer, r *dataset.Report, asJSON bool) {
	if asJSON {
		b, _ := json.MarshalIndent(r, "", "  ")
		fmt.Fprintln(w, string(b))
		return
	}
	verdict := "CLEAN"
	if !r.Clean() {
		verdict = "NOT CLEAN"
	}
	fmt.Fprintf(w, "%s: %s (verified in %s)\n", verdict, r, r.Duration.Round(time.Millisecond))
}
