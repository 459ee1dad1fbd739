package loadgen

import (
	"strings"
	"testing"
	"time"
)

func TestBuiltinScenariosParseAndMapOntoWorkloads(t *testing.T) {
	want := map[string]func(t *testing.T, sc Scenario){
		"cache": func(t *testing.T, sc Scenario) {
			w := sc.Workload
			if w.GetRatio != 9 || w.SetRatio != 1 || w.KeyDist != DistZipf || !w.Prefill || w.OpenLoop() {
				t.Errorf("cache: want closed-loop 9:1 zipf prefilled, got %+v", w)
			}
		},
		"write-heavy": func(t *testing.T, sc Scenario) {
			if w := sc.Workload; w.SetRatio <= w.GetRatio {
				t.Errorf("write-heavy: want more SETs than GETs, got %d:%d", w.GetRatio, w.SetRatio)
			}
		},
		"large-values": func(t *testing.T, sc Scenario) {
			if sc.Workload.ValueSize != 16<<10 {
				t.Errorf("large-values: want 16384 B values, got %d", sc.Workload.ValueSize)
			}
		},
		"deep-pipeline": func(t *testing.T, sc Scenario) {
			if sc.Workload.Pipeline < 16 {
				t.Errorf("deep-pipeline: want a pipeline ≥ 16, got %d", sc.Workload.Pipeline)
			}
		},
		"open-loop": func(t *testing.T, sc Scenario) {
			if !sc.Workload.OpenLoop() || sc.Bounds["p99"] != 2000 || sc.Bounds["p99.9"] != 10000 {
				t.Errorf("open-loop: want a rate and bounds p99 2ms, p99.9 10ms, got rate %g bounds %v", sc.Workload.Rate, sc.Bounds)
			}
		},
	}
	names := BuiltinScenarios()
	if strings.Join(names, ",") != "cache,deep-pipeline,large-values,open-loop,write-heavy" {
		t.Fatalf("built-in scenarios = %v", names)
	}
	for _, n := range names {
		sc, err := BuiltinScenario(n)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if sc.Name != n || sc.Workload.Duration <= 0 {
			t.Errorf("%s: name %q duration %s", n, sc.Name, sc.Workload.Duration)
		}
		want[n](t, sc)
	}
	if _, err := BuiltinScenario("nope"); err == nil || !strings.Contains(err.Error(), "built-in scenarios: cache") {
		t.Errorf("unknown scenario: want the list of built-ins, got %v", err)
	}
}

func TestParseScenarioMapsEveryField(t *testing.T) {
	sc, err := ParseScenario("mine.yaml", []byte(`
name: mine
description: all fields
connections: 7
pipeline: 3
ratio: "2:5"
keyspace: 1234
keyDist: sequential
valueSize: 99
ttl: 30s
prefill: true
warmup: 1s
requests: 5000
rate: 250.5
seed: 42
bounds: {p50: 500us, p99.99: 1s}
`))
	if err != nil {
		t.Fatal(err)
	}
	want := Workload{Connections: 7, Pipeline: 3, GetRatio: 2, SetRatio: 5, Keyspace: 1234, KeyDist: DistSequential,
		ValueSize: 99, TTL: 30 * time.Second, Prefill: true, Warmup: time.Second, Requests: 5000, Rate: 250.5, Seed: 42}
	if sc.Workload != want {
		t.Errorf("workload\n got %+v\nwant %+v", sc.Workload, want)
	}
	if sc.Name != "mine" || sc.Description != "all fields" || sc.Bounds["p50"] != 500 || sc.Bounds["p99.99"] != 1e6 {
		t.Errorf("name/description/bounds: %+v", sc)
	}
	sc, err = ParseScenario("min.yaml", []byte("name: min\nrequests: 10\n"))
	if err != nil || sc.Workload != (Workload{Pipeline: 1, Requests: 10}) {
		t.Errorf("a minimal scenario takes the CLI's pipeline 1 and leaves the rest to WithDefaults: %+v %v", sc.Workload, err)
	}
}

