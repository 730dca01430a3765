package arm

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/templates/pos"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

func TestParseValues(t *testing.T) {
	tests := []struct {
		name string
		src  string
		kind Kind
		str  string
		b    bool
	}{
		{"string", `"abc"`, String, "abc", false},
		{"escapes", `"a\"b\\c\/d\n\t\u00e9\ud83d\ude00"`, String, "a\"b\\c/d\n\té😀", false},
		{"lone surrogate", `"\ud800x"`, String, "\uFFFDx", false},
		{"raw newline (multi-line string)", "\"a\nb\"", String, "a\nb", false},
		{"int", `-12`, Number, "-12", false},
		{"float", `1.5e+3`, Number, "1.5e+3", false},
		{"zero", `0`, Number, "0", false},
		{"true", `true`, Bool, "true", true},
		{"false", ` false `, Bool, "false", false},
		{"null", `null`, Null, "null", false},
		{"bom", "\xef\xbb\xbf\"x\"", String, "x", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := Parse("t.json", []byte(tc.src))
			require.NoError(t, err)
			assert.Equal(t, tc.kind, n.Kind)
			assert.Equal(t, tc.str, n.Str)
			assert.Equal(t, tc.b, n.Bool)
		})
	}
}

func TestParseDialect(t *testing.T) {
	src := "\xef\xbb\xbf{ // comment\r\n" +
		"  /* block\r\n  comment */ \"a\": [1, 2,],\r\n" +
		"  \"b\": {\"c\": \"é\", \"d\": \"x\",},\r\n" +
		"}\r\n// trailing comment"
	root, err := Parse("t.json", []byte(src))
	require.NoError(t, err)
	require.Equal(t, Object, root.Kind)
	assert.Equal(t, pos.Pos{Offset: 3, Line: 1, Col: 1}, root.Pos, "BOM is not a column")
	a, ok := root.Lookup("A")
	require.True(t, ok, "member lookup is case-insensitive")
	assert.Equal(t, pos.Pos{Offset: 42, Line: 3, Col: 14}, a.KeyPos)
	require.Len(t, a.Value.Items, 2, "trailing comma tolerated")
	assert.Equal(t, 3, a.Value.Items[1].Pos.Line)
	assert.Equal(t, 23, a.Value.Items[1].Pos.Col)
	d := root.Dig("b", "d")
	require.NotNil(t, d)
	// "é" is one column although it is two bytes.
	assert.Equal(t, 4, d.Pos.Line)
	assert.Equal(t, 24, d.Pos.Col)
	assert.Equal(t, byte('"'), []byte(src)[d.Pos.Offset])
	assert.Equal(t, "/b/d", d.Pointer())
	assert.Equal(t, "d", d.Key())
	assert.Equal(t, root.Get("b"), d.Parent())
	assert.Same(t, d, root.Find("/b/d"))
	assert.Same(t, a.Value.Items[1], root.Find("/a/1"))
	assert.Nil(t, root.Find("/a/7"))
	assert.Equal(t, 1, a.Value.Items[1].Index())
}

func TestPointerEscaping(t *testing.T) {
	root, err := Parse("t.json", []byte(`{"a/b": {"c~d": [true]}}`))
	require.NoError(t, err)
	n := root.Members[0].Value.Members[0].Value.Items[0]
	assert.Equal(t, "/a~1b/c~0d/0", n.Pointer())
	assert.Same(t, n, root.Find(n.Pointer()))
}

