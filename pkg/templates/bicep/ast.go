// Package bicep is a tolerant parser for Bicep (.bicep) and Bicep parameter
// (.bicepparam) files. It builds declarations (params, vars, resources,
// modules, outputs) with full expression trees and positions; declarations
// it does not model (type, func, import, extension, ...) are skipped with
// their positions recorded, so newer syntax does not make it fail, while
// lexically or structurally broken input gives a *pos.Error with line:col.
//
// Positions follow package pos: 1-based line and column in characters.
package bicep

import (
	"strings"

	"github.com/stagegate/stagegate/pkg/templates/pos"
)

// Span is the source extent shared by every node: Start is where the node
// begins, EndOffset the byte offset just past it.
type Span struct {
	Start     pos.Pos
	EndOffset int
}

// Pos returns the start position.
func (s Span) Pos() pos.Pos { return s.Start }

// End returns the byte offset just past the node.
func (s Span) End() int { return s.EndOffset }

// Expr is an expression node.
type Expr interface {
	Pos() pos.Pos
	End() int
	exprNode()
}

// Ident is a name: a parameter, variable, resource symbol, loop variable, ...
type Ident struct {
	Span
	Name string
}

// IntLit is an integer literal.
type IntLit struct {
	Span
	Text string
}

// BoolLit is true or false.
type BoolLit struct {
	Span
	Value bool
}

// NullLit is null.
type NullLit struct{ Span }

// StringLit is a string. Segments has len(Exprs)+1 decoded text pieces
// around the ${...} interpolations: 'a${x}b' is Segments ["a","b"],
// Exprs [x].
type StringLit struct {
	Span
	Segments  []string
	Exprs     []Expr
	Multiline bool // '''...''' (never interpolated)

	seg0 [1]string // backing store for the common single-segment case
}

func newString(span Span, v string, multiline bool) *StringLit {
	s := &StringLit{Span: span, Multiline: multiline}
	s.seg0[0] = v
	s.Segments = s.seg0[:]
	return s
}

// Literal returns the value of a string without interpolation.
func (s *StringLit) Literal() (string, bool) {
	if len(s.Exprs) != 0 {
		return "", false
	}
	return s.Segments[0], true
}

// ObjectLit is { key: value ... }.
type ObjectLit struct {
	Span
	Props []*Property
	// Resources are nested resource declarations (only valid inside a
	// resource body).
	Resources []*Resource
}

// Property is one entry of an object. For a spread (...expr) Spread is set
// and Key is empty.
type Property struct {
	Span
	Key     string // decoded key; for interpolated keys the literal text pieces joined
	KeyPos  pos.Pos
	KeyExpr Expr // non-nil for an interpolated string key
	Value   Expr
	Spread  bool
}

// Prop returns the last property named key (exact match, as Bicep is
// case-sensitive; use PropFold for case-insensitive lookups), or nil.
func (o *ObjectLit) Prop(key string) *Property {
	if o == nil {
		return nil
	}
	for i := len(o.Props) - 1; i >= 0; i-- {
		if !o.Props[i].Spread && o.Props[i].KeyExpr == nil && o.Props[i].Key == key {
			return o.Props[i]
		}
	}
	return nil
}

// PropFold is Prop with case-insensitive matching.
func (o *ObjectLit) PropFold(key string) *Property {
	if o == nil {
		return nil
	}
	for i := len(o.Props) - 1; i >= 0; i-- {
		if !o.Props[i].Spread && o.Props[i].KeyExpr == nil && strings.EqualFold(o.Props[i].Key, key) {
			return o.Props[i]
		}
	}
	return nil
}

// Get returns the value of property key, or nil.
func (o *ObjectLit) Get(key string) Expr {
	if p := o.Prop(key); p != nil {
		return p.Value
	}
	return nil
}

// Object returns the value of property key when it is an object literal.
func (o *ObjectLit) Object(key string) *ObjectLit {
	v, _ := o.Get(key).(*ObjectLit)
	return v
}

// ArrayLit is [ items ].
type ArrayLit struct {
	Span
	Items []Expr
}

// ForExpr is [for item in iterable: body] or [for (item, index) in ...:
// if (cond) body].
type ForExpr struct {
	Span
	ItemVar   string
	IndexVar  string
	Iterable  Expr
	Condition Expr // nil unless the body is "if (cond) body"
	Body      Expr
}

// Call is a function call. Base is nil for a plain call (concat(...)) and
// the receiver for a qualified one: az.getSecret(...) has Base Ident "az",
// kv.getSecret('x') has Base Ident "kv", a.b.listKeys() has Base a.b.
type Call struct {
	Span
	Base    Expr
	Name    string
	NamePos pos.Pos
	Args    []Expr
}

