package rules

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/gates/keyvault/kvtest"
	"github.com/stagegate/stagegate/pkg/templates/pos"
)

func TestCredentialsInEveryFormat(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "ARM template", files: map[string]string{"t.json": armHead + `
  "variables": {
    "blobKey": "{{storageKey}}", // <-KV009
    "tls": "{{privateKeyOneLine}}" // <-KV009
  },
  "resources": []
}`}},
		{name: "ARM parameters: a literal rule wins over KV009 on the same value", files: map[string]string{
			"p.parameters.json": paramsHead + `
  "parameters": {
    "clientSecret": { "value": "{{clientSecret}}" }, // <-KV001
    "packageUrl": { "value": "{{sasURL}}" } // <-KV009
  }
}`}},
		{name: "Bicep", files: map[string]string{"main.bicep": "var conn = '{{connString}}' // <-KV009\nvar ok = 'Server=db;Password=${dbPassword}'\n"}},
		{name: "Terraform", files: map[string]string{"main.tf": "locals {\n  url = \"{{urlWithPass}}\" # <-KV009\n}\n"}},
		{name: "pipeline", files: map[string]string{"azure-pipelines.yml": "variables:\n  blobUrl: '{{sasURL}}' # <-KV009\nsteps:\n  - script: curl -u app:{{password}} https://x # no format: not KV009\n"}},
		{name: "other JSON", files: map[string]string{"appsettings.json": `{ "Db": "{{connString}}" } // <-KV009`}},
		{name: "other YAML", files: map[string]string{"k8s/secret.yaml": "apiVersion: v1\nkind: Secret\nstringData:\n  key: {{storageKey}} # <-KV009\n"}},
		{name: "other text", files: map[string]string{"notes.txt": "client secret: {{clientSecret}} <-KV009\n"}},
	})
}

func TestOnlyStringLiteralsAreSecrets(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "ARM", files: map[string]string{"t.json": armHead + `
  "parameters": { "passwordCount": { "type": "int" }, "enablePassword": { "type": "bool" } },
  "resources": [ { "type": "Microsoft.Compute/virtualMachines", "apiVersion": "2023-09-01", "name": "vm",
    "properties": { "osProfile": { "adminPassword": 12345, "disablePasswordAuthentication": true, "secret": null } } } ]
}`, "t.parameters.json": paramsHead + `
  "parameters": { "adminPassword": { "value": 12345 }, "apiSecret": { "value": true } }
}`}},
		{name: "Bicep", files: map[string]string{"main.bicep": `
resource sql 'Microsoft.Sql/servers@2023-05-01-preview' = {
  name: 'sql'
  properties: {
    administratorLoginPassword: 12345
    secret: true
  }
}
`}},
		{name: "Terraform", files: map[string]string{"main.tf": "resource \"x\" \"y\" {\n  admin_password = 12345\n  client_secret = true\n  password = null\n}\n"}},
		{name: "pipeline", files: map[string]string{"azure-pipelines.yml": "variables:\n  dbPassword: 12345\n  apiSecret: true\nsteps:\n  - script: x\n    env:\n      TOKEN: 42\n"}},
	})
}

func TestPlaceholdersAreNotSecrets(t *testing.T) {
	values := []string{"GEN-PASSWORD", "<password>", "<your-password>", "$(dbPassword)", "$[ variables.pw ]", "${{ secrets.DB_PASSWORD }}", "[parameters('x')]", "${var.x}", "", "#{DbPassword}#", "__DbPassword__"}
	for _, v := range values {
		jsonV := strings.ReplaceAll(v, `"`, `\"`)
		runCases(t, []ruleCase{
			{name: "ARM " + v, files: map[string]string{
				"t.json": armHead + `"parameters": { "adminPassword": { "type": "securestring" } },
  "resources": [ { "type": "Microsoft.Sql/servers", "apiVersion": "2023-05-01-preview", "name": "sql",
    "properties": { "administratorLoginPassword": "` + jsonV + `" } } ] }`,
				"t.parameters.json":      paramsHead + `"parameters": { "adminPassword": { "value": "` + jsonV + `" } } }`,
				"orphan.parameters.json": paramsHead + `"parameters": { "clientSecret": { "value": "` + jsonV + `" } } }`}},
			{name: "Terraform " + v, files: map[string]string{"main.tf": "resource \"x\" \"y\" {\n  admin_password = \"" + strings.ReplaceAll(v, "${", "$${") + "\"\n}\n"}},
			{name: "pipeline " + v, files: map[string]string{"azure-pipelines.yml": "variables:\n  dbPassword: \"" + v + "\"\nsteps:\n  - script: x\n    env:\n      DB_PASSWORD: \"" + v + "\"\n"}},
		})
	}
}

// TestKV009Positions checks that the line and column of a credential point at the value.
func TestKV009Positions(t *testing.T) {
	c := kvtest.NewCanaries(7)
	src := "{\n  \"a\": \"x\",\n  \"conn\": \"" + c.ConnString + "\"\n}\n"
	r := Analyze("appsettings.json", []byte(src), nil)
	require.Len(t, r.Issues, 1)
	is := r.Issues[0]
	assert.Equal(t, KV009, is.Rule)
	assert.Equal(t, 3, is.Line)
	lines := pos.NewLines([]byte(src))
	at := lines.At(is.Line, is.Column).Offset
	assert.True(t, strings.HasPrefix(src[at:], c.DBPassword), "column points at the password")
	assert.NotContains(t, is.Message, c.DBPassword[:8])
	assert.NotEmpty(t, is.ValueHash)
}
