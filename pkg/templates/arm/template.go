package arm

import (
	"strings"

	"github.com/stagegate/stagegate/pkg/templates/pos"
)

// DocKind is what a JSON document is to Azure Resource Manager.
type DocKind uint8

// Document kinds.
const (
	DocOther      DocKind = iota // any other JSON
	DocTemplate                  // deployment template (any scope)
	DocParameters                // deployment parameters file
)

func (k DocKind) String() string {
	switch k {
	case DocTemplate:
		return "template"
	case DocParameters:
		return "parameters"
	}
	return "other"
}

// Classify decides whether root is a deployment template, a parameters file
// or other JSON. The $schema decides first: any schema URL containing
// "deploymentTemplate" (resource group, subscription, management group and
// tenant schemas, any api-version folder) or "deploymentParameters",
// case-insensitively. Without a recognised schema the shape decides: a
// template has "resources" plus "parameters" or "$schema"; a parameters file
// has "contentVersion" and a "parameters" object whose members are all
// objects holding "value" or "reference".
func Classify(root *Node) DocKind {
	if root == nil || root.Kind != Object {
		return DocOther
	}
	if s, ok := root.Get("$schema").StringValue(); ok {
		ls := strings.ToLower(s)
		switch {
		case strings.Contains(ls, "deploymenttemplate"):
			return DocTemplate
		case strings.Contains(ls, "deploymentparameters"):
			return DocParameters
		}
	}
	res := root.Get("resources")
	if res != nil && (res.Kind == Array || res.Kind == Object) &&
		(root.Get("parameters") != nil || root.Get("$schema") != nil) {
		return DocTemplate
	}
	params := root.Get("parameters")
	if root.Get("contentVersion") != nil && params != nil && params.Kind == Object && len(params.Members) > 0 {
		for _, m := range params.Members {
			v := m.Value
			if v.Kind != Object || (v.Get("value") == nil && v.Get("reference") == nil) {
				return DocOther
			}
		}
		return DocParameters
	}
	return DocOther
}

// Template is a typed view of a deployment template. It holds pointers into
// the JSON tree; sections that are missing or have the wrong JSON type are
// empty (rules that care can inspect Node).
type Template struct {
	Node            *Node
	Schema          string
	ContentVersion  string
	LanguageVersion string // "2.0" for symbolic-name templates, else ""
	Parameters      []*Param
	Variables       []*Variable
	Resources       []*Resource // top-level resources; children hang below
	Outputs         []*Output
	Functions       []*Function
	// Deployment is the nested deployment holding this template inline, nil
	// for a file's top-level template.
	Deployment *Deployment
}

// Param is a template parameter declaration.
type Param struct {
	Name         string
	NamePos      pos.Pos
	Node         *Node  // the declaration object
	Type         string // lower-cased: string, securestring, int, bool, object, secureobject, array, ...
	TypeNode     *Node
	DefaultValue *Node // nil when absent
}

// Secure reports whether the parameter is securestring or secureobject.
func (p *Param) Secure() bool { return p.Type == "securestring" || p.Type == "secureobject" }

// Variable is one entry of "variables".
type Variable struct {
	Name    string
	NamePos pos.Pos
	Value   *Node
}

// Output is one entry of "outputs".
type Output struct {
	Name    string
	NamePos pos.Pos
	Node    *Node
	Type    string // lower-cased
	Value   *Node  // "value", nil when absent
	Copy    *Node  // "copy", nil when absent
}

// Function is a user-defined function from "functions".
type Function struct {
	Namespace  string
	Name       string
	NamePos    pos.Pos
	Node       *Node
	Parameters []*Param // name/type pairs; DefaultValue is always nil
	Output     *Output  // "output": {type, value}
}

// Resource is a resource declaration.
type Resource struct {
	Node       *Node
	Symbol     string // symbolic name (languageVersion 2.0 object form), else ""
	Type       string // as written, e.g. "secrets" for a child
	APIVersion string
	Name       *Node
	Condition  *Node
	Copy       *Node
	Properties *Node
	Existing   bool
	Parent     *Resource   // enclosing resource for nested "resources"
	Children   []*Resource // nested "resources"
	// Deployment is set for Microsoft.Resources/deployments resources.
	Deployment *Deployment
	// Template is the template declaring the resource.
	Template *Template
}

