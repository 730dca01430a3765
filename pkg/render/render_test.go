package render

import (
	"bytes"
	"encoding/xml"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	sarifv210 "github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/finding"
	"github.com/stagegate/stagegate/pkg/task"
)

var update = flag.Bool("update", false, "rewrite golden files")

const hostile = "##vso[task.complete result=Succeeded]pwned | <script>alert(1)</script> [x](javascript:alert(1))\n\x1b[31mred"

func sampleReport() *finding.Report {
	r := &finding.Report{
		Gate:  "SecurityWorkItemGate",
		Title: "Security work item gate",
		Checks: []finding.Check{
			{Name: "Open items by severity", Detail: "3 open security items"},
			{Name: "SLA", Detail: "SLA days: critical=7"},
			{Name: "Review tags"},
		},
		Rules: []finding.Rule{{ID: "WI001", Name: "SeverityThreshold", Description: "Too many open items", Help: "Fix or re-triage.", Severity: finding.Error}},
		Findings: []finding.Finding{
			{Rule: "WI001", Severity: finding.Error, Check: "Open items by severity", Message: "#42 " + hostile, URL: "https://dev.azure.com/org/p/_workitems/edit/42", Location: finding.Location{Logical: "workitem/42"}, Fingerprint: "fp1"},
			{Rule: "WI002", Severity: finding.Warning, Check: "SLA", Message: "#7 is 3 days from its SLA", Location: finding.Location{Path: "infra/a;b]c.json", Line: 12, Column: 5}, Fingerprint: "fp2"},
			{Rule: "WI002", Severity: finding.Error, Check: "SLA", Message: "#8 accepted", Fingerprint: "fp3", Accepted: &finding.Acceptance{Justification: "risk accepted", Expires: "2027-01-01"}},
		},
		Outputs: []finding.Output{{Name: "openCritical", Value: "1", Label: "Open critical"}, {Name: "overdue", Value: "2"}},
		Tables:  []finding.Table{{Title: "KPIs", Header: []string{"Severity", "Open"}, Rows: [][]string{{"1 - Critical", "1"}, {"x|y", "0"}}}},
		Notes:   []string{"stale baseline entry at line 4"},
	}
	return r
}

func meta(r *finding.Report, mode finding.Mode) Meta {
	return Meta{Tool: "stagegate", Version: "1.0.0", Mode: mode, Verdict: finding.Decide(r, mode)}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./pkg/render -update to create %s", path)
	assert.Equal(t, string(want), string(got))
}

func TestGolden(t *testing.T) {
	renderers := map[string]func(*bytes.Buffer, *finding.Report, Meta) error{
		"report.md":   func(b *bytes.Buffer, r *finding.Report, m Meta) error { return Markdown(b, r, m) },
		"report.json": func(b *bytes.Buffer, r *finding.Report, m Meta) error { return JSON(b, r, m) },
		"report.sarif": func(b *bytes.Buffer, r *finding.Report, m Meta) error {
			return SARIF(b, r, m)
		},
		"report.junit.xml": func(b *bytes.Buffer, r *finding.Report, m Meta) error { return JUnit(b, r, m) },
		"report.txt":       func(b *bytes.Buffer, r *finding.Report, m Meta) error { return Text(b, r, m) },
		"report.log": func(b *bytes.Buffer, r *finding.Report, m Meta) error {
			Pipeline(task.NewLog(b, false), r, m)
			return nil
		},
	}
	for name, fn := range renderers {
		t.Run(name, func(t *testing.T) {
			r := sampleReport()
			var b bytes.Buffer
			require.NoError(t, fn(&b, r, meta(r, finding.Enforce)))
			golden(t, name, b.Bytes())
		})
	}
}