// QualifiedName returns "name" or "base.name" when Base is an identifier
// (e.g. "az.getSecret", "sys.concat", "kv.getSecret").
func (c *Call) QualifiedName() string {
	if id, ok := c.Base.(*Ident); ok {
		return id.Name + "." + c.Name
	}
	return c.Name
}

// StringArg returns argument i when it is a string without interpolation.
func (c *Call) StringArg(i int) (string, bool) {
	if i < 0 || i >= len(c.Args) {
		return "", false
	}
	return Literal(c.Args[i])
}

// Member is X.Name, or X.?Name when Safe.
type Member struct {
	Span
	X       Expr
	Name    string
	NamePos pos.Pos
	Safe    bool
}

// Index is X[Index], or X[?Index] when Safe.
type Index struct {
	Span
	X     Expr
	Index Expr
	Safe  bool
}

// Unary is !X or -X.
type Unary struct {
	Span
	Op string
	X  Expr
}

// Binary is X Op Y for ||, &&, ==, !=, =~, !~, <, <=, >, >=, +, -, *, /, %, ??.
type Binary struct {
	Span
	Op   string
	X, Y Expr
}

// Ternary is Cond ? Then : Else.
type Ternary struct {
	Span
	Cond, Then, Else Expr
}

// Lambda is x => body or (x, y) => body.
type Lambda struct {
	Span
	Params []string
	Body   Expr
}

// NonNull is the postfix non-null assertion X!.
type NonNull struct {
	Span
	X Expr
}

func (*Ident) exprNode()     {}
func (*IntLit) exprNode()    {}
func (*BoolLit) exprNode()   {}
func (*NullLit) exprNode()   {}
func (*StringLit) exprNode() {}
func (*ObjectLit) exprNode() {}
func (*ArrayLit) exprNode()  {}
func (*ForExpr) exprNode()   {}
func (*Call) exprNode()      {}
func (*Member) exprNode()    {}
func (*Index) exprNode()     {}
func (*Unary) exprNode()     {}
func (*Binary) exprNode()    {}
func (*Ternary) exprNode()   {}
func (*Lambda) exprNode()    {}
func (*NonNull) exprNode()   {}

// Literal returns the value of e when it is a string without interpolation.
func Literal(e Expr) (string, bool) {
	s, ok := e.(*StringLit)
	if !ok {
		return "", false
	}
	return s.Literal()
}

// Walk calls fn for e and every expression below it, depth first in source
// order, including nested resource declarations' bodies. When fn returns
// false the children of that node are skipped.
func Walk(e Expr, fn func(Expr) bool) {
	if e == nil || !fn(e) {
		return
	}
	switch x := e.(type) {
	case *StringLit:
		for _, s := range x.Exprs {
			Walk(s, fn)
		}
	case *ObjectLit:
		for _, p := range x.Props {
			Walk(p.KeyExpr, fn)
			Walk(p.Value, fn)
		}
		for _, r := range x.Resources {
			Walk(r.Value, fn)
		}
	case *ArrayLit:
		for _, it := range x.Items {
			Walk(it, fn)
		}
	case *ForExpr:
		Walk(x.Iterable, fn)
		Walk(x.Condition, fn)
		Walk(x.Body, fn)
	case *Call:
		Walk(x.Base, fn)
		for _, a := range x.Args {
			Walk(a, fn)
		}
	case *Member:
		Walk(x.X, fn)
	case *Index:
		Walk(x.X, fn)
		Walk(x.Index, fn)
	case *Unary:
		Walk(x.X, fn)
	case *Binary:
		Walk(x.X, fn)
		Walk(x.Y, fn)
	case *Ternary:
		Walk(x.Cond, fn)
		Walk(x.Then, fn)
		Walk(x.Else, fn)
	case *Lambda:
		Walk(x.Body, fn)
	case *NonNull:
		Walk(x.X, fn)
	}
}

// Calls returns every call in e, outermost first, in source order.
func Calls(e Expr) []*Call {
	var out []*Call
	Walk(e, func(x Expr) bool {
		if c, ok := x.(*Call); ok {
			out = append(out, c)
		}
		return true
	})
	return out
}

// Decorator is @name(args) or @ns.name(args) before a declaration.
type Decorator struct {
	Span
	Namespace string // "sys" for @sys.secure(), else ""
	Name      string
	Args      []Expr
}

// Decorators is a declaration's decorator list.
type Decorators []*Decorator

// Find returns the decorator named name (case-insensitive), or nil.
func (ds Decorators) Find(name string) *Decorator {
	for _, d := range ds {
		if strings.EqualFold(d.Name, name) {
			return d
		}
	}
	return nil
}

// Has reports whether decorator name is present.
func (ds Decorators) Has(name string) bool { return ds.Find(name) != nil }

