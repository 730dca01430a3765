package render

import (
	"fmt"
	"io"
	"strings"

	"github.com/stagegate/stagegate/pkg/finding"
)

// Markdown writes the run summary shown on the Extensions tab. Every cell is escaped: titles,
// paths and messages come from outside and must not inject markup, links or HTML.
func Markdown(w io.Writer, r *finding.Report, m Meta) error {
	var b strings.Builder
	icon := map[finding.Outcome]string{finding.Passed: "✅", finding.Warned: "⚠️", finding.Failed: "❌"}[m.Verdict.Outcome]
	fmt.Fprintf(&b, "## %s %s\n\n", icon, MarkdownText(r.Title))
	fmt.Fprintf(&b, "%s (mode: `%s`)\n\n", MarkdownText(m.Verdict.Message), m.Mode)
	if len(r.Checks) > 0 {
		b.WriteString("| Check | Result | Errors | Warnings | Accepted |\n|---|---|---:|---:|---:|\n")
		for _, c := range r.Checks {
			errs, warns, acc := checkCounts(r, c.Name)
			fmt.Fprintf(&b, "| %s | %s | %d | %d | %d |\n", MarkdownText(c.Name), checkResult(errs, warns), errs, warns, acc)
		}
		b.WriteString("\n")
	}
	if len(r.Outputs) > 0 {
		b.WriteString("| Measure | Value |\n|---|---:|\n")
		for _, o := range r.Outputs {
			label := o.Label
			if label == "" {
				label = o.Name
			}
			fmt.Fprintf(&b, "| %s (`%s`) | %s |\n", MarkdownText(label), MarkdownText(o.Name), MarkdownText(o.Value))
		}
		b.WriteString("\n")
	}
	for _, t := range r.Tables {
		writeTable(&b, t)
	}
	if len(r.Findings) > 0 {
		b.WriteString("### Findings\n\n| Rule | Status | Where | Message |\n|---|---|---|---|\n")
		for i := range r.Findings {
			f := &r.Findings[i]
			where := MarkdownText(location(f.Location))
			if f.URL != "" {
				where = MarkdownLink(firstNonEmpty(location(f.Location), f.Location.Logical, "link"), f.URL)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", MarkdownText(f.Rule), status(f), where, MarkdownText(f.Message))
		}
		b.WriteString("\n")
	}
	if len(r.Notes) > 0 {
		b.WriteString("### Notes\n\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "- %s\n", MarkdownText(n))
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeTable(b *strings.Builder, t finding.Table) {
	if t.Title != "" {
		fmt.Fprintf(b, "### %s\n\n", MarkdownText(t.Title))
	}
	row := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			b.WriteString(" " + MarkdownText(c) + " |")
		}
		b.WriteString("\n")
	}
	row(t.Header)
	b.WriteString("|" + strings.Repeat("---|", len(t.Header)) + "\n")
	for _, r := range t.Rows {
		row(r)
	}
	b.WriteString("\n")
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// MarkdownText escapes untrusted text for a Markdown table cell: one line, markup characters
// backslash-escaped, HTML angle brackets as entities.
func MarkdownText(s string) string {
	s = oneLine(s)
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\\', '`', '*', '_', '{', '}', '[', ']', '(', ')', '#', '+', '!', '|', '~', '$':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// MarkdownLink renders a link with escaped text; only http(s) URLs become links.
func MarkdownLink(text, url string) string {
	if !(strings.HasPrefix(url, "https://") || strings.HasPrefix(url, "http://")) || strings.ContainsAny(url, " ()<>\n\r") {
		return MarkdownText(text)
	}
	return "[" + MarkdownText(text) + "](" + url + ")"
}
