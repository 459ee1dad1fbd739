package loadgen

import "time"

// Result is what one load run measured. It is the JSON a run writes
// (result.json) and what reports/ reads; keep fields additive.
type Result struct {
	// Tool names the generator ("dfe2e-loadgen") or, for anchor runs, the anchor tool ("redis-benchmark").
	Tool string `json:"tool"`
	// Target says what was loaded, e.g. "127.0.0.1:6379" or "Job database/loadgen-test-cache".
	Target string `json:"target"`
	// ServerInfo is the server's own identification (INFO server: redis_version / dragonfly_version).
	ServerInfo string `json:"serverInfo,omitempty"`
	// StandIn is set when the target is a stand-in for Dragonfly (e.g. "redis-server, unmanaged — not Dragonfly").
	StandIn string `json:"standIn,omitempty"`
	// Scenario is the named scenario this run played (dfe2e load --scenario);
	// reports group and compare runs by it when set.
	Scenario string    `json:"scenario,omitempty"`
	Workload Workload  `json:"workload"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	// Partial is true when the run was interrupted (Ctrl-C) and holds only what was measured until then.
	Partial bool `json:"partial"`

	Requests  int64   `json:"requests"`
	Gets      int64   `json:"gets"`
	Sets      int64   `json:"sets"`
	OpsPerSec float64 `json:"opsPerSec"`
	// UnmeasuredRequests are the GET/SET requests the server answered
	// outside the measured phase (prefill, warmup): with Requests, what the
	// server's own command counts must show.
	UnmeasuredRequests int64 `json:"unmeasuredRequests,omitempty"`
	// Errors counts failed requests by kind (e.g. "timeout", "conn_reset", "server_error:ERR ..."); never dropped.
	Errors map[string]int64 `json:"errors,omitempty"`

	// Latency is measured from each request's intended send time in open-loop
	// mode (coordinated-omission-corrected), from its actual send time in closed loop.
	Latency Percentiles `json:"latency"`
	// Uncorrected is the latency from actual send time (open loop only).
	Uncorrected *Percentiles `json:"uncorrected,omitempty"`
	// Histogram is the merged latency histogram, HdrHistogram V2 compressed, base64 (as in .hlog lines).
	Histogram            string `json:"histogram"`
	UncorrectedHistogram string `json:"uncorrectedHistogram,omitempty"`

	// Timeline has one entry per second of the measured phase.
	Timeline []Interval `json:"timeline"`

	// ClientCPUSeconds is user+system CPU time the generator process spent in the measured phase.
	ClientCPUSeconds float64 `json:"clientCpuSeconds"`

	// Knee is set by a --find-max run: every open-loop step it took and the
	// highest rate that met the SLO. The run's own fields are that step's.
	Knee *Knee `json:"knee,omitempty"`

	// Parallel is set for a run played by several pods at once
	// (dfe2e load --job --parallel N): each pod's part and the server's own
	// count it was checked against. The run's own fields are the merge.
	Parallel *Parallel `json:"parallel,omitempty"`
}

// Parallel describes a distributed run.
type Parallel struct {
	// Pods is the number of pods the run was split over.
	Pods int `json:"pods"`
	// Parts are the pods' own results, by index; a pod that ended without
	// results has Failed set and no counts.
	Parts []PodPart `json:"parts"`
	// Server is the cross-check against the server's INFO commandstats
	// (nil when it could not be taken, e.g. the run failed first).
	Server *ServerCount `json:"server,omitempty"`
}

// PodPart is one pod's share of a distributed run and what it measured.
type PodPart struct {
	Index       int     `json:"index"`
	Pod         string  `json:"pod"`
	Node        string  `json:"node,omitempty"` // where it ran: the topology spread's outcome
	Seed        int64   `json:"seed"`
	Connections int     `json:"connections"`
	Rate        float64 `json:"rate,omitempty"`
	Requests    int64   `json:"requests"`
	Gets        int64   `json:"gets"`
	Sets        int64   `json:"sets"`
	Unmeasured  int64   `json:"unmeasuredRequests,omitempty"`
	Errors      int64   `json:"errors"`
	Partial     bool    `json:"partial"`
	// Failed says why the pod has no (or only partial) results.
	Failed string `json:"failed,omitempty"`
}

// ServerCount is the server's own count of the commands the workload sends
// (INFO commandstats, calls of GET and SET), before and after the run.
type ServerCount struct {
	Commands []string `json:"commands"`
	Before   int64    `json:"before"`
	After    int64    `json:"after"`
}

// Delta is the commands the server counted during the run.
func (s ServerCount) Delta() int64 { return s.After - s.Before }

// Percentiles are latencies in microseconds.
type Percentiles struct {
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p999"`
	P9999 float64 `json:"p9999"`
	Max   float64 `json:"max"`
	Mean  float64 `json:"mean"`
	Count int64   `json:"count"`
}

// Interval is one second of the timeline.
type Interval struct {
	// Second counts from the start of the measured phase (0-based).
	Second int     `json:"second"`
	Ops    int64   `json:"ops"`
	Errors int64   `json:"errors"`
	P50    float64 `json:"p50"`
	P99    float64 `json:"p99"`
	Max    float64 `json:"max"`
}
