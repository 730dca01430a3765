package bicep

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

func parseVar(t *testing.T, src string) Expr {
	t.Helper()
	f, err := Parse("t.bicep", []byte("var x = "+src+"\n"))
	require.NoError(t, err)
	require.Len(t, f.Vars, 1)
	return f.Vars[0].Value
}

func TestExpressions(t *testing.T) {
	tests := []struct {
		src, want string
	}{
		{`'abc'`, `'abc'`},
		{`'a${b}c${d.e}'`, `'a${b}c${d.e}'`},
		{`'${x}'`, `'${x}'`},
		{`'nested ${'in${y}ner'} ok'`, `'nested ${'in${y}ner'} ok'`},
		{`'it\'s \\ \n \${x}'`, `'it\'s \\ \n \${x}'`},
		{`'\u{41}\u{1F600}'`, "'A😀'"},
		{"'''\nline1\n'line2'\n'''", `'line1\n\'line2\'\n'`},
		{`42`, `42`},
		{`-1`, `-1`},
		{`true`, `true`},
		{`null`, `null`},
		{`concat('a', b)`, `concat('a',b)`},
		{`az.getSecret('s', 'rg', 'kv', 'n')`, `az.getSecret('s','rg','kv','n')`},
		{`sys.concat(a, b)`, `sys.concat(a,b)`},
		{`kv.getSecret('name')`, `kv.getSecret('name')`},
		{`storage.listKeys().keys[0].value`, `storage.listKeys().keys[0].value`},
		{`a.?b[?0].c!`, `a.?b[?0].c!`},
		{`a ? b : c ? d : e`, `(a ? b : (c ? d : e))`},
		{`a || b && c == d + e * f`, `(a || (b && (c == (d + (e * f)))))`},
		{`a ?? b ?? c`, `((a ?? b) ?? c)`},
		{`!a && -b < c`, `(!a && (-b < c))`},
		{`a =~ b || a !~ c`, `((a =~ b) || (a !~ c))`},
		{`(a + b) * c`, `((a + b) * c)`},
		{`1 - 2 - 3`, `((1 - 2) - 3)`},
		{`{ a: 1, b: 'x' }`, `{a:1,b:'x'}`},
		{"{\n  a: 1\n  'b-c': { d: [1, 2] }\n  '${k}': v\n  ...rest\n}", `{a:1,'b-c':{d:[1,2]},'${k}':v,...rest}`},
		{"[\n  1\n  -1\n  'x'\n]", `[1,-1,'x']`},
		{`[for i in range(0, 3): i * 2]`, `[for i in range(0,3): (i * 2)]`},
		{"[for (x, i) in items: if (i > 0) {\n  n: x\n}]", `[for (x,i) in items: if ((i > 0)) {n:x}]`},
		{`filter(xs, x => x > 1)`, `filter(xs,((x) => (x > 1)))`},
		{`map(xs, (x string, i int) => x)`, `map(xs,((x,i) => x))`},
		{`reduce(xs, 0, (cur, next) => cur + next)`, `reduce(xs,0,((cur,next) => (cur + next)))`},
		{"cond\n  ? 'a'\n  : 'b'", `(cond ? 'a' : 'b')`},
		{"a &&\n  b", `(a && b)`},
		{"a\n  || b", `(a || b)`},
		{"concat(\n  'a',\n  'b'\n)", `concat('a','b')`},
		{"x\n  .y\n  .z()", `x.y.z()`},
	}
	for _, tc := range tests {
		t.Run(tc.src, func(t *testing.T) {
			assert.Equal(t, tc.want, ExprString(parseVar(t, tc.src)))
		})
	}
}

func TestStringLiteral(t *testing.T) {
	s, ok := parseVar(t, `'plain'`).(*StringLit)
	require.True(t, ok)
	v, lit := s.Literal()
	assert.True(t, lit)
	assert.Equal(t, "plain", v)
	_, lit = Literal(parseVar(t, `'a${b}'`))
	assert.False(t, lit)
	_, lit = Literal(parseVar(t, `42`))
	assert.False(t, lit)
	ml := parseVar(t, "'''\r\nx'''").(*StringLit)
	assert.True(t, ml.Multiline)
	assert.Equal(t, []string{"x"}, ml.Segments)
}

