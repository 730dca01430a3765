package bicep

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/stagegate/stagegate/pkg/templates/pos"
)

// MaxDepth bounds expression nesting; deeper input is refused with an error
// wrapping pos.ErrLimit.
const MaxDepth = 500

// Parse parses a .bicep file.
func Parse(path string, src []byte) (*File, error) {
	p, err := newParser(path, src)
	if err != nil {
		return nil, err
	}
	f := &File{Path: path}
	if err := p.file(f, nil); err != nil {
		return nil, err
	}
	return f, nil
}

// ParseParams parses a .bicepparam file.
func ParseParams(path string, src []byte) (*ParamFile, error) {
	p, err := newParser(path, src)
	if err != nil {
		return nil, err
	}
	pf := &ParamFile{Path: path}
	if err := p.file(nil, pf); err != nil {
		return nil, err
	}
	return pf, nil
}

// slab hands out nodes carved from chunks, so the many small AST nodes of a
// file cost a few allocations instead of one each.
// Chunks start small (most files are small) and double up to 256.
type slab[T any] struct {
	buf  []T
	next int
}

func (s *slab[T]) new() *T {
	if len(s.buf) == 0 {
		s.next = min(max(s.next*2, 8), 256)
		s.buf = make([]T, s.next)
	}
	x := &s.buf[0]
	s.buf = s.buf[1:]
	return x
}

type parser struct {
	idents  slab[Ident]
	strs    slab[StringLit]
	props   slab[Property]
	calls   slab[Call]
	members slab[Member]
	// exprs and propStack are scratch stacks for argument, item and
	// property lists under construction; finished lists are copied out at
	// their exact size.
	exprs     []Expr
	propStack []*Property

	path    string
	src     []byte
	s       string
	toks    []token
	match   []int32 // index of the matching bracket/interpolation token
	i       int
	lastEnd int
	depth   int
}

func newParser(path string, src []byte) (*parser, error) {
	toks, err := lex(path, src)
	if err != nil {
		return nil, err
	}
	p := &parser{path: path, src: src, s: string(src), toks: toks}
	if err := p.matchBrackets(); err != nil {
		return nil, err
	}
	return p, nil
}

// matchBrackets pairs every opener with its closer up front, so structural
// errors are reported at the right token and lambda detection is O(1).
func (p *parser) matchBrackets() error {
	p.match = make([]int32, len(p.toks))
	var stack []int
	for i, t := range p.toks {
		switch t.kind {
		case tLBrace, tLBrack, tLParen, tStrStart:
			stack = append(stack, i)
		case tRBrace, tRBrack, tRParen, tStrMid, tStrEnd:
			if len(stack) == 0 {
				return p.errTok(t, "unexpected %s: nothing to close", tokName(t.kind))
			}
			open := stack[len(stack)-1]
			ok := closer(p.toks[open].kind) == t.kind ||
				(t.kind == tStrMid && (p.toks[open].kind == tStrStart || p.toks[open].kind == tStrMid))
			if !ok {
				ot := p.toks[open]
				return p.errTok(t, "unexpected %s: expected %s to close %s at %d:%d",
					tokName(t.kind), tokName(closer(ot.kind)), tokName(ot.kind), ot.line, ot.col)
			}
			p.match[open] = int32(i)
			p.match[i] = int32(open)
			stack = stack[:len(stack)-1]
			if t.kind == tStrMid {
				stack = append(stack, i)
			}
		}
	}
	if len(stack) > 0 {
		ot := p.toks[stack[len(stack)-1]]
		return p.errTok(ot, "unclosed %s: expected %s", tokName(ot.kind), tokName(closer(ot.kind)))
	}
	return nil
}

// closer returns the token kind that closes an opener.
func closer(k tokKind) tokKind {
	switch k {
	case tLBrace:
		return tRBrace
	case tLBrack:
		return tRBrack
	case tLParen:
		return tRParen
	}
	return tStrEnd
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) peekAt(n int) token {
	if p.i+n >= len(p.toks) {
		return p.toks[len(p.toks)-1]
	}
	return p.toks[p.i+n]
}

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
		p.lastEnd = int(t.end)
	}
	return t
}

func (p *parser) text(t token) string { return p.s[t.start:t.end] }

func (p *parser) isWord(t token, w string) bool {
	return t.kind == tIdent && int(t.end-t.start) == len(w) && p.s[t.start:t.end] == w
}

func (p *parser) describe(t token) string {
	switch t.kind {
	case tIdent:
		return fmt.Sprintf("identifier %q", p.text(t))
	case tInt:
		return fmt.Sprintf("integer %s", p.text(t))
	}
	return tokName(t.kind)
}

