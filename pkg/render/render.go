// Package render turns a finding.Report into each output the product writes: the pipeline log,
// the Markdown summary, JSON, SARIF 2.1.0, JUnit XML and plain text for a terminal. Renderers
// only format: the verdict is decided once, by finding.Decide, and passed in.
package render

import (
	"fmt"
	"strings"

	"github.com/stagegate/stagegate/pkg/finding"
)

// Meta is what every renderer needs besides the report.
type Meta struct {
	Tool    string // "stagegate"
	Version string
	Mode    finding.Mode
	Verdict finding.Verdict
}

func location(l finding.Location) string {
	if l.Path == "" {
		return ""
	}
	s := l.Path
	if l.Line > 0 {
		s += fmt.Sprintf(":%d", l.Line)
		if l.Column > 0 {
			s += fmt.Sprintf(":%d", l.Column)
		}
	}
	return s
}

// status is how a finding reads in lists.
func status(f *finding.Finding) string {
	switch {
	case f.Accepted != nil && !f.Accepted.Expired && !f.FailClosed:
		return "accepted"
	default:
		return string(f.Severity)
	}
}

func checkCounts(r *finding.Report, name string) (errs, warns, accepted int) {
	for i := range r.Findings {
		f := &r.Findings[i]
		if f.Check != name {
			continue
		}
		switch {
		case !f.Counts():
			accepted++
		case f.Severity == finding.Error:
			errs++
		case f.Severity == finding.Warning:
			warns++
		}
	}
	return errs, warns, accepted
}

func checkResult(errs, warns int) string {
	switch {
	case errs > 0:
		return "failed"
	case warns > 0:
		return "warning"
	default:
		return "passed"
	}
}

// oneLine collapses whitespace and drops control characters, so untrusted text cannot break a
// line or drive a terminal with escape sequences.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return ' '
		}
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return -1
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}
