package azdosim

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// maxWIQLLength is the service's limit on the length of a WIQL statement.
const maxWIQLLength = 32000

// wiqlError is a query the simulator cannot evaluate; it becomes a 400
// response with the message, never a silent "return everything".
type wiqlError struct {
	code string // TF/VS error code of the real service, if known
	msg  string
}

func (e *wiqlError) Error() string {
	if e.code == "" {
		return e.msg
	}
	return e.code + ": " + e.msg
}

func syntaxErr(pos int, format string, args ...any) error {
	return &wiqlError{code: "TF51006", msg: fmt.Sprintf("The query statement is invalid at character %d: %s", pos+1, fmt.Sprintf(format, args...))}
}

type tokKind int

const (
	tEOF tokKind = iota
	tWord
	tField // [Bracketed Field]
	tString
	tNumber
	tMacro
	tOp // = <> < > <= >=
	tLParen
	tRParen
	tComma
	tPlus
	tMinus
)

type token struct {
	kind tokKind
	text string // for tString: the unescaped literal
	pos  int
}

func lexWIQL(src string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '[':
			end := strings.IndexByte(src[i+1:], ']')
			if end < 0 {
				return nil, syntaxErr(i, "missing ']' after field name")
			}
			name := strings.TrimSpace(src[i+1 : i+1+end])
			if name == "" {
				return nil, syntaxErr(i, "empty field name []")
			}
			toks = append(toks, token{tField, name, i})
			i += end + 2
		case c == '\'' || c == '"':
			var b strings.Builder
			j := i + 1
			closed := false
			for j < len(src) {
				if src[j] == c {
					if j+1 < len(src) && src[j+1] == c {
						b.WriteByte(c)
						j += 2
						continue
					}
					closed = true
					j++
					break
				}
				b.WriteByte(src[j])
				j++
			}
			if !closed {
				return nil, syntaxErr(i, "string literal is not closed")
			}
			toks = append(toks, token{tString, b.String(), i})
			i = j
		case c >= '0' && c <= '9':
			j := i
			for j < len(src) && (src[j] >= '0' && src[j] <= '9' || src[j] == '.') {
				j++
			}
			toks = append(toks, token{tNumber, src[i:j], i})
			i = j
		case c == '@':
			j := i + 1
			for j < len(src) && isWordByte(src[j]) {
				j++
			}
			if j == i+1 {
				return nil, syntaxErr(i, "'@' must start a macro such as @project or @today")
			}
			toks = append(toks, token{tMacro, src[i:j], i})
			i = j
		case c == '<':
			if i+1 < len(src) && (src[i+1] == '>' || src[i+1] == '=') {
				toks = append(toks, token{tOp, src[i : i+2], i})
				i += 2
			} else {
				toks = append(toks, token{tOp, "<", i})
				i++
			}
		case c == '>':
			if i+1 < len(src) && src[i+1] == '=' {
				toks = append(toks, token{tOp, ">=", i})
				i += 2
			} else {
				toks = append(toks, token{tOp, ">", i})
				i++
			}
		case c == '=':
			toks = append(toks, token{tOp, "=", i})
			i++
		case c == '(':
			toks = append(toks, token{tLParen, "(", i})
			i++
		case c == ')':
			toks = append(toks, token{tRParen, ")", i})
			i++
		case c == ',':
			toks = append(toks, token{tComma, ",", i})
			i++
		case c == '+':
			toks = append(toks, token{tPlus, "+", i})
			i++
		case c == '-':
			toks = append(toks, token{tMinus, "-", i})
			i++
		case isWordByte(c):
			j := i
			for j < len(src) && isWordByte(src[j]) {
				j++
			}
			toks = append(toks, token{tWord, src[i:j], i})
			i = j
		default:
			return nil, syntaxErr(i, "unexpected character %q", rune(c))
		}
	}
	toks = append(toks, token{tEOF, "", len(src)})
	return toks, nil
}