func (p *parser) errTok(t token, format string, args ...any) error {
	return pos.Errorf(p.path, t.pos(), format, args...)
}

func (p *parser) expect(k tokKind, context string) (token, error) {
	t := p.peek()
	if t.kind != k {
		return t, p.errTok(t, "unexpected %s: expected %s %s", p.describe(t), tokName(k), context)
	}
	return p.next(), nil
}

// expectNamed is expect with a context naming a declaration or property;
// the message is only built on failure.
func (p *parser) expectNamed(k tokKind, context, name string) (token, error) {
	if t := p.peek(); t.kind != k {
		return t, p.errTok(t, "unexpected %s: expected %s %s %q", p.describe(t), tokName(k), context, name)
	}
	return p.next(), nil
}

func (p *parser) expectIdent(context string) (token, error) {
	return p.expect(tIdent, context)
}

func (p *parser) skipNewlines() {
	for p.peek().kind == tNewline {
		p.next()
	}
}

func (p *parser) span(start token) Span { return Span{Start: start.pos(), EndOffset: p.lastEnd} }

// endStatement requires the end of a line (or file) after a declaration.
func (p *parser) endStatement(what string) error {
	t := p.peek()
	if t.kind != tNewline && t.kind != tEOF {
		return p.errTok(t, "unexpected %s after %s: expected end of line", p.describe(t), what)
	}
	return nil
}

// skipStatement consumes tokens up to the end of the line at bracket depth
// 0; brackets are pre-matched so multi-line bodies are skipped whole.
func (p *parser) skipStatement() {
	for {
		t := p.peek()
		switch t.kind {
		case tNewline, tEOF:
			return
		case tLBrace, tLBrack, tLParen, tStrStart, tStrMid:
			p.i = int(p.match[p.i])
		}
		p.next()
	}
}

func (p *parser) file(f *File, pf *ParamFile) error {
	bicepparam := pf != nil
	for {
		p.skipNewlines()
		start := p.peek()
		if start.kind == tEOF {
			return nil
		}
		decs, err := p.decorators()
		if err != nil {
			return err
		}
		t := p.peek()
		if t.kind != tIdent {
			return p.errTok(t, "unexpected %s: expected a declaration such as param, var, resource, module or output", p.describe(t))
		}
		kw := p.text(t)
		var stmtErr error
		switch {
		case kw == "param" && p.peekAt(1).kind == tIdent:
			p.next()
			if bicepparam {
				var a *ParamAssign
				a, stmtErr = p.paramAssign(start)
				if a != nil {
					pf.Params = append(pf.Params, a)
				}
			} else {
				var d *Param
				d, stmtErr = p.param(start, decs)
				if d != nil {
					f.Params = append(f.Params, d)
				}
			}
		case kw == "var" && p.peekAt(1).kind == tIdent:
			p.next()
			var v *Var
			v, stmtErr = p.variable(start, decs)
			if v != nil {
				if bicepparam {
					pf.Vars = append(pf.Vars, v)
				} else {
					f.Vars = append(f.Vars, v)
				}
			}
		case !bicepparam && kw == "resource" && p.peekAt(1).kind == tIdent:
			p.next()
			var r *Resource
			r, stmtErr = p.resource(start, decs, nil)
			if r != nil {
				f.Resources = append(f.Resources, r)
			}
		case !bicepparam && kw == "module" && p.peekAt(1).kind == tIdent:
			p.next()
			var m *Module
			m, stmtErr = p.module(start, decs)
			if m != nil {
				f.Modules = append(f.Modules, m)
			}
		case !bicepparam && kw == "output" && p.peekAt(1).kind == tIdent:
			p.next()
			var o *Output
			o, stmtErr = p.output(start, decs)
			if o != nil {
				f.Outputs = append(f.Outputs, o)
			}
		case !bicepparam && kw == "targetScope" && p.peekAt(1).kind == tAssign:
			p.next()
			p.next()
			var e Expr
			e, stmtErr = p.expr()
			if e != nil {
				f.TargetScope, _ = Literal(e)
				f.TargetScopePos = e.Pos()
			}
		case !bicepparam && kw == "metadata" && p.peekAt(1).kind == tIdent && p.peekAt(2).kind == tAssign:
			p.next()
			name := p.text(p.next())
			p.next()
			var e Expr
			e, stmtErr = p.expr()
			if e != nil {
				f.Metadata = append(f.Metadata, &Metadata{Span: p.span(start), Name: name, Value: e})
			}
		case bicepparam && kw == "using":
			p.next()
			stmtErr = p.using(pf)
		default:
			p.skipStatement()
			st := &Statement{Span: p.span(start), Keyword: kw, Decorators: decs}
			isImport := kw == "import" || kw == "using" || kw == "extension" || kw == "provider" || kw == "extends"
			switch {
			case bicepparam && isImport:
				pf.Imports = append(pf.Imports, st)
			case bicepparam:
				pf.Other = append(pf.Other, st)
			case isImport:
				f.Imports = append(f.Imports, st)
			default:
				f.Other = append(f.Other, st)
			}
		}
		if stmtErr != nil {
			return stmtErr
		}
		if err := p.endStatement(kw + " declaration"); err != nil {
			return err
		}
	}
}