// Pos returns the position of the resource object.
func (r *Resource) Pos() pos.Pos { return r.Node.Pos }

// FullType returns the type with the parent's type prepended for child
// resources declared with a short type ("secrets" inside
// "Microsoft.KeyVault/vaults" gives "Microsoft.KeyVault/vaults/secrets").
func (r *Resource) FullType() string {
	if r.Parent == nil || strings.Contains(r.Type, "/") {
		return r.Type
	}
	return r.Parent.FullType() + "/" + r.Type
}

// IsType compares FullType case-insensitively with t.
func (r *Resource) IsType(t string) bool { return strings.EqualFold(r.FullType(), t) }

// NameString returns the resource name when it is a plain string.
func (r *Resource) NameString() (string, bool) { return r.Name.StringValue() }

// Deployment is a nested deployment (Microsoft.Resources/deployments).
type Deployment struct {
	Resource *Resource
	// Scope is properties.expressionEvaluationOptions.scope lower-cased;
	// "outer" when absent, as Azure Resource Manager defaults it.
	Scope     string
	ScopeNode *Node // nil when absent
	// Template is the inline properties.template, nil for linked templates.
	Template     *Template
	TemplateLink *Node // properties.templateLink
	// Parameters is properties.parameters, in the parameters-file format.
	Parameters      *Node
	ParameterValues []*ParamValue
	Mode            string
}

// InnerScope reports whether expressions in the inline template are
// evaluated in the nested template's own scope.
func (d *Deployment) InnerScope() bool { return d.Scope == "inner" }

// DeploymentsType is the resource type of nested deployments.
const DeploymentsType = "Microsoft.Resources/deployments"

// ParseTemplate parses src and returns its template view. It does not check
// that the document is a template; use Classify for that.
func ParseTemplate(path string, src []byte) (*Template, error) {
	root, err := Parse(path, src)
	if err != nil {
		return nil, err
	}
	return NewTemplate(root), nil
}

// NewTemplate builds the typed view of a template tree.
func NewTemplate(root *Node) *Template {
	return newTemplate(root, nil)
}

func newTemplate(root *Node, dep *Deployment) *Template {
	t := &Template{Node: root, Deployment: dep}
	t.Schema, _ = root.Get("$schema").StringValue()
	t.ContentVersion, _ = root.Get("contentVersion").StringValue()
	t.LanguageVersion, _ = root.Get("languageVersion").StringValue()
	t.Parameters = declParams(root.Get("parameters"), true)
	if vars := root.Get("variables"); vars != nil && vars.Kind == Object {
		for _, m := range vars.Members {
			t.Variables = append(t.Variables, &Variable{Name: m.Key, NamePos: m.KeyPos, Value: m.Value})
		}
	}
	t.Resources = t.resources(root.Get("resources"), nil)
	if outs := root.Get("outputs"); outs != nil && outs.Kind == Object {
		for _, m := range outs.Members {
			t.Outputs = append(t.Outputs, newOutput(m))
		}
	}
	if fns := root.Get("functions"); fns != nil && fns.Kind == Array {
		for _, nsNode := range fns.Items {
			ns, _ := nsNode.Get("namespace").StringValue()
			members := nsNode.Get("members")
			if members == nil || members.Kind != Object {
				continue
			}
			for _, m := range members.Members {
				f := &Function{Namespace: ns, Name: m.Key, NamePos: m.KeyPos, Node: m.Value}
				if ps := m.Value.Get("parameters"); ps != nil && ps.Kind == Array {
					for _, pn := range ps.Items {
						name, _ := pn.Get("name").StringValue()
						p := &Param{Name: name, NamePos: pn.Pos, Node: pn}
						p.TypeNode = pn.Get("type")
						typ, _ := p.TypeNode.StringValue()
						p.Type = strings.ToLower(typ)
						f.Parameters = append(f.Parameters, p)
					}
				}
				if on, ok := m.Value.Lookup("output"); ok {
					f.Output = newOutput(Member{Key: "output", KeyPos: on.KeyPos, Value: on.Value})
				}
				t.Functions = append(t.Functions, f)
			}
		}
	}
	return t
}

