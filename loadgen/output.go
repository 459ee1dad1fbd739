package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Files a run writes into its output directory.
const (
	FileResult         = "result.json"
	FileHgrm           = "latency.hgrm"             // percentile distribution, ms
	FileHgrmUncorr     = "latency-uncorrected.hgrm" // open loop only
	FileHlog           = "latency.hlog"             // V2 compressed interval log, one line per second
	FileHlogUncorr     = "latency-uncorrected.hlog" // open loop only
	FileSummary        = "summary.txt"              // the human table
	hgrmTicksPerHalf   = 5
	hgrmValueScaleToMs = 1000.0 // histogram values are µs; .hgrm and .hlog speak ms
)

// WriteFiles writes result.json, the .hgrm and .hlog files and summary.txt
// into dir (created if missing) and returns the paths written.
func (m *Measurement) WriteFiles(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating output directory: %w", err)
	}
	var written []string
	write := func(name string, fn func(io.Writer) error) error {
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		if err != nil {
			return err
		}
		if err := fn(f); err != nil {
			f.Close()
			return fmt.Errorf("writing %s: %w", p, err)
		}
		if err := f.Close(); err != nil {
			return err
		}
		written = append(written, p)
		return nil
	}
	steps := []struct {
		name string
		fn   func(io.Writer) error
	}{
		{FileResult, m.WriteJSON},
		{FileHgrm, func(w io.Writer) error { return WriteHgrm(w, m.Latency) }},
		{FileHlog, func(w io.Writer) error { return m.WriteHlog(w, false) }},
		{FileSummary, m.WriteTable},
	}
	if m.Uncorrected != nil {
		steps = append(steps,
			struct {
				name string
				fn   func(io.Writer) error
			}{FileHgrmUncorr, func(w io.Writer) error { return WriteHgrm(w, m.Uncorrected) }},
			struct {
				name string
				fn   func(io.Writer) error
			}{FileHlogUncorr, func(w io.Writer) error { return m.WriteHlog(w, true) }})
	}
	for _, s := range steps {
		if err := write(s.name, s.fn); err != nil {
			return written, err
		}
	}
	return written, nil
}

// WriteJSON writes the Result as indented JSON.
func (m *Measurement) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(m.Result)
}

// WriteHgrm writes HdrHistogram's percentile distribution text, values in ms.
func WriteHgrm(w io.Writer, h *hdr.Histogram) error {
	_, err := h.PercentilesPrint(w, hgrmTicksPerHalf, hgrmValueScaleToMs)
	return err
}

// WriteHlog writes the per-second interval histograms as an HdrHistogram V2
// log (readable by HistogramLogProcessor / HdrHistogram's log readers). Max
// values are in ms; the encoded histograms hold µs.
func (m *Measurement) WriteHlog(w io.Writer, uncorrected bool) error {
	lw := hdr.NewHistogramLogWriter(w)
	startMs := m.Result.Start.UnixMilli()
	kind := "corrected latency (from intended send time)"
	if !m.Result.Workload.OpenLoop() {
		kind = "latency (from send time)"
	}
	if uncorrected {
		kind = "uncorrected latency (from actual send time)"
	}
	for _, err := range []error{
		lw.OutputComment(fmt.Sprintf("[%s %s against %s; values in µs]", m.Result.Tool, kind, m.Result.Target)),
		lw.OutputLogFormatVersion(),
		lw.OutputStartTime(startMs),
		lw.OutputBaseTime(startMs),
		lw.OutputLegend(),
	} {
		if err != nil {
			return err
		}
	}
	for _, iv := range m.Intervals {
		enc := iv.Latency
		if uncorrected {
			enc = iv.Uncorrected
		}
		if _, err := fmt.Fprintf(w, "%.3f,%.3f,%.3f,%s\n", iv.StartSec, iv.LengthSec, iv.MaxMs, enc); err != nil {
			return err
		}
	}
	return nil
}

