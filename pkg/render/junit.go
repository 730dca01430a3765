package render

import (
	"encoding/xml"
	"fmt"
	"io"

	"github.com/stagegate/stagegate/pkg/finding"
)

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// JUnit writes one test suite per check: a passing case when the check found nothing, else one
// case per finding, failed when it counts as a violation (in enforce mode) and passing with its
// text otherwise, so PublishTestResults shows violations as failed tests.
func JUnit(w io.Writer, r *finding.Report, m Meta) error {
	out := junitSuites{Name: r.Title}
	for _, c := range r.Checks {
		s := junitSuite{Name: c.Name}
		fs := r.InCheck(c.Name)
		if len(fs) == 0 {
			s.Cases = append(s.Cases, junitCase{Name: c.Name + ": no findings", ClassName: r.Gate, SystemOut: c.Detail})
		}
		for i := range fs {
			f := &fs[i]
			jc := junitCase{Name: fmt.Sprintf("%s %s", f.Rule, firstNonEmpty(location(f.Location), f.Location.Logical, f.Fingerprint)), ClassName: r.Gate + "." + c.Name}
			switch {
			case !f.Counts():
				jc.Skipped = &junitSkipped{Message: "accepted by baseline: " + f.Accepted.Justification}
				s.Skipped++
			case f.FailClosed || (f.Severity == finding.Error && m.Mode != finding.Audit):
				jc.Failure = &junitFailure{Message: f.Message, Type: f.Rule, Text: f.Message}
				s.Failures++
			default:
				jc.SystemOut = string(f.Severity) + ": " + f.Message
			}
			s.Cases = append(s.Cases, jc)
		}
		s.Tests = len(s.Cases)
		out.Tests += s.Tests
		out.Failures += s.Failures
		out.Suites = append(out.Suites, s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
