// Package finding is the model every gate produces and every renderer consumes: findings with
// stable fingerprints, the report around them, the verdict, and the baseline of accepted findings.
package finding

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strings"
)

// Severity orders how much a finding matters.
type Severity string

// Severities. Errors are violations; warnings make a run SucceededWithIssues; notes inform.
const (
	Error   Severity = "error"
	Warning Severity = "warning"
	Note    Severity = "note"
)

// Location points at the source of a finding. Path is slash-separated and relative to the scanned
// root when a file is involved; Logical is a stable logical location (JSON pointer, parameter
// name, work item id) that survives line shifts.
type Location struct {
	Path    string `json:"path,omitempty"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Logical string `json:"logical,omitempty"`
}

// Finding is one result of a check.
type Finding struct {
	Rule     string   `json:"rule"`
	Severity Severity `json:"severity"`
	// Check names the group the finding belongs to in the log and summary.
	Check    string   `json:"check,omitempty"`
	Message  string   `json:"message"`
	Location Location `json:"location"`
	// URL links to the object in Azure DevOps (work item, pull request) when there is one.
	URL string `json:"url,omitempty"`
	// Fingerprint identifies the finding across runs; see Fingerprint.
	Fingerprint string `json:"fingerprint"`
	// FailClosed marks a finding that means the gate could not evaluate something (an unparsable
	// template): it fails the run in every mode and cannot be accepted by a baseline.
	FailClosed bool `json:"failClosed,omitempty"`
	// Accepted is set when a baseline entry accepts the finding.
	Accepted *Acceptance `json:"accepted,omitempty"`
}

// Acceptance is the baseline entry that matched a finding.
type Acceptance struct {
	Justification string `json:"justification"`
	Expires       string `json:"expires,omitempty"`
	// Expired is true when the acceptance has lapsed: the finding counts again.
	Expired bool `json:"expired,omitempty"`
}

// Counts reports whether the finding affects the verdict.
func (f *Finding) Counts() bool {
	return f.Accepted == nil || f.Accepted.Expired || f.FailClosed
}

// Rule describes a rule id for SARIF, the summary and the docs.
type Rule struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Help        string   `json:"help"`
	Severity    Severity `json:"severity"`
}

// Fingerprint hashes the parts that identify a finding independent of its line: rule, path,
// logical location and (for secrets) a hash of the redacted value. Never pass a secret in clear.
func Fingerprint(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// Output is a task output variable (isOutput=true) and a KPI in the summary.
type Output struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	Label string `json:"label,omitempty"`
}

// Table is an extra table for the Markdown summary (a KPI table, the references verified).
// Cells are plain text; renderers escape them.
type Table struct {
	Title  string     `json:"title"`
	Header []string   `json:"header"`
	Rows   [][]string `json:"rows"`
}

// Check is one named check of a gate and the text that says what it looked at.
type Check struct {
	Name   string `json:"name"`
	Detail string `json:"detail,omitempty"`
}

// Report is everything a gate evaluation produced.
type Report struct {
	Gate     string    `json:"gate"`
	Title    string    `json:"title"`
	Checks   []Check   `json:"checks"`
	Rules    []Rule    `json:"rules,omitempty"`
	Findings []Finding `json:"findings"`
	Outputs  []Output  `json:"outputs,omitempty"`
	Tables   []Table   `json:"tables,omitempty"`
	// Notes are informational lines (stale baseline entries, skipped files).
	Notes []string `json:"notes,omitempty"`
}

// Sort orders findings deterministically: check order, then path, line, column, rule, message.
func (r *Report) Sort() {
	order := map[string]int{}
	for i, c := range r.Checks {
		order[c.Name] = i
	}
	sort.SliceStable(r.Findings, func(i, j int) bool {
		a, b := &r.Findings[i], &r.Findings[j]
		if order[a.Check] != order[b.Check] {
			return order[a.Check] < order[b.Check]
		}
		if a.Location.Path != b.Location.Path {
			return a.Location.Path < b.Location.Path
		}
		if a.Location.Line != b.Location.Line {
			return a.Location.Line < b.Location.Line
		}
		if a.Location.Column != b.Location.Column {
			return a.Location.Column < b.Location.Column
		}
		if a.Rule != b.Rule {
			return a.Rule < b.Rule
		}
		if a.Location.Logical != b.Location.Logical {
			return naturalLess(a.Location.Logical, b.Location.Logical)
		}
		return a.Message < b.Message
	})
}

// naturalLess orders strings with embedded numbers by value, so workitem/3 sorts before
// workitem/14.
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := digitRun(a), digitRun(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			if na != nb {
				return na < nb
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func digitRun(s string) int {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

// RuleByID returns the rule with the given id.
func (r *Report) RuleByID(id string) (Rule, bool) {
	for _, ru := range r.Rules {
		if strings.EqualFold(ru.ID, id) {
			return ru, true
		}
	}
	return Rule{}, false
}

// InCheck returns the findings of one check, in report order.
func (r *Report) InCheck(name string) []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Check == name {
			out = append(out, f)
		}
	}
	return out
}