func isWordByte(c byte) bool {
	return c == '_' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// wiqlQuery is a parsed flat query (FROM WorkItems).
type wiqlQuery struct {
	columns []string
	where   wexpr // nil: no WHERE
	orderBy []orderTerm
}

type orderTerm struct {
	field string
	desc  bool
}

type wexpr interface{ isExpr() }

type andNode struct{ l, r wexpr }
type orNode struct{ l, r wexpr }
type notNode struct{ e wexpr }

// predNode is "field op value(s)". op is one of = <> < > <= >= in contains
// containswords under; negate turns in/contains/under into their NOT forms.
type predNode struct {
	field  string
	pos    int
	op     string
	negate bool
	values []literal
}

func (andNode) isExpr()  {}
func (orNode) isExpr()   {}
func (notNode) isExpr()  {}
func (predNode) isExpr() {}

type litKind int

const (
	litString litKind = iota
	litNumber
	litMacro
	litField
)

type literal struct {
	kind   litKind
	text   string  // string value, number text, macro name (lower case) or field name
	offset float64 // @today +/- offset
	pos    int
}

type parser struct {
	toks []token
	i    int
	nest int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) isWord(w string) bool {
	t := p.peek()
	return t.kind == tWord && strings.EqualFold(t.text, w)
}

func (p *parser) expectWord(w string) error {
	if !p.isWord(w) {
		t := p.peek()
		return syntaxErr(t.pos, "expected %s, found %s", strings.ToUpper(w), describe(t))
	}
	p.next()
	return nil
}

func describe(t token) string {
	if t.kind == tEOF {
		return "the end of the query"
	}
	if t.kind == tString {
		return "'" + t.text + "'"
	}
	return "'" + t.text + "'"
}

var reserved = map[string]bool{"select": true, "from": true, "where": true, "order": true, "by": true, "and": true, "or": true, "not": true, "in": true, "contains": true, "under": true, "asc": true, "desc": true, "asof": true, "mode": true, "ever": true, "group": true, "words": true}

// parseWIQL parses a flat WIQL statement. Semantic checks (fields, types)
// happen when the query is bound to the organization's fields.
func parseWIQL(src string) (*wiqlQuery, error) {
	if len(src) > maxWIQLLength {
		return nil, &wiqlError{code: "VS402335", msg: fmt.Sprintf("The WIQL query is %d characters long; the limit is %d characters.", len(src), maxWIQLLength)}
	}
	if strings.TrimSpace(src) == "" {
		return nil, &wiqlError{code: "TF51006", msg: "The query statement is empty."}
	}
	toks, err := lexWIQL(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	q := &wiqlQuery{}
	if err := p.expectWord("select"); err != nil {
		return nil, err
	}
	for {
		t := p.next()
		switch {
		case t.kind == tField:
			q.columns = append(q.columns, t.text)
		case t.kind == tWord && !reserved[strings.ToLower(t.text)]:
			q.columns = append(q.columns, t.text)
		default:
			return nil, syntaxErr(t.pos, "expected a field name in the SELECT list, found %s", describe(t))
		}
		if p.peek().kind != tComma {
			break
		}
		p.next()
	}
	if err := p.expectWord("from"); err != nil {
		return nil, err
	}
	src0 := p.next()
	switch {
	case src0.kind == tWord && strings.EqualFold(src0.text, "workitems"):
	case src0.kind == tWord && strings.EqualFold(src0.text, "workitemlinks"):
		return nil, &wiqlError{msg: "azdosim evaluates flat queries (FROM WorkItems) only; FROM WorkItemLinks (tree and one-hop queries) is not simulated."}
	default:
		return nil, syntaxErr(src0.pos, "expected WorkItems after FROM, found %s", describe(src0))
	}
	if p.isWord("where") {
		p.next()
		e, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		q.where = e
	}
	if p.isWord("order") {
		p.next()
		if err := p.expectWord("by"); err != nil {
			return nil, err
		}
		for {
			t := p.next()
			if t.kind != tField && (t.kind != tWord || reserved[strings.ToLower(t.text)]) {
				return nil, syntaxErr(t.pos, "expected a field name in ORDER BY, found %s", describe(t))
			}
			term := orderTerm{field: t.text}
			if p.isWord("asc") {
				p.next()
			} else if p.isWord("desc") {
				p.next()
				term.desc = true
			}
			q.orderBy = append(q.orderBy, term)
			if p.peek().kind != tComma {
				break
			}
			p.next()
		}
	}
	if p.isWord("asof") {
		return nil, &wiqlError{msg: "azdosim does not keep work item history: ASOF is not simulated."}
	}
	if p.isWord("mode") {
		return nil, &wiqlError{msg: "MODE applies to link queries, which azdosim does not simulate."}
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, syntaxErr(t.pos, "unexpected %s", describe(t))
	}
	return q, nil
}

func (p *parser) parseOr() (wexpr, error) {
	l, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for p.isWord("or") {
		p.next()
		r, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		l = orNode{l, r}
	}
	return l, nil
}

func (p *parser) parseAnd() (wexpr, error) {
	l, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	for p.isWord("and") {
		p.next()
		r, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		l = andNode{l, r}
	}
	return l, nil
}

// maxNesting bounds recursion so that hostile input cannot exhaust the stack.
const maxNesting = 200

func (p *parser) parseNot() (wexpr, error) {
	negations := 0
	for p.isWord("not") {
		p.next()
		negations++
	}
	var e wexpr
	if p.peek().kind == tLParen {
		open := p.next()
		p.nest++
		if p.nest > maxNesting {
			return nil, syntaxErr(open.pos, "parentheses are nested too deeply")
		}
		inner, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		p.nest--
		if t := p.next(); t.kind != tRParen {
			return nil, syntaxErr(t.pos, "expected ')' to close the '(' at character %d, found %s", open.pos+1, describe(t))
		}
		e = inner
	} else {
		pred, err := p.parsePredicate()
		if err != nil {
			return nil, err
		}
		e = pred
	}
	if negations%2 == 1 {
		e = notNode{e}
	}
	return e, nil
}

func (p *parser) parsePredicate() (wexpr, error) {
	ft := p.next()
	if ft.kind != tField && (ft.kind != tWord || reserved[strings.ToLower(ft.text)]) {
		return nil, syntaxErr(ft.pos, "expected a field name, found %s", describe(ft))
	}
	pred := predNode{field: ft.text, pos: ft.pos}
	t := p.peek()
	switch {
	case t.kind == tOp:
		p.next()
		pred.op = t.text
		v, err := p.parseValue(true)
		if err != nil {
			return nil, err
		}
		pred.values = []literal{v}
		return pred, nil
	case t.kind == tWord:
		word := strings.ToLower(t.text)
		if word == "not" {
			p.next()
			pred.negate = true
			t = p.peek()
			if t.kind != tWord {
				return nil, syntaxErr(t.pos, "expected IN, CONTAINS or UNDER after NOT, found %s", describe(t))
			}
			word = strings.ToLower(t.text)
		}
		switch word {
		case "in":
			p.next()
			if p.isWord("group") {
				return nil, &wiqlError{msg: "IN GROUP is not simulated by azdosim."}
			}
			pred.op = "in"
			vals, err := p.parseList()
			if err != nil {
				return nil, err
			}
			pred.values = vals
			return pred, nil
		case "contains":
			p.next()
			pred.op = "contains"
			if p.isWord("words") {
				p.next()
				pred.op = "containswords"
			}
		case "under":
			p.next()
			pred.op = "under"
		case "ever":
			return nil, &wiqlError{msg: "azdosim does not keep work item history: EVER is not simulated."}
		default:
			return nil, syntaxErr(t.pos, "expected an operator after %s, found %s", ft.text, describe(t))
		}
		v, err := p.parseValue(false)
		if err != nil {
			return nil, err
		}
		pred.values = []literal{v}
		return pred, nil
	default:
		return nil, syntaxErr(t.pos, "expected an operator after %s, found %s", ft.text, describe(t))
	}
}

func (p *parser) parseList() ([]literal, error) {
	open := p.next()
	if open.kind != tLParen {
		return nil, syntaxErr(open.pos, "expected '(' after IN, found %s", describe(open))
	}
	var vals []literal
	for {
		v, err := p.parseValue(false)
		if err != nil {
			return nil, err
		}
		vals = append(vals, v)
		t := p.next()
		if t.kind == tRParen {
			return vals, nil
		}
		if t.kind != tComma {
			return nil, syntaxErr(t.pos, "expected ',' or ')' in the IN list, found %s", describe(t))
		}
	}
}

func (p *parser) parseValue(allowField bool) (literal, error) {
	t := p.next()
	switch t.kind {
	case tString:
		return literal{kind: litString, text: t.text, pos: t.pos}, nil
	case tNumber:
		if _, err := strconv.ParseFloat(t.text, 64); err != nil {
			return literal{}, syntaxErr(t.pos, "%q is not a number", t.text)
		}
		return literal{kind: litNumber, text: t.text, pos: t.pos}, nil
	case tMinus:
		n := p.next()
		if n.kind != tNumber {
			return literal{}, syntaxErr(t.pos, "expected a number after '-'")
		}
		if _, err := strconv.ParseFloat(n.text, 64); err != nil {
			return literal{}, syntaxErr(n.pos, "%q is not a number", n.text)
		}
		return literal{kind: litNumber, text: "-" + n.text, pos: t.pos}, nil
	case tMacro:
		lit := literal{kind: litMacro, text: strings.ToLower(t.text), pos: t.pos}
		if s := p.peek(); s.kind == tPlus || s.kind == tMinus {
			p.next()
			n := p.next()
			if n.kind != tNumber {
				return literal{}, syntaxErr(n.pos, "expected a number after %s %s", t.text, s.text)
			}
			f, err := strconv.ParseFloat(n.text, 64)
			if err != nil {
				return literal{}, syntaxErr(n.pos, "%q is not a number", n.text)
			}
			if s.kind == tMinus {
				f = -f
			}
			lit.offset = f
		}
		return lit, nil
	case tField:
		if allowField {
			return literal{kind: litField, text: t.text, pos: t.pos}, nil
		}
	case tWord:
		if allowField && !reserved[strings.ToLower(t.text)] && strings.ContainsFunc(t.text, func(r rune) bool { return r == '.' || unicode.IsLetter(r) }) {
			return literal{kind: litField, text: t.text, pos: t.pos}, nil
		}
	}
	return literal{}, syntaxErr(t.pos, "expected a value ('text', a number or a macro), found %s", describe(t))
}
