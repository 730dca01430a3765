package rules

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/stagegate/stagegate/pkg/gates/keyvault/secrets"
	"github.com/stagegate/stagegate/pkg/keyvault"
	"github.com/stagegate/stagegate/pkg/templates/pos"
)

// pipelineKeys are top-level keys of Azure Pipelines YAML (pipelines and templates).
var pipelineKeys = map[string]bool{
	"trigger": true, "pr": true, "pool": true, "stages": true, "jobs": true, "steps": true,
	"extends": true, "resources": true, "variables": true, "schedules": true, "parameters": true,
	"name": true, "appendcommitmessagetorunname": true, "lockbehavior": true, "container": true,
	"services": true, "workspace": true, "strategy": true, "timeoutinminutes": true,
}

// pipelineBodies are the keys that make a YAML file a pipeline or pipeline template.
var pipelineBodies = map[string]bool{"stages": true, "jobs": true, "steps": true, "extends": true, "variables": true}

// sniffPipeline decides from top-level keys alone whether a YAML file is Azure Pipelines YAML:
// every top-level key is a pipeline key and one of them holds a body. GitHub workflows (on:),
// Compose files (services: without steps) and Kubernetes manifests (apiVersion:) are not.
func sniffPipeline(src []byte) bool {
	body := false
	for off := 0; off < len(src); {
		end := bytes.IndexByte(src[off:], '\n')
		if end < 0 {
			end = len(src) - off
		}
		line := src[off : off+end]
		off += end + 1
		if len(line) == 0 || line[0] == ' ' || line[0] == '\t' || line[0] == '#' || line[0] == '-' || line[0] == '\r' {
			continue
		}
		if bytes.HasPrefix(line, []byte("---")) || bytes.HasPrefix(line, []byte("...")) {
			continue
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			continue
		}
		key := strings.ToLower(strings.Trim(string(line[:colon]), `"' `))
		if !pipelineKeys[key] {
			return false
		}
		if pipelineBodies[key] {
			body = true
		}
	}
	return body
}

func analyzeYAML(r *FileResult, path string, src []byte, cfg *Config) {
	if !sniffPipeline(src) {
		return
	}
	r.Format = Pipeline
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(src))
	if err := dec.Decode(&doc); err != nil {
		parseFailed(r, "pipeline YAML", yamlError(path, err))
		return
	}
	if len(doc.Content) == 0 {
		return
	}
	p := &pipelineFile{r: r, cfg: cfg, lines: pos.NewLines(src)}
	p.walk(doc.Content[0], "", "")
}

// yamlError turns a yaml.v3 error ("yaml: line 3: ...") into a positioned error.
func yamlError(path string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 1
	if strings.HasPrefix(msg, "line ") {
		rest := msg[5:]
		if i := strings.IndexByte(rest, ':'); i > 0 {
			if n, convErr := strconv.Atoi(rest[:i]); convErr == nil {
				line, msg = n, strings.TrimSpace(rest[i+1:])
			}
		}
	}
	return pos.Errorf(path, pos.Pos{Line: line, Col: 1}, "%s", msg)
}

type pipelineFile struct {
	r     *FileResult
	cfg   *Config
	lines *pos.Lines
}

// span returns the byte range of a scalar node, for dropping KV009 duplicates.
func (p *pipelineFile) span(n *yaml.Node) (int, int) {
	start := p.lines.At(n.Line, n.Column).Offset
	end := start + len(n.Value) + 2
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		end = start + len(n.Value) + 2*strings.Count(n.Value, "\n") + 8*(strings.Count(n.Value, "\n")+1)
	}
	return start, end
}

