package rules

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/stagegate/stagegate/pkg/gates/keyvault/secrets"
	"github.com/stagegate/stagegate/pkg/keyvault"
	"github.com/stagegate/stagegate/pkg/templates/pipeline"
	"github.com/stagegate/stagegate/pkg/templates/pos"
)

type pipelineFile struct {
	r   *FileResult
	cfg *Config
	p   *pipeline.Pipeline
	doc *pipeline.Document
	// seen numbers steps with the same identity, for logical locations.
	seen map[string]int
}

// analyzePipeline applies KV011 (variables, env, deployment overrides) and KV008 (AzureKeyVault
// tasks), and records the deployments the pipeline runs for pairing.
func analyzePipeline(r *FileResult, p *pipeline.Pipeline, cfg *Config) {
	if p == nil || p.Doc == nil {
		return
	}
	pf := &pipelineFile{r: r, cfg: cfg, p: p, doc: p.Doc, seen: map[string]int{}}
	for _, v := range p.AllVariables {
		if v.Name == "" || v.ValueNode == nil {
			continue
		}
		pf.flag(v.Name, v.ValueNode, v.ValuePos, variableLogical(v), "variable")
	}
	for _, s := range p.AllSteps {
		logical := pf.stepLogical(s)
		for _, e := range s.Env {
			pf.flag(e.Key, e.Node, e.ValuePos, logical+".env."+e.Key, "environment variable")
		}
		switch {
		case s.IsTask("AzureResourceManagerTemplateDeployment") || s.IsTask("AzureResourceGroupDeployment"):
			pf.armTask(s, logical)
		case s.IsTask("AzureCLI"):
			if in := s.Input("inlineScript"); in != nil && in.IsScalar() {
				pf.scriptDeployments(in.Node, s.Task+"@"+s.TaskVersion, logical+".inputs.inlineScript")
			}
		case s.IsTask("AzureKeyVault"):
			pf.keyVaultTask(s, logical)
		case s.Kind.IsScript() && s.ScriptNode != nil:
			pf.scriptDeployments(s.ScriptNode, s.Keyword, logical+"."+s.Keyword)
		}
	}
}

func variableLogical(v *pipeline.Variable) string {
	l := "variables." + v.Name
	if v.Job != nil && v.Job.Name != "" {
		l = "job=" + v.Job.Name + "." + l
	}
	if v.Stage != nil && v.Stage.Name != "" {
		l = "stage=" + v.Stage.Name + "." + l
	}
	return l
}

// stepLogical names a step by its stage, job and identity (task, display name or keyword) and
// its rank among steps of the same identity, so the name survives unrelated edits.
func (pf *pipelineFile) stepLogical(s *pipeline.Step) string {
	var b strings.Builder
	if s.Stage != nil && s.Stage.Name != "" {
		b.WriteString("stage=" + s.Stage.Name + ".")
	}
	if s.Job != nil && s.Job.Name != "" {
		b.WriteString("job=" + s.Job.Name + ".")
	}
	id := s.Keyword
	switch {
	case s.Kind == pipeline.StepTask:
		id = "task=" + s.Task
	case s.DisplayName != "":
		id = "step=" + s.DisplayName
	}
	b.WriteString(id)
	key := b.String()
	pf.seen[key]++
	if n := pf.seen[key]; n > 1 {
		b.WriteString("#" + strconv.Itoa(n))
	}
	return b.String()
}

// yamlLiteral returns a scalar's value when it is a string literal that is not a placeholder
// (numbers and booleans never are secrets).
func yamlLiteral(n *yaml.Node) (string, bool) {
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		return "", false
	}
	if !secrets.IsLiteral(n.Value) {
		return "", false
	}
	return n.Value, true
}