// Description returns the literal argument of @description(...) or
// @sys.description(...), or "".
func (ds Decorators) Description() string {
	if d := ds.Find("description"); d != nil && len(d.Args) > 0 {
		s, _ := Literal(d.Args[0])
		return s
	}
	return ""
}

// Param is a parameter declaration: [decorators] param name type [= default].
type Param struct {
	Span
	Name       string
	NamePos    pos.Pos
	Decorators Decorators
	Type       string // type source text, e.g. "string", "object", "'a' | 'b'", "string[]", "myType"
	TypePos    pos.Pos
	Default    Expr // nil when absent
}

// Secure reports whether the parameter has @secure() (or @sys.secure()).
func (p *Param) Secure() bool { return p.Decorators.Has("secure") }

// BaseType classifies Type: "string", "int", "bool", "object", "array",
// "resource", or "" for user-defined or unrecognised types. Nullable (?)
// markers are ignored, "x[]" is "array", "{...}" is "object", and a union
// of literals takes the literals' type ('a' | 'b' is "string").
func (p *Param) BaseType() string { return BaseType(p.Type) }

// BaseType classifies a type expression's source text; see Param.BaseType.
func BaseType(t string) string {
	t = strings.TrimSpace(t)
	t = strings.TrimSuffix(t, "?")
	t = strings.TrimSpace(t)
	switch {
	case t == "":
		return ""
	case strings.HasSuffix(t, "]"):
		return "array"
	case strings.HasPrefix(t, "{"):
		return "object"
	case strings.HasPrefix(t, "resource"):
		return "resource"
	}
	first := t
	if i := strings.IndexByte(t, '|'); i >= 0 {
		first = strings.TrimSpace(t[:i])
	}
	first = strings.TrimPrefix(first, "sys.")
	switch {
	case first == "string" || first == "int" || first == "bool" || first == "object" || first == "array":
		return first
	case strings.HasPrefix(first, "'"):
		return "string"
	case first == "true" || first == "false":
		return "bool"
	case first != "" && (first[0] == '-' || (first[0] >= '0' && first[0] <= '9')):
		return "int"
	}
	return ""
}

// Var is a variable declaration.
type Var struct {
	Span
	Name       string
	NamePos    pos.Pos
	Decorators Decorators
	Type       string // optional type text (typed variables), else ""
	Value      Expr
}

// Resource is a resource declaration, top-level or nested in a resource
// body.
type Resource struct {
	Span
	Symbol     string
	SymbolPos  pos.Pos
	Decorators Decorators
	Type       string // as written, without "@version" ("secrets" for a nested child)
	APIVersion string
	TypePos    pos.Pos
	Existing   bool
	// Value is what follows '=': an object, "if (cond) {...}" (Condition
	// set, Body the object) or a for expression (Loop set).
	Value     Expr
	Condition Expr
	Loop      *ForExpr
	Body      *ObjectLit // nil when the body is not an object literal
	Parent    *Resource
	Children  []*Resource
}

// FullType prepends the parent type for nested children declared with a
// short type ("secrets" in a vault gives "Microsoft.KeyVault/vaults/secrets").
func (r *Resource) FullType() string {
	if r.Parent == nil || strings.Contains(r.Type, "/") {
		return r.Type
	}
	return r.Parent.FullType() + "/" + r.Type
}

// IsType compares FullType case-insensitively with t.
func (r *Resource) IsType(t string) bool { return strings.EqualFold(r.FullType(), t) }

// Properties returns the body's "properties" object, or nil.
func (r *Resource) Properties() *ObjectLit { return r.Body.Object("properties") }

// Name returns the body's "name" expression, or nil.
func (r *Resource) Name() Expr { return r.Body.Get("name") }

// Module is a module declaration.
type Module struct {
	Span
	Symbol     string
	SymbolPos  pos.Pos
	Decorators Decorators
	Path       string // e.g. "./kv.bicep", "br/public:avm/res/key-vault/vault:0.6.0"
	PathPos    pos.Pos
	Value      Expr
	Condition  Expr
	Loop       *ForExpr
	Body       *ObjectLit
}

// Params returns the module's "params" object, or nil.
func (m *Module) Params() *ObjectLit { return m.Body.Object("params") }

// Output is an output declaration.
type Output struct {
	Span
	Name       string
	NamePos    pos.Pos
	Decorators Decorators
	Type       string // type source text, "resource 'T@v'" for resource outputs
	Value      Expr
}

// Secure reports whether the output has @secure().
func (o *Output) Secure() bool { return o.Decorators.Has("secure") }

// Metadata is "metadata name = value".
type Metadata struct {
	Span
	Name  string
	Value Expr
}