func (p *parser) decorators() (Decorators, error) {
	var out Decorators
	for p.peek().kind == tAt {
		at := p.next()
		e, err := p.postfix()
		if err != nil {
			return nil, err
		}
		c, ok := e.(*Call)
		if !ok {
			return nil, p.errTok(at, "expected a decorator call such as @secure() after '@'")
		}
		d := &Decorator{Span: p.span(at), Name: c.Name, Args: c.Args}
		if c.Base != nil {
			id, ok := c.Base.(*Ident)
			if !ok {
				return nil, p.errTok(at, "expected a decorator call such as @sys.secure() after '@'")
			}
			d.Namespace = id.Name
		}
		out = append(out, d)
		p.skipNewlines()
	}
	return out, nil
}

// typeText consumes a type expression up to '=' or the end of the line at
// bracket depth 0 and returns its source text.
func (p *parser) typeText() (string, pos.Pos) {
	first := p.peek()
	startOff, endOff := int(first.start), int(first.start)
	for {
		t := p.peek()
		if t.kind == tAssign || t.kind == tNewline || t.kind == tEOF {
			break
		}
		if t.kind == tLBrace || t.kind == tLBrack || t.kind == tLParen || t.kind == tStrStart || t.kind == tStrMid {
			p.i = int(p.match[p.i])
		}
		endOff = int(p.next().end)
	}
	if endOff == startOff {
		return "", pos.Pos{}
	}
	return p.s[startOff:endOff], first.pos()
}

func (p *parser) param(start token, decs Decorators) (*Param, error) {
	nameTok := p.next()
	d := &Param{Name: p.text(nameTok), NamePos: nameTok.pos(), Decorators: decs}
	d.Type, d.TypePos = p.typeText()
	if d.Type == "" && p.peek().kind != tAssign {
		return nil, p.errTok(p.peek(), "unexpected %s: expected the type of parameter %q", p.describe(p.peek()), d.Name)
	}
	if p.peek().kind == tAssign {
		p.next()
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		d.Default = e
	}
	d.Span = p.span(start)
	return d, nil
}

func (p *parser) paramAssign(start token) (*ParamAssign, error) {
	nameTok := p.next()
	a := &ParamAssign{Name: p.text(nameTok), NamePos: nameTok.pos()}
	if _, err := p.expectNamed(tAssign, "after parameter name", a.Name); err != nil {
		return nil, err
	}
	e, err := p.expr()
	if err != nil {
		return nil, err
	}
	a.Value = e
	a.Span = p.span(start)
	return a, nil
}

func (p *parser) variable(start token, decs Decorators) (*Var, error) {
	nameTok := p.next()
	v := &Var{Name: p.text(nameTok), NamePos: nameTok.pos(), Decorators: decs}
	v.Type, _ = p.typeText()
	if _, err := p.expectNamed(tAssign, "in variable", v.Name); err != nil {
		return nil, err
	}
	e, err := p.expr()
	if err != nil {
		return nil, err
	}
	v.Value = e
	v.Span = p.span(start)
	return v, nil
}

func (p *parser) using(pf *ParamFile) error {
	t := p.peek()
	pf.HasUsing = true
	switch {
	case p.isWord(t, "none"):
		p.next()
		pf.UsingNone = true
		pf.UsingPos = t.pos()
	case t.kind == tString:
		s, err := p.stringLit()
		if err != nil {
			return err
		}
		pf.Using, _ = s.Literal()
		pf.UsingPos = s.Start
	default:
		return p.errTok(t, "unexpected %s: expected a template path string or none after using", p.describe(t))
	}
	// "using ... with { ... }" configuration is not modelled.
	p.skipStatement()
	return nil
}

