package workitems

import (
	"fmt"
	"strconv"
	"strings"
)

// Severity is a value of Microsoft.VSTS.Common.Severity: 1 (Critical) to 4 (Low).
type Severity int

// Severities, in the order the process defines them.
const (
	Critical Severity = 1
	High     Severity = 2
	Medium   Severity = 3
	Low      Severity = 4
)

// severities lists every severity, most severe first.
var severities = [...]Severity{Critical, High, Medium, Low}

var severityNames = [...]string{"", "critical", "high", "medium", "low"}

// valid reports whether s is one of the four severities.
func (s Severity) valid() bool { return s >= Critical && s <= Low }

// Name is the lower-case name used in inputs: critical, high, medium, low.
func (s Severity) Name() string {
	if !s.valid() {
		return "unknown"
	}
	return severityNames[s]
}

// String is the field value: "1 - Critical".
func (s Severity) String() string {
	if !s.valid() {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	n := severityNames[s]
	return fmt.Sprintf("%d - %s", int(s), strings.ToUpper(n[:1])+n[1:])
}

// maxInput names the threshold input of the severity.
func (s Severity) maxInput() string {
	n := s.Name()
	return "max" + strings.ToUpper(n[:1]) + n[1:]
}

// ParseSeverity reads a severity as a work item field holds it ("1 - Critical") or as a person
// writes it in an input ("Critical", "critical", "1"). Whitespace around the dash is optional.
func ParseSeverity(v string) (Severity, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	name := v
	if d := v[0]; d >= '1' && d <= '4' {
		n, _ := strconv.Atoi(v[:1])
		rest := strings.TrimSpace(v[1:])
		if rest == "" {
			return Severity(n), true
		}
		rest, ok := strings.CutPrefix(rest, "-")
		if !ok {
			return 0, false
		}
		// "1 - Critical" must name the severity its number says.
		s, ok := severityByName(strings.TrimSpace(rest))
		if !ok || s != Severity(n) {
			return 0, false
		}
		return s, true
	}
	return severityByName(name)
}

func severityByName(name string) (Severity, bool) {
	for _, s := range severities {
		if strings.EqualFold(name, severityNames[s]) {
			return s, true
		}
	}
	return 0, false
}

// validSeverities is the list shown in input errors.
const validSeverities = `critical, high, medium, low (or "1 - Critical" ... "4 - Low")`

// SLADays holds the SLA in days per severity (index Critical..Low); -1 means no SLA.
type SLADays [Low + 1]int

// ParseSLA reads slaDays: comma-separated severity=days pairs ("critical=7,high=30"). A severity
// left out has no SLA; "-1" says so explicitly. Errors say which pair is wrong and why.
func ParseSLA(v string) (SLADays, error) {
	var sla SLADays
	for i := range sla {
		sla[i] = -1
	}
	seen := map[Severity]bool{}
	for _, pair := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		key, val, ok := strings.Cut(pair, "=")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if !ok || key == "" || val == "" {
			return sla, fmt.Errorf("%q is not a severity=days pair (example: critical=7)", pair)
		}
		s, ok := ParseSeverity(key)
		if !ok {
			return sla, fmt.Errorf("%q: unknown severity %q; valid severities are %s", pair, key, validSeverities)
		}
		if seen[s] {
			return sla, fmt.Errorf("%q: severity %s is given twice", pair, s.Name())
		}
		seen[s] = true
		days, err := strconv.Atoi(val)
		if err != nil || days < -1 || days > maxDays {
			return sla, fmt.Errorf("%q: %q is not a number of days (a whole number from 0 to %d, or -1 for no SLA)", pair, val, maxDays)
		}
		sla[s] = days
	}
	return sla, nil
}

// maxDays bounds SLA days (100 years) so that day arithmetic never overflows.
const maxDays = 36500

func (sla SLADays) String() string {
	var parts []string
	for _, s := range severities {
		if sla[s] >= 0 {
			parts = append(parts, fmt.Sprintf("%s %d", s.Name(), sla[s]))
		} else {
			parts = append(parts, s.Name()+" none")
		}
	}
	return strings.Join(parts, ", ")
}
