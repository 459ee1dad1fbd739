package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// SLO is a latency objective on one corrected percentile: "p99<=2ms".
type SLO struct {
	Percentile string  `json:"percentile"` // one of PercentileKeys
	Bound      float64 `json:"boundMicros"`
}

func (s SLO) String() string {
	return s.Percentile + "<=" + time.Duration(s.Bound*float64(time.Microsecond)).String()
}

var sloRE = regexp.MustCompile(`^(p[0-9.]+)\s*<=\s*(\S+)$`)

// ParseSLO parses "p99<=2ms", "p99.9<=10ms" or "p50<=500us".
func ParseSLO(s string) (SLO, error) {
	m := sloRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return SLO{}, fmt.Errorf("SLO %q is not PERCENTILE<=DURATION (e.g. p99<=2ms, p99.9<=10ms)", s)
	}
	if _, ok := PercentileValue(Percentiles{}, m[1]); !ok {
		return SLO{}, fmt.Errorf("SLO %q: percentile %q is unknown; use %s", s, m[1], strings.Join(PercentileKeys, ", "))
	}
	d, err := time.ParseDuration(m[2])
	if err != nil || d < time.Microsecond || d > time.Hour {
		return SLO{}, fmt.Errorf("SLO %q: bound %q is not a duration in 1µs..1h (e.g. 2ms)", s, m[2])
	}
	return SLO{Percentile: m[1], Bound: float64(d) / float64(time.Microsecond)}, nil
}

// Staircase is how --find-max steps the open-loop rate: StartRate, then
// ×Factor per step, each step measured for StepDuration after StepWarmup.
type Staircase struct {
	StartRate    float64       `json:"startRate"`
	Factor       float64       `json:"factor"`
	StepDuration time.Duration `json:"stepDuration"`
	StepWarmup   time.Duration `json:"stepWarmup"`
	MaxSteps     int           `json:"maxSteps"`
	// MinAchieved is the share of the target rate a step must deliver to
	// count as sustained (a generator or server that cannot keep up queues,
	// and the step then measures the queue, not the rate).
	MinAchieved float64 `json:"minAchieved"`
}

// DefaultStaircase is 1000 req/s ×1.5 per 10 s step, at most 20 steps.
func DefaultStaircase() Staircase {
	return Staircase{StartRate: 1000, Factor: 1.5, StepDuration: 10 * time.Second, StepWarmup: time.Second,
		MaxSteps: 20, MinAchieved: 0.95}
}

// Validate says what to change in an impossible staircase.
func (s Staircase) Validate() error {
	var errs []error
	if !(s.StartRate >= 1 && s.StartRate <= maxScenarioRate) {
		errs = append(errs, fmt.Errorf("start rate must be in 1..%d req/s, got %g", maxScenarioRate, s.StartRate))
	}
	if !(s.Factor > 1 && s.Factor <= 10) {
		errs = append(errs, fmt.Errorf("step factor must be in (1, 10], got %g", s.Factor))
	}
	if s.StepDuration < time.Second {
		errs = append(errs, fmt.Errorf("step duration must be ≥ 1s, got %s", s.StepDuration))
	}
	if s.StepWarmup < 0 {
		errs = append(errs, fmt.Errorf("step warmup must be ≥ 0, got %s", s.StepWarmup))
	}
	if s.MaxSteps < 1 || s.MaxSteps > 100 {
		errs = append(errs, fmt.Errorf("max steps must be in 1..100, got %d", s.MaxSteps))
	}
	if !(s.MinAchieved > 0 && s.MinAchieved <= 1) {
		errs = append(errs, fmt.Errorf("minimum achieved share must be in (0, 1], got %g", s.MinAchieved))
	}
	return errors.Join(errs...)
}

// Rate is the target rate of step i (0-based), rounded to whole requests/s.
func (s Staircase) Rate(i int) float64 {
	return math.Round(s.StartRate * math.Pow(s.Factor, float64(i)))
}