// declValue parses what follows '=' in resource and module declarations.
func (p *parser) declValue() (value, cond Expr, loop *ForExpr, body *ObjectLit, err error) {
	t := p.peek()
	switch {
	case p.isWord(t, "if") && p.peekAt(1).kind == tLParen:
		p.next()
		c, err := p.parenExpr()
		if err != nil {
			return nil, nil, nil, nil, err
		}
		b, err := p.expr()
		if err != nil {
			return nil, nil, nil, nil, err
		}
		body, _ = b.(*ObjectLit)
		return b, c, nil, body, nil
	default:
		v, err := p.expr()
		if err != nil {
			return nil, nil, nil, nil, err
		}
		switch x := v.(type) {
		case *ObjectLit:
			body = x
		case *ForExpr:
			loop = x
			body, _ = x.Body.(*ObjectLit)
		case *ArrayLit:
		}
		return v, nil, loop, body, nil
	}
}

func (p *parser) parenExpr() (Expr, error) {
	if _, err := p.expect(tLParen, "before the condition"); err != nil {
		return nil, err
	}
	p.skipNewlines()
	e, err := p.expr()
	if err != nil {
		return nil, err
	}
	p.skipNewlines()
	if _, err := p.expect(tRParen, "after the condition"); err != nil {
		return nil, err
	}
	return e, nil
}

func splitTypeVersion(s string) (string, string) {
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}

func (p *parser) resource(start token, decs Decorators, parent *Resource) (*Resource, error) {
	symTok := p.next()
	r := &Resource{Symbol: p.text(symTok), SymbolPos: symTok.pos(), Decorators: decs, Parent: parent}
	tt := p.peek()
	if tt.kind != tString {
		return nil, p.errTok(tt, "unexpected %s: expected the resource type string ('Type@apiVersion') of resource %q", p.describe(tt), r.Symbol)
	}
	ts, err := p.stringLit()
	if err != nil {
		return nil, err
	}
	lit, _ := ts.Literal()
	r.Type, r.APIVersion = splitTypeVersion(lit)
	r.TypePos = ts.Start
	if p.isWord(p.peek(), "existing") {
		p.next()
		r.Existing = true
	}
	if _, err := p.expectNamed(tAssign, "in resource", r.Symbol); err != nil {
		return nil, err
	}
	r.Value, r.Condition, r.Loop, r.Body, err = p.declValue()
	if err != nil {
		return nil, err
	}
	if r.Body != nil {
		r.Children = r.Body.Resources
		for _, c := range r.Children {
			c.Parent = r
		}
	}
	r.Span = p.span(start)
	return r, nil
}

func (p *parser) module(start token, decs Decorators) (*Module, error) {
	symTok := p.next()
	m := &Module{Symbol: p.text(symTok), SymbolPos: symTok.pos(), Decorators: decs}
	pt := p.peek()
	if pt.kind != tString {
		return nil, p.errTok(pt, "unexpected %s: expected the module path string of module %q", p.describe(pt), m.Symbol)
	}
	ps, err := p.stringLit()
	if err != nil {
		return nil, err
	}
	m.Path, _ = ps.Literal()
	m.PathPos = ps.Start
	if _, err := p.expectNamed(tAssign, "in module", m.Symbol); err != nil {
		return nil, err
	}
	m.Value, m.Condition, m.Loop, m.Body, err = p.declValue()
	if err != nil {
		return nil, err
	}
	m.Span = p.span(start)
	return m, nil
}

func (p *parser) output(start token, decs Decorators) (*Output, error) {
	nameTok := p.next()
	o := &Output{Name: p.text(nameTok), NamePos: nameTok.pos(), Decorators: decs}
	o.Type, _ = p.typeText()
	if o.Type == "" {
		return nil, p.errTok(p.peek(), "unexpected %s: expected the type of output %q", p.describe(p.peek()), o.Name)
	}
	if _, err := p.expectNamed(tAssign, "in output", o.Name); err != nil {
		return nil, err
	}
	e, err := p.expr()
	if err != nil {
		return nil, err
	}
	o.Value = e
	o.Span = p.span(start)
	return o, nil
}

// ---- expressions ----

func (p *parser) enter() error {
	p.depth++
	if p.depth > MaxDepth {
		return pos.LimitErrorf(p.path, p.peek().pos(), "expression nested deeper than %d levels", MaxDepth)
	}
	return nil
}

func (p *parser) expr() (Expr, error) {
	// Fast path: most values are a lone literal or name; skip the
	// precedence ladder when nothing can follow.
	if k := p.peek().kind; (k == tString || k == tInt || k == tIdent) && p.endsAt(1) {
		return p.primary()
	}
	if err := p.enter(); err != nil {
		return nil, err
	}
	e, err := p.ternary()
	p.depth--
	return e, err
}

