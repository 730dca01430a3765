package arm

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/stagegate/stagegate/pkg/templates/pos"
)

// IsExpression reports whether a JSON string value is an ARM template
// expression: it starts with '[' and ends with ']'. A value starting with
// "[[" is an escaped literal and is not an expression.
func IsExpression(s string) bool {
	return len(s) >= 2 && s[0] == '[' && s[1] != '[' && s[len(s)-1] == ']'
}

// UnescapeLiteral returns the literal value ARM uses for a non-expression
// string: a leading "[[" becomes "[".
func UnescapeLiteral(s string) string {
	if len(s) >= 2 && s[0] == '[' && s[1] == '[' {
		return s[1:]
	}
	return s
}

// Expr is a node of a parsed template expression. Offsets are byte offsets
// into the full JSON string value (including the outer '['), so they can be
// turned into file positions with Node.PosAt.
type Expr interface {
	// Span returns the byte offsets [start, end) of the expression.
	Span() (start, end int)
}

// Call is a function call: name(args) or namespace.name(args) for
// user-defined functions.
type Call struct {
	Start, End int
	Namespace  string // "" for built-in functions
	Name       string // as written; ARM function names are case-insensitive
	NamePos    int
	Args       []Expr
}

// StringLit is a quoted literal; Value has doubled single quotes unescaped.
type StringLit struct {
	Start, End int
	Value      string
}

// IntLit is an integer literal.
type IntLit struct {
	Start, End int
	Text       string
	Value      int64 // clamped to the int64 range, with Overflow set, when Text does not fit
	Overflow   bool
}

// BoolLit is the bare word true or false.
type BoolLit struct {
	Start, End int
	Value      bool
}

// NullLit is the bare word null.
type NullLit struct{ Start, End int }

// Property is member access X.Name.
type Property struct {
	Start, End int
	X          Expr
	Name       string
	NamePos    int
}

// Index is element access X[Index], e.g. reference(...)['key'].
type Index struct {
	Start, End int
	X          Expr
	Index      Expr
}

// Span implements Expr.
func (e *Call) Span() (int, int) { return e.Start, e.End }

// Span implements Expr.
func (e *StringLit) Span() (int, int) { return e.Start, e.End }

// Span implements Expr.
func (e *IntLit) Span() (int, int) { return e.Start, e.End }

// Span implements Expr.
func (e *BoolLit) Span() (int, int) { return e.Start, e.End }

// Span implements Expr.
func (e *NullLit) Span() (int, int) { return e.Start, e.End }

// Span implements Expr.
func (e *Property) Span() (int, int) { return e.Start, e.End }

// Span implements Expr.
func (e *Index) Span() (int, int) { return e.Start, e.End }

// Is reports whether the call is the built-in function name (case-insensitive).
func (e *Call) Is(name string) bool {
	return e.Namespace == "" && strings.EqualFold(e.Name, name)
}

// HasPrefix reports whether the function name starts with prefix
// (case-insensitive); Call.HasPrefix("list") finds listKeys, listSecrets, ...
func (e *Call) HasPrefix(prefix string) bool {
	return e.Namespace == "" && len(e.Name) >= len(prefix) && strings.EqualFold(e.Name[:len(prefix)], prefix)
}

// StringArg returns argument i when it is a string literal.
func (e *Call) StringArg(i int) (string, bool) {
	if i < 0 || i >= len(e.Args) {
		return "", false
	}
	s, ok := e.Args[i].(*StringLit)
	if !ok {
		return "", false
	}
	return s.Value, true
}

// ExprError is a template expression syntax error. Offset is a byte offset
// into the JSON string value.
type ExprError struct {
	Offset int
	Msg    string
}

func (e *ExprError) Error() string { return fmt.Sprintf("offset %d: %s", e.Offset, e.Msg) }

// MaxExprDepth bounds nesting inside one expression.
const MaxExprDepth = 200

// ParseExpr parses a template expression string such as
// "[concat('a', parameters('b'))]". s must satisfy IsExpression; errors are
// *ExprError.
func ParseExpr(s string) (Expr, error) {
	if !IsExpression(s) {
		return nil, &ExprError{Offset: 0, Msg: "not a template expression: expected a string that starts with '[' and ends with ']'"}
	}
	p := exprParser{s: s, i: 1, end: len(s) - 1}
	p.ws()
	if p.i >= p.end {
		return nil, &ExprError{Offset: p.i, Msg: "empty expression"}
	}
	e, err := p.expr()
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.i != p.end {
		return nil, p.errf("unexpected %s after expression", p.describe())
	}
	return e, nil
}

