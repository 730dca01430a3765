package rules

import (
	"fmt"
	"strings"

	"github.com/stagegate/stagegate/pkg/gates/keyvault/secrets"
	"github.com/stagegate/stagegate/pkg/keyvault"
	"github.com/stagegate/stagegate/pkg/templates/bicep"
)

type bicepFile struct {
	r    *FileResult
	cfg  *Config
	f    *bicep.File
	vars map[string]*bicep.Var
	memo map[string]string
}

func analyzeBicep(r *FileResult, f *bicep.File, cfg *Config) {
	b := &bicepFile{r: r, cfg: cfg, f: f, vars: map[string]*bicep.Var{}, memo: map[string]string{}}
	for _, v := range f.Vars {
		b.vars[v.Name] = v
	}
	s := r.summary()
	for _, p := range f.Params {
		s.Params = append(s.Params, ParamDecl{Name: p.Name, Secure: p.Secure(), Type: p.BaseType()})
		b.param(p)
	}
	for _, o := range f.Outputs {
		b.output(o)
	}
	for _, res := range f.AllResources() {
		b.scriptExtension(res)
		b.sensitiveProps(res)
	}
	for _, m := range f.Modules {
		b.module(m)
	}
	b.stringRefs()
}

func (b *bicepFile) issue(rule string, e bicep.Expr, logical, msg string) {
	p := e.Pos()
	b.r.add(Issue{Rule: rule, Line: p.Line, Column: p.Col, Logical: logical, Message: msg, start: p.Offset, end: e.End()})
}

// bicepLiteral returns a string expression's value when it is a literal that is not a placeholder.
func bicepLiteral(e bicep.Expr) (string, bool) {
	s, ok := bicep.Literal(e)
	if !ok || !secrets.IsLiteral(s) {
		return "", false
	}
	return s, true
}

// param applies KV002 and KV003.
func (b *bicepFile) param(p *bicep.Param) {
	logical := "param " + p.Name
	if p.Secure() {
		if p.Default != nil && !b.emptyDefault(p.Default) {
			b.issue(KV002, p.Default, logical+"/default", fmt.Sprintf("secure parameter '%s' has a default value, stored in the template in clear text", p.Name))
		}
		return
	}
	bt := p.BaseType()
	if (bt == "string" || bt == "object") && secrets.IsSecretName(p.Name) {
		b.r.add(Issue{Rule: KV003, Line: p.NamePos.Line, Column: p.NamePos.Col, Logical: logical,
			Message: fmt.Sprintf("parameter '%s' looks like a secret but is not declared @secure()", p.Name)})
	}
}

func (b *bicepFile) emptyDefault(e bicep.Expr) bool {
	switch x := e.(type) {
	case *bicep.NullLit:
		return true
	case *bicep.StringLit:
		s, ok := x.Literal()
		return ok && s == ""
	case *bicep.ObjectLit:
		return len(x.Props) == 0
	case *bicep.ArrayLit:
		return len(x.Items) == 0
	case *bicep.Call:
		return x.Name == "newGuid" && len(x.Args) == 0 && (x.Base == nil || isIdent(x.Base, "sys"))
	case *bicep.Ident:
		p := b.f.Param(x.Name)
		return p != nil && p.Secure()
	}
	return false
}

func isIdent(e bicep.Expr, name string) bool {
	id, ok := e.(*bicep.Ident)
	return ok && id.Name == name
}

// taint returns a description of the first secret source in e: a list*() call, a secure
// parameter, (with named) a secret-named parameter, or a variable derived from one.
func (b *bicepFile) taint(e bicep.Expr, kinds int) (string, bicep.Expr) {
	var desc string
	var at bicep.Expr
	bicep.Walk(e, func(x bicep.Expr) bool {
		if desc != "" {
			return false
		}
		switch v := x.(type) {
		case *bicep.Call:
			if kinds&taintSecure != 0 && len(v.Name) > 4 && strings.EqualFold(v.Name[:4], "list") {
				desc, at = v.Name+"()", v
			}
		case *bicep.Ident:
			if p := b.f.Param(v.Name); p != nil {
				switch {
				case p.Secure() && kinds&taintSecure != 0:
					desc, at = fmt.Sprintf("secure parameter '%s'", p.Name), v
				case !p.Secure() && kinds&taintNamed != 0 && (p.BaseType() == "string" || p.BaseType() == "object") && secrets.IsSecretName(p.Name):
					desc, at = fmt.Sprintf("parameter '%s'", p.Name), v
				}
			} else if _, ok := b.vars[v.Name]; ok {
				if d := b.varTaint(v.Name, kinds); d != "" {
					desc, at = fmt.Sprintf("variable '%s' (from %s)", v.Name, d), v
				}
			}
		case *bicep.Member:
			// x.listKeys is a call; a member named like list* without a call is a property.
		}
		return desc == ""
	})
	return desc, at
}

