package render

import (
	"encoding/json"
	"io"

	"github.com/stagegate/stagegate/pkg/finding"
)

// JSONReport is the machine-readable result, also the body of synchronous check responses.
type JSONReport struct {
	Status   string            `json:"status"` // passed | failed (warned counts as passed)
	Outcome  finding.Outcome   `json:"outcome"`
	Summary  string            `json:"summary"`
	Gate     string            `json:"gate"`
	Mode     finding.Mode      `json:"mode"`
	Version  string            `json:"version,omitempty"`
	Counts   JSONCounts        `json:"counts"`
	Checks   []finding.Check   `json:"checks"`
	Findings []finding.Finding `json:"findings"`
	Outputs  map[string]string `json:"outputs,omitempty"`
	Tables   []finding.Table   `json:"tables,omitempty"`
	Notes    []string          `json:"notes,omitempty"`
}

// JSONCounts mirrors finding.Verdict's counters.
type JSONCounts struct {
	Violations  int `json:"violations"`
	Warnings    int `json:"warnings"`
	Accepted    int `json:"accepted"`
	Unevaluated int `json:"unevaluated"`
}

// NewJSONReport builds the JSON document.
func NewJSONReport(r *finding.Report, m Meta) JSONReport {
	status := "passed"
	if m.Verdict.Outcome == finding.Failed {
		status = "failed"
	}
	out := JSONReport{
		Status: status, Outcome: m.Verdict.Outcome, Summary: m.Verdict.Message,
		Gate: r.Gate, Mode: m.Mode, Version: m.Version,
		Counts:   JSONCounts{m.Verdict.Violations, m.Verdict.Warnings, m.Verdict.Accepted, m.Verdict.Unevaluated},
		Checks:   r.Checks,
		Findings: r.Findings,
		Tables:   r.Tables,
		Notes:    r.Notes,
	}
	if out.Findings == nil {
		out.Findings = []finding.Finding{}
	}
	if len(r.Outputs) > 0 {
		out.Outputs = map[string]string{}
		for _, o := range r.Outputs {
			out.Outputs[o.Name] = o.Value
		}
	}
	return out
}

// JSON writes the report as indented JSON.
func JSON(w io.Writer, r *finding.Report, m Meta) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(NewJSONReport(r, m))
}
