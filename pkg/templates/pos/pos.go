// Package pos holds the source positions and parse errors shared by the
// template parsers (arm, bicep, terraform, pipeline).
//
// Conventions, identical in every parser:
//   - Line and Col are 1-based.
//   - Col counts Unicode code points (characters) from the start of the line,
//     so a tab or a multi-byte UTF-8 character is one column. This is what
//     editors and the Azure Pipelines log (columnnumber) show. The Terraform
//     parser reports HCL's columns, which count grapheme clusters; the two
//     only differ on lines with combining characters.
//   - Offset is the 0-based byte offset into the source as given to Parse
//     (a leading UTF-8 byte order mark is counted in Offset but not in Col).
//   - Lines end at '\n'; a '\r' before it belongs to the line ending.
package pos

import (
	"bytes"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Pos is a position in a source file. The zero Pos means "unknown".
type Pos struct {
	Offset int // byte offset, 0-based
	Line   int // 1-based
	Col    int // 1-based, in characters
}

// IsValid reports whether p is a known position.
func (p Pos) IsValid() bool { return p.Line > 0 }

// String renders "line:col".
func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

// ErrLimit marks errors raised because an input exceeds a parser safety limit
// (nesting depth, alias expansion, node count) rather than being malformed.
var ErrLimit = errors.New("input exceeds parser limits")

// Error is a parse error that points into a file. Every parser in
// pkg/templates returns *Error (possibly wrapped) for bad input.
type Error struct {
	Path string
	Line int
	Col  int
	Msg  string
	Err  error // optional cause, e.g. ErrLimit
}

// Error renders "path:line:col: msg".
func (e *Error) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.Path, e.Line, e.Col, e.Msg)
}

// Unwrap returns the cause, if any.
func (e *Error) Unwrap() error { return e.Err }

// Pos returns the error position (Offset is unknown and left 0).
func (e *Error) Pos() Pos { return Pos{Line: e.Line, Col: e.Col} }

// Errorf builds an *Error at p.
func Errorf(path string, p Pos, format string, args ...any) *Error {
	return &Error{Path: path, Line: p.Line, Col: p.Col, Msg: fmt.Sprintf(format, args...)}
}

// LimitErrorf builds an *Error at p that wraps ErrLimit.
func LimitErrorf(path string, p Pos, format string, args ...any) *Error {
	e := Errorf(path, p, format, args...)
	e.Err = ErrLimit
	return e
}

// BOM is the UTF-8 byte order mark.
const BOM = "\xef\xbb\xbf"

// BOMLen returns 3 if src starts with a UTF-8 byte order mark, else 0.
func BOMLen(src []byte) int {
	if len(src) >= 3 && src[0] == 0xef && src[1] == 0xbb && src[2] == 0xbf {
		return 3
	}
	return 0
}

// Tracker converts byte offsets to positions in one forward pass. Offsets
// passed to Pos may go backwards, but the common monotonic case costs
// amortised O(1) per call, which keeps minified single-line files linear.
// The zero Tracker is not usable; create one with NewTracker.
type Tracker struct {
	src       []byte
	line      int // line of lineStart
	lineStart int // offset where the current line starts
	off       int // last offset resolved on this line
	col       int // column of off
	bom       int
}

// NewTracker returns a tracker over src. A leading BOM is skipped for
// columns.
func NewTracker(src []byte) *Tracker {
	t := &Tracker{src: src}
	t.Reset()
	return t
}

// Reset rewinds the tracker to the start of the source.
func (t *Tracker) Reset() {
	t.bom = BOMLen(t.src)
	t.line, t.lineStart, t.off, t.col = 1, t.bom, t.bom, 1
}

// Pos returns the position of byte offset off. Offsets past the end are
// clamped to the end.
func (t *Tracker) Pos(off int) Pos {
	if off > len(t.src) {
		off = len(t.src)
	}
	if off < t.off {
		if off >= t.lineStart {
			// Same line, behind the cache: recount from the line start.
			t.off, t.col = t.lineStart, 1
		} else {
			t.Reset()
		}
	}
	if off < t.bom {
		return Pos{Offset: off, Line: 1, Col: 1}
	}
	seg := t.src[t.off:off]
	col := t.col
	base := t.off
	if len(seg) < 32 {
		// Short hops between nearby tokens: a plain loop beats the
		// function calls below.
		for k, c := range seg {
			switch {
			case c == '\n':
				t.line++
				t.lineStart = base + k + 1
				col = 1
			case c < utf8.RuneSelf || c >= 0xC0:
				col++
			}
		}
		t.off, t.col = off, col
		return Pos{Offset: off, Line: t.line, Col: col}
	}
	for {
		j := bytes.IndexByte(seg, '\n')
		if j < 0 {
			break
		}
		t.line++
		base += j + 1
		t.lineStart = base
		seg = seg[j+1:]
		col = 1
	}
	col += utf8.RuneCount(seg)
	t.off, t.col = off, col
	return Pos{Offset: off, Line: t.line, Col: col}
}

// Lines is a line-start index used to turn (line, col) pairs reported by
// third-party parsers back into byte offsets.
type Lines struct {
	src    []byte
	starts []int
}

// NewLines indexes the line starts of src.
func NewLines(src []byte) *Lines {
	starts := make([]int, 1, 1+len(src)/32)
	starts[0] = BOMLen(src)
	for i := starts[0]; i < len(src); {
		j := bytes.IndexByte(src[i:], '\n')
		if j < 0 {
			break
		}
		i += j + 1
		starts = append(starts, i)
	}
	return &Lines{src: src, starts: starts}
}

// Count returns the number of lines.
func (l *Lines) Count() int { return len(l.starts) }

// Start returns the offset of the first byte of line (1-based), or -1.
func (l *Lines) Start(line int) int {
	if line < 1 || line > len(l.starts) {
		return -1
	}
	return l.starts[line-1]
}

// Text returns the content of line (1-based) without its line ending.
func (l *Lines) Text(line int) []byte {
	s := l.Start(line)
	if s < 0 {
		return nil
	}
	e := len(l.src)
	if line < len(l.starts) {
		e = l.starts[line] - 1
	}
	if e > s && l.src[e-1] == '\r' {
		e--
	}
	return l.src[s:e]
}

// At builds a Pos from a 1-based line and character column, filling Offset.
// Out-of-range input yields the nearest valid offset.
func (l *Lines) At(line, col int) Pos {
	s := l.Start(line)
	if s < 0 {
		return Pos{Offset: len(l.src), Line: line, Col: col}
	}
	off := s
	for c := 1; c < col && off < len(l.src) && l.src[off] != '\n'; c++ {
		_, w := utf8.DecodeRune(l.src[off:])
		off += w
	}
	return Pos{Offset: off, Line: line, Col: col}
}
