package rules

import (
	"fmt"
	"strings"

	"github.com/stagegate/stagegate/pkg/gates/keyvault/secrets"
	"github.com/stagegate/stagegate/pkg/keyvault"
	"github.com/stagegate/stagegate/pkg/templates/arm"
)

type armFile struct {
	r      *FileResult
	cfg    *Config
	scopes map[*arm.Template]*armScope
}

func newARMFile(r *FileResult, cfg *Config) *armFile {
	return &armFile{r: r, cfg: cfg, scopes: map[*arm.Template]*armScope{}}
}

func (a *armFile) issue(rule string, n *arm.Node, off int, logical, msg string) {
	p := n.Pos
	if off >= 0 {
		p = n.PosAt(off)
	}
	a.r.add(Issue{Rule: rule, Line: p.Line, Column: p.Col, Logical: logical, Message: msg, start: n.Pos.Offset, end: n.End})
}

func (a *armFile) keyIssue(rule string, n *arm.Node, logical, msg string) {
	p := n.KeyPos()
	a.r.add(Issue{Rule: rule, Line: p.Line, Column: p.Col, Logical: logical, Message: msg})
}

// armScope answers "is this expression secret?" for the template whose parameters and
// variables an expression resolves against.
type armScope struct {
	t    *arm.Template
	vars map[string]*arm.Node
	memo map[string]string // variable -> taint ("" none), for cycles "" while in progress
}

func (a *armFile) scope(t *arm.Template) *armScope {
	t = t.Outer()
	if s, ok := a.scopes[t]; ok {
		return s
	}
	s := &armScope{t: t, vars: map[string]*arm.Node{}, memo: map[string]string{}}
	for _, v := range t.Variables {
		s.vars[strings.ToLower(v.Name)] = v.Value
	}
	a.scopes[t] = s
	return s
}

// taint kinds for expression analysis.
const (
	taintSecure = 1 << iota // secure parameters and list*() calls
	taintNamed              // secret-named parameters that are not secure
)

// taint returns a description of the first secret source in e and the call that uses it.
func (s *armScope) taint(e arm.Expr, kinds int) (string, *arm.Call) {
	var desc string
	var at *arm.Call
	arm.WalkExpr(e, func(x arm.Expr) bool {
		if desc != "" {
			return false
		}
		c, ok := x.(*arm.Call)
		if !ok {
			return true
		}
		switch {
		case c.HasPrefix("list") && kinds&taintSecure != 0:
			desc, at = c.Name+"()", c
		case c.Is("parameters"):
			name, ok := c.StringArg(0)
			if !ok {
				return true
			}
			p := s.t.Param(name)
			if p == nil {
				return true
			}
			if p.Secure() && kinds&taintSecure != 0 {
				desc, at = fmt.Sprintf("secure parameter '%s'", p.Name), c
			} else if kinds&taintNamed != 0 && !p.Secure() && (p.Type == "string" || p.Type == "object") && secrets.IsSecretName(p.Name) {
				desc, at = fmt.Sprintf("parameter '%s'", p.Name), c
			}
		case c.Is("variables"):
			name, ok := c.StringArg(0)
			if !ok {
				return true
			}
			if d := s.varTaint(name, kinds); d != "" {
				desc, at = fmt.Sprintf("variable '%s' (from %s)", name, d), c
			}
		}
		return desc == ""
	})
	return desc, at
}

func (s *armScope) varTaint(name string, kinds int) string {
	key := fmt.Sprintf("%d:%s", kinds, strings.ToLower(name))
	if d, ok := s.memo[key]; ok {
		return d
	}
	s.memo[key] = "" // cycle guard
	n := s.vars[strings.ToLower(name)]
	var desc string
	arm.Walk(n, func(x *arm.Node) bool {
		if desc != "" {
			return false
		}
		if x.IsExpression() {
			if e, err := arm.ParseExpr(x.Str); err == nil {
				desc, _ = s.taint(e, kinds)
			}
		}
		return true
	})
	s.memo[key] = desc
	return desc
}