// walk visits every mapping; key is the key under which n sits, path its logical location.
func (p *pipelineFile) walk(n *yaml.Node, key, path string) {
	switch n.Kind {
	case yaml.MappingNode:
		if key == "variables" {
			p.variablesMap(n, path)
		}
		if key == "env" {
			p.envMap(n, path)
		}
		if t := mapGet(n, "task"); t != nil && t.Kind == yaml.ScalarNode {
			p.task(n, t.Value, path)
		}
		for _, k := range []string{"script", "bash", "pwsh", "powershell"} {
			if s := mapGet(n, k); s != nil && s.Kind == yaml.ScalarNode {
				p.scriptDeployments(s, k, path)
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			p.walk(n.Content[i+1], k, joinPath(path, k))
		}
	case yaml.SequenceNode:
		if key == "variables" {
			p.variablesList(n, path)
		}
		for i, c := range n.Content {
			p.walk(c, "", path+"["+itemName(c, i)+"]")
		}
	}
}

func joinPath(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// itemName names a sequence item by its stage/job/task/name identity when it has one, so
// logical locations survive reordering of unrelated items.
func itemName(n *yaml.Node, i int) string {
	if n.Kind == yaml.MappingNode {
		for _, k := range []string{"stage", "job", "deployment", "name", "task", "template", "group"} {
			if v := mapGet(n, k); v != nil && v.Kind == yaml.ScalarNode && v.Value != "" {
				return k + "=" + v.Value
			}
		}
	}
	return strconv.Itoa(i)
}

func mapGet(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := len(n.Content) - 2; i >= 0; i -= 2 {
		if strings.EqualFold(n.Content[i].Value, key) {
			return n.Content[i+1]
		}
	}
	return nil
}

// yamlLiteral returns a scalar's value when it is a string literal that is not a placeholder
// (numbers and booleans never are secrets).
func yamlLiteral(n *yaml.Node) (string, bool) {
	if n == nil || n.Kind != yaml.ScalarNode {
		return "", false
	}
	if n.Tag != "!!str" {
		return "", false
	}
	if secrets.IsPlaceholder(n.Value) {
		return "", false
	}
	return n.Value, true
}

func (p *pipelineFile) flag(name string, v *yaml.Node, logical, where string) {
	s, ok := yamlLiteral(v)
	if !ok || !secrets.IsSecretName(name) || connectionStringWithoutCredential(name, s) {
		return
	}
	start, end := p.span(v)
	p.r.add(Issue{Rule: KV011, Line: v.Line, Column: v.Column, Logical: logical, start: start, end: end,
		Message: fmt.Sprintf("%s '%s' is a literal (%s); use a secret variable (variable group linked to Key Vault, AzureKeyVault task) and reference it as $(%s)", where, name, secrets.Redact(s), name)})
}

// variablesMap handles "variables: {name: value}".
func (p *pipelineFile) variablesMap(n *yaml.Node, path string) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		p.flag(k.Value, v, joinPath(path, k.Value), "variable")
	}
}

// variablesList handles "variables: [- name: x, value: y]".
func (p *pipelineFile) variablesList(n *yaml.Node, path string) {
	for _, it := range n.Content {
		name := mapGet(it, "name")
		if name == nil || name.Kind != yaml.ScalarNode {
			continue
		}
		p.flag(name.Value, mapGet(it, "value"), path+"["+name.Value+"]", "variable")
	}
}

// envMap handles a step's "env:" mapping.
func (p *pipelineFile) envMap(n *yaml.Node, path string) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		p.flag(k.Value, v, joinPath(path, k.Value), "environment variable")
	}
}

// Deployment task names.
var (
	armDeployTasks = map[string]bool{"azureresourcemanagertemplatedeployment": true, "azureresourcegroupdeployment": true}
	cliTasks       = map[string]bool{"azurecli": true}
	keyVaultTasks  = map[string]bool{"azurekeyvault": true}
)

