package render

import (
	"fmt"
	"io"
	"strings"

	"github.com/stagegate/stagegate/pkg/finding"
)

// Text writes the human-readable report for a terminal.
func Text(w io.Writer, r *finding.Report, m Meta) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (mode %s)\n", r.Title, m.Mode)
	for _, c := range r.Checks {
		errs, warns, acc := checkCounts(r, c.Name)
		fmt.Fprintf(&b, "\n== %s: %s (%d errors, %d warnings, %d accepted)\n", c.Name, checkResult(errs, warns), errs, warns, acc)
		if c.Detail != "" {
			fmt.Fprintf(&b, "   %s\n", oneLine(c.Detail))
		}
		for _, f := range r.InCheck(c.Name) {
			textFinding(&b, &f)
		}
	}
	for _, f := range r.Findings {
		if f.Check == "" {
			textFinding(&b, &f)
		}
	}
	for _, o := range r.Outputs {
		fmt.Fprintf(&b, "%s = %s\n", o.Name, o.Value)
	}
	for _, t := range r.Tables {
		fmt.Fprintf(&b, "\n%s\n", t.Title)
		fmt.Fprintf(&b, "  %s\n", strings.Join(t.Header, " | "))
		for _, row := range t.Rows {
			fmt.Fprintf(&b, "  %s\n", oneLine(strings.Join(row, " | ")))
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", oneLine(n))
	}
	fmt.Fprintf(&b, "\n%s\n", m.Verdict.Message)
	_, err := io.WriteString(w, b.String())
	return err
}

func textFinding(b *strings.Builder, f *finding.Finding) {
	where := location(f.Location)
	if where == "" {
		where = f.Location.Logical
	}
	// File names and URLs are untrusted too: a name may hold a newline or a terminal escape.
	fmt.Fprintf(b, "  %-8s %-6s %s %s\n", status(f), f.Rule, oneLine(where), oneLine(f.Message))
	if f.URL != "" {
		fmt.Fprintf(b, "           %s\n", oneLine(f.URL))
	}
}
