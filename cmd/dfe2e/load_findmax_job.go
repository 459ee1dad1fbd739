package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dragonfly-e2e/dragonfly-e2e/loadgen"
)

// findMax searches p's staircase with every step one run of the Indexed
// Job (parallelPods pods, the step's rate split over them): each step's
// merged histogram is judged against the SLO exactly as a local --find-max
// step, and its count is checked against the server's before the next
// step starts. dir gets the knee step's merged files (result.json with
// every step under "knee") and its pods' own files under dir/pods/.
func (e jobEnv) findMax(ctx context.Context, p loadPlay, dir string) (*loadgen.Result, error) {
	runs := map[int]parallelRun{}
	t0 := time.Now()
	step := func(ctx context.Context, i int, w loadgen.Workload) (*loadgen.Measurement, error) {
		e.logf("%sfind-max step %d at %.0f req/s", p.prefix(), i, w.Rate)
		run, err := e.runParallel(ctx, p, w)
		if err != nil {
			if run.interrupted && run.m != nil {
				runs[i] = run // partial: judged interrupted, and the search ends
				return run.m, nil
			}
			return nil, stepError(i, w.Rate, err)
		}
		runs[i] = run
		r := run.m.Result
		e.logf("%sstep %d: %d pods measured %d requests (merged histogram %d) = the server's %d GET+SET − %d prefill/warmup; %s",
			p.prefix(), i, run.n, r.Requests, run.m.Latency.TotalCount(), r.Parallel.Server.Delta(), r.UnmeasuredRequests,
			time.Since(run.t0).Round(time.Second))
		return run.m, nil
	}
	onStep := func(s loadgen.KneeStep) {
		e.logf("%sstep %d at %.0f req/s: %s", p.prefix(), s.Step, s.TargetRate, s.Reason)
	}
	m, err := loadgen.Search(ctx, p.Workload, e.f.stair, p.SLO, step, onStep)
	if err != nil {
		if loadgen.IsBadInput(err) {
			return nil, badInput(fmt.Errorf("%s%w", p.prefix(), err))
		}
		return nil, err
	}
	k := m.Result.Knee
	shown := 1
	if k.MaxStep > 0 {
		shown = k.MaxStep
	}
	if err := writeParallel(m, runs[shown].pods, dir); err != nil {
		return nil, failed(fmt.Errorf("writing results: %w", err))
	}
	if err := e.printRun(m, p, dir); err != nil {
		return nil, err
	}
	fmt.Fprintf(e.stderr, "dfe2e: %swrote step %d's merged results (%d pods) with the staircase of %d steps to %s (%s in all)\n",
		p.prefix(), shown, runs[shown].n, len(k.Steps), dir, time.Since(t0).Round(time.Second))
	if m.Result.Partial {
		fmt.Fprintln(e.stderr, "dfe2e: interrupted: the results above are partial (result.json has \"partial\": true); the load Job was deleted")
		return nil, withCode(exitInterrupted)
	}
	return &m.Result, nil
}

// stepError names the find-max step in err, keeping its exit code.
func stepError(i int, rate float64, err error) error {
	var xe *exitError
	if errors.As(err, &xe) && xe.err != nil {
		return &exitError{code: xe.code, err: fmt.Errorf("find-max step %d at %.0f req/s: %w", i, rate, xe.err)}
	}
	return err
}