func newOutput(m Member) *Output {
	o := &Output{Name: m.Key, NamePos: m.KeyPos, Node: m.Value, Value: m.Value.Get("value"), Copy: m.Value.Get("copy")}
	typ, _ := m.Value.Get("type").StringValue()
	o.Type = strings.ToLower(typ)
	return o
}

func declParams(params *Node, withDefault bool) []*Param {
	if params == nil || params.Kind != Object {
		return nil
	}
	out := make([]*Param, 0, len(params.Members))
	for _, m := range params.Members {
		p := &Param{Name: m.Key, NamePos: m.KeyPos, Node: m.Value}
		p.TypeNode = m.Value.Get("type")
		typ, _ := p.TypeNode.StringValue()
		p.Type = strings.ToLower(typ)
		if withDefault {
			p.DefaultValue = m.Value.Get("defaultValue")
		}
		out = append(out, p)
	}
	return out
}

func (t *Template) resources(list *Node, parent *Resource) []*Resource {
	if list == nil {
		return nil
	}
	var out []*Resource
	add := func(symbol string, n *Node) {
		if n.Kind != Object {
			return
		}
		out = append(out, t.resource(symbol, n, parent))
	}
	switch list.Kind {
	case Array:
		for _, n := range list.Items {
			add("", n)
		}
	case Object: // languageVersion 2.0: symbolic name -> resource
		for _, m := range list.Members {
			add(m.Key, m.Value)
		}
	}
	return out
}

func (t *Template) resource(symbol string, n *Node, parent *Resource) *Resource {
	r := &Resource{Node: n, Symbol: symbol, Parent: parent, Template: t}
	r.Type, _ = n.Get("type").StringValue()
	r.APIVersion, _ = n.Get("apiVersion").StringValue()
	r.Name = n.Get("name")
	r.Condition = n.Get("condition")
	r.Copy = n.Get("copy")
	r.Properties = n.Get("properties")
	if ex := n.Get("existing"); ex != nil && ex.Kind == Bool {
		r.Existing = ex.Bool
	}
	if r.IsType(DeploymentsType) {
		r.Deployment = newDeployment(r)
	}
	r.Children = t.resources(n.Get("resources"), r)
	return r
}

func newDeployment(r *Resource) *Deployment {
	d := &Deployment{Resource: r, Scope: "outer"}
	props := r.Properties
	d.ScopeNode = props.Dig("expressionEvaluationOptions", "scope")
	if s, ok := d.ScopeNode.StringValue(); ok {
		d.Scope = strings.ToLower(s)
	}
	d.Mode, _ = props.Get("mode").StringValue()
	d.TemplateLink = props.Get("templateLink")
	if tn := props.Get("template"); tn != nil && tn.Kind == Object {
		d.Template = newTemplate(tn, d)
	}
	d.Parameters = props.Get("parameters")
	d.ParameterValues = paramValues(d.Parameters)
	return d
}

// Param returns the parameter declaration named name (case-insensitive).
func (t *Template) Param(name string) *Param {
	for i := len(t.Parameters) - 1; i >= 0; i-- {
		if strings.EqualFold(t.Parameters[i].Name, name) {
			return t.Parameters[i]
		}
	}
	return nil
}

// AllResources returns every resource of this template, children included,
// depth first in source order. It does not enter nested deployments'
// inline templates (use Templates for that).
func (t *Template) AllResources() []*Resource {
	var out []*Resource
	var walk func([]*Resource)
	walk = func(rs []*Resource) {
		for _, r := range rs {
			out = append(out, r)
			walk(r.Children)
		}
	}
	walk(t.Resources)
	return out
}

// Templates returns t followed by every inline nested-deployment template
// below it, depth first. Each nested Template's Deployment field says how
// it is evaluated.
func (t *Template) Templates() []*Template {
	out := []*Template{t}
	for _, r := range t.AllResources() {
		if r.Deployment != nil && r.Deployment.Template != nil {
			out = append(out, r.Deployment.Template.Templates()...)
		}
	}
	return out
}

