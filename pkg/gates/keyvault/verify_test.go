package keyvault

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/finding"
	"github.com/stagegate/stagegate/pkg/gaterun"
	"github.com/stagegate/stagegate/pkg/keyvault/azcred"
	"github.com/stagegate/stagegate/pkg/keyvault/verify"
	"github.com/stagegate/stagegate/pkg/keyvault/verify/verifytest"
	"github.com/stagegate/stagegate/pkg/render"
	"github.com/stagegate/stagegate/pkg/task"

	"github.com/stagegate/stagegate/internal/testfiles"
)

const vsub = "00000000-0000-0000-0000-00000000aaaa"

// verifyTree has one reference of each kind the static rules resolve, all in kv-prod.
var verifyTree = map[string]string{
	"infra/app.json": `{
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
  "contentVersion": "1.0.0.0",
  "parameters": {"adminPassword": {"type": "securestring"}, "apiKey": {"type": "securestring"}},
  "resources": []
}`,
	"infra/app.parameters.json": `{
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#",
  "contentVersion": "1.0.0.0",
  "parameters": {
    "adminPassword": {"reference": {"keyVault": {"id": "/subscriptions/` + vsub + `/resourceGroups/rg-prod/providers/Microsoft.KeyVault/vaults/kv-prod"}, "secretName": "db-password"}},
    "apiKey": {"reference": {"keyVault": {"id": "[parameters('vaultId')]"}, "secretName": "api-key"}}
  }
}`,
	"bicep/main.bicep": `@secure()
param adminPassword string
output ok bool = true
`,
	"bicep/main.bicepparam": `using './main.bicep'
param adminPassword = az.getSecret('` + vsub + `', 'rg-prod', 'kv-prod', 'expiring')
`,
	"tf/main.tf": `data "azurerm_key_vault" "kv" {
  name                = "kv-prod"
  resource_group_name = "rg-prod"
}

data "azurerm_key_vault_secret" "db" {
  name         = "missing-one"
  key_vault_id = data.azurerm_key_vault.kv.id
}
`,
}