func (b *bicepFile) varTaint(name string, kinds int) string {
	key := fmt.Sprintf("%d:%s", kinds, name)
	if d, ok := b.memo[key]; ok {
		return d
	}
	b.memo[key] = ""
	d, _ := b.taint(b.vars[name].Value, kinds)
	b.memo[key] = d
	return d
}

// output applies KV004.
func (b *bicepFile) output(o *bicep.Output) {
	if o.Secure() {
		return
	}
	logical := "output " + o.Name
	if secrets.MentionsPassword(o.Name) {
		b.r.add(Issue{Rule: KV004, Line: o.NamePos.Line, Column: o.NamePos.Col, Logical: logical,
			Message: fmt.Sprintf("output '%s' has 'password' in its name: outputs are stored in clear text in the deployment history (use @secure() output)", o.Name)})
		return
	}
	if o.Value == nil {
		return
	}
	if d, at := b.taint(o.Value, taintSecure); d != "" {
		b.issue(KV004, at, logical, fmt.Sprintf("output '%s' returns %s: outputs are stored in clear text in the deployment history (use @secure() output)", o.Name, d))
	}
}

// scriptExtension applies KV005.
func (b *bicepFile) scriptExtension(res *bicep.Resource) {
	props := res.Properties()
	if props == nil {
		return
	}
	typ := strings.ToLower(res.FullType())
	logical := "resource " + res.Symbol
	check := func(e bicep.Expr, what string) {
		if e == nil {
			return
		}
		if d, at := b.taint(e, taintSecure|taintNamed); d != "" {
			b.issue(KV005, at, logical+"/"+what, fmt.Sprintf("%s uses %s outside protected settings: settings are stored and shown in clear text", what, d))
		}
	}
	switch {
	case isExtensionType(typ):
		check(props.Object("settings").Get("commandToExecute"), "settings.commandToExecute")
		check(props.Object("settings").Get("script"), "settings.script")
	case strings.HasSuffix(typ, "/runcommands") && strings.HasPrefix(typ, "microsoft.compute/"):
		check(props.Object("source").Get("script"), "source.script")
		check(props.Get("parameters"), "parameters")
	case typ == "microsoft.compute/virtualmachinescalesets":
		if exts, ok := props.Object("virtualMachineProfile").Object("extensionProfile").Get("extensions").(*bicep.ArrayLit); ok {
			for _, it := range exts.Items {
				if o, ok := it.(*bicep.ObjectLit); ok {
					check(o.Object("properties").Object("settings").Get("commandToExecute"), "settings.commandToExecute")
				}
			}
		}
	}
}

