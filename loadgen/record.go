package loadgen

import (
	"math"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram geometry: 1 µs .. 60 s, 3 significant digits. Values are µs.
const (
	histLowest  = 1
	histHighest = 60_000_000
	histSigFigs = 3
)

// NewHistogram returns an empty latency histogram with the loader's geometry.
func NewHistogram() *hdr.Histogram { return hdr.New(histLowest, histHighest, histSigFigs) }

var histPool = sync.Pool{New: func() any { return NewHistogram() }}

func getHist() *hdr.Histogram { return histPool.Get().(*hdr.Histogram) }
func putHist(h *hdr.Histogram) {
	if h != nil {
		h.Reset()
		histPool.Put(h)
	}
}

// micros converts a latency to whole µs within the histogram's range.
func micros(d time.Duration) int64 {
	v := int64(d / time.Microsecond)
	if v < 0 {
		return 0
	}
	if v > histHighest {
		return histHighest
	}
	return v
}

// secondReport is one connection's measurements for one second of the
// measured phase. upTo promises no further reports below that second.
type secondReport struct {
	worker   int
	sec      int
	upTo     int
	lat, unc *hdr.Histogram
	ops      int64
	errs     int64
}

// recorder is one connection's per-second histograms (no locks on the hot path).
type recorder struct {
	agg    *aggregator
	id     int
	start  time.Time // measured phase start
	maxSec int       // last timeline second in duration mode, else -1
	open   bool
	sec    int
	lat    *hdr.Histogram
	unc    *hdr.Histogram
	ops    int64
	errs   int64
}

func newRecorder(agg *aggregator, id int, start time.Time, maxSec int, open bool) *recorder {
	r := &recorder{agg: agg, id: id, start: start, maxSec: maxSec, open: open, lat: getHist()}
	if open {
		r.unc = getHist()
	}
	return r
}

// at moves the recorder to the second containing now, handing finished seconds to the aggregator.
func (r *recorder) at(now time.Time) {
	s := int(now.Sub(r.start) / time.Second)
	if s < 0 {
		s = 0
	}
	if r.maxSec >= 0 && s > r.maxSec {
		s = r.maxSec
	}
	if s != r.sec {
		r.flush(s)
	}
}

func (r *recorder) flush(upTo int) {
	rep := secondReport{worker: r.id, sec: r.sec, upTo: upTo, lat: r.lat, unc: r.unc, ops: r.ops, errs: r.errs}
	r.agg.in <- rep
	r.sec, r.ops, r.errs = upTo, 0, 0
	r.lat = getHist()
	if r.open {
		r.unc = getHist()
	}
}

func (r *recorder) done() { r.flush(math.MaxInt) }

// record adds n replies of the same latency (replies parsed from one read).
func (r *recorder) record(lat time.Duration, n int64) {
	_ = r.lat.RecordValues(micros(lat), n) // micros clamps into range: cannot fail
	r.ops += n
}

func (r *recorder) recordUncorrected(lat time.Duration, n int64) {
	_ = r.unc.RecordValues(micros(lat), n)
}

// aggregator merges the connections' seconds into the timeline, the interval
// log and the totals. A second is final once every connection has moved past it.
type aggregator struct {
	in        chan secondReport
	open      bool
	start     time.Time
	progress  func(Interval)
	cur       []int
	slots     map[int]*slot
	finalized int
	minSecs   int

	total, totalUnc *hdr.Histogram
	timeline        []Interval
	log             []LoggedInterval
	done            chan struct{}
}

type slot struct {
	lat, unc  *hdr.Histogram
	ops, errs int64
}

// LoggedInterval is one second of the V2 histogram log.
type LoggedInterval struct {
	StartSec    float64 // seconds since the measured phase started
	LengthSec   float64
	MaxMs       float64
	Latency     string // V2 compressed, base64
	Uncorrected string // open loop only
}

func newAggregator(workers int, start time.Time, open bool, minSecs int, progress func(Interval)) *aggregator {
	a := &aggregator{
		in: make(chan secondReport, 4*workers), open: open, start: start, progress: progress,
		cur: make([]int, workers), slots: map[int]*slot{}, minSecs: minSecs,
		total: NewHistogram(), done: make(chan struct{}),
	}
	if open {
		a.totalUnc = NewHistogram()
	}
	go a.loop()
	return a
}

func (a *aggregator) loop() {
	defer close(a.done)
	for rep := range a.in {
		s := a.slots[rep.sec]
		if s == nil {
			s = &slot{lat: getHist()}
			if a.open {
				s.unc = getHist()
			}
			a.slots[rep.sec] = s
		}
		s.lat.Merge(rep.lat)
		putHist(rep.lat)
		if a.open {
			s.unc.Merge(rep.unc)
			putHist(rep.unc)
		}
		s.ops += rep.ops
		s.errs += rep.errs
		a.cur[rep.worker] = rep.upTo
		low := math.MaxInt
		for _, c := range a.cur {
			low = min(low, c)
		}
		if low == math.MaxInt { // every connection finished
			last := a.minSecs - 1
			for sec := range a.slots {
				last = max(last, sec)
			}
			low = last + 1
		}
		for a.finalized < low {
			a.finalize(a.finalized)
			a.finalized++
		}
	}
}

func (a *aggregator) finalize(sec int) {
	s := a.slots[sec]
	delete(a.slots, sec)
	if s == nil {
		s = &slot{lat: getHist()}
		if a.open {
			s.unc = getHist()
		}
	}
	iv := Interval{
		Second: sec, Ops: s.ops, Errors: s.errs,
		P50: float64(s.lat.ValueAtQuantile(50)), P99: float64(s.lat.ValueAtQuantile(99)), Max: float64(s.lat.Max()),
	}
	a.timeline = append(a.timeline, iv)
	enc, _ := s.lat.EncodeV2()
	li := LoggedInterval{StartSec: float64(sec), LengthSec: 1, MaxMs: float64(s.lat.Max()) / 1000, Latency: string(enc)}
	a.total.Merge(s.lat)
	putHist(s.lat)
	if a.open {
		encU, _ := s.unc.EncodeV2()
		li.Uncorrected = string(encU)
		a.totalUnc.Merge(s.unc)
		putHist(s.unc)
	}
	a.log = append(a.log, li)
	if a.progress != nil {
		a.progress(iv)
	}
}

// wait closes the input and waits for the last seconds to be finalized.
func (a *aggregator) wait() {
	close(a.in)
	<-a.done
}