func (p *pipelineFile) task(step *yaml.Node, name, path string) {
	base := strings.ToLower(name)
	if i := strings.IndexByte(base, '@'); i >= 0 {
		base = base[:i]
	}
	inputs := mapGet(step, "inputs")
	logical := path
	switch {
	case armDeployTasks[base]:
		d := Deployment{Task: name, Line: step.Line, Column: step.Column, Logical: logical}
		if tl := mapGet(inputs, "templateLocation"); tl != nil && strings.Contains(strings.ToLower(tl.Value), "url") {
			return // a linked template URL: nothing in the repository to pair
		}
		if f := mapGet(inputs, "csmFile"); f != nil && f.Kind == yaml.ScalarNode {
			d.Template, d.TemplateLine = f.Value, f.Line
		}
		if f := mapGet(inputs, "csmParametersFile"); f != nil && f.Kind == yaml.ScalarNode && strings.TrimSpace(f.Value) != "" {
			d.Parameters = append(d.Parameters, f.Value)
		}
		if o := mapGet(inputs, "overrideParameters"); o != nil && o.Kind == yaml.ScalarNode {
			d.Overrides = p.overrides(o, logical+".inputs.overrideParameters")
		}
		if d.Template != "" {
			p.r.summary().Deployments = append(p.r.summary().Deployments, d)
		}
	case cliTasks[base]:
		if s := mapGet(inputs, "inlineScript"); s != nil && s.Kind == yaml.ScalarNode {
			p.scriptDeployments(s, name, logical+".inputs.inlineScript")
		}
	case keyVaultTasks[base]:
		p.keyVaultTask(step, inputs, name, logical)
	}
}

// overrides parses overrideParameters: "-name value -other "quoted value" -obj {"a": 1}".
func (p *pipelineFile) overrides(n *yaml.Node, logical string) []ParamValue {
	var out []ParamValue
	s := n.Value
	i := 0
	for i < len(s) {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i >= len(s) {
			break
		}
		if s[i] != '-' {
			// Not "-name": skip the word.
			for i < len(s) && !isSpace(s[i]) {
				i++
			}
			continue
		}
		ns := i + 1
		for i < len(s) && !isSpace(s[i]) {
			i++
		}
		name := s[ns:i]
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		vs := i
		var raw string
		quoted := false
		switch {
		case i >= len(s):
		case s[i] == '"' || s[i] == '\'':
			q := s[i]
			j := i + 1
			for j < len(s) && s[j] != q {
				if s[j] == '\\' && q == '"' {
					j++
				}
				j++
			}
			raw = s[i+1 : min(j, len(s))]
			quoted = true
			i = min(j+1, len(s))
		case s[i] == '{' || s[i] == '[':
			j := matchBracket(s, i)
			raw = s[i:j]
			i = j
		case s[i] == '-' && (i+1 >= len(s) || !isDigit(s[i+1])):
			// The next "-name": this parameter has an empty value.
		default:
			j := i
			for j < len(s) && !isSpace(s[j]) {
				j++
			}
			raw = s[i:j]
			i = j
		}
		if name == "" {
			continue
		}
		v := ParamValue{Name: name, Logical: logical + "/-" + name}
		v.Line, v.Column = p.posIn(n, vs)
		switch {
		case strings.HasPrefix(raw, "{") || strings.HasPrefix(raw, "[") && !quoted:
			if !secrets.IsSubstitution(raw) && len(raw) > 2 {
				v.Kind, v.Redacted = ObjectLiteral, "an object"
			}
		case !quoted && (raw == "true" || raw == "false" || isNumber(raw)):
			v.Kind = ScalarLiteral
		case !secrets.IsPlaceholder(raw):
			v.Kind, v.Redacted = StringLiteral, secrets.Redact(raw)
			v.NoCredential = connectionStringWithoutCredential(name, raw)
		}
		v.start = p.lines.At(v.Line, v.Column).Offset
		v.end = v.start + len(raw) + 2
		out = append(out, v)
	}
	return out
}

// posIn maps an offset inside a scalar's value to a line and column. Plain and quoted scalars
// are one line; for literal and folded blocks, whose source lines the value no longer mirrors,
// the word at the offset is looked up in the block's source lines.
func (p *pipelineFile) posIn(n *yaml.Node, off int) (int, int) {
	off = min(off, len(n.Value))
	before := n.Value[:off]
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
		col := n.Column + len([]rune(before))
		if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			col++
		}
		return n.Line, col
	}
	word := n.Value[off:]
	if i := strings.IndexAny(word, " \t\r\n"); i >= 0 {
		word = word[:i]
	}
	if word == "" {
		return n.Line, n.Column
	}
	nth := strings.Count(before, word) // occurrences of the word before this one
	for line := n.Line + 1; line <= p.lines.Count(); line++ {
		text := string(p.lines.Text(line))
		for from := 0; ; {
			i := strings.Index(text[from:], word)
			if i < 0 {
				break
			}
			if nth == 0 {
				return line, len([]rune(text[:from+i])) + 1
			}
			nth--
			from += i + len(word)
		}
	}
	return n.Line, n.Column
}

