package loadgen

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Scenario is a named, reviewed workload: what a load run plays when asked
// for --scenario NAME. Set records which workload fields the file gave, so a
// flag the user passes can override exactly those and nothing else changes.
type Scenario struct {
	Name        string
	Description string
	// File is where the scenario came from (embedded "scenarios/cache.yaml" or a user path).
	File     string
	Workload Workload
	// Bounds are latency ceilings (µs) by percentile key (p50, p90, p99, p99.9, p99.99);
	// a run above any of them fails.
	Bounds map[string]float64
}

//go:embed scenarios/*.yaml
var scenarioFS embed.FS

// scenarioNameRE keeps names usable as directory names and in report titles.
var scenarioNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// Field bounds. They are generous but finite so that a typo (a rate of 1e12,
// 100000 connections) is caught before it reaches a server.
const (
	maxScenarioConnections = 10000
	maxScenarioPipeline    = 4096
	maxScenarioRate        = 10_000_000
)

// BuiltinScenarios lists the embedded scenario names, sorted.
func BuiltinScenarios() []string {
	ents, _ := scenarioFS.ReadDir("scenarios")
	var out []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".yaml"); ok {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// BuiltinScenario parses the embedded scenario name.
func BuiltinScenario(name string) (Scenario, error) {
	file := path.Join("scenarios", name+".yaml")
	data, err := scenarioFS.ReadFile(file)
	if err != nil {
		return Scenario{}, fmt.Errorf("scenario %q does not exist; built-in scenarios: %s (or give --scenario-file PATH)",
			name, strings.Join(BuiltinScenarios(), ", "))
	}
	sc, err := ParseScenario(file, data)
	if err != nil {
		return sc, err
	}
	if sc.Name != name {
		return sc, fmt.Errorf("scenario file %s: field \"name\": %q does not match the file name", file, sc.Name)
	}
	return sc, nil
}

// ScenarioFromFile reads and parses a user's scenario file.
func ScenarioFromFile(p string) (Scenario, error) {
	data, err := os.ReadFile(p)
	if err != nil {
		return Scenario{}, fmt.Errorf("scenario file: %w", err)
	}
	return ParseScenario(filepath.Clean(p), data)
}

// ScenarioField is one field of the scenario schema.
type scenarioField struct {
	name  string
	apply func(sc *Scenario, n *yaml.Node) error
}

// ParseScenario parses a scenario YAML strictly: an unknown field, a value
// of the wrong type or out of range is an error naming file and field.
func ParseScenario(file string, data []byte) (Scenario, error) {
	sc := Scenario{File: file}
	fail := func(field string, n *yaml.Node, err error) error {
		if n != nil {
			return fmt.Errorf("scenario file %s: line %d: field %q: %w", file, n.Line, field, err)
		}
		return fmt.Errorf("scenario file %s: field %q: %w", file, field, err)
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return sc, fmt.Errorf("scenario file %s: is empty; give at least name: and duration: (or requests:)", file)
	} else if err != nil {
		return sc, fmt.Errorf("scenario file %s: not YAML: %w", file, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return sc, fmt.Errorf("scenario file %s: holds more than one YAML document; give one scenario per file", file)
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return sc, fmt.Errorf("scenario file %s: must be a mapping of fields (name:, ratio:, duration: …)", file)
	}
	fields := scenarioSchema()
	byName := map[string]scenarioField{}
	var known []string
	for _, f := range fields {
		byName[f.name] = f
		known = append(known, f.name)
	}
	seen := map[string]bool{}
	m := doc.Content[0]
	var errs []error
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		f, ok := byName[k.Value]
		if !ok {
			errs = append(errs, fail(k.Value, k, fmt.Errorf("unknown field; known fields: %s", strings.Join(known, ", "))))
			continue
		}
		if seen[k.Value] {
			errs = append(errs, fail(k.Value, k, errors.New("given twice")))
			continue
		}
		seen[k.Value] = true
		if err := f.apply(&sc, v); err != nil {
			errs = append(errs, fail(k.Value, v, err))
		}
	}
	if !seen["name"] {
		errs = append(errs, fail("name", nil, errors.New("missing: every scenario has a name (lower-case letters, digits, '-')")))
	}
	w := sc.Workload
	if seen["duration"] == seen["requests"] {
		errs = append(errs, fail("duration", nil, errors.New("give exactly one of duration and requests")))
	}
	if len(sc.Bounds) > 0 && w.Rate <= 0 {
		errs = append(errs, fail("bounds", nil, errors.New("latency bounds need an open loop (rate:), so latency counts from each request's intended send time")))
	}
	if err := errors.Join(errs...); err != nil {
		return sc, err
	}
	if !seen["pipeline"] {
		// The CLI's default; Workload leaves 0 invalid so a JSON workload must say it.
		sc.Workload.Pipeline = 1
	}
	if err := sc.Workload.WithDefaults().Validate(); err != nil {
		return sc, fmt.Errorf("scenario file %s: %w", file, err)
	}
	return sc, nil
}

func scenarioSchema() []scenarioField {
	w := func(sc *Scenario) *Workload { return &sc.Workload }
	return []scenarioField{
		{"name", func(sc *Scenario, n *yaml.Node) error {
			s, err := yamlString(n)
			if err == nil && !scenarioNameRE.MatchString(s) {
				err = fmt.Errorf("%q: use lower-case letters, digits and '-' (at most 63)", s)
			}
			sc.Name = s
			return err
		}},
		{"description", func(sc *Scenario, n *yaml.Node) (err error) {
			sc.Description, err = yamlString(n)
			return err
		}},
		{"connections", func(sc *Scenario, n *yaml.Node) error {
			v, err := yamlInt(n, 1, maxScenarioConnections)
			w(sc).Connections = int(v)
			return err
		}},
		{"pipeline", func(sc *Scenario, n *yaml.Node) error {
			v, err := yamlInt(n, 1, maxScenarioPipeline)
			w(sc).Pipeline = int(v)
			return err
		}},
		{"ratio", func(sc *Scenario, n *yaml.Node) error {
			s, err := yamlString(n)
			if err != nil {
				return fmt.Errorf("%w (quote it: \"9:1\")", err)
			}
			w(sc).GetRatio, w(sc).SetRatio, err = ParseRatio(s)
			return err
		}},
		{"keyspace", func(sc *Scenario, n *yaml.Node) (err error) {
			w(sc).Keyspace, err = yamlInt(n, 1, MaxKeyspace)
			return err
		}},
		{"keyDist", func(sc *Scenario, n *yaml.Node) error {
			s, err := yamlString(n)
			if err != nil {
				return err
			}
			switch s {
			case DistUniform, DistZipf, DistSequential:
			default:
				return fmt.Errorf("%q is unknown; use uniform, zipf or sequential", s)
			}
			w(sc).KeyDist = s
			return nil
		}},
		{"valueSize", func(sc *Scenario, n *yaml.Node) error {
			v, err := yamlInt(n, 1, MaxValueSize)
			w(sc).ValueSize = int(v)
			return err
		}},
		{"ttl", func(sc *Scenario, n *yaml.Node) (err error) {
			w(sc).TTL, err = yamlDuration(n, time.Millisecond, 0)
			return err
		}},
		{"prefill", func(sc *Scenario, n *yaml.Node) (err error) {
			w(sc).Prefill, err = yamlBool(n)
			return err
		}},
		{"warmup", func(sc *Scenario, n *yaml.Node) (err error) {
			w(sc).Warmup, err = yamlDuration(n, 0, 24*time.Hour)
			return err
		}},
		{"duration", func(sc *Scenario, n *yaml.Node) (err error) {
			w(sc).Duration, err = yamlDuration(n, time.Second, 24*time.Hour)
			return err
		}},
		{"requests", func(sc *Scenario, n *yaml.Node) (err error) {
			w(sc).Requests, err = yamlInt(n, 1, math.MaxInt64)
			return err
		}},
		{"rate", func(sc *Scenario, n *yaml.Node) (err error) {
			w(sc).Rate, err = yamlFloat(n, 1, maxScenarioRate)
			return err
		}},
		{"seed", func(sc *Scenario, n *yaml.Node) (err error) {
			w(sc).Seed, err = yamlInt(n, 1, math.MaxInt64)
			return err
		}},
		{"bounds", func(sc *Scenario, n *yaml.Node) error {
			if n.Kind != yaml.MappingNode {
				return fmt.Errorf("want a mapping of percentile to latency (p99: 2ms), got %s", nodeDesc(n))
			}
			sc.Bounds = map[string]float64{}
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if _, ok := PercentileValue(Percentiles{}, k.Value); !ok {
					return fmt.Errorf("percentile %q is unknown; use %s", k.Value, strings.Join(PercentileKeys, ", "))
				}
				d, err := yamlDuration(v, time.Microsecond, time.Hour)
				if err != nil {
					return fmt.Errorf("%s: %w", k.Value, err)
				}
				sc.Bounds[k.Value] = float64(d.Microseconds())
			}
			if len(sc.Bounds) == 0 {
				return errors.New("empty: give at least one percentile bound or drop the field")
			}
			return nil
		}},
	}
}