func TestMainDeclarations(t *testing.T) {
	f, err := Parse("main.bicep", readTestdata(t, "main.bicep"))
	require.NoError(t, err)
	assert.Equal(t, "resourceGroup", f.TargetScope)
	require.Len(t, f.Metadata, 1)
	assert.Equal(t, "description", f.Metadata[0].Name)

	type pw struct {
		name, typ, base string
		secure, def     bool
	}
	var got []pw
	for _, p := range f.Params {
		got = append(got, pw{p.Name, p.Type, p.BaseType(), p.Secure(), p.Default != nil})
	}
	assert.Equal(t, []pw{
		{"location", "string", "string", false, true},
		{"sqlAdminPassword", "string", "string", true, false},
		{"apiToken", "string", "string", true, true},
		{"adminPassword", "string", "string", false, true},
		{"env", "string", "string", false, true},
		{"keyVaultName", "string", "string", false, false},
		{"vmCount", "int", "int", false, true},
		{"enableDiagnostics", "bool", "bool", false, true},
		{"tags", "tagsType?", "", false, false},
		{"settings", "object", "object", false, true},
		{"subnets", "string[]", "array", false, true},
		{"sku", "'Basic' | 'Standard'", "string", false, true},
	}, got)

	sql := f.Param("sqlAdminPassword")
	assert.Equal(t, pos.Pos{Offset: sql.NamePos.Offset, Line: 14, Col: 7}, sql.NamePos)
	assert.Equal(t, 12, sql.Pos().Line, "a declaration starts at its first decorator")
	assert.Equal(t, "SQL administrator password", sql.Decorators.Description())
	assert.Equal(t, "sys", f.Param("apiToken").Decorators.Find("secure").Namespace)
	assert.Equal(t, "Pa55w0rd!", mustLiteral(t, f.Param("adminPassword").Default))
	allowed := f.Param("env").Decorators.Find("allowed")
	require.NotNil(t, allowed)
	assert.Equal(t, `['dev','prod']`, ExprString(allowed.Args[0]))
	assert.Nil(t, f.Param("nope"))

	require.NotNil(t, f.Var("connection"))
	conn := f.Var("connection").Value.(*StringLit)
	require.Len(t, conn.Exprs, 2)
	assert.Equal(t, "sqlAdminPassword", conn.Exprs[1].(*Ident).Name)
	assert.Equal(t, 52, conn.Exprs[1].Pos().Line)

	var syms []string
	for _, r := range f.AllResources() {
		syms = append(syms, r.Symbol)
	}
	assert.Equal(t, []string{"kv", "storage", "sql", "db", "rules", "vault", "secret", "vms", "ext"}, syms)
	kv := f.Resource("kv")
	assert.True(t, kv.Existing)
	assert.Equal(t, "2023-07-01", kv.APIVersion)
	assert.Equal(t, []*Resource{kv}, f.ExistingVaults())
	assert.Equal(t, "resourceGroup('00000000-0000-0000-0000-000000000000','rg-security')", ExprString(kv.Body.Get("scope")))

	sqlRes := f.Resource("sql")
	assert.Equal(t, "sqlAdminPassword", sqlRes.Properties().Get("administratorLoginPassword").(*Ident).Name)
	require.Len(t, sqlRes.Children, 2)
	assert.Equal(t, "Microsoft.Sql/servers/databases", sqlRes.Children[0].FullType())
	rules := sqlRes.Children[1]
	assert.Equal(t, "firewallRules", rules.Type)
	require.NotNil(t, rules.Loop)
	assert.Equal(t, "cidr", rules.Loop.ItemVar)
	assert.True(t, rules.Decorators.Has("batchSize"))
	require.NotNil(t, rules.Body)

	vault := f.Resource("vault")
	require.NotNil(t, vault.Condition)
	assert.Equal(t, "isProd", ExprString(vault.Condition))
	secret := f.Resource("secret")
	assert.True(t, secret.IsType("microsoft.keyvault/vaults/SECRETS"))
	assert.Same(t, vault, secret.Parent)
	assert.Equal(t, "hunter2", mustLiteral(t, secret.Properties().Get("value")))

	vms := f.Resource("vms")
	require.NotNil(t, vms.Loop)
	assert.NotNil(t, vms.Loop.Condition)
	require.NotNil(t, vms.Body, "the loop body is the resource body")
	assert.Equal(t, "adminPassword", ExprString(vms.Properties().Object("osProfile").Get("adminPassword")))

	ext := f.Resource("ext")
	cmd := ext.Properties().Object("settings").Prop("commandToExecute")
	require.NotNil(t, cmd)
	assert.Equal(t, 147, cmd.KeyPos.Line)
	assert.Equal(t, 7, cmd.KeyPos.Col)

	require.Len(t, f.Modules, 3)
	web := f.Modules[0]
	assert.Equal(t, "./modules/web.bicep", web.Path)
	params := web.Params()
	require.NotNil(t, params)
	c, ok := params.Get("dbPassword").(*Call)
	require.True(t, ok)
	sym, name, ok := ResourceGetSecret(c)
	require.True(t, ok)
	assert.Equal(t, "kv", sym)
	assert.Equal(t, "sqlAdminPassword", mustLiteral(t, name))
	assert.Equal(t, "kv.getSecret", c.QualifiedName())
	assert.Equal(t, "br/public:avm/res/web/site:0.3.0", f.Modules[1].Path)
	assert.NotNil(t, f.Modules[1].Loop)
	assert.NotNil(t, f.Modules[2].Condition)
	listKeys := Calls(f.Modules[2].Params().Get("workspaceKey"))
	require.Len(t, listKeys, 1)
	assert.Equal(t, "listKeys", listKeys[0].Name)

	var outs []string
	for _, o := range f.Outputs {
		outs = append(outs, o.Name+":"+o.Type)
	}
	assert.Equal(t, []string{"blobEndpoint:string", "storageKey:string", "adminPasswordOut:string", "connectionString:string",
		"kvResource:resource 'Microsoft.KeyVault/vaults@2023-07-01'", "vmNames:array", "first:string", "labels:object"}, outs)
	assert.True(t, f.Outputs[2].Secure())
	assert.Equal(t, "Storage endpoint", f.Outputs[0].Decorators.Description())
	labels := f.Outputs[7].Value.(*ObjectLit)
	assert.Equal(t, "it's ${literal} 😀", mustLiteral(t, labels.Get("escaped")))
	assert.NotNil(t, labels.Prop("quoted-key"))
	assert.NotNil(t, labels.Props[1].KeyExpr)

	var kws []string
	for _, s := range append(f.Imports, f.Other...) {
		kws = append(kws, s.Keyword)
	}
	assert.Equal(t, []string{"import", "import", "type", "func"}, kws)
	assert.True(t, f.Other[1].Decorators.Has("export"))
	assert.Equal(t, 47, f.Other[1].Start.Line)
}

