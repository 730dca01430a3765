package arm

import (
	"bytes"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/stagegate/stagegate/pkg/templates/pos"
)

// MaxDepth is the deepest object/array nesting Parse accepts. Deeper input
// is refused with an error wrapping pos.ErrLimit instead of recursing.
const MaxDepth = 1000

// Parse parses one JSON document in the dialect Azure Resource Manager
// accepts and returns its root node. Errors are *pos.Error.
func Parse(path string, src []byte) (*Node, error) {
	p := parser{
		path: path,
		src:  src,
		s:    string(src), // one copy; unescaped strings are slices of it
		tr:   pos.NewTracker(src),
	}
	p.i = pos.BOMLen(src)
	if err := p.skipSpace(); err != nil {
		return nil, err
	}
	if p.i >= len(src) {
		return nil, p.errAt(p.i, "empty document: expected a JSON value")
	}
	root, err := p.value()
	if err != nil {
		return nil, err
	}
	if err := p.skipSpace(); err != nil {
		return nil, err
	}
	if p.i < len(src) {
		return nil, p.errAt(p.i, "unexpected %s after the JSON value", describe(src, p.i))
	}
	return root, nil
}

type parser struct {
	path  string
	src   []byte
	s     string
	i     int
	tr    *pos.Tracker
	depth int

	slab    []Node   // nodes are carved from chunks to save allocations
	members []Member // scratch stack for open objects
	items   []*Node  // scratch stack for open arrays
	buf     []byte   // scratch for escaped strings
}

func (p *parser) errAt(off int, format string, args ...any) error {
	return pos.Errorf(p.path, p.tr.Pos(off), format, args...)
}

func (p *parser) node(k Kind, start int) *Node {
	if len(p.slab) == 0 {
		n := 64
		if len(p.src) > 64*1024 {
			n = 512
		}
		p.slab = make([]Node, n)
	}
	nd := &p.slab[0]
	p.slab = p.slab[1:]
	nd.Kind = k
	nd.Pos = p.tr.Pos(start)
	return nd
}

func (p *parser) skipSpace() error {
	src := p.src
	for p.i < len(src) {
		switch src[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		case '/':
			if p.i+1 < len(src) && src[p.i+1] == '/' {
				j := bytes.IndexByte(src[p.i:], '\n')
				if j < 0 {
					p.i = len(src)
				} else {
					p.i += j + 1
				}
				continue
			}
			if p.i+1 < len(src) && src[p.i+1] == '*' {
				j := bytes.Index(src[p.i+2:], []byte("*/"))
				if j < 0 {
					return p.errAt(p.i, "unterminated /* comment")
				}
				p.i += 2 + j + 2
				continue
			}
			return p.errAt(p.i, "unexpected '/': expected a JSON value or a // or /* comment")
		default:
			return nil
		}
	}
	return nil
}

func (p *parser) value() (*Node, error) {
	src := p.src
	if p.i >= len(src) {
		return nil, p.errAt(p.i, "unexpected end of input: expected a JSON value")
	}
	switch c := src[p.i]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		start := p.i
		n := p.node(String, start)
		s, esc, err := p.str()
		if err != nil {
			return nil, err
		}
		n.Str, n.Escaped, n.End = s, esc, p.i
		return n, nil
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == 't':
		return p.keyword("true", Bool, true)
	case c == 'f':
		return p.keyword("false", Bool, false)
	case c == 'n':
		return p.keyword("null", Null, false)
	default:
		return nil, p.errAt(p.i, "unexpected %s: expected a JSON value", describe(src, p.i))
	}
}

func (p *parser) keyword(word string, k Kind, b bool) (*Node, error) {
	start := p.i
	end := start + len(word)
	if end > len(p.src) || string(p.src[start:end]) != word || (end < len(p.src) && isIdentByte(p.src[end])) {
		return nil, p.errAt(start, "unexpected %s: expected a JSON value", describe(p.src, start))
	}
	n := p.node(k, start)
	n.Bool = b
	n.Str = word
	p.i = end
	n.End = end
	return n, nil
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 0x80 || (c >= '0' && c <= '9') || (c|0x20 >= 'a' && c|0x20 <= 'z')
}

func (p *parser) number() (*Node, error) {
	src := p.src
	start := p.i
	i := start
	if src[i] == '-' {
		i++
	}
	digits := func() int {
		j := i
		for i < len(src) && src[i] >= '0' && src[i] <= '9' {
			i++
		}
		return i - j
	}
	if i < len(src) && src[i] == '0' {
		i++
	} else if digits() == 0 {
		return nil, p.errAt(start, "invalid number: expected a digit")
	}
	if i < len(src) && src[i] == '.' {
		i++
		if digits() == 0 {
			return nil, p.errAt(start, "invalid number: expected a digit after '.'")
		}
	}
	if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
		i++
		if i < len(src) && (src[i] == '+' || src[i] == '-') {
			i++
		}
		if digits() == 0 {
			return nil, p.errAt(start, "invalid number: expected a digit in the exponent")
		}
	}
	if i < len(src) && isIdentByte(src[i]) {
		return nil, p.errAt(start, "invalid number %q", src[start:i+1])
	}
	n := p.node(Number, start)
	n.Str = p.s[start:i]
	p.i = i
	n.End = i
	return n, nil
}

