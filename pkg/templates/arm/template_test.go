package arm

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want DocKind
	}{
		{"rg schema", `{"$schema":"https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"}`, DocTemplate},
		{"old api folder", `{"$schema":"http://schema.management.azure.com/schemas/2015-01-01/deploymentTemplate.json#","resources":[]}`, DocTemplate},
		{"subscription", `{"$schema":"https://schema.management.azure.com/schemas/2018-05-01/subscriptionDeploymentTemplate.json#"}`, DocTemplate},
		{"management group", `{"$schema":"https://schema.management.azure.com/schemas/2019-08-01/managementGroupDeploymentTemplate.json#"}`, DocTemplate},
		{"tenant", `{"$schema":"https://schema.management.azure.com/schemas/2019-08-01/tenantDeploymentTemplate.json#"}`, DocTemplate},
		{"parameters schema", `{"$schema":"https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#","parameters":{}}`, DocParameters},
		{"subscription parameters schema", `{"$schema":"https://schema.management.azure.com/schemas/2018-05-01/subscriptionDeploymentParameters.json#"}`, DocParameters},
		{"structural template", `{"parameters":{},"resources":[]}`, DocTemplate},
		{"structural template symbolic", `{"$schema":"x","resources":{}}`, DocTemplate},
		{"resources alone is not a template", `{"resources":[]}`, DocOther},
		{"structural parameters", `{"contentVersion":"1.0.0.0","parameters":{"a":{"value":1},"b":{"reference":{}}}}`, DocParameters},
		{"parameters without contentVersion", `{"parameters":{"a":{"value":1}}}`, DocOther},
		{"parameters with plain member", `{"contentVersion":"1","parameters":{"a":{"value":1},"b":2}}`, DocOther},
		{"parameters without value", `{"contentVersion":"1","parameters":{"a":{"type":"string"}}}`, DocOther},
		{"empty parameters", `{"contentVersion":"1","parameters":{}}`, DocOther},
		{"array root", `[1,2]`, DocOther},
		{"package.json", `{"name":"x","version":"1.0.0","dependencies":{}}`, DocOther},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root, err := Parse("x.json", []byte(tc.src))
			require.NoError(t, err)
			assert.Equal(t, tc.want, Classify(root))
		})
	}
	assert.Equal(t, DocOther, Classify(nil))
}

func TestClassifyTestdata(t *testing.T) {
	tests := map[string]DocKind{
		"vm.json":                    DocTemplate,
		"vm.parameters.json":         DocParameters,
		"subscription.json":          DocTemplate,
		"symbolic.json":              DocTemplate,
		"mg.json":                    DocTemplate,
		"appsettings.json":           DocOther,
		"structural.parameters.json": DocParameters,
	}
	for name, want := range tests {
		root, err := Parse(name, readTestdata(t, name))
		require.NoError(t, err, name)
		assert.Equal(t, want, Classify(root), name)
		assert.Equal(t, want.String(), Classify(root).String())
	}
}