// stringTaint checks every expression string under n (n included) and calls fn for each one that
// uses a secret, with the string node and the offending call. skip prunes subtrees.
func (s *armScope) stringTaint(n *arm.Node, kinds int, skip func(*arm.Node) bool, fn func(str *arm.Node, desc string, at *arm.Call)) {
	arm.Walk(n, func(x *arm.Node) bool {
		if skip != nil && x != n && skip(x) {
			return false
		}
		if x.IsExpression() {
			if e, err := arm.ParseExpr(x.Str); err == nil {
				if d, at := s.taint(e, kinds); d != "" {
					fn(x, d, at)
				}
			}
		}
		return true
	})
}

// literal returns the value of a string node that is a literal (not an expression, not a
// placeholder), and whether it is one.
func armLiteral(n *arm.Node) (string, bool) {
	if n == nil || n.Kind != arm.String || arm.IsExpression(n.Str) {
		return "", false
	}
	v := arm.UnescapeLiteral(n.Str)
	if !secrets.IsLiteral(v) {
		return "", false
	}
	return v, true
}

func (a *armFile) template(top *arm.Template) {
	s := a.r.summary()
	for _, p := range top.Parameters {
		s.Params = append(s.Params, ParamDecl{Name: p.Name, Secure: p.Secure(), Type: armBaseType(p.Type)})
	}
	templates := top.Templates()
	nested := map[*arm.Node]bool{}
	for _, t := range templates[1:] {
		nested[t.Node] = true
	}
	skipNested := func(n *arm.Node) bool { return nested[n] }
	for _, t := range templates {
		a.params(t)
		a.outputs(t, skipNested)
		for _, res := range t.AllResources() {
			a.scriptExtension(t, res)
			a.sensitiveProps(res)
			if res.Deployment != nil {
				a.nestedDeployment(t, res.Deployment, skipNested)
			}
		}
	}
	a.stringRefs(top.Node)
}

func armBaseType(t string) string {
	switch t {
	case "string", "securestring":
		return "string"
	case "object", "secureobject":
		return "object"
	case "int", "bool", "array":
		return t
	}
	return ""
}

// params applies KV002 and KV003 to a template's parameter declarations.
func (a *armFile) params(t *arm.Template) {
	for _, p := range t.Parameters {
		ptr := p.Node.Pointer()
		if p.Secure() {
			if d := p.DefaultValue; d != nil && !armEmptyDefault(t, d) {
				a.issue(KV002, d, -1, ptr+"/defaultValue", fmt.Sprintf("secure parameter '%s' has a default value, stored in the template in clear text", p.Name))
			}
			continue
		}
		if (p.Type == "string" || p.Type == "object") && secrets.IsSecretName(p.Name) {
			a.keyIssue(KV003, p.Node, ptr, fmt.Sprintf("parameter '%s' looks like a secret but is declared %s, not secure%s", p.Name, p.Type, armSecureSuggestion(p.Type)))
		}
	}
}

func armSecureSuggestion(typ string) string {
	if typ == "object" {
		return " (use secureObject)"
	}
	return " (use securestring)"
}

// armEmptyDefault reports whether a secure parameter's default holds no secret material: empty
// string, object or array, null, [newGuid()] or a pass-through of another parameter.
func armEmptyDefault(t *arm.Template, d *arm.Node) bool {
	switch d.Kind {
	case arm.Null:
		return true
	case arm.Object:
		return len(d.Members) == 0
	case arm.Array:
		return len(d.Items) == 0
	case arm.String:
		if d.Str == "" {
			return true
		}
		if !arm.IsExpression(d.Str) {
			return false
		}
		e, err := arm.ParseExpr(d.Str)
		if err != nil {
			return false
		}
		if c, ok := e.(*arm.Call); ok {
			if c.Is("newGuid") && len(c.Args) == 0 {
				return true
			}
			if c.Is("parameters") && len(c.Args) == 1 {
				if name, ok := c.StringArg(0); ok {
					return t.Param(name) != nil && t.Param(name).Secure()
				}
			}
		}
	}
	return false
}

