package pos

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// naive computes the position of off the slow, obviously correct way.
func naive(src []byte, off int) Pos {
	bom := BOMLen(src)
	if off < bom {
		return Pos{Offset: off, Line: 1, Col: 1}
	}
	line, col := 1, 1
	for i := bom; i < off; {
		if src[i] == '\n' {
			line++
			col = 1
			i++
			continue
		}
		_, w := utf8.DecodeRune(src[i:])
		col++
		i += w
	}
	return Pos{Offset: off, Line: line, Col: col}
}

func TestTracker(t *testing.T) {
	long := strings.Repeat("é", 50)
	tests := []struct {
		name string
		src  string
	}{
		{"ascii", "ab\ncd\n\nef"},
		{"crlf", "ab\r\ncd\r\n"},
		{"bom", BOM + "x\ny"},
		{"multibyte", "é€😀x\nü"},
		{"long lines", long + "\n" + long + "x" + strings.Repeat("a", 100)},
		{"tabs", "\ta\t\tb"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := []byte(tc.src)
			var offs []int
			for i := 0; i <= len(src); i++ {
				if i == len(src) || utf8.RuneStart(src[i]) {
					offs = append(offs, i)
				}
			}
			tr := NewTracker(src)
			for _, off := range offs {
				assert.Equal(t, naive(src, off), tr.Pos(off), "forward %d", off)
			}
			// Backwards and random jumps must still be right.
			for i := len(offs) - 1; i >= 0; i -= 3 {
				assert.Equal(t, naive(src, offs[i]), tr.Pos(offs[i]), "backward %d", offs[i])
			}
			tr.Reset()
			assert.Equal(t, naive(src, offs[len(offs)-1]), tr.Pos(offs[len(offs)-1]))
			assert.Equal(t, naive(src, len(src)), tr.Pos(len(src)+10), "clamped")
		})
	}
}

func TestLines(t *testing.T) {
	src := []byte(BOM + "ab\r\nçd\n\nlast")
	l := NewLines(src)
	assert.Equal(t, 4, l.Count())
	assert.Equal(t, 3, l.Start(1))
	assert.Equal(t, 7, l.Start(2))
	assert.Equal(t, -1, l.Start(0))
	assert.Equal(t, -1, l.Start(5))
	assert.Equal(t, "ab", string(l.Text(1)))
	assert.Equal(t, "çd", string(l.Text(2)))
	assert.Equal(t, "", string(l.Text(3)))
	assert.Equal(t, "last", string(l.Text(4)))
	assert.Nil(t, l.Text(9))
	p := l.At(2, 2)
	assert.Equal(t, Pos{Offset: 9, Line: 2, Col: 2}, p)
	assert.Equal(t, byte('d'), src[p.Offset])
	assert.Equal(t, naive(src, 9), p)
	assert.Equal(t, 10, l.At(2, 50).Offset, "a column past the end stops at the line end")
	assert.Equal(t, len(src), l.At(7, 1).Offset)
}

func TestError(t *testing.T) {
	e := Errorf("a/b.json", Pos{Line: 3, Col: 7}, "unexpected %s", "x")
	assert.Equal(t, "a/b.json:3:7: unexpected x", e.Error())
	assert.Equal(t, Pos{Line: 3, Col: 7}, e.Pos())
	assert.False(t, errors.Is(e, ErrLimit))
	l := LimitErrorf("c.yml", Pos{Line: 1, Col: 1}, "too deep")
	require.ErrorIs(t, l, ErrLimit)
	var pe *Error
	require.True(t, errors.As(error(l), &pe))
	assert.Equal(t, "c.yml", pe.Path)
	assert.True(t, Pos{Line: 1}.IsValid())
	assert.False(t, Pos{}.IsValid())
	assert.Equal(t, "2:5", Pos{Line: 2, Col: 5}.String())
}