// sensitiveProps applies KV007.
func (b *bicepFile) sensitiveProps(res *bicep.Resource) {
	if res.Existing || res.Body == nil {
		return
	}
	props := res.Properties()
	if props == nil {
		return
	}
	what := res.FullType() + " '" + res.Symbol + "'"
	logical := "resource " + res.Symbol
	flag := func(e bicep.Expr, prop, value string) {
		b.issue(KV007, e, logical+"/"+prop, fmt.Sprintf("%s of %s is a literal (%s); use kv.getSecret() in a module parameter or a @secure() parameter", prop, what, secrets.Redact(value)))
	}
	if res.IsType("Microsoft.KeyVault/vaults/secrets") {
		if v := props.Get("value"); v != nil {
			if s, ok := bicepLiteral(v); ok {
				flag(v, "value", s)
			}
		}
	}
	var walk func(e bicep.Expr, path string)
	walk = func(e bicep.Expr, path string) {
		switch x := e.(type) {
		case *bicep.ObjectLit:
			for _, p := range x.Props {
				if p.Spread || p.Value == nil {
					continue
				}
				child := path + "." + p.Key
				if equalFold(p.Key, "secureValue") || sensitiveKey(p.Key) {
					for _, lit := range literalLeaves(p.Value) {
						if s, ok := bicepLiteral(lit); ok && !connectionStringWithoutCredential(p.Key, s) {
							flag(lit, strings.TrimPrefix(child, "."), s)
						}
					}
				}
				if equalFold(p.Key, "secrets") {
					if arr, ok := p.Value.(*bicep.ArrayLit); ok {
						for _, it := range arr.Items {
							if o, ok := it.(*bicep.ObjectLit); ok {
								if v := o.Get("value"); v != nil {
									if s, ok := bicepLiteral(v); ok {
										name, _ := bicep.Literal(o.Get("name"))
										flag(v, "secret '"+name+"'", s)
									}
								}
							}
						}
					}
				}
				walk(p.Value, child)
			}
			if name, ok := bicep.Literal(x.Get("name")); ok && sensitiveKey(name) {
				if v := x.Get("value"); v != nil {
					if s, ok := bicepLiteral(v); ok && !connectionStringWithoutCredential(name, s) {
						flag(v, "setting '"+name+"'", s)
					}
				}
			}
		case *bicep.ArrayLit:
			for _, it := range x.Items {
				walk(it, path)
			}
		case *bicep.ForExpr:
			walk(x.Body, path)
		case *bicep.Ternary:
			walk(x.Then, path)
			walk(x.Else, path)
		}
	}
	walk(props, "properties")
}

// literalLeaves returns the string expressions a property value can evaluate to: the value
// itself, or both branches of a conditional.
func literalLeaves(e bicep.Expr) []bicep.Expr {
	switch x := e.(type) {
	case *bicep.StringLit:
		return []bicep.Expr{x}
	case *bicep.Ternary:
		return append(literalLeaves(x.Then), literalLeaves(x.Else)...)
	}
	return nil
}

// bicepValueKind classifies a value passed to a parameter (module params, .bicepparam).
func bicepValueKind(e bicep.Expr, resolve func(string) bicep.Expr) (ValueKind, string, bicep.Expr) {
	for depth := 0; depth < 8; depth++ {
		id, ok := e.(*bicep.Ident)
		if !ok || resolve == nil {
			break
		}
		v := resolve(id.Name)
		if v == nil {
			break
		}
		e = v
	}
	switch x := e.(type) {
	case *bicep.StringLit:
		if s, ok := bicepLiteral(x); ok {
			return StringLiteral, secrets.Redact(s), x
		}
	case *bicep.ObjectLit, *bicep.ArrayLit:
		if pureData(x) {
			return ObjectLiteral, "an object", x
		}
	case *bicep.IntLit, *bicep.BoolLit:
		return ScalarLiteral, "", x
	case *bicep.Unary:
		if _, ok := x.X.(*bicep.IntLit); ok {
			return ScalarLiteral, "", x
		}
	}
	return NotLiteral, "", e
}

// pureData reports whether a non-empty object or array holds only literals.
func pureData(e bicep.Expr) bool {
	empty := true
	pure := true
	bicep.Walk(e, func(x bicep.Expr) bool {
		switch v := x.(type) {
		case *bicep.ObjectLit:
			if len(v.Props) > 0 {
				empty = false
			}
		case *bicep.ArrayLit:
			if len(v.Items) > 0 {
				empty = false
			}
		case *bicep.StringLit:
			if len(v.Exprs) > 0 {
				pure = false
			}
		case *bicep.IntLit, *bicep.BoolLit, *bicep.NullLit, *bicep.Unary:
		default:
			pure = false
		}
		return pure
	})
	return pure && !empty
}