// str scans a string at p.i (which holds '"') and returns its decoded value.
func (p *parser) str() (string, bool, error) {
	src := p.src
	start := p.i
	body := start + 1
	q := bytes.IndexByte(src[body:], '"')
	if q < 0 {
		return "", false, p.errAt(start, "unterminated string")
	}
	if bytes.IndexByte(src[body:body+q], '\\') < 0 {
		p.i = body + q + 1
		return p.s[body : body+q], false, nil
	}
	buf := p.buf[:0]
	i := body
	for {
		if i >= len(src) {
			return "", false, p.errAt(start, "unterminated string")
		}
		c := src[i]
		if c == '"' {
			break
		}
		if c != '\\' {
			// Copy the run up to the next quote or backslash.
			j := i + 1
			for j < len(src) && src[j] != '"' && src[j] != '\\' {
				j++
			}
			buf = append(buf, src[i:j]...)
			i = j
			continue
		}
		if i+1 >= len(src) {
			return "", false, p.errAt(start, "unterminated string")
		}
		e := src[i+1]
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := hex4(src, i+2)
			if !ok {
				return "", false, p.errAt(i, "invalid \\u escape: expected four hex digits")
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if r2, ok := hex4(src, i+2); ok && i+1 < len(src) && src[i] == '\\' && src[i+1] == 'u' {
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						buf = utf8.AppendRune(buf, d)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			buf = utf8.AppendRune(buf, r)
			continue
		default:
			return "", false, p.errAt(i, "invalid escape sequence \\%c in string", rune(e))
		}
		i += 2
	}
	p.i = i + 1
	s := string(buf)
	p.buf = buf
	return s, true, nil
}

func hex4(src []byte, i int) (rune, bool) {
	if i+4 > len(src) {
		return 0, false
	}
	var r rune
	for _, c := range src[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

func (p *parser) enter(start int) error {
	p.depth++
	if p.depth > MaxDepth {
		return pos.LimitErrorf(p.path, p.tr.Pos(start), "nesting deeper than %d levels", MaxDepth)
	}
	return nil
}

func (p *parser) object() (*Node, error) {
	start := p.i
	if err := p.enter(start); err != nil {
		return nil, err
	}
	n := p.node(Object, start)
	p.i++
	base := len(p.members)
	src := p.src
	for {
		if err := p.skipSpace(); err != nil {
			return nil, err
		}
		if p.i >= len(src) {
			return nil, p.errAt(start, "unterminated object: expected '}'")
		}
		if src[p.i] == '}' {
			break
		}
		if src[p.i] != '"' {
			return nil, p.errAt(p.i, "unexpected %s: expected a quoted member name or '}'", describe(src, p.i))
		}
		keyPos := p.tr.Pos(p.i)
		key, _, err := p.str()
		if err != nil {
			return nil, err
		}
		if err := p.skipSpace(); err != nil {
			return nil, err
		}
		if p.i >= len(src) || src[p.i] != ':' {
			return nil, p.errAt(p.i, "unexpected %s: expected ':' after member name %q", describe(src, p.i), key)
		}
		p.i++
		if err := p.skipSpace(); err != nil {
			return nil, err
		}
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		v.parent = n
		v.index = int32(len(p.members) - base)
		p.members = append(p.members, Member{Key: key, KeyPos: keyPos, Value: v})
		if err := p.skipSpace(); err != nil {
			return nil, err
		}
		if p.i < len(src) && src[p.i] == ',' {
			p.i++
			continue
		}
		if p.i < len(src) && src[p.i] == '}' {
			break
		}
		if p.i >= len(src) {
			return nil, p.errAt(start, "unterminated object: expected '}'")
		}
		return nil, p.errAt(p.i, "unexpected %s: expected ',' or '}' after member %q", describe(src, p.i), key)
	}
	p.i++
	n.End = p.i
	if k := len(p.members) - base; k > 0 {
		n.Members = make([]Member, k)
		copy(n.Members, p.members[base:])
		clear(p.members[base:])
		p.members = p.members[:base]
	}
	p.depth--
	return n, nil
}

func (p *parser) array() (*Node, error) {
	start := p.i
	if err := p.enter(start); err != nil {
		return nil, err
	}
	n := p.node(Array, start)
	p.i++
	base := len(p.items)
	src := p.src
	for {
		if err := p.skipSpace(); err != nil {
			return nil, err
		}
		if p.i >= len(src) {
			return nil, p.errAt(start, "unterminated array: expected ']'")
		}
		if src[p.i] == ']' {
			break
		}
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		v.parent = n
		v.index = int32(len(p.items) - base)
		p.items = append(p.items, v)
		if err := p.skipSpace(); err != nil {
			return nil, err
		}
		if p.i < len(src) && src[p.i] == ',' {
			p.i++
			continue
		}
		if p.i < len(src) && src[p.i] == ']' {
			break
		}
		if p.i >= len(src) {
			return nil, p.errAt(start, "unterminated array: expected ']'")
		}
		return nil, p.errAt(p.i, "unexpected %s: expected ',' or ']' after array item", describe(src, p.i))
	}
	p.i++
	n.End = p.i
	if k := len(p.items) - base; k > 0 {
		n.Items = make([]*Node, k)
		copy(n.Items, p.items[base:])
		clear(p.items[base:])
		p.items = p.items[:base]
	}
	p.depth--
	return n, nil
}

// describe names the input at off for error messages without echoing long
// (possibly secret) content.
func describe(src []byte, off int) string {
	if off >= len(src) {
		return "end of input"
	}
	r, _ := utf8.DecodeRune(src[off:])
	if r == utf8.RuneError {
		return fmt.Sprintf("byte 0x%02x", src[off])
	}
	return fmt.Sprintf("character %q", r)
}