type exprParser struct {
	s     string
	i     int
	end   int // index of the closing ']'
	depth int
}

func (p *exprParser) errf(format string, args ...any) error {
	return &ExprError{Offset: p.i, Msg: fmt.Sprintf(format, args...)}
}

func (p *exprParser) describe() string {
	if p.i >= p.end {
		return "end of expression"
	}
	return strconv.Quote(p.s[p.i : p.i+1])
}

func (p *exprParser) ws() {
	for p.i < p.end && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

func isIdentStart(c byte) bool {
	return c == '_' || c == '$' || (c|0x20 >= 'a' && c|0x20 <= 'z')
}

func isIdentChar(c byte) bool {
	return isIdentStart(c) || (c >= '0' && c <= '9')
}

func (p *exprParser) ident() string {
	st := p.i
	for p.i < p.end && isIdentChar(p.s[p.i]) {
		p.i++
	}
	return p.s[st:p.i]
}

func (p *exprParser) expr() (Expr, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > MaxExprDepth {
		return nil, &ExprError{Offset: p.i, Msg: fmt.Sprintf("expression nested deeper than %d levels", MaxExprDepth)}
	}
	x, err := p.primary()
	if err != nil {
		return nil, err
	}
	for {
		p.ws()
		if p.i >= p.end {
			return x, nil
		}
		start, _ := x.Span()
		switch p.s[p.i] {
		case '.':
			p.i++
			p.ws()
			if p.i >= p.end || !isIdentStart(p.s[p.i]) {
				return nil, p.errf("unexpected %s: expected a property name after '.'", p.describe())
			}
			np := p.i
			name := p.ident()
			x = &Property{Start: start, End: p.i, X: x, Name: name, NamePos: np}
		case '[':
			p.i++
			p.ws()
			idx, err := p.expr()
			if err != nil {
				return nil, err
			}
			p.ws()
			if p.i >= p.end || p.s[p.i] != ']' {
				return nil, p.errf("unexpected %s: expected ']'", p.describe())
			}
			p.i++
			x = &Index{Start: start, End: p.i, X: x, Index: idx}
		default:
			return x, nil
		}
	}
}

func (p *exprParser) primary() (Expr, error) {
	p.ws()
	if p.i >= p.end {
		return nil, p.errf("unexpected end of expression: expected a value")
	}
	start := p.i
	c := p.s[p.i]
	switch {
	case c == '\'':
		return p.stringLit()
	case c == '-' || (c >= '0' && c <= '9'):
		p.i++
		for p.i < p.end && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
		}
		text := p.s[start:p.i]
		if text == "-" {
			p.i = start
			return nil, p.errf("unexpected '-': expected a number")
		}
		v, err := strconv.ParseInt(text, 10, 64)
		return &IntLit{Start: start, End: p.i, Text: text, Value: v, Overflow: err != nil}, nil
	case isIdentStart(c):
		name := p.ident()
		save := p.i
		p.ws()
		ns := ""
		if p.i < p.end && p.s[p.i] == '.' {
			// namespace.function( for user-defined functions
			j := p.i + 1
			for j < p.end && (p.s[j] == ' ' || p.s[j] == '\t') {
				j++
			}
			k := j
			for k < p.end && isIdentChar(p.s[k]) {
				k++
			}
			m := k
			for m < p.end && (p.s[m] == ' ' || p.s[m] == '\t') {
				m++
			}
			if k > j && m < p.end && p.s[m] == '(' {
				ns = name
				name = p.s[j:k]
				start2 := j
				p.i = m
				return p.call(start, ns, name, start2)
			}
		}
		if p.i < p.end && p.s[p.i] == '(' {
			return p.call(start, ns, name, start)
		}
		p.i = save
		switch strings.ToLower(name) {
		case "true":
			return &BoolLit{Start: start, End: p.i, Value: true}, nil
		case "false":
			return &BoolLit{Start: start, End: p.i, Value: false}, nil
		case "null":
			return &NullLit{Start: start, End: p.i}, nil
		}
		p.i = start
		return nil, p.errf("unexpected identifier %q: expected a function call such as %s(...)", name, name)
	default:
		return nil, p.errf("unexpected %s: expected a function call, a 'string' or a number", p.describe())
	}
}

