package terraform

import (
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"

	"github.com/stagegate/stagegate/pkg/templates/pos"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

func parseMain(t *testing.T) *File {
	t.Helper()
	f, err := Parse("main.tf", readTestdata(t, "main.tf"))
	require.NoError(t, err)
	return f
}

func TestVariables(t *testing.T) {
	f := parseMain(t)
	var names []string
	for _, v := range f.Variables {
		names = append(names, v.Name)
	}
	assert.Equal(t, []string{"location", "sql_admin_password", "api_token", "vm_count", "settings"}, names)

	pw := f.Variable("sql_admin_password")
	require.NotNil(t, pw)
	assert.True(t, pw.Sensitive)
	assert.Equal(t, "string", pw.Type)
	assert.Nil(t, pw.Default)
	assert.Equal(t, "SQL administrator password", pw.Description)
	assert.Equal(t, pos.Pos{Offset: pw.NamePos.Offset, Line: 21, Col: 10}, pw.NamePos)
	assert.Equal(t, 21, pw.Pos.Line)
	assert.Equal(t, 1, pw.Pos.Col)

	tok := f.Variable("api_token")
	assert.False(t, tok.Sensitive)
	assert.Nil(t, tok.SensitiveAt)
	require.NotNil(t, tok.Default)
	assert.Equal(t, Literal{Kind: LiteralString, Str: "tok-literal-123"}, tok.Default.Literal)
	assert.Equal(t, 29, tok.Default.Pos.Line)
	assert.Equal(t, 13, tok.Default.Pos.Col)

	assert.Equal(t, Literal{Kind: LiteralNumber, Str: "2"}, f.Variable("vm_count").Default.Literal)
	settings := f.Variable("settings")
	assert.True(t, strings.HasPrefix(settings.Type, "object({"))
	assert.Equal(t, NotLiteral, settings.Default.Literal.Kind)
	items := ObjectItems(settings.Default.Expr, 0)
	require.Len(t, items, 2)
	assert.Equal(t, "password", items[1].Key)
	s, ok := IsLiteralString(items[1].Value)
	assert.True(t, ok)
	assert.Equal(t, "nested-literal", s)
	assert.Nil(t, f.Variable("missing"))
}

func TestResourcesAndData(t *testing.T) {
	f := parseMain(t)
	var addrs []string
	for _, r := range f.Resources {
		addrs = append(addrs, r.Address())
	}
	assert.Equal(t, []string{"azurerm_mssql_server.sql", "azurerm_linux_virtual_machine.vm", "azurerm_key_vault_secret.literal", "azurerm_linux_web_app.web"}, addrs)
	var data []string
	for _, d := range f.Data {
		data = append(data, d.Address())
	}
	assert.Equal(t, []string{"data.azurerm_client_config.current", "data.azurerm_key_vault.kv", "data.azurerm_key_vault_secret.db"}, data)

	sql := f.Resources[0]
	assert.Equal(t, "azurerm_mssql_server", sql.ResourceType())
	assert.Equal(t, "sql", sql.Name())
	var attrNames []string
	for _, a := range sql.Attributes {
		attrNames = append(attrNames, a.Name)
	}
	assert.Equal(t, []string{"name", "resource_group_name", "location", "version", "administrator_login", "administrator_login_password"}, attrNames, "source order")
	pw := sql.Attr("administrator_login_password")
	require.NotNil(t, pw)
	assert.Equal(t, NotLiteral, pw.Literal.Kind)
	refs := References(pw.Expr, 0)
	require.Len(t, refs, 1)
	assert.Equal(t, "data.azurerm_key_vault_secret.db.value", refs[0].Path)
	assert.Equal(t, "data", refs[0].Root)
	assert.True(t, refs[0].HasPrefix("data.azurerm_key_vault_secret"))
	assert.True(t, refs[0].HasPrefix("data.azurerm_key_vault_secret.db.value"))
	assert.False(t, refs[0].HasPrefix("data.azurerm_key_vault_secret.d"))
	assert.Equal(t, pw.Pos, refs[0].Pos)
	assert.Equal(t, 72, pw.NamePos.Line)
	assert.Equal(t, 3, pw.NamePos.Col)
	assert.Equal(t, 34, pw.Pos.Col)

	name := sql.Attr("name")
	_, lit := IsLiteralString(name.Expr)
	assert.False(t, lit, "interpolated strings are not literals")
	nameRefs := References(name.Expr, 0)
	require.Len(t, nameRefs, 1)
	assert.Equal(t, "local.prefix", nameRefs[0].Path)

	vm := f.Resources[1]
	assert.Equal(t, Literal{Kind: LiteralString, Str: "Pa55w0rd!"}, vm.Attr("admin_password").Literal)
	assert.Equal(t, Literal{Kind: LiteralBool, Str: "false"}, vm.Attr("disable_password_authentication").Literal)
	require.Len(t, vm.Blocks, 2)
	assert.Equal(t, "os_disk", vm.Blocks[0].Type)
	dyn := vm.BlocksOfType("dynamic")
	require.Len(t, dyn, 1)
	assert.Equal(t, []string{"admin_ssh_key"}, dyn[0].Labels)
	require.Len(t, dyn[0].BlocksOfType("content"), 1)
	var all []string
	vm.Walk(func(b *Block) { all = append(all, b.Type) })
	assert.Equal(t, []string{"resource", "os_disk", "dynamic", "content"}, all)
	assert.Nil(t, vm.Attr("nope"))
	assert.Equal(t, 1, vm.LabelPos[0].Line-vm.Pos.Line+1)

	secret := f.Resources[2]
	assert.Equal(t, "hunter2", secret.Attr("value").Literal.Str)

	web := f.Resources[3]
	items := ObjectItems(web.Attr("app_settings").Expr, 0)
	require.Len(t, items, 3)
	assert.Equal(t, "DB_PASSWORD", items[0].Key)
	assert.True(t, items[0].Literal)
	assert.Equal(t, "API_TOKEN", items[1].Key)
	v, ok := IsLiteralString(items[0].Value)
	assert.True(t, ok)
	assert.Equal(t, "literal-in-map", v)
	_, ok = IsLiteralString(items[2].Value)
	assert.False(t, ok)
	assert.Equal(t, 111, items[0].KeyPos.Line)
	assert.Equal(t, 5, items[0].KeyPos.Col)
	assert.Nil(t, ObjectItems(web.Attr("name").Expr, 0))
}

func TestOtherBlocks(t *testing.T) {
	f := parseMain(t)
	require.Len(t, f.Providers, 1)
	assert.Equal(t, "azurerm", f.Providers[0].Name())
	assert.Equal(t, "provider-literal-secret", f.Providers[0].Attr("client_secret").Literal.Str)
	require.Len(t, f.Modules, 1)
	assert.Equal(t, "module-literal", f.Modules[0].Attr("vpn_shared_key").Literal.Str)
	require.Len(t, f.Locals, 3)
	assert.Equal(t, "static", f.Locals[2].Name)
	refs := References(f.Locals[1].Expr, 0)
	var paths []string
	for _, r := range refs {
		paths = append(paths, r.Path)
	}
	assert.Equal(t, []string{"azurerm_mssql_server.sql.fully_qualified_domain_name", "var.sql_admin_password"}, paths)

	require.Len(t, f.Outputs, 2)
	assert.True(t, f.Outputs[0].Sensitive)
	assert.Equal(t, "sql_password", f.Outputs[0].Name)
	assert.False(t, f.Outputs[1].Sensitive)
	assert.Equal(t, "local.conn_string", References(f.Outputs[1].Value.Expr, 0)[0].Path)

	var other []string
	for _, b := range f.Other {
		other = append(other, b.Type)
	}
	assert.Equal(t, []string{"terraform", "moved"}, other)
	assert.Empty(t, f.Assignments)
	assert.NotNil(t, f.Body)
}

func TestTfvars(t *testing.T) {
	f, err := Parse("prod.tfvars", readTestdata(t, "prod.tfvars"))
	require.NoError(t, err)
	tests := []struct {
		name string
		want Literal
	}{
		{"location", Literal{LiteralString, "northeurope"}},
		{"sql_admin_password", Literal{LiteralString, "Sup3rS3cret!"}},
		{"vm_count", Literal{LiteralNumber, "3"}},
		{"enable_backup", Literal{LiteralBool, "true"}},
		{"nothing", Literal{LiteralNull, ""}},
		{"negative", Literal{LiteralNumber, "-1"}},
		{"api_token", Literal{LiteralString, "multi-line-token\n"}},
		{"settings", Literal{}},
		{"tags", Literal{}},
	}
	require.Len(t, f.Assignments, len(tests))
	for i, tc := range tests {
		a := f.Assignments[i]
		assert.Equal(t, tc.name, a.Name)
		assert.Equal(t, tc.want, a.Literal, tc.name)
		assert.Equal(t, tc.want.Kind.String(), a.Literal.Kind.String())
	}
	pw := f.Assignment("sql_admin_password")
	assert.Equal(t, pos.Pos{Offset: pw.NamePos.Offset, Line: 3, Col: 1}, pw.NamePos)
	assert.Equal(t, 22, pw.Pos.Col)
	assert.Nil(t, f.Assignment("nope"))
	assert.Empty(t, f.Resources)
}

func TestBOMOffsets(t *testing.T) {
	src := []byte(pos.BOM + "a = \"x\"\nb = var.c\n")
	f, err := Parse("t.tfvars", src)
	require.NoError(t, err)
	b := f.Assignment("b")
	assert.Equal(t, pos.Pos{Offset: 11, Line: 2, Col: 1}, b.NamePos)
	assert.Equal(t, byte('b'), src[b.NamePos.Offset])
	assert.Equal(t, 3, f.BOM)
	refs := f.References(b.Expr)
	require.Len(t, refs, 1)
	assert.Equal(t, References(b.Expr, pos.BOMLen(src)), refs)
	assert.Equal(t, "var", string(src[refs[0].Pos.Offset:refs[0].Pos.Offset+3]))
}

func TestLiteralClassification(t *testing.T) {
	tests := []struct {
		src  string
		want Literal
	}{
		{`"abc"`, Literal{LiteralString, "abc"}},
		{`"a\"b"`, Literal{LiteralString, `a"b`}},
		{`"$${literal}"`, Literal{LiteralString, "${literal}"}},
		{`"${var.x}"`, Literal{}},
		{`"a${var.x}"`, Literal{}},
		{`"%{if true}a%{endif}"`, Literal{}},
		{`1.5`, Literal{LiteralNumber, "1.5"}},
		{`(2)`, Literal{LiteralNumber, "2"}},
		{`-x`, Literal{}},
		{`false`, Literal{LiteralBool, "false"}},
		{`null`, Literal{LiteralNull, ""}},
		{`upper("a")`, Literal{}},
		{`["a"]`, Literal{}},
	}
	for _, tc := range tests {
		t.Run(tc.src, func(t *testing.T) {
			e, diags := hclsyntax.ParseExpression([]byte(tc.src), "e.tf", hclInitial())
			require.False(t, diags.HasErrors(), diags.Error())
			assert.Equal(t, tc.want, LiteralValue(e))
		})
	}
}

func TestReferences(t *testing.T) {
	e, diags := hclsyntax.ParseExpression([]byte(`"${local.m["k"]}-${aws_x.y[0].id}-${module.m.out}-${[for s in var.list : s.name]}-${data.a.b[*].c}"`), "e.tf", hclInitial())
	require.False(t, diags.HasErrors())
	var paths []string
	for _, r := range References(e, 0) {
		paths = append(paths, r.Path)
	}
	assert.Equal(t, []string{`local.m["k"]`, "aws_x.y[0].id", "module.m.out", "var.list", "data.a.b"}, paths)
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name      string
		src       string
		line, col int
		msg       string
	}{
		{"unclosed block", "resource \"a\" \"b\" {\n  x = 1\n", 1, 18, "Unclosed configuration block"},
		{"missing equals", "a \"x\"", 1, 6, "Invalid block definition"},
		{"bad attribute value", "a = \n", 1, 5, "Invalid expression"},
		{"unterminated string", "a = \"abc\nb = 1", 1, 9, "Invalid multi-line string"},
		{"duplicate attribute", "a = 1\na = 2", 2, 1, "Attribute redefined"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("dir/main.tf", []byte(tc.src))
			require.Error(t, err)
			var pe *pos.Error
			require.True(t, errors.As(err, &pe))
			assert.Equal(t, "dir/main.tf", pe.Path)
			assert.Equal(t, tc.line, pe.Line, err.Error())
			assert.Equal(t, tc.col, pe.Col, err.Error())
			assert.Contains(t, pe.Msg, tc.msg)
		})
	}
}

