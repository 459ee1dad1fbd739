package reports

import (
	"encoding/xml"
	"fmt"
	"os"
	"strconv"

	"github.com/dragonfly-e2e/dragonfly-e2e/verdict"
)

// JUnit XML. Blocked specs are <skipped message="blocked: …"/> (JUnit has no
// fourth state) with status="blocked" on the testcase, and every testsuite
// carries a "blocked" property, so a CI dashboard that only counts skips still
// cannot mistake them for passes and a reader can count them apart.

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Blocked  int          `xml:"blocked,attr"`
	StandIn  int          `xml:"standIn,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Status    string        `xml:"status,attr"`
	Time      string        `xml:"time,attr"`
	Skipped   *junitMessage `xml:"skipped"`
	Failure   *junitFailure `xml:"failure"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",chardata"`
}

func secs(d interface{ Seconds() float64 }) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 3, 64)
}

// JUnit renders the report's suites as JUnit XML.
func (r *Report) JUnit() ([]byte, error) {
	r.Finalize()
	out := junitSuites{Name: "dragonfly-e2e"}
	var total float64
	for _, s := range r.Suites {
		js := junitSuite{Name: s.Name, Time: secs(s.Duration)}
		if !s.Start.IsZero() {
			js.Timestamp = s.Start.UTC().Format("2006-01-02T15:04:05")
		}
		total += s.Duration.Seconds()
		var sum verdict.Summary
		for _, sp := range s.Specs {
			sum.AddVerdict(sp.Verdict)
			c := junitCase{Name: sp.FullName(), Classname: s.Name, Status: string(sp.Verdict.Status), Time: secs(sp.Duration)}
			switch sp.Verdict.Status {
			case verdict.Failed:
				c.Failure = &junitFailure{Message: sp.Verdict.Reason, Type: sp.State, Body: sp.Verdict.Reason}
			case verdict.Blocked:
				c.Skipped = &junitMessage{Message: verdict.BlockedMessage(sp.Verdict.Reason, sp.Verdict.Remedy)}
			case verdict.Skipped:
				c.Skipped = &junitMessage{Message: sp.Verdict.Reason}
			}
			if sp.Verdict.StandIn != "" {
				c.SystemOut = "stand-in used: " + sp.Verdict.StandIn
				if sp.Verdict.Status == verdict.Passed {
					// A dashboard counts a case without <skipped> as passed.
					c.Status = "stand-in"
					c.Skipped = &junitMessage{Message: StandInPassMessage(sp.Verdict.StandIn)}
				}
			}
			js.Cases = append(js.Cases, c)
		}
		js.Tests = len(s.Specs)
		js.Failures = sum.Failed
		js.Skipped = sum.Skipped + sum.Blocked + sum.StandIn
		js.Properties = []junitProperty{
			{Name: "passed", Value: strconv.Itoa(sum.Passed)},
			{Name: "passed-on-stand-in", Value: strconv.Itoa(sum.StandIn)},
			{Name: "blocked", Value: strconv.Itoa(sum.Blocked)},
			{Name: "skipped-not-blocked", Value: strconv.Itoa(sum.Skipped)},
		}
		for _, st := range r.Environment.StandIns {
			js.Properties = append(js.Properties, junitProperty{Name: "stand-in", Value: st})
		}
		out.Tests += js.Tests
		out.Failures += js.Failures
		out.Skipped += js.Skipped
		out.Blocked += sum.Blocked
		out.StandIn += sum.StandIn
		out.Suites = append(out.Suites, js)
	}
	if len(r.Steps) > 0 {
		// The run's own stages as one suite, so a failed image build or a
		// suite binary that died shows as a failure in any JUnit dashboard.
		js := junitSuite{Name: "dfe2e run steps"}
		for _, st := range r.Steps {
			c := junitCase{Name: st.Name, Classname: js.Name, Status: string(st.Status), Time: strconv.FormatFloat(st.Seconds, 'f', 3, 64)}
			switch st.Status {
			case verdict.Failed:
				c.Failure = &junitFailure{Message: st.Detail, Type: "step failed", Body: st.Detail}
				js.Failures++
			case verdict.Blocked, verdict.Skipped:
				c.Skipped = &junitMessage{Message: string(st.Status) + ": " + st.Detail}
				js.Skipped++
			}
			js.Cases = append(js.Cases, c)
		}
		js.Tests = len(js.Cases)
		out.Tests += js.Tests
		out.Failures += js.Failures
		out.Skipped += js.Skipped
		out.Suites = append(out.Suites, js)
	}
	out.Time = strconv.FormatFloat(total, 'f', 3, 64)
	b, err := xml.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("rendering JUnit XML: %v", err)
	}
	return append([]byte(xml.Header), append(b, '\n')...), nil
}

// WriteJUnit writes JUnit XML to path.
func (r *Report) WriteJUnit(path string) error {
	b, err := r.JUnit()
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