func TestVerificationInTheReport(t *testing.T) {
	root := testfiles.WriteTree(t, verifyTree)
	f := verifytest.New(t)
	conn := f.NewConnection(verifytest.KindSecret, "AzureCloud", nil)
	f.AddVault("kv-prod.vault.azure.net", &verifytest.Vault{
		ResourceID: "/subscriptions/" + vsub + "/resourceGroups/rg-prod/providers/Microsoft.KeyVault/vaults/kv-prod", EnabledForTemplateDeployment: true,
		Secrets: map[string][]verifytest.Version{
			"db-password": {{Enabled: true, Created: testNow.Add(-time.Hour), Expires: testNow.Add(200 * 24 * time.Hour)}},
			"expiring":    {{Enabled: true, Created: testNow.Add(-time.Hour), Expires: testNow.Add(3 * 24 * time.Hour)}},
		},
	})
	id, err := azcred.New(azcred.Config{Env: task.MapEnv(conn.Env()), OnAgent: true, Connection: conn.ID, ClientOptions: azcore.ClientOptions{Transport: f.Client()}})
	require.NoError(t, err)
	v, err := verify.New(verify.Options{Identity: id, Now: testNow, ExpiryWarningDays: 30, RequireExpiry: true, ClientOptions: azcore.ClientOptions{Transport: f.Client()}})
	require.NoError(t, err)

	o := options(t, root)
	o.Verify, o.Verifier = true, v
	res, err := Scan(context.Background(), o)
	require.NoError(t, err)
	rep := res.Report()
	res.SetOutputs(rep, nil)

	byRule := map[string][]finding.Finding{}
	for _, fd := range rep.Findings {
		byRule[fd.Rule] = append(byRule[fd.Rule], fd)
	}
	require.Len(t, byRule["KV012"], 1, "%v", rep.Findings)
	assert.Equal(t, "tf/main.tf", byRule["KV012"][0].Location.Path)
	assert.Equal(t, 6, byRule["KV012"][0].Location.Line)
	assert.Contains(t, byRule["KV012"][0].Message, "secret 'missing-one' does not exist (404 SecretNotFound)")
	require.Len(t, byRule["KV013"], 1)
	assert.Equal(t, "bicep/main.bicepparam", byRule["KV013"][0].Location.Path)
	assert.Contains(t, byRule["KV013"][0].Message, "expires on 2026-12-02 12:00 UTC, in 3 days")
	assert.Empty(t, byRule["KV014"], "kv-prod allows template deployment")

	var check *finding.Check
	for i := range rep.Checks {
		if rep.Checks[i].Name == verify.CheckName {
			check = &rep.Checks[i]
		}
	}
	require.NotNil(t, check)
	assert.Contains(t, check.Detail, "3 secrets looked up in 1 vault")
	assert.Contains(t, check.Detail, "1 reference not verified")
	for _, id := range []string{"KV012", "KV013", "KV014"} {
		_, ok := rep.RuleByID(id)
		assert.True(t, ok, "%s is described for SARIF and the summary", id)
	}
	var titles []string
	var table finding.Table
	for _, tb := range rep.Tables {
		titles = append(titles, tb.Title)
		if tb.Title == "Key Vault references verified" {
			table = tb
		}
	}
	assert.NotContains(t, titles, "Key Vault references", "the verification table supersedes the plain one")
	require.Len(t, table.Rows, 4)
	var notVerified string
	for _, row := range table.Rows {
		if strings.HasPrefix(row[3], "not verified") {
			notVerified = strings.Join(row, " | ")
		}
	}
	assert.Contains(t, notVerified, "not verified: the vault is computed at deployment time (parameters('vaultId'))")
	assert.Contains(t, notVerified, "infra/app.parameters.json:")
	outs := map[string]string{}
	for _, out := range rep.Outputs {
		outs[out.Name] = out.Value
	}
	assert.Equal(t, "3", outs["secretsVerified"])
	assert.Equal(t, "4", outs["referencesFound"])
	require.NotEmpty(t, rep.Notes)
	assert.Contains(t, strings.Join(rep.Notes, "\n"), "1 Key Vault reference could not be verified")

	var md strings.Builder
	require.NoError(t, render.Markdown(&md, rep, render.Meta{Tool: "stagegate", Verdict: finding.Decide(rep, finding.Enforce)}))
	assert.Contains(t, md.String(), "### Key Vault references verified")
	assert.Contains(t, md.String(), "| Key Vault verification |")
	for _, r := range f.Requests() {
		if r.Kind == "vault" {
			assert.True(t, verify.IsVersionListPath(r.Method, r.Path), r.Path)
		}
	}
}

func TestVerifyWiringNeedsAConnectionOnAnAgent(t *testing.T) {
	root := testfiles.WriteTree(t, map[string]string{"a.json": "{}"})
	cases := []struct {
		name       string
		onAgent    bool
		agentGate  bool
		connection string
		want       string
	}{
		{name: "agent without a connection", onAgent: true, want: `input "azureSubscription": is required when verifyReferences is true`},
		{name: "task binary off an agent", agentGate: true, want: "run `stagegate keyvault`"},
		{name: "connection not exported", onAgent: true, connection: "sc-missing", want: "service connection sc-missing: the agent exported no ENDPOINT_* variables"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			inputs := map[string]string{"rootDirectory": root, "verifyReferences": "true", "azureSubscription": c.connection}
			rt := &gaterun.Runtime{Inputs: task.ValueInputs(inputs, task.MapEnv(nil), defaults(t)), Env: task.MapEnv(nil), OnAgent: c.onAgent, Now: testNow,
				Warn: func(string) {}, Info: func(string) {}, Debug: func(string) {}, Secret: func(string) {}, WorkDir: root}
			gate := Gate()
			if c.agentGate {
				gate = AgentGate()
			}
			_, err := gate.Evaluate(context.Background(), rt)
			require.Error(t, err, "verification that cannot authenticate fails closed before scanning")
			assert.Contains(t, err.Error(), c.want)
		})
	}
}
