package e2e

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/keyvault/verify"
	"github.com/stagegate/stagegate/pkg/keyvault/verify/verifytest"

	"github.com/stagegate/stagegate/internal/testfiles"
)

// The keyvault-gate binary with verifyReferences, as the agent runs it: a service connection in
// ENDPOINT_* variables, the job token, SYSTEM_OIDCREQUESTURI. The binary talks to a fake Azure
// under the real host names (login.microsoftonline.com, <vault>.vault.azure.net,
// management.azure.com, dev.azure.com) through HTTPS_PROXY, trusting the fake's certificate
// authority through SSL_CERT_FILE; nothing in the binary knows it is under test.

const kvSub = "00000000-0000-0000-0000-00000000aaaa"

var kvVerifyTree = map[string]string{
	"infra/app.json": `{
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
  "contentVersion": "1.0.0.0",
  "parameters": {"adminPassword": {"type": "securestring"}, "legacyPassword": {"type": "securestring"}},
  "resources": []
}`,
	"infra/app.parameters.json": `{
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#",
  "contentVersion": "1.0.0.0",
  "parameters": {
    "adminPassword": {"reference": {"keyVault": {"id": "/subscriptions/` + kvSub + `/resourceGroups/rg-prod/providers/Microsoft.KeyVault/vaults/kv-prod"}, "secretName": "db-password"}},
    "legacyPassword": {"reference": {"keyVault": {"id": "/subscriptions/` + kvSub + `/resourceGroups/rg-old/providers/Microsoft.KeyVault/vaults/kv-legacy"}, "secretName": "db-password"}}
  }
}`,
	"bicep/main.bicep":      "@secure()\nparam adminPassword string\noutput ok bool = true\n",
	"bicep/main.bicepparam": "using './main.bicep'\nparam adminPassword = az.getSecret('" + kvSub + "', 'rg-prod', 'kv-prod', 'expiring')\n",
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

// kvFakeAzure starts the fake with the vaults of kvVerifyTree and returns it with the
// environment that sends the binary to it.
func kvFakeAzure(t *testing.T) (*verifytest.Fake, map[string]string) {
	t.Helper()
	f := verifytest.New(t)
	f.JobToken = kvToken
	now := time.Now()
	f.AddVault("kv-prod.vault.azure.net", &verifytest.Vault{
		ResourceID: "/subscriptions/" + kvSub + "/resourceGroups/rg-prod/providers/Microsoft.KeyVault/vaults/kv-prod", EnabledForTemplateDeployment: true,
		Secrets: map[string][]verifytest.Version{
			"db-password": {{Enabled: true, Created: now.Add(-time.Hour), Expires: now.Add(200 * 24 * time.Hour)}},
			"expiring":    {{Enabled: true, Created: now.Add(-time.Hour), Expires: now.Add(3 * 24 * time.Hour)}},
		},
	})
	f.AddVault("kv-legacy.vault.azure.net", &verifytest.Vault{
		ResourceID: "/subscriptions/" + kvSub + "/resourceGroups/rg-old/providers/Microsoft.KeyVault/vaults/kv-legacy", EnabledForTemplateDeployment: false,
		Secrets: map[string][]verifytest.Version{
			"db-password": {{Enabled: true, Created: now.Add(-time.Hour), Expires: now.Add(200 * 24 * time.Hour)}},
		},
	})
	ca := filepath.Join(t.TempDir(), "fake-azure-ca.pem")
	require.NoError(t, os.WriteFile(ca, f.CAPEM(), 0o600))
	proxy := f.Proxy(t)
	env := map[string]string{
		"HTTPS_PROXY":             proxy.URL(),
		"HTTP_PROXY":              proxy.URL(),
		"SSL_CERT_FILE":           ca,
		"SYSTEM_OIDCREQUESTURI":   f.OIDCRequestURI,
		"INPUT_VERIFYREFERENCES":  "true",
		"INPUT_AZURESUBSCRIPTION": f.ConnectionID,
	}
	return f, env
}

func TestKeyVaultGateVerifiesReferences(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("SSL_CERT_FILE, which lets the binary trust the fake Azure, is honoured on Linux only")
	}
	bin := buildCmd(t, "keyvault-gate")
	sources := testfiles.WriteTree(t, kvVerifyTree)

	t.Run("workload identity federation finds KV012, KV013 and KV014", func(t *testing.T) {
		f, env := kvFakeAzure(t)
		for k, v := range f.NewConnection(verifytest.KindWorkload, "AzureCloud", nil).Env() {
			env[k] = v
		}
		r := kvExec(t, bin, sources, env)
		assert.Equal(t, 1, r.code, r.stdout+r.stderr)
		assert.Equal(t, []string{"Failed"}, r.results())
		codes := r.codes()
		assert.Equal(t, 1, codes["KV012"], r.stdout)
		assert.Equal(t, 1, codes["KV013"], r.stdout)
		assert.Equal(t, 1, codes["KV014"], r.stdout)
		for _, c := range r.named("task.logissue") {
			switch c.Props["code"] {
			case "KV012":
				assert.Equal(t, "tf/main.tf", c.Props["sourcepath"])
				assert.Contains(t, c.Data, "secret 'missing-one' does not exist (404 SecretNotFound)")
			case "KV013":
				assert.Equal(t, "bicep/main.bicepparam", c.Props["sourcepath"])
				assert.Equal(t, "warning", c.Props["type"])
			case "KV014":
				assert.Equal(t, "infra/app.parameters.json", c.Props["sourcepath"])
				assert.Contains(t, c.Data, "vault kv-legacy does not allow template deployment")
			}
		}
		assert.Equal(t, "4", r.outputs()["secretsVerified"], "db-password in two vaults, expiring, and missing-one (looked up, not found)")
		assert.Contains(t, r.stdout, "verified as service principal with client id "+verifytest.WorkloadClientID)
		require.Len(t, r.named("task.uploadsummary"), 1)
		summary, err := os.ReadFile(r.named("task.uploadsummary")[0].Data)
		require.NoError(t, err)
		assert.Contains(t, string(summary), "### Key Vault references verified")
		assert.Contains(t, string(summary), "verified ok")

		// The real agent path: an OIDC assertion from the pipeline, a token from the public
		// cloud's authority, list-versions calls and one Resource Manager read per vault.
		assert.Equal(t, 2, f.Count("oidc"), "one assertion per token: Key Vault and Resource Manager")
		assert.Equal(t, 2, f.Count("arm"))
		for _, req := range f.Requests() {
			if req.Kind == "vault" {
				assert.True(t, verify.IsVersionListPath(req.Method, req.Path), "%s %s reads more than properties", req.Method, req.Path)
			}
			if req.Kind == "token" {
				assert.Equal(t, "login.microsoftonline.com", req.Host)
				assert.Equal(t, verifytest.WorkloadClientID, req.ClientID)
			}
		}
		assert.NotContains(t, r.stdout, "SECRET-VALUE")
		assert.NotContains(t, r.stdout, f.OIDCToken(), "the OIDC assertion is never printed")
		for _, s := range r.named("task.setsecret") {
			assert.Equal(t, kvToken, s.Data)
		}
	})

	t.Run("a refused vault fails closed and says who needs which permission", func(t *testing.T) {
		f, env := kvFakeAzure(t)
		f.SetVault("kv-prod.vault.azure.net", func(v *verifytest.Vault) { v.Status, v.ErrorCode, v.InnerCode = 403, "Forbidden", "ForbiddenByRbac" })
		for k, v := range f.NewConnection(verifytest.KindSecret, "AzureCloud", nil).Env() {
			env[k] = v
		}
		env["INPUT_MODE"] = "audit"
		r := kvExec(t, bin, sources, env)
		assert.Equal(t, 2, r.code, "could not evaluate, in audit mode too")
		assert.Equal(t, []string{"Failed"}, r.results())
		assert.Contains(t, r.stdout, "vault kv-prod.vault.azure.net: 403 Forbidden/ForbiddenByRbac")
		assert.Contains(t, r.stdout, "service principal with client id "+verifytest.SecretClientID)
		assert.Contains(t, r.stdout, `"Key Vault Reader" role`)
		lines := strings.Split(r.stdout, "\n")
		require.GreaterOrEqual(t, len(lines), 3)
		assert.Equal(t, "##vso[task.setsecret]"+kvToken, lines[0])
		assert.Equal(t, "##vso[task.setsecret]"+verifytest.ClientSecret, lines[1], "the connection's secret is registered before anything else is printed")
		assert.Equal(t, 1, strings.Count(r.stdout, verifytest.ClientSecret), "and never printed again")
	})
}