// WriteTable writes the human summary: throughput, percentiles, errors.
func (m *Measurement) WriteTable(w io.Writer) error {
	r := m.Result
	wl := r.Workload
	mode := "closed loop (max throughput)"
	if wl.OpenLoop() {
		mode = fmt.Sprintf("open loop at %g req/s (latency from intended send time)", wl.Rate)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "target   %s", r.Target)
	if r.ServerInfo != "" {
		fmt.Fprintf(&b, "  [%s]", r.ServerInfo)
	}
	if r.StandIn != "" {
		fmt.Fprintf(&b, "  stand-in: %s", r.StandIn)
	}
	fmt.Fprintf(&b, "\nworkload %d conns × pipeline %d, GET:SET %d:%d, %d keys %s, %d B values",
		wl.Connections, wl.Pipeline, wl.GetRatio, wl.SetRatio, wl.Keyspace, wl.KeyDist, wl.ValueSize)
	if wl.TTL > 0 {
		fmt.Fprintf(&b, ", ttl %s", wl.TTL)
	}
	fmt.Fprintf(&b, ", seed %d\nmode     %s\n", wl.Seed, mode)
	el := r.End.Sub(r.Start).Seconds()
	fmt.Fprintf(&b, "result   %d requests (GET %d, SET %d) in %.2fs = %.0f ops/s, client CPU %.2fs",
		r.Requests, r.Gets, r.Sets, el, r.OpsPerSec, r.ClientCPUSeconds)
	if r.Partial {
		b.WriteString("  [PARTIAL: interrupted]")
	}
	if wl.OpenLoop() && !r.Partial && r.OpsPerSec < 0.9*wl.Rate {
		fmt.Fprintf(&b, "\nwarning  target rate %g/s not reached (%.0f/s): the server or this generator is saturated; corrected latency includes the queueing", wl.Rate, r.OpsPerSec)
	}
	b.WriteString("\n\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "latency (ms)\tp50\tp90\tp99\tp99.9\tp99.99\tmax\tcount\t")
	row := func(name string, p Percentiles) {
		ms := func(v float64) string { return fmt.Sprintf("%.3f", v/1000) }
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t\n", name, ms(p.P50), ms(p.P90), ms(p.P99), ms(p.P999), ms(p.P9999), ms(p.Max), p.Count)
	}
	if wl.OpenLoop() {
		row("corrected", r.Latency)
		if r.Uncorrected != nil {
			row("uncorrected", *r.Uncorrected)
		}
	} else {
		row("latency", r.Latency)
	}
	tw.Flush()
	var total int64
	kinds := make([]string, 0, len(r.Errors))
	for k, v := range r.Errors {
		kinds = append(kinds, k)
		total += v
	}
	sort.Strings(kinds)
	fmt.Fprintf(&b, "\nerrors   %d", total)
	for _, k := range kinds {
		fmt.Fprintf(&b, "\n  %-40s %d", k, r.Errors[k])
	}
	b.WriteString("\n")
	if pr := r.Parallel; pr != nil {
		writeParallel(&b, *pr, r)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeParallel adds the pods of a distributed run and the server's own
// count it was checked against.
func writeParallel(b *strings.Builder, pr Parallel, r Result) {
	fmt.Fprintf(b, "\npods     %d started together; merged from their raw histograms\n", pr.Pods)
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  index\tpod\tnode\tseed\tconns\trate/s\trequests\tunmeasured\terrors\tstate")
	var sum int64
	nodes := map[string]bool{}
	for _, p := range pr.Parts {
		state := "done"
		switch {
		case p.Failed != "":
			state = "FAILED: " + p.Failed
		case p.Partial:
			state = "partial"
		}
		rate := "-"
		if p.Rate > 0 {
			rate = fmt.Sprintf("%g", p.Rate)
		}
		node := p.Node
		if node == "" {
			node = "-"
		}
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%d\t%d\t%s\t%d\t%d\t%d\t%s\n", p.Index, p.Pod, node, p.Seed, p.Connections, rate, p.Requests, p.Unmeasured, p.Errors, state)
		sum += p.Requests
		nodes[p.Node] = true
	}
	tw.Flush()
	if delete(nodes, ""); len(nodes) > 0 {
		fmt.Fprintf(b, "  on %d node(s)\n", len(nodes))
	}
	fmt.Fprintf(b, "  sum of the pods: %d requests; merged histogram: %d\n", sum, r.Latency.Count)
	if s := pr.Server; s != nil {
		var errs int64
		for _, v := range r.Errors {
			errs += v
		}
		want := r.Latency.Count + r.UnmeasuredRequests
		verdict := "matches"
		if d := s.Delta(); d < want || d > want+errs {
			verdict = "MISMATCH with"
		}
		fmt.Fprintf(b, "server   %s calls %d → %d: %d, %s the pods' %d (%d measured + %d prefill/warmup; %d failed in flight)\n",
			strings.Join(s.Commands, "+"), s.Before, s.After, s.Delta(), verdict, want, r.Latency.Count, r.UnmeasuredRequests, errs)
	} else {
		b.WriteString("server   no command-count cross-check (the run did not finish)\n")
	}
}
