package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

func TestOutputsRoundTrip(t *testing.T) {
	s := startRedis(t, "")
	var progress []Interval
	m, err := Run(context.Background(), Target{Addr: s.Addr}, Workload{
		Connections: 3, Pipeline: 2, Keyspace: 100, Duration: 2 * time.Second, Rate: 600,
	}, Options{Progress: func(iv Interval) { progress = append(progress, iv) }})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files, err := m.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 6 {
		t.Errorf("open loop wrote %d files, want 6: %v", len(files), files)
	}
	r := m.Result
	if len(r.Timeline) != 2 || len(progress) != 2 {
		t.Errorf("timeline has %d seconds, progress was called %d times; want 2 and 2", len(r.Timeline), len(progress))
	}

	var back Result
	raw, _ := os.ReadFile(filepath.Join(dir, FileResult))
	if err := json.Unmarshal(raw, &back); err != nil || back.Requests != r.Requests || back.Uncorrected == nil {
		t.Fatalf("result.json does not round-trip: %v", err)
	}

	for _, name := range []string{FileHlog, FileHlogUncorr} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		lr := hdr.NewHistogramLogReader(f)
		var total int64
		lines := 0
		for {
			h, err := lr.NextIntervalHistogram()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if h == nil {
				break
			}
			total += h.TotalCount()
			lines++
		}
		f.Close()
		if lines != 2 || total != r.Requests {
			t.Errorf("%s: %d intervals holding %d values, want 2 holding %d", name, lines, total, r.Requests)
		}
	}
	hgrm, _ := os.ReadFile(filepath.Join(dir, FileHgrm))
	if !bytes.Contains(hgrm, []byte("Value\tPercentile\tTotalCount")) || !bytes.Contains(hgrm, []byte("#[Max")) {
		t.Errorf("latency.hgrm is not a percentile distribution:\n%s", hgrm)
	}
	table, _ := os.ReadFile(filepath.Join(dir, FileSummary))
	for _, want := range []string{"ops/s", "p99.99", "corrected", "uncorrected", "errors   0", "open loop at 600"} {
		if !strings.Contains(string(table), want) {
			t.Errorf("summary.txt lacks %q:\n%s", want, table)
		}
	}
}