// flag applies KV011 to a secret-named variable or environment variable with a literal value.
func (pf *pipelineFile) flag(name string, v *yaml.Node, at pos.Pos, logical, what string) {
	s, ok := yamlLiteral(v)
	if !ok || !secrets.IsSecretName(name) || connectionStringWithoutCredential(name, s) {
		return
	}
	pf.r.add(Issue{Rule: KV011, Line: at.Line, Column: at.Col, Logical: logical, start: at.Offset, end: at.Offset + len(s) + 2,
		Message: fmt.Sprintf("%s '%s' is a literal (%s); use a secret variable (variable group linked to Key Vault, AzureKeyVault task) and reference it as $(%s)", what, name, secrets.Redact(s), name)})
}

// armTask records an ARM template deployment task for pairing and judges its overrides.
func (pf *pipelineFile) armTask(s *pipeline.Step, logical string) {
	if tl := s.Input("templateLocation"); tl != nil && strings.Contains(strings.ToLower(tl.Value), "url") {
		return // a linked template URL: nothing in the repository to pair
	}
	task := s.Task + "@" + s.TaskVersion
	d := Deployment{Task: task, Line: s.Pos.Line, Column: s.Pos.Col, Logical: logical}
	if f := s.Input("csmFile"); f != nil && f.IsScalar() {
		d.Template, d.TemplateLine = f.Value, f.ValuePos.Line
	}
	if f := s.Input("csmParametersFile"); f != nil && f.IsScalar() && strings.TrimSpace(f.Value) != "" {
		d.Parameters = append(d.Parameters, f.Value)
	}
	if o := s.Input("overrideParameters"); o != nil && o.IsScalar() {
		for _, ov := range pipeline.ParseOverrideParameters(o.Value) {
			if ov.Name == "" {
				continue
			}
			v := ParamValue{Name: ov.Name, Logical: logical + ".inputs.overrideParameters/-" + ov.Name}
			at := pf.posIn(o.Node, ov.ValueOffset)
			v.Line, v.Column = at.Line, at.Col
			v.start, v.end = at.Offset, at.Offset+len(ov.Value)+2
			switch {
			case ov.JSON:
				if !secrets.IsTemplated(ov.Value) && len(ov.Value) > 2 {
					v.Kind, v.Redacted = ObjectLiteral, "an object"
				}
			case !ov.Quoted && (ov.Value == "true" || ov.Value == "false" || isNumber(ov.Value)):
				v.Kind = ScalarLiteral
			case secrets.IsLiteral(ov.Value):
				v.Kind, v.Redacted = StringLiteral, secrets.Redact(ov.Value)
				v.NoCredential = connectionStringWithoutCredential(ov.Name, ov.Value)
			}
			d.Overrides = append(d.Overrides, v)
		}
	}
	if d.Template != "" || len(d.Overrides) > 0 {
		pf.r.summary().Deployments = append(pf.r.summary().Deployments, d)
	}
}

// posIn maps a byte offset inside a scalar's value to a source position: exact for plain and
// quoted one-line scalars and literal blocks; for folded blocks, whose value no longer mirrors
// the source lines, the word at the offset is looked up in the block's lines.
func (pf *pipelineFile) posIn(n *yaml.Node, off int) pos.Pos {
	off = max(0, min(off, len(n.Value)))
	before := n.Value[:off]
	lines := pf.doc.Lines()
	switch {
	case n.Style&yaml.FoldedStyle != 0:
		word := n.Value[off:]
		if i := strings.IndexAny(word, " \t\r\n"); i >= 0 {
			word = word[:i]
		}
		if word != "" {
			nth := strings.Count(before, word)
			for line := n.Line + 1; line <= lines.Count(); line++ {
				text := string(lines.Text(line))
				for from := 0; ; {
					i := strings.Index(text[from:], word)
					if i < 0 {
						break
					}
					if nth == 0 {
						return lines.At(line, len([]rune(text[:from+i]))+1)
					}
					nth--
					from += i + len(word)
				}
			}
		}
		return pf.doc.Pos(n)
	case n.Style&yaml.LiteralStyle != 0 || strings.Contains(before, "\n"):
		i := strings.Count(before, "\n")
		p := pf.doc.LinePos(n, i)
		rest := before[strings.LastIndexByte(before, '\n')+1:]
		return lines.At(p.Line, p.Col+len([]rune(rest)))
	default:
		p := pf.doc.Pos(n)
		col := p.Col + len([]rune(before))
		if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			col++
		}
		return lines.At(p.Line, col)
	}
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