// outputs applies KV004.
func (a *armFile) outputs(t *arm.Template, skip func(*arm.Node) bool) {
	sc := a.scope(t)
	for _, o := range t.Outputs {
		if o.Type == "securestring" || o.Type == "secureobject" {
			continue
		}
		ptr := o.Node.Pointer()
		if secrets.MentionsPassword(o.Name) {
			a.keyIssue(KV004, o.Node, ptr, fmt.Sprintf("output '%s' has 'password' in its name: outputs are stored in clear text in the deployment history", o.Name))
			continue
		}
		reported := false
		for _, v := range []*arm.Node{o.Value, o.Copy} {
			if v == nil || reported {
				continue
			}
			sc.stringTaint(v, taintSecure, skip, func(str *arm.Node, desc string, at *arm.Call) {
				if reported {
					return
				}
				reported = true
				a.issue(KV004, str, at.Start, ptr, fmt.Sprintf("output '%s' returns %s: outputs are stored in clear text in the deployment history", o.Name, desc))
			})
		}
	}
}

// scriptExtension applies KV005 to VM, scale-set and Arc script extensions and run commands.
func (a *armFile) scriptExtension(t *arm.Template, res *arm.Resource) {
	sc := a.scope(t)
	typ := strings.ToLower(res.FullType())
	check := func(n *arm.Node, what string) {
		if n == nil {
			return
		}
		sc.stringTaint(n, taintSecure|taintNamed, nil, func(str *arm.Node, desc string, at *arm.Call) {
			a.issue(KV005, str, at.Start, str.Pointer(), fmt.Sprintf("%s uses %s outside protected settings: settings are stored and shown in clear text", what, desc))
		})
	}
	switch {
	case isExtensionType(typ):
		check(res.Properties.Dig("settings", "commandToExecute"), "settings.commandToExecute")
		check(res.Properties.Dig("settings", "script"), "settings.script")
	case strings.HasSuffix(typ, "/runcommands") && strings.HasPrefix(typ, "microsoft.compute/"):
		check(res.Properties.Dig("source", "script"), "source.script")
		check(res.Properties.Get("parameters"), "parameters")
	case typ == "microsoft.compute/virtualmachinescalesets":
		exts := res.Properties.Dig("virtualMachineProfile", "extensionProfile", "extensions")
		if exts != nil && exts.Kind == arm.Array {
			for _, e := range exts.Items {
				check(e.Dig("properties", "settings", "commandToExecute"), "settings.commandToExecute")
			}
		}
	}
}

func isExtensionType(typ string) bool {
	if !strings.HasSuffix(typ, "/extensions") {
		return false
	}
	return strings.HasPrefix(typ, "microsoft.compute/virtualmachines/") ||
		strings.HasPrefix(typ, "microsoft.compute/virtualmachinescalesets/") ||
		strings.HasPrefix(typ, "microsoft.hybridcompute/machines/")
}

// sensitiveProps applies KV007 to a resource's properties.
func (a *armFile) sensitiveProps(res *arm.Resource) {
	if res.Deployment != nil || res.Properties == nil || res.Existing {
		return
	}
	what := res.FullType()
	if n, ok := res.NameString(); ok {
		what += " '" + n + "'"
	}
	flag := func(v *arm.Node, prop, value string) {
		a.issue(KV007, v, -1, v.Pointer(), fmt.Sprintf("%s of %s is a literal (%s); set it from a secure parameter filled by a Key Vault reference", prop, what, secrets.Redact(value)))
	}
	if res.IsType("Microsoft.KeyVault/vaults/secrets") {
		if v := res.Properties.Get("value"); v != nil {
			if s, ok := armLiteral(v); ok {
				flag(v, "value", s)
			}
		}
	}
	arm.Walk(res.Properties, func(n *arm.Node) bool {
		switch n.Kind {
		case arm.Object:
			for _, m := range n.Members {
				if m.Value.Kind != arm.String {
					continue
				}
				if !equalFold(m.Key, "secureValue") && !sensitiveKey(m.Key) {
					continue
				}
				if s, ok := armLiteral(m.Value); ok && !connectionStringWithoutCredential(m.Key, s) {
					flag(m.Value, m.Key, s)
				}
			}
			// {"name": "DB_PASSWORD", "value": "..."}: app settings, container environment.
			if name, ok := n.Get("name").StringValue(); ok && sensitiveKey(name) {
				if v := n.Get("value"); v != nil {
					if s, ok := armLiteral(v); ok && !connectionStringWithoutCredential(name, s) {
						flag(v, "setting '"+name+"'", s)
					}
				}
			}
		case arm.Array:
			// Container Apps "secrets": [{"name": ..., "value": ...}].
			if equalFold(n.Key(), "secrets") {
				for _, it := range n.Items {
					if v := it.Get("value"); v != nil {
						if s, ok := armLiteral(v); ok {
							name, _ := it.Get("name").StringValue()
							flag(v, "secret '"+name+"'", s)
						}
					}
				}
			}
		}
		return true
	})
}

