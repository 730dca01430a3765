package keyvault

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/stagegate/stagegate/pkg/finding"
	"github.com/stagegate/stagegate/pkg/gates/keyvault/rules"
	"github.com/stagegate/stagegate/pkg/keyvault/verify"
)

// maxReferenceRows bounds the Key Vault references table in the summary.
const maxReferenceRows = 50

// Report builds the gate report: one check per file type, one finding per issue with a
// fingerprint that survives unrelated edits (rule, path, logical location and, for
// credentials, a hash of the redacted value), a table of findings by rule and one of the Key
// Vault references found.
func (res *Result) Report() *finding.Report {
	rep := &finding.Report{Gate: TaskName, Title: Title, Rules: rules.Catalog()}
	for _, g := range rules.Groups() {
		rep.Checks = append(rep.Checks, finding.Check{Name: g, Detail: res.groupDetail(g)})
	}
	used := map[string]int{}
	for _, f := range res.files {
		group := f.Format.Group()
		for _, is := range f.Issues {
			logical := is.Logical
			fp := finding.Fingerprint(is.Rule, f.Path, logical, is.ValueHash)
			if n := used[fp]; n > 0 {
				// Two findings at one logical location (rare): keep fingerprints unique so a
				// baseline can accept each.
				fp = finding.Fingerprint(is.Rule, f.Path, logical+"#"+strconv.Itoa(n+1), is.ValueHash)
			}
			used[fp]++
			sev := is.Severity
			if sev == "" {
				sev = rules.Severity(is.Rule)
			}
			rep.Findings = append(rep.Findings, finding.Finding{
				Rule: is.Rule, Severity: sev, Check: group, Message: is.Message,
				Location:    finding.Location{Path: f.Path, Line: is.Line, Column: is.Column, Logical: logical},
				Fingerprint: fp, FailClosed: is.FailClosed,
			})
		}
	}
	if res.verifiedRan {
		rep.Rules = append(rep.Rules, rules.VerifyCatalog()...)
		detail := fmt.Sprintf("%d Key Vault %s checked", res.ReferencesFound, plural(res.ReferencesFound, "reference", "references"))
		if res.verifyReport != nil {
			detail = res.verifyReport.Detail()
		}
		rep.Checks = append(rep.Checks, finding.Check{Name: verify.CheckName, Detail: detail})
		for _, f := range res.verified {
			if f.Check == "" {
				f.Check = verify.CheckName
			}
			rep.Findings = append(rep.Findings, f)
		}
	}
	rep.Notes = append(rep.Notes, res.notes...)
	if res.verifyReport != nil {
		rep.Notes = append(rep.Notes, res.verifyReport.Notes()...)
	}
	rep.Tables = append(rep.Tables, byRuleTable(rep))
	switch {
	case res.verifyReport != nil:
		// Lists every reference with its state; it supersedes the plain references table.
		rep.Tables = append(rep.Tables, res.verifyReport.Table())
	default:
		if t, ok := res.referenceTable(); ok {
			rep.Tables = append(rep.Tables, t)
		}
	}
	return rep
}

func (res *Result) groupDetail(g string) string {
	st := res.Groups[g]
	if st == nil || st.Files == 0 {
		return "no files of this type"
	}
	var kinds []string
	if g != rules.GroupOther {
		fs := make([]rules.Format, 0, len(st.Formats))
		for f := range st.Formats {
			fs = append(fs, f)
		}
		sort.Slice(fs, func(i, j int) bool { return fs[i] < fs[j] })
		for _, f := range fs {
			kinds = append(kinds, fmt.Sprintf("%d %s", st.Formats[f], f.Plural(st.Formats[f])))
		}
	}
	s := fmt.Sprintf("%d %s scanned (%s)", st.Files, plural(st.Files, "file", "files"), humanBytes(st.Bytes))
	if len(kinds) > 0 {
		s += ": " + strings.Join(kinds, ", ")
	}
	if g == rules.GroupOther {
		s += "; checked for credentials (KV009) only"
	}
	return s
}

func byRuleTable(rep *finding.Report) finding.Table {
	t := finding.Table{Title: "Findings by rule", Header: []string{"Rule", "Name", "Errors", "Warnings"}}
	type count struct{ errs, warns int }
	counts := map[string]*count{}
	for _, f := range rep.Findings {
		c := counts[f.Rule]
		if c == nil {
			c = &count{}
			counts[f.Rule] = c
		}
		if f.Severity == finding.Error {
			c.errs++
		} else if f.Severity == finding.Warning {
			c.warns++
		}
	}
	for _, r := range rep.Rules {
		if c := counts[r.ID]; c != nil {
			t.Rows = append(t.Rows, []string{r.ID, r.Name, strconv.Itoa(c.errs), strconv.Itoa(c.warns)})
		}
	}
	if len(t.Rows) == 0 {
		t.Rows = append(t.Rows, []string{"-", "no findings", "0", "0"})
	}
	return t
}

func (res *Result) referenceTable() (finding.Table, bool) {
	if res.ReferencesFound == 0 {
		return finding.Table{}, false
	}
	t := finding.Table{Title: "Key Vault references", Header: []string{"Vault", "Secret", "Version", "Kind", "Location"}}
	for i, r := range res.References {
		if i == maxReferenceRows {
			t.Rows = append(t.Rows, []string{fmt.Sprintf("… and %d more", res.ReferencesFound-maxReferenceRows), "", "", "", ""})
			break
		}
		secret := r.Secret
		if r.SecretDynamic {
			secret = "(computed)"
		}
		version := r.Version
		if version == "" {
			version = "latest"
		}
		t.Rows = append(t.Rows, []string{r.Vault.String(), secret, version, string(r.Kind), fmt.Sprintf("%s:%d", r.Source.Path, r.Source.Line)})
	}
	return t, true
}

// SetOutputs sets the task's output variables (tasks/KeyVaultReferenceGate/task.json) on rep:
// findings, errors and warnings not accepted by the baseline (accepted(i) tells for
// rep.Findings[i]), filesScanned, referencesFound and secretsVerified.
func (res *Result) SetOutputs(rep *finding.Report, accepted func(i int) bool) {
	var errs, warns int
	for i, f := range rep.Findings {
		if accepted != nil && accepted(i) && !f.FailClosed {
			continue
		}
		switch f.Severity {
		case finding.Error:
			errs++
		case finding.Warning:
			warns++
		}
	}
	verified := 0
	switch {
	case res.verifyReport != nil:
		verified = res.verifyReport.Verified()
	case res.verifiedRan:
		verified = res.ReferencesFound
	}
	rep.Outputs = []finding.Output{
		{Name: "findings", Value: strconv.Itoa(errs + warns), Label: "Findings"},
		{Name: "errors", Value: strconv.Itoa(errs), Label: "Errors"},
		{Name: "warnings", Value: strconv.Itoa(warns), Label: "Warnings"},
		{Name: "filesScanned", Value: strconv.Itoa(res.FilesScanned), Label: "Files scanned"},
		{Name: "referencesFound", Value: strconv.Itoa(res.ReferencesFound), Label: "Key Vault references"},
		{Name: "secretsVerified", Value: strconv.Itoa(verified), Label: "Secrets verified"},
	}
}