// Statement is a declaration the parser skips (type, func, import,
// extension, provider, assert, or an unknown keyword), kept so callers know
// it was there.
type Statement struct {
	Span
	Keyword    string
	Decorators Decorators
}

// File is a parsed .bicep file.
type File struct {
	Path           string
	TargetScope    string // literal value of targetScope, "" when absent
	TargetScopePos pos.Pos
	Params         []*Param
	Vars           []*Var
	Resources      []*Resource // top-level declarations; nested ones are in Children
	Modules        []*Module
	Outputs        []*Output
	Metadata       []*Metadata
	Imports        []*Statement // import / using / extension / provider
	Other          []*Statement // type, func, assert, unknown
}

// Param returns the parameter named name, or nil.
func (f *File) Param(name string) *Param {
	for _, p := range f.Params {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Var returns the variable named name, or nil.
func (f *File) Var(name string) *Var {
	for _, v := range f.Vars {
		if v.Name == name {
			return v
		}
	}
	return nil
}

// Resource returns the resource (nested ones included) with the symbolic
// name symbol, or nil.
func (f *File) Resource(symbol string) *Resource {
	for _, r := range f.AllResources() {
		if r.Symbol == symbol {
			return r
		}
	}
	return nil
}

// AllResources returns every resource declaration, nested children after
// their parent.
func (f *File) AllResources() []*Resource {
	var out []*Resource
	var walk func([]*Resource)
	walk = func(rs []*Resource) {
		for _, r := range rs {
			out = append(out, r)
			walk(r.Children)
		}
	}
	walk(f.Resources)
	return out
}

// KeyVaultType is the resource type of a Key Vault.
const KeyVaultType = "Microsoft.KeyVault/vaults"

// ExistingVaults returns the "existing" Key Vault declarations, the
// receivers of kv.getSecret('name') calls.
func (f *File) ExistingVaults() []*Resource {
	var out []*Resource
	for _, r := range f.AllResources() {
		if r.Existing && r.IsType(KeyVaultType) {
			out = append(out, r)
		}
	}
	return out
}

// ParamAssign is "param name = value" in a .bicepparam file.
type ParamAssign struct {
	Span
	Name    string
	NamePos pos.Pos
	Value   Expr
}

// ParamFile is a parsed .bicepparam file.
type ParamFile struct {
	Path      string
	Using     string // the path or registry reference after "using"
	UsingPos  pos.Pos
	UsingNone bool // "using none"
	HasUsing  bool
	Params    []*ParamAssign
	Vars      []*Var
	Imports   []*Statement // import / extends
	Other     []*Statement
}

// Param returns the assignment for parameter name, or nil.
func (f *ParamFile) Param(name string) *ParamAssign {
	for i := len(f.Params) - 1; i >= 0; i-- {
		if f.Params[i].Name == name {
			return f.Params[i]
		}
	}
	return nil
}

// GetSecret describes a Key Vault secret read in a .bicepparam file:
// az.getSecret(subscriptionId, resourceGroup, vaultName, secretName
// [, secretVersion]) or getSecret(...) with the same arguments.
type GetSecret struct {
	Call           *Call
	SubscriptionID Expr
	ResourceGroup  Expr
	VaultName      Expr
	SecretName     Expr
	SecretVersion  Expr // nil when absent
}

// AsGetSecret recognises a parameter-file getSecret call with at least four
// arguments.
func AsGetSecret(c *Call) (*GetSecret, bool) {
	if c == nil || c.Name != "getSecret" || len(c.Args) < 4 || len(c.Args) > 5 {
		return nil, false
	}
	if c.Base != nil {
		id, ok := c.Base.(*Ident)
		if !ok || id.Name != "az" {
			return nil, false
		}
	}
	g := &GetSecret{Call: c, SubscriptionID: c.Args[0], ResourceGroup: c.Args[1], VaultName: c.Args[2], SecretName: c.Args[3]}
	if len(c.Args) == 5 {
		g.SecretVersion = c.Args[4]
	}
	return g, true
}

// ResourceGetSecret recognises symbol.getSecret('name'[, 'version']) in a
// .bicep file, also on a resource collection element (vaults[0].getSecret),
// and returns the receiver symbol and the secret name expression. Whether
// the symbol is a Key Vault is for the caller to check (File.Resource).
func ResourceGetSecret(c *Call) (symbol string, secretName Expr, ok bool) {
	if c == nil || c.Name != "getSecret" || len(c.Args) < 1 || len(c.Args) > 2 {
		return "", nil, false
	}
	base := c.Base
	if ix, isIndex := base.(*Index); isIndex {
		base = ix.X
	}
	id, isIdent := base.(*Ident)
	if !isIdent || id.Name == "az" {
		return "", nil, false
	}
	return id.Name, c.Args[0], true
}
