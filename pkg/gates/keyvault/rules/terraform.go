package rules

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/stagegate/stagegate/pkg/gates/keyvault/secrets"
	"github.com/stagegate/stagegate/pkg/keyvault"
	"github.com/stagegate/stagegate/pkg/templates/terraform"
)

type tfFile struct {
	r   *FileResult
	cfg *Config
	f   *terraform.File
}

func analyzeTerraform(r *FileResult, f *terraform.File, cfg *Config, vars bool) {
	t := &tfFile{r: r, cfg: cfg, f: f}
	if vars {
		for _, a := range f.Assignments {
			t.attribute(a, a.Name, "")
		}
		t.stringRefs()
		return
	}
	for _, v := range f.Variables {
		t.variable(v)
	}
	for _, o := range f.Outputs {
		if !o.Sensitive && secrets.MentionsPassword(o.Name) {
			r.add(Issue{Rule: KV004, Line: o.NamePos.Line, Column: o.NamePos.Col, Logical: "output." + o.Name,
				Message: fmt.Sprintf("output '%s' has 'password' in its name but is not sensitive = true: its value is shown in plan output and logs", o.Name)})
		}
	}
	for _, a := range f.Locals {
		t.attribute(a, "local."+a.Name, "")
	}
	for _, group := range [][]*terraform.Block{f.Resources, f.Data, f.Providers, f.Modules} {
		for _, b := range group {
			t.block(b, blockAddress(b), b.ResourceType())
		}
	}
	for _, d := range f.Data {
		if d.ResourceType() == "azurerm_key_vault_secret" {
			t.secretData(d)
		}
	}
	t.stringRefs()
}

func blockAddress(b *terraform.Block) string {
	switch b.Type {
	case "resource":
		return b.Address()
	case "data":
		return b.Address()
	case "provider":
		return "provider." + b.Name()
	case "module":
		return "module." + b.Name()
	}
	return b.Type
}

// variable applies KV010 to a secret-named variable: it must be sensitive and have no literal
// default.
func (t *tfFile) variable(v *terraform.Variable) {
	if !secrets.IsSecretName(v.Name) {
		return
	}
	typ := strings.TrimSpace(v.Type)
	if typ == "number" || typ == "bool" || strings.HasPrefix(typ, "list(") || strings.HasPrefix(typ, "set(") || strings.HasPrefix(typ, "tuple(") {
		return
	}
	if v.Default != nil && (v.Default.Literal.Kind == terraform.LiteralNumber || v.Default.Literal.Kind == terraform.LiteralBool) {
		return
	}
	logical := "var." + v.Name
	if !v.Sensitive {
		at := v.NamePos
		msg := fmt.Sprintf("variable '%s' looks like a secret but lacks sensitive = true, so Terraform shows its value in plans and logs", v.Name)
		if v.SensitiveAt != nil {
			at = v.SensitiveAt.Pos
			msg = fmt.Sprintf("variable '%s' looks like a secret but sets sensitive to something other than true", v.Name)
		}
		t.r.add(Issue{Rule: KV010, Line: at.Line, Column: at.Col, Logical: logical, Message: msg})
	}
	if d := v.Default; d != nil && d.Literal.Kind == terraform.LiteralString && secrets.IsLiteral(d.Literal.Str) {
		t.flag(d, logical+".default", fmt.Sprintf("variable '%s' has a literal default value (%s)", v.Name, secrets.Redact(d.Literal.Str)))
	}
}

func (t *tfFile) flag(a *terraform.Attribute, logical, msg string) {
	r := a.Expr.Range()
	t.r.add(Issue{Rule: KV010, Line: a.Pos.Line, Column: a.Pos.Col, Logical: logical, Message: msg + "; read it from Key Vault or a sensitive variable",
		start: r.Start.Byte, end: r.End.Byte})
}