func (p *parser) ternary() (Expr, error) {
	cond, err := p.binary(0)
	if err != nil {
		return nil, err
	}
	if !p.continues(tQuestion) {
		return cond, nil
	}
	p.next()
	p.skipNewlines()
	then, err := p.expr()
	if err != nil {
		return nil, err
	}
	if !p.continues(tColon) {
		return nil, p.errTok(p.peek(), "unexpected %s: expected ':' in conditional expression", p.describe(p.peek()))
	}
	p.next()
	p.skipNewlines()
	els, err := p.expr()
	if err != nil {
		return nil, err
	}
	return &Ternary{Span: Span{Start: cond.Pos(), EndOffset: p.lastEnd}, Cond: cond, Then: then, Else: els}, nil
}

// endsAt reports whether the token n ahead ends an expression for sure:
// a closer, a separator, or a line break not followed by a continuation
// line (one starting with an operator, '?', ':' or '.').
func (p *parser) endsAt(n int) bool {
	switch k := p.peekAt(n).kind; k {
	case tComma, tRBrack, tRBrace, tRParen, tEOF, tColon, tStrMid, tStrEnd:
		return true
	case tNewline:
		nk := p.peekAt(n + 1).kind
		if prec, _ := binPrec(nk); prec > 0 && nk != tMinus {
			return false
		}
		return nk != tQuestion && nk != tColon && nk != tDot && nk != tDotQ
	}
	return false
}

// continues reports whether the next token (looking past line breaks when
// the following line starts with it) has kind k; line breaks are consumed
// only when it does. This accepts operators leading a continuation line.
func (p *parser) continues(k tokKind) bool {
	if p.peek().kind == k {
		return true
	}
	if p.peek().kind != tNewline {
		return false
	}
	j := p.i
	for p.toks[j].kind == tNewline {
		j++
	}
	if p.toks[j].kind == k {
		p.i = j
		return true
	}
	return false
}

// binPrec returns the binary operator precedence of k (higher binds
// tighter) and its text, or 0 when k is not a binary operator.
func binPrec(k tokKind) (int, string) {
	switch k {
	case tCoalesce:
		return 1, "??"
	case tOr:
		return 2, "||"
	case tAnd:
		return 3, "&&"
	case tEq:
		return 4, "=="
	case tNe:
		return 4, "!="
	case tEqI:
		return 4, "=~"
	case tNeI:
		return 4, "!~"
	case tLt:
		return 5, "<"
	case tLe:
		return 5, "<="
	case tGt:
		return 5, ">"
	case tGe:
		return 5, ">="
	case tPlus:
		return 6, "+"
	case tMinus:
		return 6, "-"
	case tStar:
		return 7, "*"
	case tSlash:
		return 7, "/"
	case tPercent:
		return 7, "%"
	}
	return 0, ""
}

// binary parses operators with precedence above minPrec (precedence
// climbing, left associative).
func (p *parser) binary(minPrec int) (Expr, error) {
	x, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		k := p.peek().kind
		prec, op := binPrec(k)
		if prec == 0 && k == tNewline {
			// An operator leading the next line continues the expression;
			// '-' does not, as it starts a negative array item.
			j := p.i
			for p.toks[j].kind == tNewline {
				j++
			}
			nk := p.toks[j].kind
			if np, nop := binPrec(nk); np > minPrec && nk != tMinus {
				p.i = j
				prec, op = np, nop
			}
		}
		if prec == 0 || prec <= minPrec {
			return x, nil
		}
		p.next()
		p.skipNewlines()
		y, err := p.binary(prec)
		if err != nil {
			return nil, err
		}
		x = &Binary{Span: Span{Start: x.Pos(), EndOffset: p.lastEnd}, Op: op, X: x, Y: y}
	}
}

func (p *parser) unary() (Expr, error) {
	t := p.peek()
	if t.kind == tBang || t.kind == tMinus {
		if err := p.enter(); err != nil {
			return nil, err
		}
		p.next()
		x, err := p.unary()
		p.depth--
		if err != nil {
			return nil, err
		}
		op := "!"
		if t.kind == tMinus {
			op = "-"
		}
		return &Unary{Span: p.span(t), Op: op, X: x}, nil
	}
	return p.postfix()
}