// sensitiveKey reports whether a property or setting name holds a secret.
func sensitiveKey(k string) bool { return secrets.IsSecretName(k) }

// connectionStringWithoutCredential lets through connection-string-named values that carry no
// credential (managed identity, integrated security).
func connectionStringWithoutCredential(name, value string) bool {
	return isConnectionStringName(name) && !secrets.HasCredential(value)
}

func isConnectionStringName(name string) bool {
	w := secrets.Words(name)
	for i, x := range w {
		if x == "connectionstring" || x == "connstr" || x == "connstring" {
			return true
		}
		if (x == "connection" || x == "conn") && i+1 < len(w) && (w[i+1] == "string" || w[i+1] == "strings" || w[i+1] == "str") {
			return true
		}
	}
	return false
}

// nestedDeployment applies KV006, KV001 for literals passed to the nested template's secure
// parameters, and KV008 for Key Vault references in its parameters.
func (a *armFile) nestedDeployment(parent *arm.Template, d *arm.Deployment, skip func(*arm.Node) bool) {
	name, _ := d.Resource.NameString()
	if name == "" {
		name = d.Resource.Symbol
	}
	if d.Template != nil && !d.InnerScope() {
		sc := a.scope(parent)
		sc.stringTaint(d.Template.Node, taintSecure, skip, func(str *arm.Node, desc string, at *arm.Call) {
			a.issue(KV006, str, at.Start, str.Pointer(), fmt.Sprintf("nested deployment '%s' is evaluated in the outer scope and uses %s in its inline template, which is stored in clear text; set expressionEvaluationOptions.scope to 'inner' and pass it as a secure parameter", name, desc))
		})
	}
	for _, pv := range d.ParameterValues {
		if pv.Reference != nil {
			a.reference(pv, "nested deployment '"+name+"'")
			continue
		}
		kind, red := armValueKind(pv.Value)
		if kind != StringLiteral && kind != ObjectLiteral {
			continue
		}
		secure, byName := false, false
		if d.Template != nil && d.InnerScope() {
			if p := d.Template.Param(pv.Name); p != nil {
				secure = p.Secure()
			}
		} else if d.Template == nil {
			byName = secrets.IsSecretName(pv.Name)
		}
		if !secure && !byName {
			continue
		}
		why := "secure parameter"
		if byName {
			why = "parameter"
		}
		a.issue(KV001, pv.Value, -1, pv.Value.Pointer(), fmt.Sprintf("nested deployment '%s' passes a literal (%s) to %s '%s' instead of a Key Vault reference", name, red, why, pv.Name))
	}
}

// armValueKind classifies a parameter value node and returns a redacted form of a string.
func armValueKind(v *arm.Node) (ValueKind, string) {
	if v == nil {
		return NotLiteral, ""
	}
	switch v.Kind {
	case arm.String:
		if s, ok := armLiteral(v); ok {
			return StringLiteral, secrets.Redact(s)
		}
	case arm.Object:
		if len(v.Members) > 0 {
			return ObjectLiteral, "an object"
		}
	case arm.Array:
		if len(v.Items) > 0 {
			return ObjectLiteral, "an array"
		}
	case arm.Number, arm.Bool:
		return ScalarLiteral, ""
	}
	return NotLiteral, ""
}

