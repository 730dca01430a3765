package rules

import (
	"unique"

	"github.com/stagegate/stagegate/pkg/gates/keyvault/secrets"
	"github.com/stagegate/stagegate/pkg/templates/classify"
	"github.com/stagegate/stagegate/pkg/templates/pos"
)

// Analyze classifies one file by content (pkg/templates/classify: UTF-16 transcoded, binary
// files recognised), parses it once, applies every per-file rule and the credential scan, and
// returns the issues, Key Vault references and summary. It never fails: a file classified as a
// template, parameters file or pipeline that does not parse yields KV000.
func Analyze(relPath string, content []byte, cfg *Config) *FileResult {
	if cfg == nil {
		cfg = &Config{}
	}
	c := classify.Analyze(relPath, content)
	r := &FileResult{Path: relPath, Size: int64(len(content))}
	if c.Kind == classify.Binary {
		r.Binary = true
		return r
	}
	r.Format = formatOf(c.Kind)
	if c.Err != nil && c.Kind.IsTemplate() {
		parseFailed(r, r.Format.kindWord(), c.Err)
	} else {
		switch c.Kind {
		case classify.ARMTemplate:
			newARMFile(r, cfg).template(c.Template)
		case classify.ARMParameters:
			newARMFile(r, cfg).parametersFile(c.Parameters)
		case classify.Bicep:
			analyzeBicep(r, c.Bicep, cfg)
		case classify.BicepParam:
			analyzeBicepParams(r, c.BicepParam, cfg)
		case classify.Terraform:
			analyzeTerraform(r, c.Terraform, cfg, false)
		case classify.TerraformVars:
			analyzeTerraform(r, c.Terraform, cfg, true)
		case classify.Pipeline:
			analyzePipeline(r, c.Pipeline, cfg)
		}
	}
	credentials(r, c.Text)
	r.detach()
	return r
}

func formatOf(k classify.Kind) Format {
	switch k {
	case classify.ARMTemplate:
		return ARMTemplate
	case classify.ARMParameters:
		return ARMParameters
	case classify.Bicep:
		return Bicep
	case classify.BicepParam:
		return BicepParams
	case classify.Terraform:
		return Terraform
	case classify.TerraformVars:
		return TFVars
	case classify.Pipeline:
		return Pipeline
	}
	return Other
}

// parseFailed records KV000 for a file that should have parsed.
func parseFailed(r *FileResult, what string, err error) {
	is := Issue{Rule: KV000, FailClosed: true, Logical: "parse"}
	msg := err.Error()
	if pe, ok := asPosError(err); ok {
		is.Line, is.Column = pe.Line, pe.Col
		msg = pe.Msg
	}
	is.Message = "cannot parse " + what + ": " + msg + "; nothing in this file was checked except for credentials"
	r.add(is)
}

func asPosError(err error) (*pos.Error, bool) {
	for err != nil {
		if pe, ok := err.(*pos.Error); ok {
			return pe, true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return nil, false
		}
		err = u.Unwrap()
	}
	return nil, false
}

// credentials runs KV009 over the raw text. A credential inside a value another rule already
// reported as a literal secret is not reported twice.
func credentials(r *FileResult, src []byte) {
	ms := secrets.Scan(src)
	if len(ms) == 0 {
		return
	}
	tr := pos.NewTracker(src)
	seen := map[string]int{}
	for _, m := range ms {
		if coveredByLiteral(r.Issues, m.Start, m.End) {
			continue
		}
		p := tr.Pos(m.Start)
		h := m.Hash()
		seen[h]++
		logical := string(m.Kind) + "#" + itoa(seen[h])
		r.add(Issue{
			Rule: KV009, Line: p.Line, Column: p.Col, Logical: logical, ValueHash: h,
			Message: secretsMessage(m), start: m.Start, end: m.End,
		})
	}
}

// literalRules report a literal secret value; a credential inside one is not reported again.
var literalRules = map[string]bool{KV001: true, KV002: true, KV007: true, KV010: true, KV011: true}

func secretsMessage(m secrets.Match) string {
	return string(m.Kind) + " in clear text: " + m.Redacted
}

func coveredByLiteral(issues []Issue, start, end int) bool {
	for i := range issues {
		is := &issues[i]
		if literalRules[is.Rule] && is.end > is.start && start >= is.start && end <= is.end {
			return true
		}
	}
	return false
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// detach copies every string a result keeps, so the result holds no reference into the file's
// bytes or parse tree (parsers slice names out of one copy of the whole file).
func (r *FileResult) detach() {
	for i := range r.Issues {
		is := &r.Issues[i]
		is.Logical, is.Message = keep(is.Logical), keep(is.Message)
	}
	for i := range r.Refs {
		ref := &r.Refs[i]
		ref.Secret, ref.Version, ref.Parameter = keep(ref.Secret), keep(ref.Version), keep(ref.Parameter)
		ref.Source.Logical = keep(ref.Source.Logical)
		v := &ref.Vault
		v.Name, v.ID, v.SubscriptionID, v.ResourceGroup = keep(v.Name), keep(v.ID), keep(v.SubscriptionID), keep(v.ResourceGroup)
		v.Host, v.Expression = keep(v.Host), keep(v.Expression)
	}
	s := r.Summary
	if s == nil {
		return
	}
	for i := range s.Params {
		// Type too: a Bicep type is a substring of the parser's copy of the whole file, and one
		// such string kept every summarised file's text alive until pairing (heap ~ tree size).
		s.Params[i].Name, s.Params[i].Type = keep(s.Params[i].Name), keep(s.Params[i].Type)
	}
	s.Values = judgeable(s.Values)
	s.Using = keep(s.Using)
	for i := range s.Modules {
		m := &s.Modules[i]
		m.Symbol, m.Path = keep(m.Symbol), keep(m.Path)
		m.Values = judgeable(m.Values)
	}
	for i := range s.Deployments {
		d := &s.Deployments[i]
		d.Task, d.Logical, d.Template = keep(d.Task), keep(d.Logical), keep(d.Template)
		for j := range d.Parameters {
			d.Parameters[j] = keep(d.Parameters[j])
		}
		d.Overrides = judgeable(d.Overrides)
	}
}

// judgeable keeps the values phase 2 can judge, in a slice of their own with their strings
// detached: the others (Key Vault references, expressions, placeholders, scalars) can never
// give an issue, and a well-kept tree is nearly all of them.
func judgeable(vs []ParamValue) []ParamValue {
	var out []ParamValue
	for _, v := range vs {
		if v.Judgeable() {
			v.Name, v.Logical, v.Redacted = keep(v.Name), keep(v.Logical), keep(v.Redacted)
			out = append(out, v)
		}
	}
	return out
}

// keep detaches s from the file it was sliced from. Vault names and ids, parameter names and
// types, task names and logical paths repeat across thousands of files of a tree, so they are
// interned, one copy each: on the generated 1 GB tree the results kept until pairing are most of
// the gate's live heap.
func keep(s string) string {
	if s == "" {
		return ""
	}
	return unique.Make(s).Value()
}

// Merge adds phase-2 issues to a file's phase-1 issues and drops credential findings (KV009)
// inside a value a literal-secret rule already reports.
func Merge(phase1, cross []Issue) []Issue {
	if len(cross) == 0 {
		return phase1
	}
	out := make([]Issue, 0, len(phase1)+len(cross))
	for _, is := range phase1 {
		if is.Rule == KV009 && coveredByLiteral(cross, is.start, is.end) {
			continue
		}
		out = append(out, is)
	}
	return append(out, cross...)
}