func (p *parser) postfix() (Expr, error) {
	x, err := p.primary()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		switch {
		case t.kind == tDot || t.kind == tDotQ || (t.kind == tNewline && p.nextLineStartsWithDot()):
			p.skipNewlines()
			dot := p.next()
			nt := p.peek()
			if nt.kind != tIdent {
				return nil, p.errTok(nt, "unexpected %s: expected a property or function name after '.'", p.describe(nt))
			}
			p.next()
			if dot.kind == tDot && p.peek().kind == tLParen {
				args, err := p.args()
				if err != nil {
					return nil, err
				}
				c := p.calls.new()
				*c = Call{Span: Span{Start: x.Pos(), EndOffset: p.lastEnd}, Base: x, Name: p.text(nt), NamePos: nt.pos(), Args: args}
				x = c
				continue
			}
			m := p.members.new()
			*m = Member{Span: Span{Start: x.Pos(), EndOffset: p.lastEnd}, X: x, Name: p.text(nt), NamePos: nt.pos(), Safe: dot.kind == tDotQ}
			x = m
		case t.kind == tLBrack:
			p.next()
			safe := false
			if p.peek().kind == tQuestion {
				p.next()
				safe = true
			}
			p.skipNewlines()
			idx, err := p.expr()
			if err != nil {
				return nil, err
			}
			p.skipNewlines()
			if _, err := p.expect(tRBrack, "to close the index"); err != nil {
				return nil, err
			}
			x = &Index{Span: Span{Start: x.Pos(), EndOffset: p.lastEnd}, X: x, Index: idx, Safe: safe}
		case t.kind == tLParen:
			id, ok := x.(*Ident)
			if !ok {
				return nil, p.errTok(t, "unexpected '(': only functions can be called")
			}
			args, err := p.args()
			if err != nil {
				return nil, err
			}
			c := p.calls.new()
			*c = Call{Span: Span{Start: x.Pos(), EndOffset: p.lastEnd}, Name: id.Name, NamePos: id.Start, Args: args}
			x = c
		case t.kind == tBang:
			p.next()
			x = &NonNull{Span: Span{Start: x.Pos(), EndOffset: p.lastEnd}, X: x}
		default:
			return x, nil
		}
	}
}

func (p *parser) nextLineStartsWithDot() bool {
	j := p.i
	for p.toks[j].kind == tNewline {
		j++
	}
	return p.toks[j].kind == tDot || p.toks[j].kind == tDotQ
}

func (p *parser) args() ([]Expr, error) {
	open := p.next() // '('
	base := len(p.exprs)
	for {
		p.skipNewlines()
		if p.peek().kind == tRParen {
			p.next()
			return p.popExprs(base), nil
		}
		a, err := p.expr()
		if err != nil {
			return nil, err
		}
		p.exprs = append(p.exprs, a)
		p.skipNewlines()
		switch t := p.peek(); t.kind {
		case tComma:
			p.next()
		case tRParen:
		default:
			return nil, p.errTok(t, "unexpected %s: expected ',' or ')' in the argument list opened at %d:%d", p.describe(t), open.line, open.col)
		}
	}
}

// popExprs copies the scratch expressions above base into an exact-size
// slice (nil when empty) and pops them.
func (p *parser) popExprs(base int) []Expr {
	n := len(p.exprs) - base
	if n == 0 {
		return nil
	}
	out := make([]Expr, n)
	copy(out, p.exprs[base:])
	clear(p.exprs[base:])
	p.exprs = p.exprs[:base]
	return out
}

func (p *parser) newString(span Span, v string, multiline bool) *StringLit {
	s := p.strs.new()
	s.Span, s.Multiline = span, multiline
	s.seg0[0] = v
	s.Segments = s.seg0[:]
	return s
}

func (p *parser) primary() (Expr, error) {
	t := p.peek()
	switch t.kind {
	case tIdent:
		p.next()
		name := p.text(t)
		switch name {
		case "true", "false":
			return &BoolLit{Span: p.span(t), Value: name == "true"}, nil
		case "null":
			return &NullLit{Span: p.span(t)}, nil
		}
		if p.peek().kind == tArrow {
			p.next()
			p.skipNewlines()
			body, err := p.expr()
			if err != nil {
				return nil, err
			}
			return &Lambda{Span: p.span(t), Params: []string{name}, Body: body}, nil
		}
		id := p.idents.new()
		*id = Ident{Span: p.span(t), Name: name}
		return id, nil
	case tInt:
		p.next()
		return &IntLit{Span: p.span(t), Text: p.text(t)}, nil
	case tString, tStrStart:
		return p.stringLit()
	case tMultiString:
		p.next()
		return p.newString(p.span(t), multilineValue(p.text(t)), true), nil
	case tLBrace:
		return p.object()
	case tLBrack:
		return p.array()
	case tLParen:
		if closeIdx := int(p.match[p.i]); closeIdx+1 < len(p.toks) && p.toks[closeIdx+1].kind == tArrow {
			return p.lambda()
		}
		p.next()
		p.skipNewlines()
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		p.skipNewlines()
		if _, err := p.expect(tRParen, "to close '('"); err != nil {
			return nil, err
		}
		return e, nil
	}
	return nil, p.errTok(t, "unexpected %s: expected an expression", p.describe(t))
}