func nodeDesc(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%s %q", strings.TrimPrefix(n.ShortTag(), "!!"), n.Value)
	}
	return "something else"
}

func yamlString(n *yaml.Node) (string, error) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		return "", fmt.Errorf("want a string, got %s", nodeDesc(n))
	}
	return n.Value, nil
}

func yamlBool(n *yaml.Node) (bool, error) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		return false, fmt.Errorf("want true or false, got %s", nodeDesc(n))
	}
	var b bool
	err := n.Decode(&b)
	return b, err
}

func yamlInt(n *yaml.Node, lo, hi int64) (int64, error) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		return 0, fmt.Errorf("want an integer, got %s", nodeDesc(n))
	}
	var v int64
	if err := n.Decode(&v); err != nil {
		return 0, fmt.Errorf("want an integer in %d..%d, got %q", lo, hi, n.Value)
	}
	if v < lo || v > hi {
		return v, fmt.Errorf("%d is out of range %d..%d", v, lo, hi)
	}
	return v, nil
}

func yamlFloat(n *yaml.Node, lo, hi float64) (float64, error) {
	if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!float") {
		return 0, fmt.Errorf("want a number, got %s", nodeDesc(n))
	}
	var v float64
	if err := n.Decode(&v); err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("want a finite number, got %q", n.Value)
	}
	if v < lo || v > hi {
		return v, fmt.Errorf("%g is out of range %g..%g", v, lo, hi)
	}
	return v, nil
}