// Why a step did not meet the SLO.
const (
	BrokeSLO    = "slo"    // the corrected percentile exceeded the bound
	BrokeRate   = "rate"   // the achieved rate fell short of the target
	BrokeErrors = "errors" // requests failed
	// BrokeInterrupted marks a step cut short: too short to say it sustained its rate.
	BrokeInterrupted = "interrupted"
)

// KneeStep is one step of the staircase: what it asked, what it measured,
// and the judgement.
type KneeStep struct {
	Step         int         `json:"step"` // 1-based, as printed
	TargetRate   float64     `json:"targetRate"`
	AchievedRate float64     `json:"achievedRate"`
	Latency      Percentiles `json:"latency"` // corrected
	Errors       int64       `json:"errors"`
	Partial      bool        `json:"partial,omitempty"` // interrupted before its duration ended
	Met          bool        `json:"met"`
	// Broke is empty when Met, else BrokeSLO, BrokeRate or BrokeErrors.
	Broke  string `json:"broke,omitempty"`
	Reason string `json:"reason"`
}

// Knee is the outcome of a --find-max run.
type Knee struct {
	SLO       SLO        `json:"slo"`
	Staircase Staircase  `json:"staircase"`
	Steps     []KneeStep `json:"steps"`
	// MaxRate is the highest target rate sustained within the SLO (0: none);
	// MaxStep its step number (0: none).
	MaxRate float64 `json:"maxRate"`
	MaxStep int     `json:"maxStep"`
	// Stop says why the staircase ended.
	Stop string `json:"stop"`
}

// JudgeStep decides whether one step met the SLO at its target rate. Checks
// run in order interrupted, errors, rate, SLO; every failing one is named in
// Reason, and Broke is the first.
func JudgeStep(slo SLO, minAchieved float64, s KneeStep) KneeStep {
	var why []string
	s.Broke = ""
	if s.Partial {
		s.Broke = BrokeInterrupted
		why = append(why, "interrupted before the step's duration ended")
	}
	if s.Errors > 0 {
		if s.Broke == "" {
			s.Broke = BrokeErrors
		}
		why = append(why, fmt.Sprintf("%d requests failed", s.Errors))
	}
	if s.AchievedRate < minAchieved*s.TargetRate {
		if s.Broke == "" {
			s.Broke = BrokeRate
		}
		why = append(why, fmt.Sprintf("achieved %.0f req/s < %.0f%% of target %.0f", s.AchievedRate, 100*minAchieved, s.TargetRate))
	}
	v, _ := PercentileValue(s.Latency, slo.Percentile)
	if v > slo.Bound {
		if s.Broke == "" {
			s.Broke = BrokeSLO
		}
		why = append(why, fmt.Sprintf("%s %.3fms > %.3fms", slo.Percentile, v/1000, slo.Bound/1000))
	}
	s.Met = s.Broke == ""
	if s.Met {
		s.Reason = fmt.Sprintf("met: %s %.3fms ≤ %.3fms at %.0f req/s", slo.Percentile, v/1000, slo.Bound/1000, s.AchievedRate)
	} else {
		s.Reason = "broke: " + strings.Join(why, "; ")
	}
	return s
}

// JudgeKnee judges every step and finds the knee: the highest target rate
// of the steps before the first one that broke. A step after a broken one
// does not count even if it met (the staircase stops at the first break;
// this keeps a noisy lucky step from raising the knee).
func JudgeKnee(slo SLO, st Staircase, steps []KneeStep) Knee {
	k := Knee{SLO: slo, Staircase: st, Steps: make([]KneeStep, len(steps))}
	broken := false
	for i, s := range steps {
		s = JudgeStep(slo, st.MinAchieved, s)
		k.Steps[i] = s
		if broken {
			continue
		}
		if !s.Met {
			broken = true
			k.Stop = fmt.Sprintf("step %d at %.0f req/s %s", s.Step, s.TargetRate, s.Reason)
			continue
		}
		if s.TargetRate > k.MaxRate {
			k.MaxRate, k.MaxStep = s.TargetRate, s.Step
		}
	}
	if !broken {
		k.Stop = fmt.Sprintf("no step broke the SLO within %d steps: the knee is above %.0f req/s", len(steps), k.MaxRate)
	}
	return k
}

