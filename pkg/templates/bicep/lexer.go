package bicep

import (
	"bytes"
	"unicode/utf8"

	"github.com/stagegate/stagegate/pkg/templates/pos"
)

type tokKind uint8

const (
	tEOF tokKind = iota
	tNewline
	tIdent
	tInt
	tString      // 'complete'
	tStrStart    // 'text${
	tStrMid      // }text${
	tStrEnd      // }text'
	tMultiString // '''text'''
	tLBrace
	tRBrace
	tLBrack
	tRBrack
	tLParen
	tRParen
	tComma
	tDot
	tDotQ // .?
	tColon
	tDColon // ::
	tQuestion
	tCoalesce // ??
	tAssign   // =
	tArrow    // =>
	tEq       // ==
	tNe       // !=
	tEqI      // =~
	tNeI      // !~
	tLt
	tLe
	tGt
	tGe
	tPlus
	tMinus
	tStar
	tSlash
	tPercent
	tBang
	tAnd    // &&
	tOr     // ||
	tAt     // @
	tPipe   // |
	tSpread // ...
)

// tokName names a token kind for error messages.
func tokName(k tokKind) string {
	switch k {
	case tEOF:
		return "end of file"
	case tNewline:
		return "end of line"
	case tIdent:
		return "identifier"
	case tInt:
		return "integer"
	case tString:
		return "string"
	case tStrStart:
		return "string"
	case tStrMid:
		return "string"
	case tStrEnd:
		return "string"
	case tMultiString:
		return "string"
	case tLBrace:
		return "'{'"
	case tRBrace:
		return "'}'"
	case tLBrack:
		return "'['"
	case tRBrack:
		return "']'"
	case tLParen:
		return "'('"
	case tRParen:
		return "')'"
	case tComma:
		return "','"
	case tDot:
		return "'.'"
	case tDotQ:
		return "'.?'"
	case tColon:
		return "':'"
	case tDColon:
		return "'::'"
	case tQuestion:
		return "'?'"
	case tCoalesce:
		return "'??'"
	case tAssign:
		return "'='"
	case tArrow:
		return "'=>'"
	case tEq:
		return "'=='"
	case tNe:
		return "'!='"
	case tEqI:
		return "'=~'"
	case tNeI:
		return "'!~'"
	case tLt:
		return "'<'"
	case tLe:
		return "'<='"
	case tGt:
		return "'>'"
	case tGe:
		return "'>='"
	case tPlus:
		return "'+'"
	case tMinus:
		return "'-'"
	case tStar:
		return "'*'"
	case tSlash:
		return "'/'"
	case tPercent:
		return "'%'"
	case tBang:
		return "'!'"
	case tAnd:
		return "'&&'"
	case tOr:
		return "'||'"
	case tAt:
		return "'@'"
	case tPipe:
		return "'|'"
	case tSpread:
		return "'...'"
	}
	return "token"
}

type token struct {
	kind       tokKind
	start, end int32 // byte offsets
	line, col  int32
}

func (t token) pos() pos.Pos {
	return pos.Pos{Offset: int(t.start), Line: int(t.line), Col: int(t.col)}
}

// lexer turns Bicep source into a token slice. String interpolation is
// handled with a brace stack: "${" inside a string pushes an interpolation
// marker, and the "}" that pops it resumes the string.
type lexer struct {
	path   string
	src    []byte
	i      int
	tr     *pos.Tracker
	toks   []token
	braces []int // -1 for '{', else the offset of the string holding the "${"
}

func lex(path string, src []byte) ([]token, error) {
	lx := &lexer{path: path, src: src, tr: pos.NewTracker(src)}
	lx.i = pos.BOMLen(src)
	lx.toks = make([]token, 0, len(src)/4+16) // real files average about 5 bytes per token
	if err := lx.run(); err != nil {
		return nil, err
	}
	return lx.toks, nil
}

func (lx *lexer) errAt(off int, format string, args ...any) error {
	return pos.Errorf(lx.path, lx.tr.Pos(off), format, args...)
}

func (lx *lexer) emit(k tokKind, start, end int) {
	p := lx.tr.Pos(start)
	lx.toks = append(lx.toks, token{kind: k, start: int32(start), end: int32(end), line: int32(p.Line), col: int32(p.Col)})
}

func (lx *lexer) newline(off int) {
	if n := len(lx.toks); n > 0 && lx.toks[n-1].kind == tNewline {
		return
	}
	lx.emit(tNewline, off, off+1)
}