func TestTemplateView(t *testing.T) {
	tpl, err := ParseTemplate("vm.json", readTestdata(t, "vm.json"))
	require.NoError(t, err)
	assert.Contains(t, tpl.Schema, "deploymentTemplate.json")
	assert.Equal(t, "1.0.0.0", tpl.ContentVersion)

	var names, types []string
	for _, p := range tpl.Parameters {
		names = append(names, p.Name)
		types = append(types, p.Type)
	}
	assert.Equal(t, []string{"adminUsername", "adminPassword", "sqlPassword", "storageKey", "settings", "vmCount", "keyVaultName"}, names)
	assert.Equal(t, []string{"string", "securestring", "string", "securestring", "secureobject", "int", "string"}, types)

	pw := tpl.Param("ADMINPASSWORD")
	require.NotNil(t, pw)
	assert.True(t, pw.Secure())
	assert.Nil(t, pw.DefaultValue)
	assert.Equal(t, 7, pw.NamePos.Line)
	assert.Equal(t, 5, pw.NamePos.Col)
	sql := tpl.Param("sqlPassword")
	assert.False(t, sql.Secure())
	def, _ := sql.DefaultValue.StringValue()
	assert.Equal(t, "P@ssw0rd123!", def)
	assert.True(t, tpl.Param("storageKey").DefaultValue.IsExpression())
	assert.Equal(t, Number, tpl.Param("vmCount").DefaultValue.Kind)
	assert.Nil(t, tpl.Param("nope"))

	require.Len(t, tpl.Variables, 2)
	assert.Equal(t, "literal", tpl.Variables[1].Name)
	assert.False(t, tpl.Variables[1].Value.IsExpression(), "[[ escapes an expression")

	require.Len(t, tpl.Resources, 5)
	kv := tpl.Resources[1]
	assert.True(t, kv.IsType("microsoft.keyvault/VAULTS"))
	require.Len(t, kv.Children, 1)
	secret := kv.Children[0]
	assert.Equal(t, "secrets", secret.Type)
	assert.Equal(t, "Microsoft.KeyVault/vaults/secrets", secret.FullType())
	assert.Same(t, kv, secret.Parent)
	name, ok := secret.NameString()
	assert.True(t, ok)
	assert.Equal(t, "dbPassword", name)
	v, _ := secret.Properties.Get("value").StringValue()
	assert.Equal(t, "hunter2-literal", v)

	all := tpl.AllResources()
	require.Len(t, all, 6)
	assert.Same(t, secret, all[2], "children follow their parent")

	outer := tpl.Resources[3].Deployment
	require.NotNil(t, outer)
	assert.Equal(t, "outer", outer.Scope)
	assert.Nil(t, outer.ScopeNode)
	assert.False(t, outer.InnerScope())
	require.NotNil(t, outer.Template)
	require.Len(t, outer.Template.Resources, 1)
	sqlSrv := outer.Template.Resources[0]
	p, _ := sqlSrv.Properties.Get("administratorLoginPassword").StringValue()
	assert.Equal(t, "[parameters('adminPassword')]", p)
	assert.Same(t, tpl, outer.Template.Outer(), "outer scope resolves against the enclosing template")
	assert.Same(t, outer, outer.Template.Deployment)
	assert.Equal(t, "Incremental", outer.Mode)

	inner := tpl.Resources[4].Deployment
	require.NotNil(t, inner)
	assert.Equal(t, "inner", inner.Scope, "scope is lower-cased")
	assert.True(t, inner.InnerScope())
	assert.Same(t, inner.Template, inner.Template.Outer())
	require.Len(t, inner.ParameterValues, 2)
	ref := inner.ParameterValues[0].Reference
	require.NotNil(t, ref)
	assert.Equal(t, "sqlAdmin", ref.SecretName)
	assert.True(t, ref.VaultIDNode.IsExpression())
	assert.Equal(t, "", ref.VaultName(), "expressions have no literal vault name")
	require.Len(t, inner.Template.Parameters, 2)
	assert.True(t, inner.Template.Parameters[0].Secure())
	require.Len(t, inner.Template.Outputs, 1)

	tpls := tpl.Templates()
	require.Len(t, tpls, 3)
	assert.Same(t, tpl, tpls[0])
	assert.Same(t, outer.Template, tpls[1])
	assert.Same(t, inner.Template, tpls[2])

	require.Len(t, tpl.Outputs, 2)
	assert.Equal(t, "storageKey", tpl.Outputs[0].Name)
	assert.Equal(t, "string", tpl.Outputs[0].Type)
	e, err := ParseExpr(tpl.Outputs[0].Value.Str)
	require.NoError(t, err)
	assert.True(t, Calls(e)[0].HasPrefix("list"))
	assert.Equal(t, "securestring", tpl.Outputs[1].Type)

	ext := tpl.Resources[2]
	cmd := ext.Properties.Dig("settings", "commandToExecute")
	require.NotNil(t, cmd)
	assert.Equal(t, "/resources/2/properties/settings/commandToExecute", cmd.Pointer())
}

func TestSymbolicTemplate(t *testing.T) {
	tpl, err := ParseTemplate("symbolic.json", readTestdata(t, "symbolic.json"))
	require.NoError(t, err)
	assert.Equal(t, "2.0", tpl.LanguageVersion)
	require.Len(t, tpl.Resources, 2)
	assert.Equal(t, "kv", tpl.Resources[0].Symbol)
	assert.True(t, tpl.Resources[0].Existing)
	assert.Equal(t, "secret", tpl.Resources[1].Symbol)
	assert.False(t, tpl.Resources[1].Existing)
	require.Len(t, tpl.Functions, 1)
	f := tpl.Functions[0]
	assert.Equal(t, "contoso", f.Namespace)
	assert.Equal(t, "secretUri", f.Name)
	require.Len(t, f.Parameters, 2)
	assert.Equal(t, "secret", f.Parameters[1].Name)
	require.NotNil(t, f.Output)
	assert.Equal(t, "string", f.Output.Type)
	e, err := ParseExpr(tpl.Resources[1].Properties.Get("value").Str)
	require.NoError(t, err)
	assert.Equal(t, "contoso", Calls(e)[0].Namespace)
	assert.False(t, Calls(e)[0].Is("secretUri"), "user functions are not built-ins")
}

