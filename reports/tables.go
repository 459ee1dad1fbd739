package reports

import (
	"fmt"
	"html"
	"strings"
)

// The Markdown summary and the HTML page show the same tables for flakes,
// environment, run steps, blocked specs and metrics: they are built once
// here and each writer renders them in its own markup. (Suites and load
// differ in substance between the two: the page nests step lists and
// charts, the summary stays one line per row.)

// cell is one table cell, its text unescaped.
type cell struct {
	text string
	// status marks a shown status: a coloured pill on the page, a symbol
	// and the word in Markdown.
	status bool
	num    bool // a figure: right-aligned on the page
	head   bool // the row's heading
}

func text(s string) cell               { return cell{text: s} }
func num(format string, a ...any) cell { return cell{text: fmt.Sprintf(format, a...), num: true} }
func statusCell[S ~string](s S) cell   { return cell{text: string(s), status: true} }
func headCell(s string) cell           { return cell{text: s, head: true} }
func row(cells ...cell) []cell         { return cells }

// section is a titled table; a nil header means the rows head themselves.
type section struct {
	title  string
	header []string
	rows   [][]cell
}

// tables are the shared tables of a report; one without rows is not shown.
type tables struct {
	flakes, environment, steps, blocked, metrics section
}

func (r *Report) tables() tables {
	var t tables
	t.flakes = section{title: "Flaky — passed and failed across repeated runs (counted as failed)",
		header: []string{"Spec", "Passed", "Failed", "Flake rate", "Last failure"}}
	for _, f := range r.Flakes {
		t.flakes.rows = append(t.flakes.rows, row(text(f.Spec), num("%d", f.Runs.Passed+f.Runs.StandIn), num("%d", f.Runs.Failed), num("%.0f%%", 100*f.Rate()), text(f.Reason)))
	}
	t.environment = section{title: "Environment"}
	for _, kv := range r.Environment.Rows() {
		t.environment.rows = append(t.environment.rows, row(headCell(kv[0]), text(kv[1])))
	}
	t.steps = section{title: "Run steps", header: []string{"Verdict", "Step", "Seconds", "Detail"}}
	for _, st := range r.Steps {
		t.steps.rows = append(t.steps.rows, row(statusCell(st.Status), text(st.Name), num("%.1f", st.Seconds), text(orDash(st.Detail))))
	}
	t.blocked = section{title: "Blocked — could not run here (not passed)", header: []string{"Spec", "Why it is blocked", "Remedy"}}
	for _, bl := range r.Blocked {
		t.blocked.rows = append(t.blocked.rows, row(text(bl.Spec), text(bl.Reason), text(orDash(bl.Remedy))))
	}
	t.metrics = section{title: "Metrics", header: []string{"Metric", "Median", "Values", "Better"}}
	for _, m := range r.Metrics {
		var vals []string
		for _, v := range m.Values {
			vals = append(vals, FormatValue(v, m.Unit))
		}
		t.metrics.rows = append(t.metrics.rows, row(text(m.Name), num("%s", FormatValue(median(m.Values), m.Unit)), text(strings.Join(vals, ", ")), text(string(m.Better))))
	}
	return t
}

// html writes the section as <h2> and <table>, one <tr> per row.
func (s section) html(b *strings.Builder) {
	if len(s.rows) == 0 {
		return
	}
	fmt.Fprintf(b, "<h2>%s</h2>\n<table>", s.title)
	if s.header != nil {
		b.WriteString("<tr>")
		for _, h := range s.header {
			fmt.Fprintf(b, "<th>%s</th>", html.EscapeString(h))
		}
		b.WriteString("</tr>")
	}
	for _, r := range s.rows {
		b.WriteString("<tr>")
		for _, c := range r {
			e := html.EscapeString(c.text)
			switch {
			case c.status:
				fmt.Fprintf(b, `<td><span class="pill s-%s">%s</span></td>`, e, e)
			case c.head:
				fmt.Fprintf(b, "<th>%s</th>", e)
			case c.num:
				fmt.Fprintf(b, `<td class="num">%s</td>`, e)
			default:
				fmt.Fprintf(b, "<td>%s</td>", e)
			}
		}
		b.WriteString("</tr>")
	}
	b.WriteString("</table>\n")
}

// markdown writes the section as a ## heading and a pipe table.
func (s section) markdown(b *strings.Builder) {
	if len(s.rows) == 0 {
		return
	}
	fmt.Fprintf(b, "## %s\n\n", s.title)
	cols := len(s.header)
	if s.header == nil {
		cols = len(s.rows[0])
		b.WriteString("|" + strings.Repeat(" |", cols) + "\n")
	} else {
		b.WriteString("| " + strings.Join(s.header, " | ") + " |\n")
	}
	b.WriteString("|" + strings.Repeat("---|", cols) + "\n")
	for _, r := range s.rows {
		cells := make([]string, len(r))
		for i, c := range r {
			cells[i] = mdCell(c.text)
			if c.status {
				cells[i] = statusMark[c.text]
			}
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	b.WriteString("\n")
}
