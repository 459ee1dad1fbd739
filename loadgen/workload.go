// Package loadgen generates RESP load against a Redis-protocol server
// (Dragonfly, or redis-server as a stand-in) and records every request's
// latency in HdrHistogram.
package loadgen

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Workload describes one load run. Zero values are documented per field;
// Validate (in validate.go) rejects impossible combinations.
type Workload struct {
	Connections int           `json:"connections"` // concurrent connections (default 50)
	Pipeline    int           `json:"pipeline"`    // requests in flight per connection (default 1; 0 is invalid)
	GetRatio    int           `json:"getRatio"`    // GET share of GET:SET (default 1:1 → GetRatio 1, SetRatio 1)
	SetRatio    int           `json:"setRatio"`
	Keyspace    int64         `json:"keyspace"`           // number of distinct keys (default 100000)
	KeyDist     string        `json:"keyDist"`            // uniform | zipf | sequential (default uniform)
	ValueSize   int           `json:"valueSize"`          // bytes per SET value (default 64)
	TTL         time.Duration `json:"ttl,omitempty"`      // optional TTL on SET (0: none)
	Prefill     bool          `json:"prefill"`            // write every key once before measuring
	Warmup      time.Duration `json:"warmup"`             // unmeasured phase before the measured one
	Duration    time.Duration `json:"duration,omitempty"` // measured phase length (xor Requests)
	Requests    int64         `json:"requests,omitempty"` // measured request count (xor Duration)
	Rate        float64       `json:"rate,omitempty"`     // open loop: target requests/s over all connections (0: closed loop)
	Seed        int64         `json:"seed"`               // fixed seed for key and op choice (default 1)
}

// ParseWorkload decodes a Workload as encoding/json writes it: the form the
// in-cluster Job hands its workload to the pod in. Unknown fields and
// trailing data are errors, so a misspelt field or one from a newer dfe2e is
// not silently dropped from the run.
func ParseWorkload(data []byte) (Workload, error) {
	var w Workload
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return Workload{}, fmt.Errorf("workload JSON: %w", err)
	}
	if dec.More() {
		return Workload{}, errors.New("workload JSON: more than one value")
	}
	return w, nil
}