func TestParametersFileView(t *testing.T) {
	pf, err := ParseParametersFile("vm.parameters.json", readTestdata(t, "vm.parameters.json"))
	require.NoError(t, err)
	assert.Equal(t, "1.0.0.0", pf.ContentVersion)
	require.Len(t, pf.Parameters, 6)
	pw := pf.Param("adminpassword")
	require.NotNil(t, pw)
	assert.Nil(t, pw.Value)
	require.NotNil(t, pw.Reference)
	ref := pw.Reference
	assert.Equal(t, "kv-prod-01", ref.VaultName())
	assert.Equal(t, "vmAdminPassword", ref.SecretName)
	assert.Equal(t, "0123456789abcdef0123456789abcdef", ref.SecretVersion)
	assert.Equal(t, 7, ref.Pos().Line)
	assert.Equal(t, 11, ref.SecretNameNode.Pos.Line)
	assert.Equal(t, 23, ref.SecretNameNode.Pos.Col)

	sql := pf.Param("sqlPassword")
	assert.Nil(t, sql.Reference)
	s, _ := sql.Value.StringValue()
	assert.Equal(t, "Sup3rS3cret!", s)
	assert.Equal(t, 15, sql.NamePos.Line)
	assert.Equal(t, Object, pf.Param("settings").Value.Kind)
	assert.Equal(t, Number, pf.Param("vmCount").Value.Kind)
	assert.Nil(t, pf.Param("missing"))
}

func TestMalformedSectionsAreEmpty(t *testing.T) {
	tests := []string{
		`{"parameters": [], "resources": "x", "outputs": 1, "variables": null, "functions": {}}`,
		`{"resources": [1, "x", null, {"type": 5, "resources": {"a": 1}}]}`,
		`{"resources": [{"type": "Microsoft.Resources/deployments", "properties": {"template": [], "parameters": []}}]}`,
		`{"parameters": {"a": {"reference": 5}, "b": 3}}`,
		`[]`,
	}
	for _, src := range tests {
		root, err := Parse("x.json", []byte(src))
		require.NoError(t, err)
		require.NotPanics(t, func() {
			tpl := NewTemplate(root)
			tpl.AllResources()
			tpl.Templates()
			pf := NewParametersFile(root)
			for _, p := range pf.Parameters {
				if p.Reference != nil {
					_ = p.Reference.VaultName()
				}
			}
		}, src)
	}
	root, _ := Parse("x.json", []byte(tests[2]))
	tpl := NewTemplate(root)
	require.Len(t, tpl.Resources, 1)
	require.NotNil(t, tpl.Resources[0].Deployment)
	assert.Nil(t, tpl.Resources[0].Deployment.Template)
}

func TestVaultNameFromID(t *testing.T) {
	assert.Equal(t, "kv1", VaultNameFromID("/subscriptions/s/resourceGroups/r/providers/Microsoft.KeyVault/vaults/kv1"))
	assert.Equal(t, "kv1", VaultNameFromID("/subscriptions/s/resourceGroups/r/providers/microsoft.keyvault/VAULTS/kv1/"))
	assert.Equal(t, "", VaultNameFromID("[resourceId('Microsoft.KeyVault/vaults', 'kv')]"))
	assert.Equal(t, "", VaultNameFromID("kv1"))
	// Invalid UTF-8 before the marker once shifted the offsets and panicked (fuzz crasher).
	assert.Equal(t, "kv\xf4", VaultNameFromID("/subscriptions/\xf4\xf4/providers/Microsoft.KeyVault/vaults/kv\xf4"))
	assert.Equal(t, "", VaultNameFromID("\xf4\xf4\xf4/providers/Microsoft.KeyVault/vaults/"))
}