func isIdentStart(c byte) bool { return c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
func isIdentChar(c byte) bool  { return isIdentStart(c) || (c >= '0' && c <= '9') }

func (lx *lexer) run() error {
	src := lx.src
	if len(src) > 1<<31-1 {
		return lx.errAt(0, "file too large")
	}
	for lx.i < len(src) {
		c := src[lx.i]
		start := lx.i
		switch {
		case c == ' ' || c == '\t' || c == '\r':
			lx.i++
		case c == '\n':
			lx.newline(start)
			lx.i++
		case isIdentStart(c):
			j := lx.i + 1
			for j < len(src) && isIdentChar(src[j]) {
				j++
			}
			lx.emit(tIdent, start, j)
			lx.i = j
		case c >= '0' && c <= '9':
			j := lx.i + 1
			for j < len(src) && src[j] >= '0' && src[j] <= '9' {
				j++
			}
			lx.emit(tInt, start, j)
			lx.i = j
		case c == '\'':
			if bytes.HasPrefix(src[lx.i:], []byte("'''")) {
				end := bytes.Index(src[lx.i+3:], []byte("'''"))
				if end < 0 {
					return lx.errAt(start, "unterminated multi-line string: expected '''")
				}
				j := lx.i + 3 + end + 3
				// A multi-line string may end with more quotes: the last
				// three close it ('''a'''' is "a'").
				for j < len(src) && src[j] == '\'' {
					j++
				}
				lx.emit(tMultiString, start, j)
				lx.i = j
				continue
			}
			if err := lx.str(start, start, start+1, tString, tStrStart); err != nil {
				return err
			}
		case c == '/' && lx.i+1 < len(src) && src[lx.i+1] == '/':
			j := bytes.IndexByte(src[lx.i:], '\n')
			if j < 0 {
				lx.i = len(src)
			} else {
				lx.i += j
			}
		case c == '/' && lx.i+1 < len(src) && src[lx.i+1] == '*':
			j := bytes.Index(src[lx.i+2:], []byte("*/"))
			if j < 0 {
				return lx.errAt(start, "unterminated /* comment")
			}
			body := src[lx.i+2 : lx.i+2+j]
			lx.i += 2 + j + 2
			if nl := bytes.IndexByte(body, '\n'); nl >= 0 {
				lx.newline(start + 2 + nl)
			}
		case c == '#':
			// #disable-next-line and similar pragmas run to the end of line.
			j := bytes.IndexByte(src[lx.i:], '\n')
			if j < 0 {
				lx.i = len(src)
			} else {
				lx.i += j
			}
		case c == '{':
			lx.braces = append(lx.braces, -1)
			lx.emit(tLBrace, start, start+1)
			lx.i++
		case c == '}':
			if n := len(lx.braces); n > 0 && lx.braces[n-1] >= 0 {
				strStart := lx.braces[n-1]
				lx.braces = lx.braces[:n-1]
				if err := lx.str(strStart, start, start+1, tStrEnd, tStrMid); err != nil {
					return err
				}
				continue
			}
			if n := len(lx.braces); n > 0 {
				lx.braces = lx.braces[:n-1]
			}
			lx.emit(tRBrace, start, start+1)
			lx.i++
		default:
			k, w := punct(src[lx.i:])
			if w == 0 {
				r, _ := utf8.DecodeRune(src[lx.i:])
				if r == utf8.RuneError {
					return lx.errAt(start, "unexpected byte 0x%02x", c)
				}
				return lx.errAt(start, "unexpected character %q", r)
			}
			lx.emit(k, start, start+w)
			lx.i += w
		}
	}
	if n := len(lx.braces); n > 0 && lx.braces[n-1] >= 0 {
		return lx.errAt(lx.braces[n-1], "unterminated string: interpolation not closed with '}'")
	}
	lx.emit(tEOF, len(src), len(src))
	return nil
}

// str scans string content from body up to the closing quote or the next
// "${". It emits whole (quote-closed) or open (interpolation) tokens that
// begin at start; errors point at strStart, the opening quote.
func (lx *lexer) str(strStart, start, body int, whole, open tokKind) error {
	src := lx.src
	for j := body; j < len(src); j++ {
		switch src[j] {
		case '\\':
			// Skip the escaped character; the parser validates escapes.
			if j+1 < len(src) && src[j+1] == '\n' {
				return lx.errAt(strStart, "unterminated string: strings cannot span lines (use ''' for multi-line strings)")
			}
			j++
		case '\'':
			lx.emit(whole, start, j+1)
			lx.i = j + 1
			return nil
		case '$':
			if j+1 < len(src) && src[j+1] == '{' {
				lx.emit(open, start, j+2)
				lx.braces = append(lx.braces, strStart)
				lx.i = j + 2
				return nil
			}
		case '\n':
			return lx.errAt(strStart, "unterminated string: strings cannot span lines (use ''' for multi-line strings)")
		}
	}
	return lx.errAt(strStart, "unterminated string")
}

func punct(b []byte) (tokKind, int) {
	c := b[0]
	var n byte
	if len(b) > 1 {
		n = b[1]
	}
	switch c {
	case '[':
		return tLBrack, 1
	case ']':
		return tRBrack, 1
	case '(':
		return tLParen, 1
	case ')':
		return tRParen, 1
	case ',':
		return tComma, 1
	case '.':
		if n == '?' {
			return tDotQ, 2
		}
		if n == '.' && len(b) > 2 && b[2] == '.' {
			return tSpread, 3
		}
		return tDot, 1
	case ':':
		if n == ':' {
			return tDColon, 2
		}
		return tColon, 1
	case '?':
		if n == '?' {
			return tCoalesce, 2
		}
		return tQuestion, 1
	case '=':
		switch n {
		case '>':
			return tArrow, 2
		case '=':
			return tEq, 2
		case '~':
			return tEqI, 2
		}
		return tAssign, 1
	case '!':
		switch n {
		case '=':
			return tNe, 2
		case '~':
			return tNeI, 2
		}
		return tBang, 1
	case '<':
		if n == '=' {
			return tLe, 2
		}
		return tLt, 1
	case '>':
		if n == '=' {
			return tGe, 2
		}
		return tGt, 1
	case '+':
		return tPlus, 1
	case '-':
		return tMinus, 1
	case '*':
		return tStar, 1
	case '/':
		return tSlash, 1
	case '%':
		return tPercent, 1
	case '&':
		if n == '&' {
			return tAnd, 2
		}
	case '|':
		if n == '|' {
			return tOr, 2
		}
		return tPipe, 1
	case '@':
		return tAt, 1
	}
	return 0, 0
}