// tfSensitiveArgs are arguments that hold secrets whatever their name says.
var tfSensitiveArgs = map[string]bool{
	"administrator_login_password": true, "admin_password": true, "client_secret": true,
	"password": true, "shared_key": true, "sas_token": true, "secret": true, "value_wo": true,
}

// tfSensitiveMaps are map arguments whose every value is secret.
var tfSensitiveMaps = map[string]bool{"secure_environment_variables": true, "sensitive_environment_variables": true, "protected_settings": true}

// block applies KV010 to a block's arguments and nested blocks.
func (t *tfFile) block(b *terraform.Block, addr, resourceType string) {
	for _, a := range b.Attributes {
		name := a.Name
		if resourceType == "azurerm_key_vault_secret" && b.Type == "resource" && name == "value" {
			t.literal(a, addr+"."+name, fmt.Sprintf("argument 'value' of %s is a literal", addr), "")
			continue
		}
		t.attribute(a, addr+"."+name, addr)
	}
	// connection_string { name = "db" type = "SQLAzure" value = "..." } and name/value pairs.
	if n := b.Attr("name"); n != nil && b.Type != "resource" && b.Type != "data" && n.Literal.Kind == terraform.LiteralString {
		if v := b.Attr("value"); v != nil && (secrets.IsSecretName(n.Literal.Str) || secrets.IsSecretName(b.Type)) {
			label := n.Literal.Str
			if !secrets.IsSecretName(label) {
				label = b.Type
			}
			t.literal(v, addr+"."+b.Type+"["+n.Literal.Str+"].value", fmt.Sprintf("setting '%s' of %s is a literal", n.Literal.Str, addr), label)
		}
	}
	for _, c := range b.Blocks {
		t.block(c, addr+"."+c.Type, resourceType)
	}
}

// attribute applies KV010 to one argument: a secret-named or sensitive argument with a literal
// string, or secret-named entries of a map argument.
func (t *tfFile) attribute(a *terraform.Attribute, logical, addr string) {
	where := ""
	if addr != "" {
		where = " of " + addr
	}
	if tfSensitiveArgs[a.Name] || secrets.IsSecretName(a.Name) {
		t.literal(a, logical, fmt.Sprintf("argument '%s'%s is a literal", a.Name, where), a.Name)
	}
	items := terraform.ObjectItems(a.Expr, 0)
	for _, it := range items {
		if !it.Literal || (!tfSensitiveMaps[a.Name] && !secrets.IsSecretName(it.Key)) {
			continue
		}
		s, ok := terraform.IsLiteralString(it.Value)
		if !ok || !secrets.IsLiteral(s) || connectionStringWithoutCredential(it.Key, s) {
			continue
		}
		r := it.Value.Range()
		t.r.add(Issue{Rule: KV010, Line: r.Start.Line, Column: r.Start.Column, Logical: logical + "[" + it.Key + "]",
			Message: fmt.Sprintf("entry '%s' of '%s'%s is a literal (%s); read it from Key Vault or a sensitive variable", it.Key, a.Name, where, secrets.Redact(s)),
			start:   r.Start.Byte, end: r.End.Byte})
	}
}

// literal flags a if it is a literal string that is not a placeholder (nameForCS, when it says
// connection string, lets through values without credentials).
func (t *tfFile) literal(a *terraform.Attribute, logical, what, nameForCS string) {
	if a.Literal.Kind != terraform.LiteralString || !secrets.IsLiteral(a.Literal.Str) {
		return
	}
	if nameForCS != "" && connectionStringWithoutCredential(nameForCS, a.Literal.Str) {
		return
	}
	t.flag(a, logical, fmt.Sprintf("%s (%s)", what, secrets.Redact(a.Literal.Str)))
}