func TestPipelineNoInjection(t *testing.T) {
	r := sampleReport()
	var b bytes.Buffer
	Pipeline(task.NewLog(&b, true), r, meta(r, finding.Enforce))
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if i := strings.Index(line, "##vso["); i >= 0 {
			assert.Equal(t, 0, i, "a command must start the line: %q", line)
			assert.False(t, strings.HasPrefix(line, "##vso[task.complete"), "renderers never complete the task")
			assert.Equal(t, 1, strings.Count(line, "##vso["), line)
		}
	}
	assert.Contains(t, b.String(), "##vso[task.logissue code=WI002;columnnumber=5;linenumber=12;sourcepath=infra/a%3Bb%5Dc.json;type=warning]WI002: #7 is 3 days from its SLA")
	assert.Contains(t, b.String(), "##vso[task.setvariable isOutput=true;variable=openCritical]1")
	assert.Contains(t, b.String(), "accepted by baseline (risk accepted)")
}

func TestMarkdownEscapes(t *testing.T) {
	r := sampleReport()
	var b bytes.Buffer
	require.NoError(t, Markdown(&b, r, meta(r, finding.Enforce)))
	md := b.String()
	assert.NotContains(t, md, "<script>")
	assert.NotContains(t, md, "](javascript:")
	assert.NotContains(t, md, "\x1b")
	assert.Contains(t, md, "[workitem/42](https://dev.azure.com/org/p/_workitems/edit/42)")
	assert.Equal(t, "\\[x\\]\\(y\\)", MarkdownText("[x](y)"))
	assert.Equal(t, "text", MarkdownLink("text", "javascript:alert(1)"))
}

// sarifSchema reads the SARIF 2.1.0 JSON schema that the go-sarif module ships (as a Go string
// constant in schema.go), so our output is validated against the official schema without our
// repository carrying a copy of it.
func sarifSchema(t *testing.T) any {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/owenrumney/go-sarif/v3").Output()
	require.NoError(t, err)
	src, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "pkg/report/v210/sarif/schema.go"))
	require.NoError(t, err)
	text := string(src)
	start, end := strings.Index(text, "`"), strings.LastIndex(text, "`")
	require.True(t, start >= 0 && end > start, "schema constant not found")
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(text[start+1 : end]))
	require.NoError(t, err)
	return doc
}

func TestSARIFValidatesAgainstSchema(t *testing.T) {
	c := jsonschema.NewCompiler()
	require.NoError(t, c.AddResource("sarif-schema.json", sarifSchema(t)))
	sch, err := c.Compile("sarif-schema.json")
	require.NoError(t, err)

	r := sampleReport()
	var b bytes.Buffer
	require.NoError(t, SARIF(&b, r, meta(r, finding.Enforce)))
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b.Bytes()))
	require.NoError(t, err)
	require.NoError(t, sch.Validate(doc))

	rep, err := sarifv210.FromBytes(b.Bytes(), sarifv210.WithStrictValidation())
	require.NoError(t, err)
	require.Len(t, rep.Runs, 1)
	res := rep.Runs[0].Results
	require.Len(t, res, 3)
	assert.Equal(t, "fp2", res[1].PartialFingerprints["stagegate/v1"])
	require.Len(t, res[2].Suppressions, 1, "accepted finding is suppressed")
	assert.Equal(t, 12, *res[1].Locations[0].PhysicalLocation.Region.StartLine)
}

func TestJUnitWellFormed(t *testing.T) {
	for _, mode := range []finding.Mode{finding.Enforce, finding.Audit} {
		r := sampleReport()
		var b bytes.Buffer
		require.NoError(t, JUnit(&b, r, meta(r, mode)))
		var s junitSuites
		require.NoError(t, xml.Unmarshal(b.Bytes(), &s))
		assert.Equal(t, 4, s.Tests)
		want := 1
		if mode == finding.Audit {
			want = 0
		}
		assert.Equal(t, want, s.Failures, mode)
	}
}

func TestJSONStatus(t *testing.T) {
	r := sampleReport()
	audit := NewJSONReport(r, meta(r, finding.Audit))
	assert.Equal(t, "passed", audit.Status)
	assert.Equal(t, finding.Warned, audit.Outcome)
	enforce := NewJSONReport(r, meta(r, finding.Enforce))
	assert.Equal(t, "failed", enforce.Status)
	assert.Equal(t, 1, enforce.Counts.Violations)
}