func (p *parser) lambda() (Expr, error) {
	start := p.peek()
	closeIdx := int(p.match[p.i])
	var params []string
	// Parameter names are the identifiers right after '(' or ','; typed
	// lambda parameters ("(x string) => ...") contribute only their names.
	for j := p.i + 1; j < closeIdx; j++ {
		prev := p.toks[j-1].kind
		if p.toks[j].kind == tIdent && (prev == tLParen || prev == tComma) {
			params = append(params, p.text(p.toks[j]))
		}
	}
	p.i = closeIdx
	p.next() // ')'
	p.next() // '=>'
	p.skipNewlines()
	b, err := p.expr()
	if err != nil {
		return nil, err
	}
	return &Lambda{Span: p.span(start), Params: params, Body: b}, nil
}

func (p *parser) object() (Expr, error) {
	open := p.next()
	o := &ObjectLit{}
	base := len(p.propStack)
	for {
		p.skipNewlines()
		t := p.peek()
		if t.kind == tRBrace {
			p.next()
			break
		}
		if t.kind == tSpread {
			p.next()
			v, err := p.expr()
			if err != nil {
				return nil, err
			}
			prop := p.props.new()
			*prop = Property{Span: p.span(t), Spread: true, KeyPos: t.pos(), Value: v}
			p.propStack = append(p.propStack, prop)
		} else {
			decs, err := p.decorators()
			if err != nil {
				return nil, err
			}
			t = p.peek()
			if p.isWord(t, "resource") && p.peekAt(1).kind == tIdent {
				p.next()
				r, err := p.resource(t, decs, nil)
				if err != nil {
					return nil, err
				}
				o.Resources = append(o.Resources, r)
			} else {
				prop, err := p.property()
				if err != nil {
					return nil, err
				}
				p.propStack = append(p.propStack, prop)
			}
		}
		switch t := p.peek(); t.kind {
		case tComma, tNewline:
			p.next()
		case tRBrace:
		default:
			return nil, p.errTok(t, "unexpected %s: expected ',' or a line break between object properties (object opened at %d:%d)", p.describe(t), open.line, open.col)
		}
	}
	if n := len(p.propStack) - base; n > 0 {
		o.Props = make([]*Property, n)
		copy(o.Props, p.propStack[base:])
		clear(p.propStack[base:])
		p.propStack = p.propStack[:base]
	}
	o.Span = p.span(open)
	return o, nil
}

func (p *parser) property() (*Property, error) {
	t := p.peek()
	prop := p.props.new()
	prop.KeyPos = t.pos()
	switch t.kind {
	case tIdent, tInt:
		p.next()
		prop.Key = p.text(t)
	case tString, tStrStart, tMultiString:
		k, err := p.primary()
		if err != nil {
			return nil, err
		}
		s := k.(*StringLit)
		if lit, ok := s.Literal(); ok {
			prop.Key = lit
		} else {
			prop.Key = strings.Join(s.Segments, "")
			prop.KeyExpr = s
		}
	default:
		return nil, p.errTok(t, "unexpected %s: expected a property name", p.describe(t))
	}
	if _, err := p.expectNamed(tColon, "after property name", prop.Key); err != nil {
		return nil, err
	}
	v, err := p.expr()
	if err != nil {
		return nil, err
	}
	prop.Value = v
	prop.Span = p.span(t)
	return prop, nil
}

func (p *parser) array() (Expr, error) {
	open := p.next()
	p.skipNewlines()
	if p.isWord(p.peek(), "for") {
		return p.forExpr(open)
	}
	a := &ArrayLit{}
	base := len(p.exprs)
	for {
		p.skipNewlines()
		if p.peek().kind == tRBrack {
			p.next()
			break
		}
		it, err := p.expr()
		if err != nil {
			return nil, err
		}
		p.exprs = append(p.exprs, it)
		switch t := p.peek(); t.kind {
		case tComma, tNewline:
			p.next()
		case tRBrack:
		default:
			return nil, p.errTok(t, "unexpected %s: expected ',' or a line break between array items (array opened at %d:%d)", p.describe(t), open.line, open.col)
		}
	}
	a.Items = p.popExprs(base)
	a.Span = p.span(open)
	return a, nil
}