func matchBracket(s string, i int) int {
	depth := 0
	inStr := false
	for j := i; j < len(s); j++ {
		c := s[j]
		switch {
		case inStr:
			if c == '\\' {
				j++
			} else if c == '"' {
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
			if depth == 0 {
				return j + 1
			}
		}
	}
	return len(s)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

// scriptDeployments finds "az deployment ... create" commands in an inline script.
func (p *pipelineFile) scriptDeployments(n *yaml.Node, task, logical string) {
	if !strings.Contains(n.Value, "az ") || !strings.Contains(n.Value, "deployment") {
		return
	}
	for _, c := range ParseAzDeployments(n.Value) {
		d := Deployment{Task: task, Logical: logical, Template: c.TemplateFile, Parameters: c.ParameterFiles}
		d.Line, d.Column = p.posIn(n, c.Offset)
		d.TemplateLine = d.Line
		for _, ip := range c.Inline {
			v := ParamValue{Name: ip.Name, Logical: fmt.Sprintf("%s/az#%d/%s", logical, c.Index, ip.Name)}
			v.Line, v.Column = p.posIn(n, ip.Offset)
			switch {
			case !ip.Quoted && (ip.Value == "true" || ip.Value == "false" || isNumber(ip.Value)):
				v.Kind = ScalarLiteral
			case !secrets.IsPlaceholder(ip.Value):
				v.Kind, v.Redacted = StringLiteral, secrets.Redact(ip.Value)
				v.NoCredential = connectionStringWithoutCredential(ip.Name, ip.Value)
			}
			v.start = p.lines.At(v.Line, v.Column).Offset
			v.end = v.start + len(ip.Name) + len(ip.Value) + 3
			d.Overrides = append(d.Overrides, v)
		}
		if d.Template != "" || len(d.Overrides) > 0 {
			p.r.summary().Deployments = append(p.r.summary().Deployments, d)
		}
	}
}

// keyVaultTask records the secrets an AzureKeyVault task downloads and checks them (KV008).
func (p *pipelineFile) keyVaultTask(step, inputs *yaml.Node, task, logical string) {
	vn := mapGet(inputs, "KeyVaultName")
	if vn == nil || vn.Kind != yaml.ScalarNode {
		p.r.add(Issue{Rule: KV008, Line: step.Line, Column: step.Column, Logical: logical,
			Message: fmt.Sprintf("%s has no KeyVaultName input", task)})
		return
	}
	vault := keyvault.Vault{Name: strings.TrimSpace(vn.Value)}
	if secrets.IsSubstitution(vault.Name) || vault.Name == "" {
		vault = keyvault.Vault{Dynamic: true, Expression: vn.Value}
	}
	filter := "*"
	if f := mapGet(inputs, "SecretsFilter"); f != nil && f.Kind == yaml.ScalarNode && strings.TrimSpace(f.Value) != "" {
		filter = f.Value
	}
	prefix := fmt.Sprintf("%s in %s", task, logical)
	first := true
	for _, name := range strings.Split(filter, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		ref := keyvault.Reference{Kind: keyvault.PipelineTask, Vault: vault, Secret: name,
			Source: keyvault.Source{Path: p.r.Path, Line: vn.Line, Column: vn.Column, Logical: logical + "#" + name}}
		if secrets.IsSubstitution(name) {
			ref.Secret, ref.SecretDynamic = "", true
		}
		p.r.Refs = append(p.r.Refs, ref)
		at := func(string) (int, int) { return vn.Line, vn.Column }
		// A vault computed at run time gets one allowedVaults warning per task, not one per secret.
		checkShape(p.r, ref, fmt.Sprintf("%s secret '%s'", task, name), at)
		if first || !vault.Dynamic {
			checkAllowed(p.r, p.cfg, ref, prefix, at)
		}
		first = false
	}
}