// Each case plants one defect; the error must name the file and the field.
func TestParseScenarioRejectsWithFileAndField(t *testing.T) {
	const ok = "name: x\nduration: 5s\n"
	cases := []struct{ name, yaml, field, want string }{
		{"unknown field", ok + "conections: 5\n", "conections", "unknown field"},
		{"connections string", ok + "connections: many\n", "connections", "want an integer"},
		{"connections zero", ok + "connections: 0\n", "connections", "out of range"},
		{"pipeline float", ok + "pipeline: 1.5\n", "pipeline", "want an integer"},
		{"pipeline too deep", ok + "pipeline: 100000\n", "pipeline", "out of range"},
		{"ratio garbage", ok + "ratio: half\n", "ratio", "not GET:SET"},
		{"ratio number", ok + "ratio: 9\n", "ratio", "want a string"},
		{"keyspace negative", ok + "keyspace: -1\n", "keyspace", "out of range"},
		{"keyDist unknown", ok + "keyDist: pareto\n", "keyDist", `"pareto" is unknown`},
		{"valueSize too big", ok + "valueSize: 2000000\n", "valueSize", "out of range"},
		{"ttl not a duration", ok + "ttl: 5\n", "ttl", "want a duration"},
		{"ttl sub-ms", ok + "ttl: 10us\n", "ttl", "out of range"},
		{"prefill string", ok + "prefill: \"yes\"\n", "prefill", "want true or false"},
		{"warmup negative", ok + "warmup: -1s\n", "warmup", "out of range"},
		{"duration zero", "name: x\nduration: 0s\n", "duration", "out of range"},
		{"duration and requests", ok + "requests: 10\n", "duration", "exactly one of duration and requests"},
		{"requests zero", "name: x\nrequests: 0\n", "requests", "out of range"},
		{"rate string", ok + "rate: fast\n", "rate", "want a number"},
		{"rate huge", ok + "rate: 1e12\n", "rate", "out of range"},
		{"seed zero", ok + "seed: 0\n", "seed", "out of range"},
		{"bounds list", ok + "rate: 10\nbounds: [p99]\n", "bounds", "want a mapping"},
		{"bounds unknown percentile", ok + "rate: 10\nbounds: {p98: 2ms}\n", "bounds", `"p98" is unknown`},
		{"bounds bad duration", ok + "rate: 10\nbounds: {p99: 2}\n", "bounds", "p99: want a duration"},
		{"bounds closed loop", ok + "bounds: {p99: 2ms}\n", "bounds", "need an open loop"},
		{"name missing", "duration: 5s\n", "name", "missing"},
		{"name upper case", "name: Cache\nduration: 5s\n", "name", "lower-case"},
		{"field twice", ok + "seed: 1\nseed: 2\n", "seed", "given twice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseScenario("my.yaml", []byte(c.yaml))
			if err == nil {
				t.Fatalf("accepted:\n%s", c.yaml)
			}
			msg := err.Error()
			for _, w := range []string{"my.yaml", `"` + c.field + `"`, c.want} {
				if !strings.Contains(msg, w) {
					t.Errorf("error does not contain %q:\n%s", w, msg)
				}
			}
		})
	}
	if _, err := ParseScenario("my.yaml", nil); err == nil || !strings.Contains(err.Error(), "my.yaml: is empty") {
		t.Errorf("an empty file: %v", err)
	}
	if _, err := ParseScenario("my.yaml", []byte("name: [\n")); err == nil || !strings.Contains(err.Error(), "my.yaml: not YAML") {
		t.Errorf("broken YAML: %v", err)
	}
	if _, err := ParseScenario("my.yaml", []byte("- a\n")); err == nil || !strings.Contains(err.Error(), "must be a mapping") {
		t.Errorf("a list: %v", err)
	}
	if _, err := ParseScenario("my.yaml", []byte("name: a\nduration: 5s\n---\nname: b\n")); err == nil {
		t.Error("two documents accepted")
	}
}

func TestCheckBoundsNamesScenarioPercentileMeasuredAndBound(t *testing.T) {
	sc := Scenario{Name: "open-loop", Bounds: map[string]float64{"p99": 2000, "p99.9": 10000}}
	if v := sc.CheckBounds(Result{Latency: Percentiles{P99: 2000, P999: 9000}}); len(v) != 0 {
		t.Errorf("at the bound is within it, got %v", v)
	}
	v := sc.CheckBounds(Result{Latency: Percentiles{P99: 1500, P999: 12500}})
	if len(v) != 1 || v[0].String() != "scenario open-loop: p99.9 12.500ms > bound 10.000ms" {
		t.Errorf("want the p99.9 violation, got %v", v)
	}
}