func mustLiteral(t *testing.T, e Expr) string {
	t.Helper()
	s, ok := Literal(e)
	require.True(t, ok, "not a literal: %s", ExprString(e))
	return s
}

func TestModuleFile(t *testing.T) {
	f, err := Parse("kv.bicep", readTestdata(t, "kv.bicep"))
	require.NoError(t, err)
	vaults := f.ExistingVaults()
	require.Len(t, vaults, 2)
	assert.Equal(t, "kvLocal", vaults[1].Symbol)
	secret := f.Resource("secret")
	assert.Equal(t, "Microsoft.KeyVault/vaults/secrets", secret.FullType())
	assert.Equal(t, "kvLocal", ExprString(secret.Body.Get("parent")))
	assert.Equal(t, "'db-password'", ExprString(secret.Name()))
}

func TestParamFile(t *testing.T) {
	pf, err := ParseParams("main.bicepparam", readTestdata(t, "main.bicepparam"))
	require.NoError(t, err)
	assert.True(t, pf.HasUsing)
	assert.False(t, pf.UsingNone)
	assert.Equal(t, "./main.bicep", pf.Using)
	assert.Equal(t, pos.Pos{Offset: 6, Line: 1, Col: 7}, pf.UsingPos)
	require.Len(t, pf.Imports, 1)
	require.Len(t, pf.Vars, 1)
	require.Len(t, pf.Params, 10)

	sql := pf.Param("sqlAdminPassword")
	require.NotNil(t, sql)
	call, ok := sql.Value.(*Call)
	require.True(t, ok)
	gs, ok := AsGetSecret(call)
	require.True(t, ok)
	assert.Equal(t, "subscriptionId", ExprString(gs.SubscriptionID))
	assert.Equal(t, "kv-prod-01", mustLiteral(t, gs.VaultName))
	assert.Equal(t, "sqlAdminPassword", mustLiteral(t, gs.SecretName))
	assert.Nil(t, gs.SecretVersion)

	api, ok := AsGetSecret(pf.Param("apiToken").Value.(*Call))
	require.True(t, ok, "getSecret without the az namespace")
	assert.Equal(t, "0123456789abcdef", mustLiteral(t, api.SecretVersion))

	env := pf.Param("env").Value.(*Call)
	assert.Equal(t, "readEnvironmentVariable", env.Name)
	v, _ := env.StringArg(0)
	assert.Equal(t, "DEPLOY_ENV", v)
	_, ok = AsGetSecret(env)
	assert.False(t, ok)

	admin := pf.Param("adminPassword")
	assert.Equal(t, "Pa55w0rd!", mustLiteral(t, admin.Value))
	assert.Equal(t, 12, admin.NamePos.Line)
	assert.Equal(t, 7, admin.NamePos.Col)
	assert.Equal(t, "nested-literal", mustLiteral(t, pf.Param("settings").Value.(*ObjectLit).Get("password")))

	none, err := ParseParams("none.bicepparam", readTestdata(t, "none.bicepparam"))
	require.NoError(t, err)
	assert.True(t, none.UsingNone)
	assert.Equal(t, "", none.Using)
	require.Len(t, none.Params, 2)
}