// parametersFile records parameter values for pairing and checks Key Vault references.
func (a *armFile) parametersFile(f *arm.ParametersFile) {
	s := a.r.summary()
	for _, pv := range f.Parameters {
		if pv.Reference != nil {
			a.reference(pv, "")
			continue
		}
		kind, red := armValueKind(pv.Value)
		v := ParamValue{Name: pv.Name, Kind: kind, Redacted: red, Logical: pv.Node.Pointer() + "/value"}
		if pv.Value != nil {
			v.Line, v.Column = pv.Value.Pos.Line, pv.Value.Pos.Col
			v.start, v.end = pv.Value.Pos.Offset, pv.Value.End
			if kind == StringLiteral {
				v.NoCredential = connectionStringWithoutCredential(pv.Name, arm.UnescapeLiteral(pv.Value.Str))
			}
		} else {
			v.Line, v.Column = pv.NamePos.Line, pv.NamePos.Col
		}
		s.Values = append(s.Values, v)
	}
}

// reference turns a {"reference": {"keyVault": {"id"}, "secretName", "secretVersion"}} value into
// model references and applies KV008.
func (a *armFile) reference(pv *arm.ParamValue, where string) {
	kv := pv.Reference
	logical := pv.Node.Pointer() + "/reference"
	at := kv.Node
	prefix := fmt.Sprintf("Key Vault reference for parameter '%s'", pv.Name)
	if where != "" {
		prefix += " of " + where
	}
	if kv.VaultIDNode == nil || kv.VaultIDNode.Kind != arm.String {
		a.issue(KV008, at, -1, logical, prefix+" has no keyVault.id string; expected {\"keyVault\": {\"id\": \"/subscriptions/.../providers/Microsoft.KeyVault/vaults/<name>\"}}")
		return
	}
	if kv.SecretNameNode == nil || kv.SecretNameNode.Kind != arm.String {
		a.issue(KV008, at, -1, logical, prefix+" has no secretName string")
		return
	}
	vaults := armVaults(kv.VaultIDNode)
	names := armSecretNames(kv.SecretNameNode)
	version := ""
	if kv.SecretVersionNode != nil {
		if s, ok := kv.SecretVersionNode.StringValue(); ok && !arm.IsExpression(s) && !secrets.IsTemplated(s) {
			version = s
		}
	}
	pairs := pairCandidates(len(vaults), len(names))
	for _, pr := range pairs {
		ref := keyvault.Reference{Kind: keyvault.ARMParameter, Vault: vaults[pr[0]].vault, Parameter: pv.Name, Version: version,
			Source: keyvault.Source{Path: a.r.Path, Line: at.Pos.Line, Column: at.Pos.Col, Logical: logical}}
		ref.Secret, ref.SecretDynamic = names[pr[1]].name, names[pr[1]].dynamic
		a.r.Refs = append(a.r.Refs, ref)
		if vaults[pr[0]].problem != "" {
			a.issue(KV008, kv.VaultIDNode, -1, logical, prefix+": "+vaults[pr[0]].problem)
			continue
		}
		checkReference(a.r, a.cfg, ref, prefix, func(field string) (int, int) {
			n := kv.VaultIDNode
			switch field {
			case "secret name":
				n = kv.SecretNameNode
			case "secret version":
				n = kv.SecretVersionNode
			}
			return n.Pos.Line, n.Pos.Col
		})
	}
}

type vaultCandidate struct {
	vault   keyvault.Vault
	problem string
}

type nameCandidate struct {
	name    string
	dynamic bool
}