// call parses the argument list; p.i is at '('.
func (p *exprParser) call(start int, ns, name string, namePos int) (Expr, error) {
	p.i++
	c := &Call{Start: start, Namespace: ns, Name: name, NamePos: namePos}
	p.ws()
	if p.i < p.end && p.s[p.i] == ')' {
		p.i++
		c.End = p.i
		return c, nil
	}
	for {
		arg, err := p.expr()
		if err != nil {
			return nil, err
		}
		c.Args = append(c.Args, arg)
		p.ws()
		if p.i >= p.end {
			return nil, p.errf("unexpected end of expression: expected ')' to close %s(", name)
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case ')':
			p.i++
			c.End = p.i
			return c, nil
		default:
			return nil, p.errf("unexpected %s: expected ',' or ')' in arguments of %s", p.describe(), name)
		}
	}
}

func (p *exprParser) stringLit() (Expr, error) {
	start := p.i
	p.i++
	var b strings.Builder
	seg := p.i
	for {
		if p.i >= p.end {
			p.i = start
			return nil, p.errf("unterminated string literal")
		}
		if p.s[p.i] == '\'' {
			if p.i+1 < p.end && p.s[p.i+1] == '\'' {
				b.WriteString(p.s[seg : p.i+1])
				p.i += 2
				seg = p.i
				continue
			}
			break
		}
		p.i++
	}
	var v string
	if b.Len() == 0 {
		v = p.s[seg:p.i]
	} else {
		b.WriteString(p.s[seg:p.i])
		v = b.String()
	}
	p.i++
	return &StringLit{Start: start, End: p.i, Value: v}, nil
}

// WalkExpr calls fn for e and every sub-expression, depth first. When fn
// returns false the children of that expression are skipped.
func WalkExpr(e Expr, fn func(Expr) bool) {
	if e == nil || !fn(e) {
		return
	}
	switch x := e.(type) {
	case *Call:
		for _, a := range x.Args {
			WalkExpr(a, fn)
		}
	case *Property:
		WalkExpr(x.X, fn)
	case *Index:
		WalkExpr(x.X, fn)
		WalkExpr(x.Index, fn)
	}
}

// Calls returns every function call in e, outermost first, in source order.
func Calls(e Expr) []*Call {
	var out []*Call
	WalkExpr(e, func(x Expr) bool {
		if c, ok := x.(*Call); ok {
			out = append(out, c)
		}
		return true
	})
	return out
}

// ParameterRefs returns the names used in parameters('name') calls with a
// literal argument, in source order.
func ParameterRefs(e Expr) []string {
	var out []string
	for _, c := range Calls(e) {
		if c.Is("parameters") {
			if s, ok := c.StringArg(0); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

// ExprString renders e in a canonical form (no whitespace, strings in single
// quotes, inner quotes doubled), e.g. "concat('a',parameters('b'))". Useful in
// messages and tests.
func ExprString(e Expr) string {
	var b strings.Builder
	writeExpr(&b, e)
	return b.String()
}

func writeExpr(b *strings.Builder, e Expr) {
	switch x := e.(type) {
	case *Call:
		if x.Namespace != "" {
			b.WriteString(x.Namespace)
			b.WriteByte('.')
		}
		b.WriteString(x.Name)
		b.WriteByte('(')
		for i, a := range x.Args {
			if i > 0 {
				b.WriteByte(',')
			}
			writeExpr(b, a)
		}
		b.WriteByte(')')
	case *StringLit:
		b.WriteByte('\'')
		b.WriteString(strings.ReplaceAll(x.Value, "'", "''"))
		b.WriteByte('\'')
	case *IntLit:
		b.WriteString(x.Text)
	case *BoolLit:
		b.WriteString(strconv.FormatBool(x.Value))
	case *NullLit:
		b.WriteString("null")
	case *Property:
		writeExpr(b, x.X)
		b.WriteByte('.')
		b.WriteString(x.Name)
	case *Index:
		writeExpr(b, x.X)
		b.WriteByte('[')
		writeExpr(b, x.Index)
		b.WriteByte(']')
	case nil:
		b.WriteString("<nil>")
	}
}

// ParseNodeExpr parses the template expression held by a string node. It
// returns (nil, nil) when n is not an expression string, and on a syntax
// error a *pos.Error located inside the string (see Node.PosAt).
func ParseNodeExpr(path string, n *Node) (Expr, error) {
	if !n.IsExpression() {
		return nil, nil
	}
	e, err := ParseExpr(n.Str)
	if err != nil {
		var ee *ExprError
		if errors.As(err, &ee) {
			p := n.PosAt(ee.Offset)
			return nil, &pos.Error{Path: path, Line: p.Line, Col: p.Col, Msg: "invalid template expression: " + ee.Msg, Err: err}
		}
		return nil, err
	}
	return e, nil
}