func TestDuplicateKeysLastWins(t *testing.T) {
	root, err := Parse("t.json", []byte(`{"type": "string", "Type": "secureString"}`))
	require.NoError(t, err)
	assert.Len(t, root.Members, 2, "duplicates are kept")
	s, _ := root.Get("type").StringValue()
	assert.Equal(t, "secureString", s)
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name      string
		src       string
		line, col int
		msg       string
	}{
		{"empty", "  \n ", 2, 2, "empty document"},
		{"only comment", "// x", 1, 5, "empty document"},
		{"missing comma", "{\n  \"a\": 1\n  \"b\": 2\n}", 3, 3, "expected ',' or '}'"},
		{"unquoted key", "{a: 1}", 1, 2, "expected a quoted member name"},
		{"missing colon", `{"a" 1}`, 1, 6, "expected ':'"},
		{"unterminated string", "{\n \"a\": \"abc", 2, 7, "unterminated string"},
		{"unterminated object", "{\"a\": 1", 1, 1, "unterminated object"},
		{"unterminated array", "[1, 2", 1, 1, "unterminated array"},
		{"unterminated comment", "{ /* x", 1, 3, "unterminated /* comment"},
		{"bad escape", `"a\qb"`, 1, 3, `invalid escape sequence \q`},
		{"bad unicode escape", `"\u12x4"`, 1, 2, `invalid \u escape`},
		{"bad number", `01`, 1, 1, "invalid number"},
		{"bad number exponent", `1e`, 1, 1, "expected a digit in the exponent"},
		{"bad keyword", `tru`, 1, 1, "expected a JSON value"},
		{"trailing garbage", `{} x`, 1, 4, "after the JSON value"},
		{"lone comma", `[,]`, 1, 2, "expected a JSON value"},
		{"stray slash", `/`, 1, 1, "unexpected '/'"},
		{"single quotes", `{'a': 1}`, 1, 2, "expected a quoted member name"},
		{"column after multibyte", "[\"é\" 1]", 1, 6, "expected ',' or ']'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("dir/t.json", []byte(tc.src))
			require.Error(t, err)
			var pe *pos.Error
			require.True(t, errors.As(err, &pe), "error is *pos.Error: %v", err)
			assert.Equal(t, "dir/t.json", pe.Path)
			assert.Equal(t, tc.line, pe.Line, "line: %v", err)
			assert.Equal(t, tc.col, pe.Col, "col: %v", err)
			assert.Contains(t, pe.Msg, tc.msg)
			assert.True(t, strings.HasPrefix(err.Error(), "dir/t.json:"), err.Error())
		})
	}
}

func TestDepthLimit(t *testing.T) {
	for _, open := range []string{"[", "{\"a\":"} {
		src := strings.Repeat(open, 100000)
		_, err := Parse("deep.json", []byte(src))
		require.Error(t, err)
		assert.ErrorIs(t, err, pos.ErrLimit)
		assert.Contains(t, err.Error(), "nesting deeper than 1000")
	}
	ok := strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)
	_, err := Parse("ok.json", []byte(ok))
	require.NoError(t, err, "exactly MaxDepth levels is accepted")
}

func TestPosAt(t *testing.T) {
	src := "{\n  \"v\": \"[concat('é', parameters('p'))]\",\n  \"m\": \"line1\nx[parameters('q')]\",\n  \"e\": \"\\u0041[parameters('r')]\"\n}"
	root, err := Parse("t.json", []byte(src))
	require.NoError(t, err)
	v := root.Get("v")
	off := strings.Index(v.Str, "parameters")
	p := v.PosAt(off)
	assert.Equal(t, 2, p.Line)
	assert.Equal(t, 22, p.Col)
	assert.Equal(t, "parameters", src[p.Offset:p.Offset+10])
	m := root.Get("m")
	p = m.PosAt(strings.Index(m.Str, "parameters"))
	assert.Equal(t, 4, p.Line)
	assert.Equal(t, 3, p.Col)
	e := root.Get("e")
	assert.True(t, e.Escaped)
	assert.Equal(t, e.Pos, e.PosAt(3), "escaped strings fall back to the node position")
}

func TestWalk(t *testing.T) {
	root, err := Parse("vm.json", readTestdata(t, "vm.json"))
	require.NoError(t, err)
	var strs, skipped int
	Walk(root, func(n *Node) bool {
		if n.Kind == String {
			strs++
		}
		if n.Key() == "outputs" {
			skipped++
			return false
		}
		return true
	})
	assert.Equal(t, 2, skipped, "top-level and nested template outputs")
	assert.Greater(t, strs, 50)
	var all int
	Walk(root, func(n *Node) bool {
		if n.Kind == String && n.Pointer() != "" {
			all++
			assert.Same(t, n, root.Find(n.Pointer()), n.Pointer())
		}
		return true
	})
	assert.Greater(t, all, strs)
}