// scriptDeployments records Azure CLI deployments of an inline script and judges their inline
// parameters.
func (pf *pipelineFile) scriptDeployments(n *yaml.Node, task, logical string) {
	if !strings.Contains(n.Value, "deployment") {
		return
	}
	lines := pf.doc.Lines()
	for i, c := range pipeline.ParseAzDeployments(n.Value) {
		start := pf.doc.LinePos(n, c.Line)
		d := Deployment{Task: task, Logical: fmt.Sprintf("%s/az#%d", logical, i+1), Template: c.TemplateFile, Line: start.Line, Column: start.Col, TemplateLine: start.Line}
		for _, p := range c.Parameters {
			switch {
			case p.File != "":
				d.Parameters = append(d.Parameters, p.File)
				continue
			case p.Name == "":
				continue
			}
			at := pf.doc.LinePos(n, p.Line)
			// Folded blocks lose their line breaks: look for the text on the next lines.
			for line := at.Line; line < at.Line+200 && line <= lines.Count(); line++ {
				if text := string(lines.Text(line)); strings.Contains(text, p.Text) {
					at = lines.At(line, len([]rune(text[:strings.Index(text, p.Text)]))+1)
					break
				}
			}
			v := ParamValue{Name: p.Name, Logical: d.Logical + "/" + p.Name, Line: at.Line, Column: at.Col,
				start: at.Offset, end: at.Offset + len(p.Text) + 2}
			switch {
			case p.Value == "true" || p.Value == "false" || isNumber(p.Value):
				v.Kind = ScalarLiteral
			case secrets.IsLiteral(p.Value):
				v.Kind, v.Redacted = StringLiteral, secrets.Redact(p.Value)
				v.NoCredential = connectionStringWithoutCredential(p.Name, p.Value)
			}
			d.Overrides = append(d.Overrides, v)
		}
		if d.Template != "" || len(d.Overrides) > 0 {
			pf.r.summary().Deployments = append(pf.r.summary().Deployments, d)
		}
	}
}

// keyVaultTask records the secrets an AzureKeyVault task downloads and checks them (KV008).
func (pf *pipelineFile) keyVaultTask(s *pipeline.Step, logical string) {
	task := s.Task + "@" + s.TaskVersion
	vn := s.Input("KeyVaultName")
	if vn == nil || !vn.IsScalar() || strings.TrimSpace(vn.Value) == "" {
		pf.r.add(Issue{Rule: KV008, Line: s.Pos.Line, Column: s.Pos.Col, Logical: logical,
			Message: fmt.Sprintf("%s has no KeyVaultName input", task)})
		return
	}
	vault := keyvault.Vault{Name: strings.TrimSpace(vn.Value)}
	if secrets.IsTemplated(vault.Name) {
		vault = keyvault.Vault{Dynamic: true, Expression: vn.Value}
	}
	filter := "*"
	if f := s.Input("SecretsFilter"); f != nil && f.IsScalar() && strings.TrimSpace(f.Value) != "" {
		filter = f.Value
	}
	at := func(string) (int, int) { return vn.ValuePos.Line, vn.ValuePos.Col }
	first := true
	for _, name := range strings.Split(filter, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		ref := keyvault.Reference{Kind: keyvault.PipelineTask, Vault: vault, Secret: name,
			Source: keyvault.Source{Path: pf.r.Path, Line: vn.ValuePos.Line, Column: vn.ValuePos.Col, Logical: logical + "#" + name}}
		if secrets.IsTemplated(name) {
			ref.Secret, ref.SecretDynamic = "", true
		}
		pf.r.Refs = append(pf.r.Refs, ref)
		checkShape(pf.r, ref, fmt.Sprintf("%s secret '%s'", task, name), at)
		// The vault is the same for every secret: one allowedVaults finding per task.
		if first {
			checkAllowed(pf.r, pf.cfg, ref, task, at)
		}
		first = false
	}
}