// armVaults lists the vaults a keyVault.id value can take: a literal id, resourceId() of a vault,
// either branch of if(), or a dynamic value.
func armVaults(n *arm.Node) []vaultCandidate {
	s := n.Str
	if !arm.IsExpression(s) {
		if secrets.IsTemplated(s) || secrets.IsPlaceholder(s) {
			return []vaultCandidate{{vault: keyvault.Vault{Dynamic: true, Expression: s}}}
		}
		return []vaultCandidate{literalVault(s)}
	}
	e, err := arm.ParseExpr(s)
	if err != nil {
		return []vaultCandidate{{vault: keyvault.Vault{Dynamic: true, Expression: s}}}
	}
	var out []vaultCandidate
	var walk func(x arm.Expr)
	walk = func(x arm.Expr) {
		if len(out) >= 8 {
			return
		}
		switch v := x.(type) {
		case *arm.StringLit:
			out = append(out, literalVault(v.Value))
			return
		case *arm.Call:
			switch {
			case v.Is("if") && len(v.Args) == 3:
				walk(v.Args[1])
				walk(v.Args[2])
				return
			case v.Is("resourceId") && len(v.Args) >= 2:
				typeIdx := -1
				for i, arg := range v.Args {
					if sl, ok := arg.(*arm.StringLit); ok && strings.Contains(sl.Value, "/") && strings.Count(sl.Value, "/") >= 1 && !strings.HasPrefix(sl.Value, "/") {
						typeIdx = i
						break
					}
				}
				if typeIdx >= 0 {
					typ, _ := v.StringArg(typeIdx)
					if !strings.EqualFold(typ, "Microsoft.KeyVault/vaults") {
						out = append(out, vaultCandidate{problem: fmt.Sprintf("keyVault.id is a resourceId() of %s, not of a vault (Microsoft.KeyVault/vaults)", typ)})
						return
					}
					last := v.Args[len(v.Args)-1]
					if name, ok := last.(*arm.StringLit); ok && typeIdx == len(v.Args)-2 {
						out = append(out, vaultCandidate{vault: keyvault.Vault{Name: name.Value}})
						return
					}
				}
			}
		}
		out = append(out, vaultCandidate{vault: keyvault.Vault{Dynamic: true, Expression: arm.ExprString(x)}})
	}
	walk(e)
	return out
}

func literalVault(id string) vaultCandidate {
	v := keyvault.Vault{ID: id, Name: arm.VaultNameFromID(id)}
	if parsed, err := keyvault.ParseVaultID(id); err == nil {
		v.SubscriptionID, v.ResourceGroup, v.Name = parsed.SubscriptionID, parsed.ResourceGroup, parsed.Name
	}
	return vaultCandidate{vault: v}
}

// armSecretNames lists the names a secretName value can take.
func armSecretNames(n *arm.Node) []nameCandidate {
	s := n.Str
	if !arm.IsExpression(s) {
		if secrets.IsTemplated(s) {
			return []nameCandidate{{dynamic: true}}
		}
		return []nameCandidate{{name: arm.UnescapeLiteral(s)}}
	}
	e, err := arm.ParseExpr(s)
	if err != nil {
		return []nameCandidate{{dynamic: true}}
	}
	var out []nameCandidate
	var walk func(x arm.Expr)
	walk = func(x arm.Expr) {
		if len(out) >= 8 {
			return
		}
		switch v := x.(type) {
		case *arm.StringLit:
			out = append(out, nameCandidate{name: v.Value})
			return
		case *arm.Call:
			if v.Is("if") && len(v.Args) == 3 {
				walk(v.Args[1])
				walk(v.Args[2])
				return
			}
		}
		out = append(out, nameCandidate{dynamic: true})
	}
	walk(e)
	return out
}

// pairCandidates pairs vault and secret candidates: branch by branch when both come from the
// same if() (equal counts), else every combination.
func pairCandidates(nv, ns int) [][2]int {
	var out [][2]int
	if nv == ns {
		for i := 0; i < nv; i++ {
			out = append(out, [2]int{i, i})
		}
		return out
	}
	for i := 0; i < nv; i++ {
		for j := 0; j < ns; j++ {
			out = append(out, [2]int{i, j})
		}
	}
	return out
}

// stringRefs collects Key Vault secret URIs and App Service Key Vault references written as
// literals anywhere in a JSON document, and checks them (KV008).
func (a *armFile) stringRefs(root *arm.Node) {
	arm.Walk(root, func(n *arm.Node) bool {
		if n.Kind != arm.String || len(n.Str) < 20 || arm.IsExpression(n.Str) {
			return true
		}
		literalStringRef(a.r, a.cfg, n.Str, n.Pos.Line, n.Pos.Col, n.Pointer())
		return true
	})
}
