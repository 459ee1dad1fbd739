package reports

import (
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
)

// A tiny SVG line-chart renderer: enough for latency-by-percentile and
// over-time plots, drawn in Go so the HTML page needs no script or network.

type series struct {
	name  string
	color string
	dash  bool
	pts   [][2]float64 // x, y in data units
}

type tick struct {
	v     float64
	label string
}

type chart struct {
	title, xlabel, ylabel string
	xlog, ylog            bool
	xticks                []tick // explicit x ticks (the percentile axis); nil: automatic
	yfmt                  func(float64) string
	xfmt                  func(float64) string
	yzero                 bool // linear y starts at 0
	series                []series
}

var palette = []string{"#1f6fb4", "#d62728", "#2a9d2a", "#8a4fc2", "#e07b00", "#7f5539", "#d4509e", "#1a9fb0"}

const (
	chartW, chartH                  = 405, 290
	padL, padR, padT, padB          = 60, 28, 30, 44
	legendLine                      = 16
	plotW, plotH                    = chartW - padL - padR, chartH - padT - padB
	gridColor, axisColor, textColor = "#e3e3e3", "#777", "#222"
	fontCSS                         = `font-family="system-ui,sans-serif"`
	emptyMessage                    = "no data"
)

func (c chart) svg() string {
	// Data range.
	xmin, xmax, ymin, ymax := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	n := 0
	for _, s := range c.series {
		for _, p := range s.pts {
			if (c.xlog && p[0] <= 0) || (c.ylog && p[1] <= 0) || math.IsNaN(p[0]) || math.IsNaN(p[1]) {
				continue
			}
			xmin, xmax = math.Min(xmin, p[0]), math.Max(xmax, p[0])
			ymin, ymax = math.Min(ymin, p[1]), math.Max(ymax, p[1])
			n++
		}
	}
	legendH := legendLine * ((len(c.series) + 1) / 2)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s">`, chartW, chartH+legendH, chartW, chartH+legendH, html.EscapeString(c.title))
	fmt.Fprintf(&b, `<text x="%d" y="18" %s font-size="14" font-weight="600" fill="%s">%s</text>`, padL, fontCSS, textColor, html.EscapeString(c.title))
	if n == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d" %s font-size="13" fill="%s">%s</text></svg>`, chartW/2-30, chartH/2, fontCSS, axisColor, emptyMessage)
		return b.String()
	}
	if len(c.xticks) > 0 {
		xmin = math.Min(xmin, 1) // the axis starts at p=0
		xmax = math.Max(xmax, c.xticks[0].v*10)
	}
	if c.yzero && !c.ylog {
		ymin = math.Min(0, ymin)
	}
	xs := newScale(xmin, xmax, c.xlog, padL, padL+plotW)
	ys := newScale(ymin, ymax, c.ylog, padT+plotH, padT)

	// Grid and ticks.
	xt := c.xticks
	if xt == nil {
		xt = xs.ticks(c.xfmt)
	}
	lastEnd := math.Inf(-1) // right edge of the previous label: crowded labels are left out
	for _, t := range xt {
		if t.v < xs.lo || t.v > xs.hi {
			continue
		}
		x := xs.at(t.v)
		half := 3.3 * float64(len(t.label)) // ~6.6 px per character at 11 px
		if x-half < lastEnd+4 {
			t.label = ""
		} else {
			lastEnd = x + half
		}
		anchor := "middle" // padR leaves room for half a label at the right edge
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s"/>`, x, padT, x, padT+plotH, gridColor)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" %s font-size="11" text-anchor="%s" fill="%s">%s</text>`, x, padT+plotH+15, fontCSS, anchor, textColor, html.EscapeString(t.label))
	}
	for _, t := range ys.ticks(c.yfmt) {
		y := ys.at(t.v)
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s"/>`, padL, y, padL+plotW, y, gridColor)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" %s font-size="11" text-anchor="end" fill="%s">%s</text>`, padL-6, y+4, fontCSS, textColor, html.EscapeString(t.label))
	}
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="%s"/>`, padL, padT, plotW, plotH, axisColor)
	fmt.Fprintf(&b, `<text x="%d" y="%d" %s font-size="12" text-anchor="middle" fill="%s">%s</text>`, padL+plotW/2, padT+plotH+33, fontCSS, textColor, html.EscapeString(c.xlabel))
	fmt.Fprintf(&b, `<text transform="translate(14 %d) rotate(-90)" %s font-size="12" text-anchor="middle" fill="%s">%s</text>`, padT+plotH/2, fontCSS, textColor, html.EscapeString(c.ylabel))

	// Lines.
	for _, s := range c.series {
		var pts []string
		for _, p := range s.pts {
			if (c.xlog && p[0] <= 0) || (c.ylog && p[1] <= 0) || math.IsNaN(p[0]) || math.IsNaN(p[1]) {
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", xs.at(p[0]), ys.at(p[1])))
		}
		dash := ""
		if s.dash {
			dash = ` stroke-dasharray="6 4"`
		}
		if len(pts) == 1 {
			fmt.Fprintf(&b, `<circle cx="%s" r="3" fill="%s"/>`, strings.Replace(pts[0], ",", `" cy="`, 1), s.color)
			continue
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.8"%s points="%s"><title>%s</title></polyline>`, s.color, dash, strings.Join(pts, " "), html.EscapeString(s.name))
	}

	// Legend, two entries a row under the plot.
	for i, s := range c.series {
		x := padL + (i%2)*(plotW/2)
		y := chartH + (i/2)*legendLine + 2
		dash := ""
		if s.dash {
			dash = ` stroke-dasharray="6 4"`
		}
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"%s/>`, x, y, x+22, y, s.color, dash)
		fmt.Fprintf(&b, `<text x="%d" y="%d" %s font-size="11" fill="%s">%s</text>`, x+27, y+4, fontCSS, textColor, html.EscapeString(s.name))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

type scale struct {
	lo, hi   float64 // data range (expanded to nice bounds)
	p0, p1   float64 // pixel range
	log      bool
	llo, lhi float64 // log10 bounds when log
}

func newScale(lo, hi float64, log bool, p0, p1 int) scale {
	s := scale{p0: float64(p0), p1: float64(p1), log: log}
	if log {
		s.llo, s.lhi = math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
		if s.lhi == s.llo {
			s.lhi++
		}
		s.lo, s.hi = math.Pow(10, s.llo), math.Pow(10, s.lhi)
		return s
	}
	if hi == lo {
		hi, lo = hi+1, lo-math.Min(1, math.Abs(lo))
	}
	step := niceStep((hi - lo) / 5)
	s.lo, s.hi = math.Floor(lo/step)*step, math.Ceil(hi/step)*step
	return s
}

func (s scale) at(v float64) float64 {
	var f float64
	if s.log {
		f = (math.Log10(v) - s.llo) / (s.lhi - s.llo)
	} else {
		f = (v - s.lo) / (s.hi - s.lo)
	}
	return s.p0 + f*(s.p1-s.p0)
}

func (s scale) ticks(format func(float64) string) []tick {
	if format == nil {
		format = func(v float64) string { return fmt.Sprintf("%g", v) }
	}
	var out []tick
	if s.log {
		for e := s.llo; e <= s.lhi; e++ {
			v := math.Pow(10, e)
			out = append(out, tick{v, format(v)})
		}
		return out
	}
	step := niceStep((s.hi - s.lo) / 5)
	for i := 0; ; i++ {
		// Multiply rather than accumulate, and round, so labels read 0.6 not 0.6000000000000001.
		v := s.lo + float64(i)*step
		if v > s.hi+step/2 {
			break
		}
		v, _ = strconv.ParseFloat(strconv.FormatFloat(v, 'g', 10, 64), 64)
		out = append(out, tick{v, format(v)})
	}
	return out
}

// niceStep rounds a raw step up to 1, 2 or 5 × 10^k.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// percentileTicks label the 1/(1-p) axis the way HdrHistogram plots do.
var percentileTicks = []tick{{2, "50%"}, {10, "90%"}, {100, "99%"}, {1e3, "99.9%"}, {1e4, "99.99%"}, {1e5, "99.999%"}, {1e6, "99.9999%"}}

// latencyAxis returns the y formatting and whether to use a log axis: log when
// the values span more than two decades (a stall would flatten the rest).
func latencyAxis(series []series) (bool, func(float64) string) {
	lo, hi := math.Inf(1), 0.0
	for _, s := range series {
		for _, p := range s.pts {
			if p[1] > 0 {
				lo, hi = math.Min(lo, p[1]), math.Max(hi, p[1])
			}
		}
	}
	return hi/lo > 100, latencyTick
}

// latencyTick is a compact axis label: "500 µs", "1.5 ms", "100 ms", "1 s".
func latencyTick(us float64) string {
	switch {
	case us >= 1e6:
		return fmt.Sprintf("%.3g s", us/1e6)
	case us >= 1e3:
		return fmt.Sprintf("%.3g ms", us/1e3)
	}
	return fmt.Sprintf("%.3g µs", us)
}