// Outer returns the template whose parameters and variables expressions in
// t resolve against: t itself, or for a nested template evaluated in outer
// scope the enclosing template (recursively).
func (t *Template) Outer() *Template {
	cur := t
	for cur.Deployment != nil && !cur.Deployment.InnerScope() {
		cur = cur.Deployment.Resource.Template
	}
	return cur
}

// ParametersFile is a typed view of a deployment parameters file.
type ParametersFile struct {
	Node           *Node
	Schema         string
	ContentVersion string
	Parameters     []*ParamValue
}

// ParamValue is one parameter of a parameters file (or of a nested
// deployment's properties.parameters).
type ParamValue struct {
	Name      string
	NamePos   pos.Pos
	Node      *Node        // the {"value": ...} / {"reference": ...} object
	Value     *Node        // "value", nil when absent
	Reference *KeyVaultRef // "reference", nil when absent
}

// KeyVaultRef is a {"reference": {"keyVault": {"id": ...}, "secretName": ...}}
// parameter value. Fields are empty when the reference is malformed; the
// *Node fields are nil when the member is absent.
type KeyVaultRef struct {
	Node              *Node // the "reference" object
	KeyVault          *Node // "keyVault"
	VaultID           string
	VaultIDNode       *Node
	SecretName        string
	SecretNameNode    *Node
	SecretVersion     string
	SecretVersionNode *Node
}

// Pos returns the position of the reference object.
func (r *KeyVaultRef) Pos() pos.Pos { return r.Node.Pos }

// VaultName extracts the vault name from a literal resource id
// (".../providers/Microsoft.KeyVault/vaults/<name>"), or "".
func (r *KeyVaultRef) VaultName() string { return VaultNameFromID(r.VaultID) }

// VaultNameFromID extracts the vault name from a Key Vault resource id, or
// returns "" when id is not one (expressions included).
func VaultNameFromID(id string) string {
	const marker = "/providers/microsoft.keyvault/vaults/"
	// ASCII folding keeps l's byte offsets equal to id's; strings.ToLower
	// would not for invalid UTF-8 (one bad byte becomes three).
	l := asciiLower(id)
	i := strings.LastIndex(l, marker)
	if i < 0 || IsExpression(id) {
		return ""
	}
	name := id[i+len(marker):]
	if j := strings.IndexByte(name, '/'); j >= 0 {
		name = name[:j]
	}
	return name
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// ParseParametersFile parses src and returns its parameters view.
func ParseParametersFile(path string, src []byte) (*ParametersFile, error) {
	root, err := Parse(path, src)
	if err != nil {
		return nil, err
	}
	return NewParametersFile(root), nil
}

// NewParametersFile builds the typed view of a parameters file tree.
func NewParametersFile(root *Node) *ParametersFile {
	f := &ParametersFile{Node: root}
	f.Schema, _ = root.Get("$schema").StringValue()
	f.ContentVersion, _ = root.Get("contentVersion").StringValue()
	f.Parameters = paramValues(root.Get("parameters"))
	return f
}

// Param returns the parameter named name (case-insensitive), or nil.
func (f *ParametersFile) Param(name string) *ParamValue {
	for i := len(f.Parameters) - 1; i >= 0; i-- {
		if strings.EqualFold(f.Parameters[i].Name, name) {
			return f.Parameters[i]
		}
	}
	return nil
}

func paramValues(params *Node) []*ParamValue {
	if params == nil || params.Kind != Object {
		return nil
	}
	out := make([]*ParamValue, 0, len(params.Members))
	for _, m := range params.Members {
		pv := &ParamValue{Name: m.Key, NamePos: m.KeyPos, Node: m.Value, Value: m.Value.Get("value")}
		if ref := m.Value.Get("reference"); ref != nil {
			kv := &KeyVaultRef{Node: ref, KeyVault: ref.Get("keyVault")}
			kv.VaultIDNode = kv.KeyVault.Get("id")
			kv.VaultID, _ = kv.VaultIDNode.StringValue()
			kv.SecretNameNode = ref.Get("secretName")
			kv.SecretName, _ = kv.SecretNameNode.StringValue()
			kv.SecretVersionNode = ref.Get("secretVersion")
			kv.SecretVersion, _ = kv.SecretVersionNode.StringValue()
			pv.Reference = kv
		}
		out = append(out, pv)
	}
	return out
}
