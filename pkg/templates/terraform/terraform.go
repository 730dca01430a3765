// Package terraform models Terraform configuration (.tf) and variable
// definition (.tfvars) files parsed with hclsyntax: variables, resources,
// data sources, outputs, locals, providers, modules and top-level
// assignments, each attribute with its expression, position and literal
// classification.
//
// Positions follow package pos (1-based lines; columns as HCL counts them,
// in grapheme clusters, which equals characters except with combining
// marks). Offsets include a leading byte order mark if the file has one.
package terraform

import (
	"cmp"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/stagegate/stagegate/pkg/templates/pos"
)

// MaxDepth bounds bracket and interpolation nesting; deeper input is refused
// before HCL parses it, with an error wrapping pos.ErrLimit.
const MaxDepth = 1000

// File is a parsed .tf or .tfvars file.
type File struct {
	Path      string
	Body      *hclsyntax.Body // the raw syntax tree, for anything not modelled
	Variables []*Variable
	Resources []*Block // "resource" blocks
	Data      []*Block // "data" blocks
	Outputs   []*Output
	Locals    []*Attribute // attributes of every "locals" block
	Providers []*Block
	Modules   []*Block
	// Assignments are top-level attributes: the content of a .tfvars file.
	Assignments []*Attribute
	Other       []*Block // terraform, moved, import, check, ...
	// BOM is the length of a leading byte order mark (0 or 3); positions
	// include it. The References and ObjectItems methods account for it.
	BOM int
}

// References is the package-level References with this file's BOM.
func (f *File) References(expr hclsyntax.Expression) []Reference { return References(expr, f.BOM) }

// ObjectItems is the package-level ObjectItems with this file's BOM.
func (f *File) ObjectItems(expr hclsyntax.Expression) []ObjectItem { return ObjectItems(expr, f.BOM) }

// Block is any HCL block.
type Block struct {
	Type       string // block type keyword: resource, data, provider, dynamic, ...
	Labels     []string
	LabelPos   []pos.Pos
	Pos        pos.Pos // the block type keyword
	Attributes []*Attribute
	Blocks     []*Block
	Syntax     *hclsyntax.Block
}

// ResourceType returns the first label (e.g. "azurerm_key_vault_secret").
func (b *Block) ResourceType() string { return b.label(0) }

// Name returns the second label (the resource or data source name), or for
// single-label blocks (variable, output, module, provider) the first.
func (b *Block) Name() string {
	if len(b.Labels) >= 2 {
		return b.Labels[1]
	}
	return b.label(0)
}

func (b *Block) label(i int) string {
	if i < len(b.Labels) {
		return b.Labels[i]
	}
	return ""
}

// Address returns "type.name" for resources ("data.type.name" for data
// sources), the form Terraform references use.
func (b *Block) Address() string {
	if b.Type == "data" {
		return "data." + b.ResourceType() + "." + b.Name()
	}
	return b.ResourceType() + "." + b.Name()
}