func TestAsGetSecretShapes(t *testing.T) {
	tests := []struct {
		src string
		ok  bool
	}{
		{`az.getSecret('s','r','v','n')`, true},
		{`getSecret('s','r','v','n','ver')`, true},
		{`az.getSecret('s','r','v')`, false},
		{`other.getSecret('s','r','v','n')`, false},
		{`az.getSecrets('s','r','v','n')`, false},
		{`getSecret('s','r','v','n','ver','x')`, false},
	}
	for _, tc := range tests {
		c, ok := parseVar(t, tc.src).(*Call)
		require.True(t, ok)
		_, got := AsGetSecret(c)
		assert.Equal(t, tc.ok, got, tc.src)
	}
	_, _, ok := ResourceGetSecret(parseVar(t, `az.getSecret('a')`).(*Call))
	assert.False(t, ok)
	sym, _, ok := ResourceGetSecret(parseVar(t, `vault.getSecret('a', 'v1')`).(*Call))
	assert.True(t, ok)
	assert.Equal(t, "vault", sym)
	sym, name, ok := ResourceGetSecret(parseVar(t, `vaults[1].getSecret('b')`).(*Call))
	assert.True(t, ok)
	assert.Equal(t, "vaults", sym)
	assert.Equal(t, "'b'", ExprString(name))
	_, _, ok = ResourceGetSecret(parseVar(t, `f().getSecret('b')`).(*Call))
	assert.False(t, ok)
}

func TestTolerated(t *testing.T) {
	src := `
extension microsoftGraph
extension 'br:mcr.microsoft.com/bicep/extensions/microsoftgraph/v1.0:0.1.8-preview' as graph
provider 'kubernetes@1.0.0' with {
  namespace: 'default'
} as k8s
assert positive = vmCount > 0
futureKeyword something = {
  x: [1, 2]
}
@export()
type strict = {
  @minLength(1)
  name: string
  *: string
}
func double(x int) int => x * 2
var typed string = 'a'
param withType int
`
	f, err := Parse("t.bicep", []byte(src))
	require.NoError(t, err)
	require.Len(t, f.Imports, 3)
	require.Len(t, f.Other, 4)
	assert.Equal(t, "futureKeyword", f.Other[1].Keyword)
	assert.Equal(t, 8, f.Other[1].Start.Line)
	require.Len(t, f.Vars, 1)
	assert.Equal(t, "string", f.Vars[0].Type)
	require.Len(t, f.Params, 1)
	assert.Equal(t, 19, f.Params[0].Start.Line)
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name      string
		src       string
		line, col int
		msg       string
	}{
		{"unterminated string", "var x = 'abc\nvar y = 1", 1, 9, "unterminated string"},
		{"unterminated multi-line", "var x = '''abc", 1, 9, "unterminated multi-line string"},
		{"unterminated comment", "var x = 1 /* abc", 1, 11, "unterminated /* comment"},
		{"unclosed brace", "resource r 'a@b' = {\n  name: 'x'\n", 1, 20, "unclosed '{'"},
		{"stray close", "var x = 1\n}", 2, 1, "nothing to close"},
		{"mismatched", "var x = [1, 2)", 1, 14, "expected ']' to close '['"},
		{"bad char", "var x = 1;", 1, 10, "unexpected character ';'"},
		{"missing value", "var x =\nvar y = 1", 1, 8, "expected an expression"},
		{"missing equals", "var x 1", 1, 8, "expected '='"},
		{"param without type", "param p\n", 1, 8, "expected the type of parameter"},
		{"garbage after decl", "var x = 1 2", 1, 11, "expected end of line"},
		{"object separator", "var x = { a: 1 b: 2 }", 1, 16, "expected ',' or a line break"},
		{"array separator", "var x = [1 2]", 1, 12, "expected ',' or a line break"},
		{"bad escape", `var x = 'a\qb'`, 1, 11, `invalid escape sequence \q`},
		{"bad unicode escape", `var x = '\u{zz}'`, 1, 10, `invalid \u escape`},
		{"resource without type", "resource r = {}", 1, 12, "expected the resource type string"},
		{"module without path", "module m = {}", 1, 10, "expected the module path string"},
		{"statement start", "= 1", 1, 1, "expected a declaration"},
		{"decorator not a call", "@secure\nparam p string", 1, 1, "expected a decorator call"},
		{"call on non-function", "var x = 'a'(1)", 1, 12, "only functions can be called"},
		{"for without in", "var x = [for i of xs: i]", 1, 16, "expected in"},
		{"ternary without colon", "var x = a ? b", 1, 14, "expected ':'"},
		{"unterminated interpolation", "var x = 'a${b", 1, 9, "unterminated string"},
		{"using in bicepparam only", "var x = 1\nusing", 2, 1, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("dir/main.bicep", []byte(tc.src))
			if tc.msg == "" {
				require.NoError(t, err, "using is skipped in .bicep files")
				return
			}
			require.Error(t, err)
			var pe *pos.Error
			require.True(t, errors.As(err, &pe), "%T %v", err, err)
			assert.Equal(t, "dir/main.bicep", pe.Path)
			assert.Equal(t, tc.line, pe.Line, err.Error())
			assert.Equal(t, tc.col, pe.Col, err.Error())
			assert.Contains(t, pe.Msg, tc.msg)
		})
	}
}