// module records a module call for pairing (KV001) and checks its Key Vault references.
func (b *bicepFile) module(m *bicep.Module) {
	params := m.Params()
	mc := ModuleCall{Symbol: m.Symbol, Path: m.Path, Line: m.PathPos.Line, Column: m.PathPos.Col}
	if params != nil {
		for _, p := range params.Props {
			if p.Spread || p.Value == nil {
				continue
			}
			b.getSecrets(p.Value, p.Key, "module "+m.Symbol+"/params/"+p.Key)
			kind, red, at := bicepValueKind(p.Value, nil)
			pos := at.Pos()
			v := ParamValue{Name: p.Key, Kind: kind, Redacted: red, Line: pos.Line, Column: pos.Col,
				Logical: "module " + m.Symbol + "/params/" + p.Key, start: pos.Offset, end: at.End()}
			if kind == StringLiteral {
				s, _ := bicep.Literal(at)
				v.NoCredential = connectionStringWithoutCredential(p.Key, s)
			}
			mc.Values = append(mc.Values, v)
		}
	}
	b.r.summary().Modules = append(b.r.summary().Modules, mc)
}

// getSecrets records kv.getSecret('name') references in a module parameter value, including
// both branches of a conditional, and checks them (KV008).
func (b *bicepFile) getSecrets(e bicep.Expr, param, logical string) {
	bicep.Walk(e, func(x bicep.Expr) bool {
		c, ok := x.(*bicep.Call)
		if !ok {
			return true
		}
		sym, nameExpr, ok := bicep.ResourceGetSecret(c)
		if !ok {
			return true
		}
		ref := keyvault.Reference{Kind: keyvault.BicepGetSecret, Parameter: param,
			Source: keyvault.Source{Path: b.r.Path, Line: c.Pos().Line, Column: c.Pos().Col, Logical: logical}}
		res := b.f.Resource(sym)
		if res == nil || !res.IsType(bicep.KeyVaultType) {
			ref.Vault = keyvault.Vault{Dynamic: true, Expression: sym}
		} else {
			ref.Vault = b.vaultOf(res)
		}
		if s, ok := bicep.Literal(nameExpr); ok && !secrets.IsTemplated(s) {
			ref.Secret = s
		} else {
			ref.SecretDynamic = true
		}
		if len(c.Args) == 2 {
			if s, ok := bicep.Literal(c.Args[1]); ok {
				ref.Version = s
			}
		}
		b.r.Refs = append(b.r.Refs, ref)
		checkReference(b.r, b.cfg, ref, fmt.Sprintf("Key Vault reference for module parameter '%s'", param), func(field string) (int, int) {
			if field == "secret name" {
				return nameExpr.Pos().Line, nameExpr.Pos().Col
			}
			return c.Pos().Line, c.Pos().Col
		})
		return true
	})
}

// vaultOf describes the vault an existing Key Vault resource declaration names.
func (b *bicepFile) vaultOf(res *bicep.Resource) keyvault.Vault {
	v := keyvault.Vault{}
	name, ok := bicep.Literal(res.Name())
	if !ok || secrets.IsTemplated(name) {
		v.Dynamic = true
		if res.Name() != nil {
			v.Expression = bicep.ExprString(res.Name())
		} else {
			v.Expression = res.Symbol
		}
		return v
	}
	v.Name = name
	if sc, ok := res.Body.Get("scope").(*bicep.Call); ok && sc.Name == "resourceGroup" {
		switch len(sc.Args) {
		case 2:
			v.SubscriptionID, _ = bicep.Literal(sc.Args[0])
			v.ResourceGroup, _ = bicep.Literal(sc.Args[1])
		case 1:
			v.ResourceGroup, _ = bicep.Literal(sc.Args[0])
		}
	}
	return v
}

// stringRefs checks literal secret URIs and App Service references anywhere in the file.
func (b *bicepFile) stringRefs() {
	visit := func(e bicep.Expr) {
		bicep.Walk(e, func(x bicep.Expr) bool {
			if s, ok := x.(*bicep.StringLit); ok {
				if v, ok := s.Literal(); ok && len(v) >= 20 {
					literalStringRef(b.r, b.cfg, v, s.Start.Line, s.Start.Col, fmt.Sprintf("string@%d", s.Start.Line))
				}
			}
			return true
		})
	}
	for _, v := range b.f.Vars {
		visit(v.Value)
	}
	for _, r := range b.f.Resources {
		visit(r.Value)
	}
	for _, m := range b.f.Modules {
		visit(m.Value)
	}
	for _, p := range b.f.Params {
		visit(p.Default)
	}
}