// secretData records data "azurerm_key_vault_secret" references and checks them (KV008).
func (t *tfFile) secretData(d *terraform.Block) {
	addr := d.Address()
	ref := keyvault.Reference{Kind: keyvault.TerraformData,
		Source: keyvault.Source{Path: t.r.Path, Line: d.Pos.Line, Column: d.Pos.Col, Logical: addr}}
	nameAttr, vaultAttr := d.Attr("name"), d.Attr("key_vault_id")
	prefix := fmt.Sprintf("Key Vault reference %s", addr)
	if nameAttr == nil || vaultAttr == nil {
		t.r.add(Issue{Rule: KV008, Line: d.Pos.Line, Column: d.Pos.Col, Logical: addr,
			Message: prefix + " is malformed: it needs both name and key_vault_id"})
		return
	}
	if nameAttr.Literal.Kind == terraform.LiteralString && !secrets.IsTemplated(nameAttr.Literal.Str) {
		ref.Secret = nameAttr.Literal.Str
	} else {
		ref.SecretDynamic = true
	}
	if v := d.Attr("version"); v != nil && v.Literal.Kind == terraform.LiteralString {
		ref.Version = v.Literal.Str
	}
	ref.Vault = t.vault(vaultAttr)
	t.r.Refs = append(t.r.Refs, ref)
	checkReference(t.r, t.cfg, ref, prefix, func(field string) (int, int) {
		switch field {
		case "secret name":
			return nameAttr.Pos.Line, nameAttr.Pos.Col
		case "secret version":
			if v := d.Attr("version"); v != nil {
				return v.Pos.Line, v.Pos.Col
			}
		}
		return vaultAttr.Pos.Line, vaultAttr.Pos.Col
	})
}

// vault resolves key_vault_id: a literal resource id, or data.azurerm_key_vault.x.id /
// azurerm_key_vault.x.id with a literal name in the same file.
func (t *tfFile) vault(a *terraform.Attribute) keyvault.Vault {
	if a.Literal.Kind == terraform.LiteralString {
		if secrets.IsTemplated(a.Literal.Str) {
			return keyvault.Vault{Dynamic: true, Expression: a.Literal.Str}
		}
		return literalVault(a.Literal.Str).vault
	}
	if st, ok := a.Expr.(*hclsyntax.ScopeTraversalExpr); ok {
		path := terraform.TraversalString(st.Traversal)
		for _, group := range [][]*terraform.Block{t.f.Data, t.f.Resources} {
			for _, b := range group {
				if b.ResourceType() != "azurerm_key_vault" || path != b.Address()+".id" {
					continue
				}
				if n := b.Attr("name"); n != nil && n.Literal.Kind == terraform.LiteralString && !secrets.IsTemplated(n.Literal.Str) {
					return keyvault.Vault{Name: n.Literal.Str}
				}
			}
		}
		return keyvault.Vault{Dynamic: true, Expression: path}
	}
	return keyvault.Vault{Dynamic: true, Expression: "key_vault_id expression"}
}

// stringRefs checks literal secret URIs and App Service references in every argument.
func (t *tfFile) stringRefs() {
	visit := func(a *terraform.Attribute, logical string) {
		if a.Literal.Kind == terraform.LiteralString && len(a.Literal.Str) >= 20 {
			literalStringRef(t.r, t.cfg, a.Literal.Str, a.Pos.Line, a.Pos.Col, logical)
		}
		for _, it := range terraform.ObjectItems(a.Expr, 0) {
			if s, ok := terraform.IsLiteralString(it.Value); ok && len(s) >= 20 {
				r := it.Value.Range()
				literalStringRef(t.r, t.cfg, s, r.Start.Line, r.Start.Column, logical+"["+it.Key+"]")
			}
		}
	}
	for _, a := range t.f.Assignments {
		visit(a, a.Name)
	}
	for _, a := range t.f.Locals {
		visit(a, "local."+a.Name)
	}
	for _, group := range [][]*terraform.Block{t.f.Resources, t.f.Data, t.f.Modules} {
		for _, b := range group {
			addr := blockAddress(b)
			b.Walk(func(c *terraform.Block) {
				for _, a := range c.Attributes {
					visit(a, addr+"."+a.Name)
				}
			})
		}
	}
}