// Attr returns the attribute named name, or nil.
func (b *Block) Attr(name string) *Attribute {
	if b == nil {
		return nil
	}
	for _, a := range b.Attributes {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// BlocksOfType returns the nested blocks with type t.
func (b *Block) BlocksOfType(t string) []*Block {
	var out []*Block
	for _, c := range b.Blocks {
		if c.Type == t {
			out = append(out, c)
		}
	}
	return out
}

// Walk calls fn for b and every block nested in it, depth first.
func (b *Block) Walk(fn func(*Block)) {
	fn(b)
	for _, c := range b.Blocks {
		c.Walk(fn)
	}
}

// LiteralKind classifies an expression that is a constant.
type LiteralKind uint8

// Literal kinds.
const (
	NotLiteral LiteralKind = iota
	LiteralString
	LiteralNumber
	LiteralBool
	LiteralNull
)

func (k LiteralKind) String() string {
	names := [...]string{"expression", "string", "number", "bool", "null"}
	if int(k) < len(names) {
		return names[k]
	}
	return "expression"
}

// Literal is the constant value of an expression, when it has one.
type Literal struct {
	Kind LiteralKind
	// Str is the string value, the number text ("1.5"), or "true"/"false".
	Str string
}

// Attribute is "name = expression".
type Attribute struct {
	Name    string
	NamePos pos.Pos
	Pos     pos.Pos // start of the expression
	Expr    hclsyntax.Expression
	Literal Literal
}

// Variable is a "variable" block.
type Variable struct {
	Name        string
	NamePos     pos.Pos
	Pos         pos.Pos
	Block       *Block
	Type        string // type constraint source text ("string", "object({...})"), "" when absent
	Default     *Attribute
	Sensitive   bool // sensitive = true (a literal)
	SensitiveAt *Attribute
	Description string
}

// Output is an "output" block.
type Output struct {
	Name        string
	NamePos     pos.Pos
	Pos         pos.Pos
	Block       *Block
	Value       *Attribute
	Sensitive   bool
	SensitiveAt *Attribute
}

// Variable returns the variable named name, or nil.
func (f *File) Variable(name string) *Variable {
	for _, v := range f.Variables {
		if v.Name == name {
			return v
		}
	}
	return nil
}

// Assignment returns the top-level attribute named name, or nil.
func (f *File) Assignment(name string) *Attribute {
	for _, a := range f.Assignments {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// Parse parses a .tf or .tfvars file. Errors are *pos.Error.
func Parse(path string, src []byte) (f *File, err error) {
	bom := pos.BOMLen(src)
	body := src[bom:]
	if err := checkDepth(path, src, bom); err != nil {
		return nil, err
	}
	defer func() {
		// hclsyntax is third-party code fed untrusted input: turn a panic
		// into an error rather than taking the gate down.
		if r := recover(); r != nil {
			f, err = nil, pos.Errorf(path, pos.Pos{Line: 1, Col: 1}, "HCL parser failed: %v", r)
		}
	}()
	hf, diags := hclsyntax.ParseConfig(body, path, hcl.InitialPos)
	if diags.HasErrors() {
		for _, d := range diags {
			if d.Severity != hcl.DiagError {
				continue
			}
			p := pos.Pos{Line: 1, Col: 1}
			if d.Subject != nil {
				p = conv(d.Subject.Start, bom)
			}
			msg := d.Summary
			if d.Detail != "" {
				msg += ": " + d.Detail
			}
			return nil, pos.Errorf(path, p, "%s", msg)
		}
	}
	sb, ok := hf.Body.(*hclsyntax.Body)
	if !ok {
		return nil, pos.Errorf(path, pos.Pos{Line: 1, Col: 1}, "unexpected HCL body type %T", hf.Body)
	}
	b := builder{src: body, bom: bom}
	f = &File{Path: path, Body: sb, BOM: bom}
	f.Assignments = b.attributes(sb)
	for _, blk := range sb.Blocks {
		bl := b.block(blk)
		switch blk.Type {
		case "resource":
			f.Resources = append(f.Resources, bl)
		case "data":
			f.Data = append(f.Data, bl)
		case "variable":
			f.Variables = append(f.Variables, b.variable(bl))
		case "output":
			o := &Output{Name: bl.label(0), Pos: bl.Pos, Block: bl, Value: bl.Attr("value"), SensitiveAt: bl.Attr("sensitive")}
			if len(bl.LabelPos) > 0 {
				o.NamePos = bl.LabelPos[0]
			}
			o.Sensitive = isTrue(o.SensitiveAt)
			f.Outputs = append(f.Outputs, o)
		case "locals":
			f.Locals = append(f.Locals, bl.Attributes...)
		case "provider":
			f.Providers = append(f.Providers, bl)
		case "module":
			f.Modules = append(f.Modules, bl)
		default:
			f.Other = append(f.Other, bl)
		}
	}
	return f, nil
}

func isTrue(a *Attribute) bool {
	return a != nil && a.Literal.Kind == LiteralBool && a.Literal.Str == "true"
}

type builder struct {
	src []byte
	bom int
}

func conv(p hcl.Pos, bom int) pos.Pos {
	return pos.Pos{Offset: p.Byte + bom, Line: p.Line, Col: p.Column}
}

func (b builder) attributes(body *hclsyntax.Body) []*Attribute {
	out := make([]*Attribute, 0, len(body.Attributes))
	for _, a := range body.Attributes {
		out = append(out, &Attribute{
			Name:    a.Name,
			NamePos: conv(a.NameRange.Start, b.bom),
			Pos:     conv(a.Expr.Range().Start, b.bom),
			Expr:    a.Expr,
			Literal: LiteralValue(a.Expr),
		})
	}
	// Attributes come from a map: restore source order.
	slices.SortFunc(out, func(x, y *Attribute) int { return cmp.Compare(x.NamePos.Offset, y.NamePos.Offset) })
	return out
}

func (b builder) block(blk *hclsyntax.Block) *Block {
	bl := &Block{Type: blk.Type, Labels: blk.Labels, Pos: conv(blk.TypeRange.Start, b.bom), Syntax: blk}
	for _, r := range blk.LabelRanges {
		p := conv(r.Start, b.bom)
		bl.LabelPos = append(bl.LabelPos, p)
	}
	bl.Attributes = b.attributes(blk.Body)
	for _, c := range blk.Body.Blocks {
		bl.Blocks = append(bl.Blocks, b.block(c))
	}
	return bl
}

func (b builder) variable(bl *Block) *Variable {
	v := &Variable{Name: bl.label(0), Pos: bl.Pos, Block: bl, Default: bl.Attr("default"), SensitiveAt: bl.Attr("sensitive")}
	if len(bl.LabelPos) > 0 {
		v.NamePos = bl.LabelPos[0]
	}
	if t := bl.Attr("type"); t != nil {
		r := t.Expr.Range()
		if r.Start.Byte >= 0 && r.End.Byte <= len(b.src) && r.Start.Byte <= r.End.Byte {
			v.Type = string(b.src[r.Start.Byte:r.End.Byte])
		}
	}
	v.Sensitive = isTrue(v.SensitiveAt)
	if d := bl.Attr("description"); d != nil && d.Literal.Kind == LiteralString {
		v.Description = d.Literal.Str
	}
	return v
}

// IsLiteralString reports whether expr is a string with no interpolation or
// template directive (a quoted string or heredoc of plain text) and returns
// its value.
func IsLiteralString(expr hclsyntax.Expression) (string, bool) {
	switch e := expr.(type) {
	case *hclsyntax.TemplateExpr:
		// Most quoted strings are one literal part: return it without copying.
		if len(e.Parts) == 1 {
			return stringLiteral(e.Parts[0])
		}
		var sb strings.Builder
		for _, part := range e.Parts {
			s, ok := stringLiteral(part)
			if !ok {
				return "", false
			}
			sb.WriteString(s)
		}
		return sb.String(), true
	case *hclsyntax.LiteralValueExpr:
		if e.Val.Type() == cty.String && e.Val.IsKnown() && !e.Val.IsNull() {
			return e.Val.AsString(), true
		}
	}
	return "", false
}

func stringLiteral(part hclsyntax.Expression) (string, bool) {
	lit, ok := part.(*hclsyntax.LiteralValueExpr)
	if !ok || lit.Val.Type() != cty.String || lit.Val.IsNull() || !lit.Val.IsKnown() {
		return "", false
	}
	return lit.Val.AsString(), true
}

// LiteralValue classifies expr as a constant string, number, bool or null,
// or NotLiteral. A negated number literal (-1) is a number.
func LiteralValue(expr hclsyntax.Expression) Literal {
	if s, ok := IsLiteralString(expr); ok {
		return Literal{Kind: LiteralString, Str: s}
	}
	switch e := expr.(type) {
	case *hclsyntax.LiteralValueExpr:
		v := e.Val
		switch {
		case v.IsNull():
			return Literal{Kind: LiteralNull}
		case !v.IsKnown():
			return Literal{}
		case v.Type() == cty.Bool:
			return Literal{Kind: LiteralBool, Str: strconv.FormatBool(v.True())}
		case v.Type() == cty.Number:
			return Literal{Kind: LiteralNumber, Str: formatNumber(v.AsBigFloat())}
		}
	case *hclsyntax.UnaryOpExpr:
		if e.Op == hclsyntax.OpNegate {
			if l := LiteralValue(e.Val); l.Kind == LiteralNumber {
				return Literal{Kind: LiteralNumber, Str: "-" + l.Str}
			}
		}
	case *hclsyntax.ParenthesesExpr:
		return LiteralValue(e.Expression)
	}
	return Literal{}
}

// formatNumber renders a number as big.Float.Text('g', -1) does. cty numbers carry 512 bits
// of precision, for which the shortest-decimal search costs tens of microseconds per call
// (most of a small .tfvars file's parse time); integers of up to 53 bits, which is nearly
// every number in a configuration, format identically and far faster through float64.
func formatNumber(f *big.Float) string {
	if f.Sign() != 0 && f.IsInt() {
		if i, acc := f.Int64(); acc == big.Exact && i > -1<<53 && i < 1<<53 {
			return strconv.FormatFloat(float64(i), 'g', -1, 64)
		}
	}
	return f.Text('g', -1)
}

// Reference is a variable reference found in an expression, e.g.
// var.admin_password or data.azurerm_key_vault_secret.db.value.
type Reference struct {
	Root      string // "var", "local", "data", "module", a resource type, ...
	Path      string // dotted rendering with indexes: local.x["k"], aws_x.y[0].id
	Pos       pos.Pos
	Traversal hcl.Traversal
}

// HasPrefix reports whether the reference starts with the dotted prefix on
// a segment boundary: Path "var.a.b" has prefixes "var" and "var.a", not "var.a.c" or "var.ab".
func (r Reference) HasPrefix(prefix string) bool {
	if !strings.HasPrefix(r.Path, prefix) {
		return false
	}
	if len(r.Path) == len(prefix) {
		return true
	}
	c := r.Path[len(prefix)]
	return c == '.' || c == '['
}

// References returns the variable references in expr in source order
// (for-expression and lambda-local names excluded, as HCL does). bom is the
// byte-order-mark length of the file (0 for most files) to keep offsets
// consistent with Parse; pass pos.BOMLen(src).
func References(expr hclsyntax.Expression, bom int) []Reference {
	vars := expr.Variables()
	out := make([]Reference, 0, len(vars))
	for _, t := range vars {
		out = append(out, Reference{Root: t.RootName(), Path: TraversalString(t), Pos: conv(t.SourceRange().Start, bom), Traversal: t})
	}
	slices.SortStableFunc(out, func(x, y Reference) int { return cmp.Compare(x.Pos.Offset, y.Pos.Offset) })
	return out
}

// TraversalString renders a traversal: root, .attr and [index] steps.
func TraversalString(t hcl.Traversal) string {
	var sb strings.Builder
	for _, step := range t {
		switch s := step.(type) {
		case hcl.TraverseRoot:
			sb.WriteString(s.Name)
		case hcl.TraverseAttr:
			sb.WriteByte('.')
			sb.WriteString(s.Name)
		case hcl.TraverseIndex:
			sb.WriteByte('[')
			k := s.Key
			switch {
			case !k.IsKnown() || k.IsNull():
				sb.WriteByte('?')
			case k.Type() == cty.String:
				sb.WriteString(strconv.Quote(k.AsString()))
			case k.Type() == cty.Number:
				sb.WriteString(k.AsBigFloat().Text('g', -1))
			default:
				sb.WriteByte('?')
			}
			sb.WriteByte(']')
		case hcl.TraverseSplat:
			sb.WriteString("[*]")
		}
	}
	return sb.String()
}

// ObjectItem is one key = value entry of an object constructor
// ({ password = "x" }).
type ObjectItem struct {
	Key     string // literal key; "" when the key is computed
	KeyPos  pos.Pos
	Literal bool // the key is a bare word or a literal string
	Value   hclsyntax.Expression
}

// ObjectItems returns the entries of an object constructor expression
// (nil for anything else). bom is as for References.
func ObjectItems(expr hclsyntax.Expression, bom int) []ObjectItem {
	oc, ok := expr.(*hclsyntax.ObjectConsExpr)
	if !ok {
		return nil
	}
	out := make([]ObjectItem, 0, len(oc.Items))
	for _, it := range oc.Items {
		item := ObjectItem{Value: it.ValueExpr, KeyPos: conv(it.KeyExpr.Range().Start, bom)}
		if kw := hcl.ExprAsKeyword(it.KeyExpr); kw != "" {
			item.Key, item.Literal = kw, true
		} else if k, ok := it.KeyExpr.(*hclsyntax.ObjectConsKeyExpr); ok {
			if s, ok := IsLiteralString(k.Wrapped); ok {
				item.Key, item.Literal = s, true
			}
		}
		out = append(out, item)
	}
	return out
}

// checkDepth refuses inputs nested deeper than MaxDepth before hclsyntax's
// recursive parser sees them. It tracks brackets, quoted strings and their
// ${ } / %{ } interpolations, and comments; heredoc bodies are scanned as
// code, which can only over-count.
func checkDepth(path string, src []byte, start int) error {
	const (
		code = iota
		str
	)
	// stack holds, per open bracket, whether closing it returns to a string.
	var modes []byte
	mode := code
	depth := 0
	for i := start; i < len(src); i++ {
		c := src[i]
		if mode == str {
			switch {
			case c == '\\':
				i++
			case c == '"':
				mode = code
			case c == '\n':
				mode = code // unterminated; let HCL report it
			case (c == '$' || c == '%') && i+1 < len(src) && src[i+1] == '{':
				i++
				depth++
				modes = append(modes, str)
				mode = code
			}
		} else {
			switch c {
			case '"':
				mode = str
			case '#':
				for i < len(src) && src[i] != '\n' {
					i++
				}
			case '/':
				if i+1 < len(src) && src[i+1] == '/' {
					for i < len(src) && src[i] != '\n' {
						i++
					}
				} else if i+1 < len(src) && src[i+1] == '*' {
					i += 2
					for i+1 < len(src) && (src[i] != '*' || src[i+1] != '/') {
						i++
					}
					i++
				}
			case '{', '[', '(':
				depth++
				modes = append(modes, code)
			case '}', ']', ')':
				if n := len(modes); n > 0 {
					mode = int(modes[n-1])
					modes = modes[:n-1]
					depth--
				}
			}
		}
		if depth > MaxDepth {
			tr := pos.NewTracker(src)
			return pos.LimitErrorf(path, tr.Pos(i), "nesting deeper than %d levels", MaxDepth)
		}
	}
	return nil
}
