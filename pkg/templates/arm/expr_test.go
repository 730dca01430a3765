package arm

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/templates/pos"
)

func TestIsExpression(t *testing.T) {
	tests := []struct {
		s    string
		want bool
	}{
		{"[parameters('a')]", true},
		{"[[parameters('a')]", false},
		{"[", false},
		{"[]", true},
		{"[x", false},
		{"plain", false},
		{"", false},
		{" [x]", false},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, IsExpression(tc.s), tc.s)
	}
	assert.Equal(t, "[x]", UnescapeLiteral("[[x]"))
	assert.Equal(t, "plain", UnescapeLiteral("plain"))
}

func TestParseExpr(t *testing.T) {
	tests := []struct {
		src  string
		want string
	}{
		{"[parameters('p')]", "parameters('p')"},
		{"[ concat( 'a' , parameters('b') ) ]", "concat('a',parameters('b'))"},
		{"[reference(resourceId('Microsoft.Storage/storageAccounts', 'st')).primaryEndpoints.blob]",
			"reference(resourceId('Microsoft.Storage/storageAccounts','st')).primaryEndpoints.blob"},
		{"[listKeys(variables('id'), '2023-01-01').keys[0].value]", "listKeys(variables('id'),'2023-01-01').keys[0].value"},
		{"[reference('x')['key with space']]", "reference('x')['key with space']"},
		{"[if(equals(parameters('env'), 'prod'), 'P', 'D')]", "if(equals(parameters('env'),'prod'),'P','D')"},
		{"['it''s']", "'it''s'"},
		{"[-42]", "-42"},
		{"[createArray(true, false, null)]", "createArray(true,false,null)"},
		{"[contoso.secretUri(parameters('v'), 'x')]", "contoso.secretUri(parameters('v'),'x')"},
		{"[newGuid()]", "newGuid()"},
		{"[resourceGroup().location]", "resourceGroup().location"},
	}
	for _, tc := range tests {
		t.Run(tc.src, func(t *testing.T) {
			e, err := ParseExpr(tc.src)
			require.NoError(t, err)
			assert.Equal(t, tc.want, ExprString(e))
			start, end := e.Span()
			assert.Equal(t, tc.src[start:end], tc.src[start:end])
			assert.LessOrEqual(t, end, len(tc.src)-1)
		})
	}
}

func TestParseExprStringValue(t *testing.T) {
	e, err := ParseExpr("['it''s a ''test''']")
	require.NoError(t, err)
	s, ok := e.(*StringLit)
	require.True(t, ok)
	assert.Equal(t, "it's a 'test'", s.Value)
}

func TestParseExprErrors(t *testing.T) {
	tests := []struct {
		src    string
		offset int
		msg    string
	}{
		{"plain", 0, "not a template expression"},
		{"[ ]", 2, "empty expression"},
		{"[concat('a'", 0, "not a template expression"},
		{"[concat('a']", 11, "expected ')' to close concat("},
		{"[concat('a' 'b')]", 12, "expected ',' or ')'"},
		{"['abc]", 1, "unterminated string literal"},
		{"[foo]", 1, `unexpected identifier "foo"`},
		{"[a().]", 5, "expected a property name"},
		{"[a()[0]", 6, "unexpected end of expression: expected ']'"},
		{"[a()[0 x]]", 7, "expected ']'"},
		{"[a() b()]", 5, "after expression"},
		{"[-]", 1, "expected a number"},
		{"[)]", 1, "expected a function call"},
	}
	for _, tc := range tests {
		t.Run(tc.src, func(t *testing.T) {
			_, err := ParseExpr(tc.src)
			require.Error(t, err)
			var ee *ExprError
			require.True(t, errors.As(err, &ee))
			assert.Equal(t, tc.offset, ee.Offset, err.Error())
			assert.Contains(t, ee.Msg, tc.msg)
		})
	}
}

func TestExprDepthLimit(t *testing.T) {
	src := "["
	for i := 0; i < 5000; i++ {
		src += "a("
	}
	src += "]"
	_, err := ParseExpr(src)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "nested deeper than")
}

func TestCallsAndRefs(t *testing.T) {
	e, err := ParseExpr("[concat(listKeys(parameters('sa'), '2023-01-01').keys[0].value, Parameters('b'), LISTSECRETS(variables('x'), 'v').value, parameters(variables('dyn')))]")
	require.NoError(t, err)
	var names []string
	var lists []string
	for _, c := range Calls(e) {
		names = append(names, c.Name)
		if c.HasPrefix("list") {
			lists = append(lists, c.Name)
		}
	}
	assert.Equal(t, []string{"concat", "listKeys", "parameters", "Parameters", "LISTSECRETS", "variables", "parameters", "variables"}, names)
	assert.Equal(t, []string{"listKeys", "LISTSECRETS"}, lists)
	assert.Equal(t, []string{"sa", "b"}, ParameterRefs(e), "dynamic parameter names are not literal refs")

	c := Calls(e)[1]
	assert.True(t, c.Is("LISTKEYS"))
	assert.False(t, c.Is("list"))
	s, ok := c.StringArg(1)
	assert.True(t, ok)
	assert.Equal(t, "2023-01-01", s)
	_, ok = c.StringArg(0)
	assert.False(t, ok)
	_, ok = c.StringArg(5)
	assert.False(t, ok)
}

func TestParseNodeExpr(t *testing.T) {
	src := []byte("{\n  \"a\": \"[concat('x' 'y')]\",\n  \"b\": \"plain\",\n  \"c\": \"[parameters('p')]\"\n}")
	root, err := Parse("t.json", src)
	require.NoError(t, err)
	_, err = ParseNodeExpr("t.json", root.Get("a"))
	require.Error(t, err)
	var pe *pos.Error
	require.True(t, errors.As(err, &pe))
	assert.Equal(t, `t.json:2:21: invalid template expression: unexpected "'": expected ',' or ')' in arguments of concat`, err.Error())
	var ee *ExprError
	assert.True(t, errors.As(err, &ee), "the expression error stays reachable")
	e, err := ParseNodeExpr("t.json", root.Get("b"))
	assert.NoError(t, err)
	assert.Nil(t, e)
	e, err = ParseNodeExpr("t.json", root.Get("c"))
	require.NoError(t, err)
	assert.Equal(t, []string{"p"}, ParameterRefs(e))
}

func TestExprPositionsMapToFile(t *testing.T) {
	src := []byte("{\n  \"value\": \"[concat('x', parameters('adminPassword'))]\"\n}")
	root, err := Parse("t.json", src)
	require.NoError(t, err)
	n := root.Get("value")
	e, err := ParseExpr(n.Str)
	require.NoError(t, err)
	refs := Calls(e)
	require.Len(t, refs, 2)
	p := n.PosAt(refs[1].NamePos)
	assert.Equal(t, 2, p.Line)
	assert.Equal(t, 26, p.Col)
	assert.Equal(t, "parameters", string(src[p.Offset:p.Offset+10]))
}