func TestDepthLimit(t *testing.T) {
	for _, tc := range []struct{ open, close string }{
		{"[", "]"}, {"(", ")"}, {"{a=", "}"}, {`"${`, `}"`},
	} {
		src := "x = " + strings.Repeat(tc.open, 100000) + "1" + strings.Repeat(tc.close, 100000)
		_, err := Parse("deep.tf", []byte(src))
		require.Error(t, err, tc.open)
		assert.ErrorIs(t, err, pos.ErrLimit, tc.open)
	}
	// Brackets inside strings and comments do not count.
	src := "# " + strings.Repeat("[", 2000) + "\nx = \"" + strings.Repeat("{", 2000) + "\"\n"
	_, err := Parse("ok.tf", []byte(src))
	require.NoError(t, err)
}

// formatNumber takes a fast path for integers; it must render exactly what big.Float does at
// cty's precision, which Literal.Str has always been.
func TestFormatNumberMatchesBigFloat(t *testing.T) {
	srcs := []string{"0", "1", "7", "10", "99", "100", "3072", "123456", "999999", "1000000", "1234567",
		"100000000000000000000", "1e21", "9007199254740991", "9007199254740992", "9007199254740993",
		"18446744073709551616", "1.5", "0.1", "3.0", "2.50", "1e-7", "0.0001", "0.00001", "12345678901234567890123"}
	for i := int64(1); i < 1<<62; i = i*3 + 1 {
		srcs = append(srcs, strconv.FormatInt(i, 10), strconv.FormatInt(i*10, 10))
	}
	for _, src := range srcs {
		v, err := cty.ParseNumberVal(src)
		require.NoError(t, err, src)
		for _, f := range []*big.Float{v.AsBigFloat(), new(big.Float).Neg(v.AsBigFloat())} {
			assert.Equal(t, f.Text('g', -1), formatNumber(f), src)
		}
	}
	e, diags := hclsyntax.ParseExpression([]byte("-3072"), "e.tf", hclInitial())
	require.False(t, diags.HasErrors())
	assert.Equal(t, Literal{LiteralNumber, "-3072"}, LiteralValue(e))
}