// analyzeBicepParams handles a .bicepparam file: values for pairing, getSecret references.
func analyzeBicepParams(r *FileResult, pf *bicep.ParamFile, cfg *Config) {
	s := r.summary()
	s.Using, s.HasUsing, s.UsingNone = pf.Using, pf.HasUsing, pf.UsingNone
	s.UsingLine, s.UsingCol = pf.UsingPos.Line, pf.UsingPos.Col
	vars := map[string]*bicep.Var{}
	for _, v := range pf.Vars {
		vars[v.Name] = v
	}
	resolve := func(name string) bicep.Expr {
		if v, ok := vars[name]; ok {
			return v.Value
		}
		return nil
	}
	for _, a := range pf.Params {
		logical := "param " + a.Name
		bicepParamSecrets(r, cfg, a.Value, a.Name, logical)
		kind, red, at := bicepValueKind(a.Value, resolve)
		// Reported where the parameter is assigned; the span covers the literal itself, which a
		// variable may hold further up.
		p := a.Value.Pos()
		v := ParamValue{Name: a.Name, Kind: kind, Redacted: red, Line: p.Line, Column: p.Col, Logical: logical,
			start: at.Pos().Offset, end: at.End()}
		if kind == StringLiteral {
			lit, _ := bicep.Literal(at)
			v.NoCredential = connectionStringWithoutCredential(a.Name, lit)
		}
		s.Values = append(s.Values, v)
	}
	for _, v := range pf.Vars {
		bicep.Walk(v.Value, func(x bicep.Expr) bool {
			if sl, ok := x.(*bicep.StringLit); ok {
				if lit, ok := sl.Literal(); ok && len(lit) >= 20 {
					literalStringRef(r, cfg, lit, sl.Start.Line, sl.Start.Col, "var "+v.Name)
				}
			}
			return true
		})
	}
}

// bicepParamSecrets records az.getSecret(subscription, group, vault, secret[, version]) calls.
func bicepParamSecrets(r *FileResult, cfg *Config, e bicep.Expr, param, logical string) {
	bicep.Walk(e, func(x bicep.Expr) bool {
		c, ok := x.(*bicep.Call)
		if !ok {
			return true
		}
		g, ok := bicep.AsGetSecret(c)
		if !ok {
			return true
		}
		lit := func(e bicep.Expr) (string, bool) {
			s, ok := bicep.Literal(e)
			if !ok || secrets.IsTemplated(s) {
				return "", false
			}
			return s, true
		}
		ref := keyvault.Reference{Kind: keyvault.BicepGetSecret, Parameter: param,
			Source: keyvault.Source{Path: r.Path, Line: c.Pos().Line, Column: c.Pos().Col, Logical: logical}}
		if name, ok := lit(g.VaultName); ok {
			ref.Vault.Name = name
			ref.Vault.SubscriptionID, _ = lit(g.SubscriptionID)
			ref.Vault.ResourceGroup, _ = lit(g.ResourceGroup)
		} else {
			ref.Vault = keyvault.Vault{Dynamic: true, Expression: bicep.ExprString(g.VaultName)}
		}
		if name, ok := lit(g.SecretName); ok {
			ref.Secret = name
		} else {
			ref.SecretDynamic = true
		}
		if g.SecretVersion != nil {
			ref.Version, _ = lit(g.SecretVersion)
		}
		r.Refs = append(r.Refs, ref)
		subProblem := ""
		if ref.Vault.SubscriptionID != "" && !keyvault.IsGUID(ref.Vault.SubscriptionID) {
			subProblem = fmt.Sprintf("subscription id %q is not a GUID", ref.Vault.SubscriptionID)
		}
		prefix := fmt.Sprintf("Key Vault reference for parameter '%s'", param)
		if subProblem != "" {
			p := g.SubscriptionID.Pos()
			r.add(Issue{Rule: KV008, Line: p.Line, Column: p.Col, Logical: logical + "#subscription", Message: prefix + " is malformed: " + subProblem})
		}
		checkReference(r, cfg, ref, prefix, func(field string) (int, int) {
			var at bicep.Expr = g.VaultName
			switch field {
			case "secret name":
				at = g.SecretName
			case "secret version":
				if g.SecretVersion != nil {
					at = g.SecretVersion
				}
			}
			return at.Pos().Line, at.Pos().Col
		})
		return true
	})
}