func TestParamFileErrors(t *testing.T) {
	tests := []struct {
		src       string
		line, col int
		msg       string
	}{
		{"using 42", 1, 7, "expected a template path string or none"},
		{"param x 'a'", 1, 9, "expected '='"},
		{"param x = ", 1, 11, "expected an expression"},
	}
	for _, tc := range tests {
		_, err := ParseParams("p.bicepparam", []byte(tc.src))
		var pe *pos.Error
		require.True(t, errors.As(err, &pe), "%s: %v", tc.src, err)
		assert.Equal(t, tc.line, pe.Line, tc.src)
		assert.Equal(t, tc.col, pe.Col, tc.src)
		assert.Contains(t, pe.Msg, tc.msg)
	}
}

func TestDepthLimit(t *testing.T) {
	for _, tc := range []struct{ open, close string }{
		{"(", ")"}, {"[", "]"}, {"{a:", "}"}, {"'${", "}'"}, {"!", ""}, {"-", ""},
	} {
		src := "var x = " + strings.Repeat(tc.open, 100000) + "1" + strings.Repeat(tc.close, 100000)
		_, err := Parse("deep.bicep", []byte(src))
		require.Error(t, err, tc.open)
		assert.ErrorIs(t, err, pos.ErrLimit, tc.open)
	}
}

func TestPositionsAreCharacters(t *testing.T) {
	src := "\xef\xbb\xbfvar café = 'é${x}'\r\nvar y = 1"
	_, err := Parse("t.bicep", []byte(src))
	require.Error(t, err, "identifiers are ASCII")
	f, err := Parse("t.bicep", []byte("\xef\xbb\xbfvar c = 'é${x}'\r\nvar y = 1"))
	require.NoError(t, err)
	s := f.Vars[0].Value.(*StringLit)
	assert.Equal(t, pos.Pos{Offset: 16, Line: 1, Col: 13}, s.Exprs[0].Pos())
	assert.Equal(t, pos.Pos{Offset: 25, Line: 2, Col: 5}, f.Vars[1].NamePos)
}

func TestWalkAndCalls(t *testing.T) {
	e := parseVar(t, `{ a: [for x in list(y): concat(x, '${z.listKeys().k}')], b: f(g(1)) ? h() : i }`)
	var names []string
	for _, c := range Calls(e) {
		names = append(names, c.Name)
	}
	assert.Equal(t, []string{"list", "concat", "listKeys", "f", "g", "h"}, names)
	var idents int
	Walk(e, func(x Expr) bool {
		if _, ok := x.(*ForExpr); ok {
			return false
		}
		if _, ok := x.(*Ident); ok {
			idents++
		}
		return true
	})
	assert.Equal(t, 1, idents, "only i outside the skipped loop")
}

func TestBaseType(t *testing.T) {
	tests := map[string]string{
		"string": "string", "string?": "string", "sys.string": "string", "int": "int", "bool": "bool",
		"object": "object", "array": "array", "string[]": "array", "{ a: string }": "object",
		"'a' | 'b'": "string", "1 | 2": "int", "true | false": "bool", "myType": "", "resource 'T@v'": "resource",
		"": "",
	}
	for in, want := range tests {
		assert.Equal(t, want, BaseType(in), in)
	}
}
