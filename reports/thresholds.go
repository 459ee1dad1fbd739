package reports

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Thresholds say how much worse a metric may get before compare calls it a
// regression (if the change is also outside noise).
//
// File format (YAML; every key optional):
//
//	alpha: 0.05            # significance level of the Mann-Whitney test
//	thresholds:            # percent worsening allowed; the direction comes from the metric
//	  ops/s: 5             # throughput may drop 5%
//	  p50: 10
//	  p99: 10              # p99 may rise 10%
//	  p99.9: 15
//	  default: 10          # any metric not named here
//	  "failover RTO": 20   # a free-form metric, by name (or a load metric's full name)
type Thresholds struct {
	Alpha   float64            `yaml:"alpha"`
	Percent map[string]float64 `yaml:"thresholds"`
}

// DefaultThresholds are used for everything a thresholds file does not set.
func DefaultThresholds() Thresholds {
	return Thresholds{
		Alpha: 0.05,
		Percent: map[string]float64{
			"ops/s":   5,
			"p50":     10,
			"p99":     10,
			"p99.9":   15,
			"default": 10,
		},
	}
}

// ReadThresholds reads a thresholds file over the defaults. Unknown keys,
// negative or non-numeric percentages and an alpha outside (0, 0.5] are
// errors that name the file and the key.
func ReadThresholds(path string) (Thresholds, error) {
	t := DefaultThresholds()
	b, err := os.ReadFile(path)
	if err != nil {
		return t, err
	}
	var f struct {
		Alpha   *float64           `yaml:"alpha"`
		Percent map[string]float64 `yaml:"thresholds"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return t, fmt.Errorf("%s: %v (expected keys: alpha, thresholds: {<metric>: <percent>})", path, err)
	}
	if f.Alpha != nil {
		if !(*f.Alpha > 0 && *f.Alpha <= 0.5) {
			return t, fmt.Errorf("%s: alpha %g is outside (0, 0.5]; use e.g. 0.05", path, *f.Alpha)
		}
		t.Alpha = *f.Alpha
	}
	keys := make([]string, 0, len(f.Percent))
	for k := range f.Percent {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := f.Percent[k]
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return t, fmt.Errorf("%s: threshold %q is %g; give the allowed worsening as a non-negative percent (the direction comes from the metric: ops/s 5 means a 5%% drop)", path, k, v)
		}
		t.Percent[k] = v
	}
	return t, nil
}

// For returns the threshold in percent for m: by full name, then by kind, then default.
func (t Thresholds) For(m Metric) (float64, string) {
	if v, ok := t.Percent[m.Name]; ok {
		return v, m.Name
	}
	if m.Kind != "" {
		if v, ok := t.Percent[m.Kind]; ok {
			return v, m.Kind
		}
	}
	if v, ok := t.Percent["default"]; ok {
		return v, "default"
	}
	return 10, "built-in default"
}

// Describe lists the thresholds for the output header.
func (t Thresholds) Describe() string {
	keys := make([]string, 0, len(t.Percent))
	for k := range t.Percent {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %g%%", k, t.Percent[k]))
	}
	return fmt.Sprintf("alpha %g; thresholds: %s", t.Alpha, strings.Join(parts, ", "))
}
