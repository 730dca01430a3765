package finding

import (
	"fmt"
	"strings"
)

// Mode is the gate's mode input.
type Mode string

// Modes: enforce blocks on violations, audit only reports them.
const (
	Enforce Mode = "enforce"
	Audit   Mode = "audit"
)

// Verdict is the outcome of a report under a mode.
type Verdict struct {
	// Outcome is "passed", "warned" or "failed".
	Outcome Outcome
	// Violations counts counted error findings; Warnings counts counted warnings.
	Violations, Warnings, Accepted, Unevaluated int
	Message                                     string
}

// Outcome is the three-way result every output mode maps from.
type Outcome string

// Outcomes.
const (
	Passed Outcome = "passed"
	Warned Outcome = "warned"
	Failed Outcome = "failed"
)

// Decide is the one place that turns findings into an outcome. A fail-closed finding fails in
// every mode; violations fail in enforce and warn in audit; warnings warn.
func Decide(r *Report, mode Mode) Verdict {
	var v Verdict
	for i := range r.Findings {
		f := &r.Findings[i]
		switch {
		case f.FailClosed:
			v.Unevaluated++
		case !f.Counts():
			v.Accepted++
		case f.Severity == Error:
			v.Violations++
		case f.Severity == Warning:
			v.Warnings++
		}
	}
	switch {
	case v.Unevaluated > 0:
		v.Outcome = Failed
	case v.Violations > 0 && mode != Audit:
		v.Outcome = Failed
	case v.Violations > 0 || v.Warnings > 0:
		v.Outcome = Warned
	default:
		v.Outcome = Passed
	}
	v.Message = v.describe(r.Title, mode)
	return v
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

func (v Verdict) describe(title string, mode Mode) string {
	var parts []string
	if v.Unevaluated > 0 {
		parts = append(parts, plural(v.Unevaluated, "item could not be evaluated", "items could not be evaluated"))
	}
	if v.Violations > 0 {
		parts = append(parts, plural(v.Violations, "violation", "violations"))
	}
	if v.Warnings > 0 {
		parts = append(parts, plural(v.Warnings, "warning", "warnings"))
	}
	if v.Accepted > 0 {
		parts = append(parts, plural(v.Accepted, "accepted by baseline", "accepted by baseline"))
	}
	detail := "no findings"
	if len(parts) > 0 {
		detail = strings.Join(parts, ", ")
	}
	switch {
	case v.Outcome == Failed:
		return fmt.Sprintf("%s failed: %s", title, detail)
	case v.Violations > 0 && mode == Audit:
		return fmt.Sprintf("%s passed in audit mode with %s (nothing blocked)", title, detail)
	case v.Outcome == Warned:
		return fmt.Sprintf("%s passed with %s", title, detail)
	default:
		return fmt.Sprintf("%s passed: %s", title, detail)
	}
}