// yamlDuration parses a Go duration string; hi 0 means no upper bound. A
// positive duration below lo is out of range (0 is allowed when lo is 0 or
// the field documents 0 as "none", as ttl does).
func yamlDuration(n *yaml.Node, lo, hi time.Duration) (time.Duration, error) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		return 0, fmt.Errorf("want a duration such as 10s or 2ms, got %s", nodeDesc(n))
	}
	d, err := time.ParseDuration(n.Value)
	if err != nil {
		return 0, fmt.Errorf("want a duration such as 10s or 2ms, got %q", n.Value)
	}
	if d < 0 || (d > 0 && d < lo) || (d == 0 && lo > 0 && hi != 0) || (hi > 0 && d > hi) {
		upper := "∞"
		if hi > 0 {
			upper = hi.String()
		}
		return d, fmt.Errorf("%s is out of range %s..%s", d, lo, upper)
	}
	return d, nil
}

// PercentileKeys are the percentile names bounds and SLOs accept.
var PercentileKeys = []string{"p50", "p90", "p99", "p99.9", "p99.99"}

// PercentileValue returns the percentile named key (µs) from p.
func PercentileValue(p Percentiles, key string) (float64, bool) {
	switch key {
	case "p50":
		return p.P50, true
	case "p90":
		return p.P90, true
	case "p99":
		return p.P99, true
	case "p99.9":
		return p.P999, true
	case "p99.99":
		return p.P9999, true
	}
	return 0, false
}

// BoundViolation is one latency bound a run broke.
type BoundViolation struct {
	Scenario, Percentile string
	Measured, Bound      float64 // µs
}

func (v BoundViolation) String() string {
	return fmt.Sprintf("scenario %s: %s %.3fms > bound %.3fms", v.Scenario, v.Percentile, v.Measured/1000, v.Bound/1000)
}

// CheckBounds returns the bounds r broke, in PercentileKeys order. Bounds
// judge the corrected latency (what Result.Latency holds in open loop).
func (sc Scenario) CheckBounds(r Result) []BoundViolation {
	var out []BoundViolation
	for _, k := range PercentileKeys {
		b, ok := sc.Bounds[k]
		if !ok {
			continue
		}
		v, _ := PercentileValue(r.Latency, k)
		if v > b {
			out = append(out, BoundViolation{Scenario: sc.Name, Percentile: k, Measured: v, Bound: b})
		}
	}
	return out
}