// StepWorkload is step i's (0-based) workload of the staircase over base:
// base at the step's open-loop rate for StepDuration after StepWarmup, the
// seed kept; only the first step prefills.
func StepWorkload(base Workload, st Staircase, i int) Workload {
	w := base
	w.Rate = st.Rate(i)
	w.Duration, w.Requests, w.Warmup = st.StepDuration, 0, st.StepWarmup
	w.Prefill = base.Prefill && i == 0
	return w
}

// StepRunner measures one step's workload (a local Run, or one run of the
// in-cluster Job). An interrupted step returns its partial measurement with
// Result.Partial set, or an error when it measured nothing.
type StepRunner func(ctx context.Context, step int, w Workload) (*Measurement, error)

// FindMax runs the staircase against t: each step is base at the step's
// rate for StepDuration (the seed stays base's), until a step breaks or
// MaxSteps ran. It returns the knee step's measurement (the first step's
// when none met) with Result.Knee set. onStep, when set, sees each judged
// step. A cancelled ctx ends the search; the Measurement is then Partial.
func FindMax(ctx context.Context, t Target, base Workload, st Staircase, slo SLO, o Options, onStep func(KneeStep)) (*Measurement, error) {
	return Search(ctx, base, st, slo, func(ctx context.Context, _ int, w Workload) (*Measurement, error) {
		return Run(ctx, t, w, o)
	}, onStep)
}

// Search is FindMax with each step measured by run: step i (1-based) plays
// StepWorkload(base, st, i-1). A step's error ends the search with that
// error, unless ctx was cancelled after a step had been measured: the knee
// of the measured steps is then returned, marked Partial, naming the
// interruption.
func Search(ctx context.Context, base Workload, st Staircase, slo SLO, run StepRunner, onStep func(KneeStep)) (*Measurement, error) {
	if err := st.Validate(); err != nil {
		return nil, &InputError{Err: err}
	}
	var steps []KneeStep
	var ms []*Measurement
	interrupted := ""
	for i := 0; i < st.MaxSteps; i++ {
		w := StepWorkload(base, st, i)
		m, err := run(ctx, i+1, w)
		if err != nil {
			if len(ms) == 0 || ctx.Err() == nil {
				return nil, err
			}
			// Cut before it measured anything: the steps so far stand, but
			// the search did not end on its own.
			interrupted = fmt.Sprintf("interrupted at step %d (%.0f req/s) before it measured", i+1, w.Rate)
			break
		}
		var nerr int64
		for _, v := range m.Result.Errors {
			nerr += v
		}
		s := JudgeStep(slo, st.MinAchieved, KneeStep{Step: i + 1, TargetRate: w.Rate,
			AchievedRate: m.Result.OpsPerSec, Latency: m.Result.Latency, Errors: nerr, Partial: m.Result.Partial})
		steps = append(steps, s)
		ms = append(ms, m)
		if onStep != nil {
			onStep(s)
		}
		if m.Result.Partial {
			interrupted = "interrupted at step " + strconv.Itoa(i+1)
			break
		}
		if !s.Met {
			break
		}
	}
	k := JudgeKnee(slo, st, steps)
	best := ms[0]
	if k.MaxStep > 0 {
		best = ms[k.MaxStep-1]
	}
	if interrupted != "" {
		best.Result.Partial = true
		k.Stop = interrupted + "; " + k.Stop
	}
	best.Result.Knee = &k
	return best, nil
}