func (p *parser) forExpr(open token) (Expr, error) {
	p.next() // for
	f := &ForExpr{}
	switch t := p.peek(); t.kind {
	case tIdent:
		f.ItemVar = p.text(p.next())
	case tLParen:
		p.next()
		it, err := p.expectIdent("as the loop item variable")
		if err != nil {
			return nil, err
		}
		f.ItemVar = p.text(it)
		if _, err := p.expect(tComma, "between loop item and index variables"); err != nil {
			return nil, err
		}
		ix, err := p.expectIdent("as the loop index variable")
		if err != nil {
			return nil, err
		}
		f.IndexVar = p.text(ix)
		if _, err := p.expect(tRParen, "after the loop variables"); err != nil {
			return nil, err
		}
	default:
		return nil, p.errTok(t, "unexpected %s: expected a loop variable after for", p.describe(t))
	}
	if t := p.peek(); !p.isWord(t, "in") {
		return nil, p.errTok(t, "unexpected %s: expected in", p.describe(t))
	}
	p.next()
	iter, err := p.expr()
	if err != nil {
		return nil, err
	}
	f.Iterable = iter
	if _, err := p.expect(tColon, "after the loop source"); err != nil {
		return nil, err
	}
	p.skipNewlines()
	if p.isWord(p.peek(), "if") && p.peekAt(1).kind == tLParen {
		p.next()
		c, err := p.parenExpr()
		if err != nil {
			return nil, err
		}
		f.Condition = c
	}
	b, err := p.expr()
	if err != nil {
		return nil, err
	}
	f.Body = b
	p.skipNewlines()
	if t := p.peek(); t.kind != tRBrack {
		return nil, p.errTok(t, "unexpected %s: expected ']' to close the for expression opened at %d:%d", p.describe(t), open.line, open.col)
	}
	p.next()
	f.Span = p.span(open)
	return f, nil
}

// stringLit parses a complete or interpolated single-quoted string.
func (p *parser) stringLit() (*StringLit, error) {
	t := p.next()
	if t.kind == tString {
		v, err := p.decode(t, 1, int(t.end-t.start)-1)
		if err != nil {
			return nil, err
		}
		return p.newString(p.span(t), v, false), nil
	}
	s := &StringLit{}
	if t.kind != tStrStart {
		return nil, p.errTok(t, "unexpected %s: expected a string", p.describe(t))
	}
	seg, err := p.decode(t, 1, int(t.end-t.start)-2)
	if err != nil {
		return nil, err
	}
	s.Segments = append(s.Segments, seg)
	for {
		p.skipNewlines()
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		s.Exprs = append(s.Exprs, e)
		p.skipNewlines()
		nt := p.next()
		switch nt.kind {
		case tStrMid:
			seg, err := p.decode(nt, 1, int(nt.end-nt.start)-2)
			if err != nil {
				return nil, err
			}
			s.Segments = append(s.Segments, seg)
		case tStrEnd:
			seg, err := p.decode(nt, 1, int(nt.end-nt.start)-1)
			if err != nil {
				return nil, err
			}
			s.Segments = append(s.Segments, seg)
			s.Span = p.span(t)
			return s, nil
		default:
			return nil, p.errTok(nt, "unexpected %s: expected '}' to close the string interpolation", p.describe(nt))
		}
	}
}

// decode unescapes the token text between [from, to) (relative offsets).
func (p *parser) decode(t token, from, to int) (string, error) {
	raw := p.s[int(t.start)+from : int(t.start)+to]
	if strings.IndexByte(raw, '\\') < 0 {
		return raw, nil
	}
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		bs := i
		errAt := func(msg string) error {
			col := int(t.col) + utf8.RuneCountInString(p.s[t.start:int(t.start)+from+bs])
			return pos.Errorf(p.path, pos.Pos{Line: int(t.line), Col: col}, "%s", msg)
		}
		if i+1 >= len(raw) {
			return "", errAt("incomplete escape sequence")
		}
		i++
		switch raw[i] {
		case '\\', '\'', '$':
			b.WriteByte(raw[i])
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			end := strings.IndexByte(raw[i:], '}')
			if i+1 >= len(raw) || raw[i+1] != '{' || end < 0 {
				return "", errAt(`invalid \u escape: expected \u{hex}`)
			}
			v, err := strconv.ParseUint(raw[i+2:i+end], 16, 32)
			if err != nil || v > utf8.MaxRune {
				return "", errAt(`invalid \u escape: expected \u{hex} with a valid code point`)
			}
			b.WriteRune(rune(v))
			i += end
		default:
			return "", errAt(fmt.Sprintf("invalid escape sequence \\%c", rune(raw[i])))
		}
	}
	return b.String(), nil
}

// multilineValue strips the triple-quote delimiters and a line break after
// the opening one, as Bicep does.
func multilineValue(raw string) string {
	v := raw[3 : len(raw)-3]
	if strings.HasPrefix(v, "\r\n") {
		return v[2:]
	}
	return strings.TrimPrefix(v, "\n")
}
