package loadgen

import (
	"errors"
	"fmt"
	"math"
)

// Share is pod i's part (0-based) of w played by n pods at once: its own
// seed (w.Seed + i), its share of the connections and, in open loop, of the
// rate, and in count mode of the requests. Remainders go to the lowest
// indices, so the parts always sum to w's totals. Only pod 0 prefills: the
// keyspace is written once, not n times. CheckShare says whether w splits.
func Share(w Workload, n, i int) Workload {
	w = w.WithDefaults()
	base := w.Seed
	w.Connections = splitInt(int64(w.Connections), n, i).toInt()
	if w.Requests > 0 {
		w.Requests = int64(splitInt(w.Requests, n, i))
	}
	if w.Rate > 0 {
		w.Rate = float64(splitInt(rateMilli(w.Rate), n, i)) / 1000
	}
	w.Seed = base + int64(i)
	w.Prefill = w.Prefill && i == 0
	return w
}

// CheckShare rejects a workload that n pods cannot share: each pod needs a
// connection, a request (count mode) and a rate above zero (open loop);
// the rate is split in thousandths of a request per second.
func CheckShare(w Workload, n int) error {
	w = w.WithDefaults()
	var errs []error
	if n < 1 {
		return fmt.Errorf("--parallel %d: give the number of load pods, ≥ 1", n)
	}
	if w.Connections < n {
		errs = append(errs, fmt.Errorf("--parallel %d is more than the %d connections: each pod needs at least one; lower --parallel or raise --connections", n, w.Connections))
	}
	if w.Requests > 0 && w.Requests < int64(n) {
		errs = append(errs, fmt.Errorf("--requests %d is fewer than the %d pods: each pod needs at least one request; raise --requests or lower --parallel", w.Requests, n))
	}
	if w.Rate > 0 {
		m := rateMilli(w.Rate)
		if math.Abs(float64(m)/1000-w.Rate) > 1e-9*math.Max(1, w.Rate) {
			errs = append(errs, fmt.Errorf("--rate %g has more than 3 decimals: the pods' rates are split in 0.001 req/s steps; round it", w.Rate))
		}
		if m < int64(n) {
			errs = append(errs, fmt.Errorf("--rate %g split over %d pods leaves a pod without rate: raise --rate or lower --parallel", w.Rate, n))
		}
	}
	if w.Seed > math.MaxInt64-int64(n) {
		errs = append(errs, fmt.Errorf("--seed %d + pod index overflows: use a smaller seed", w.Seed))
	}
	return errors.Join(errs...)
}

type part int64

func (p part) toInt() int { return int(p) }

// splitInt is part i of total split n ways, the remainder to the lowest indices.
func splitInt(total int64, n, i int) part {
	q, r := total/int64(n), total%int64(n)
	if int64(i) < r {
		q++
	}
	return part(q)
}

func rateMilli(rate float64) int64 { return int64(math.Round(rate * 1000)) }
