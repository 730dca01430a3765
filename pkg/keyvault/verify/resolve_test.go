package verify

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/keyvault"
)

const (
	sub    = "00000000-0000-0000-0000-00000000aaaa"
	prodID = "/subscriptions/" + sub + "/resourceGroups/rg-prod/providers/Microsoft.KeyVault/vaults/kv-prod"
)

func src(path string, line int) keyvault.Source {
	return keyvault.Source{Path: path, Line: line, Logical: path + "#" + string(rune('a'+line))}
}

func TestResolve(t *testing.T) {
	cases := []struct {
		name string
		ref  keyvault.Reference
		// host, secret, version of the target; "" when unresolved
		host, secret, version string
		reason                string // substring of the unresolved reason
		kv014                 string // resource id checked for KV014
		noResourceID          bool
	}{
		{name: "ARM parameter with a literal id", ref: keyvault.Reference{Kind: keyvault.ARMParameter, Vault: keyvault.Vault{ID: prodID, Name: "kv-prod", SubscriptionID: sub, ResourceGroup: "rg-prod"}, Secret: "db-password"},
			host: "kv-prod.vault.azure.net", secret: "db-password", kv014: prodID},
		{name: "ARM id with odd casing is canonicalised", ref: keyvault.Reference{Kind: keyvault.ARMParameter, Vault: keyvault.Vault{ID: "/SUBSCRIPTIONS/" + sub + "/resourcegroups/rg-prod/providers/microsoft.keyvault/VAULTS/KV-Prod", Name: "KV-Prod"}, Secret: "db"},
			host: "kv-prod.vault.azure.net", secret: "db", kv014: "/subscriptions/" + sub + "/resourceGroups/rg-prod/providers/Microsoft.KeyVault/vaults/KV-Prod"},
		{name: "ARM resourceId() in the deployment's group", ref: keyvault.Reference{Kind: keyvault.ARMParameter, Vault: keyvault.Vault{Name: "kv-prod"}, Secret: "db", Version: "0123456789ABCDEF0123456789ABCDEF"},
			host: "kv-prod.vault.azure.net", secret: "db", version: "0123456789abcdef0123456789abcdef", noResourceID: true},
		{name: "bicepparam az.getSecret", ref: keyvault.Reference{Kind: keyvault.BicepGetSecret, Vault: keyvault.Vault{Name: "kv-prod", SubscriptionID: sub, ResourceGroup: "rg-prod"}, Secret: "db"},
			host: "kv-prod.vault.azure.net", secret: "db", kv014: prodID},
		{name: "Bicep existing vault without scope", ref: keyvault.Reference{Kind: keyvault.BicepGetSecret, Vault: keyvault.Vault{Name: "kv-prod"}, Secret: "db"},
			host: "kv-prod.vault.azure.net", secret: "db", noResourceID: true},
		{name: "Terraform data source", ref: keyvault.Reference{Kind: keyvault.TerraformData, Vault: keyvault.Vault{Name: "kv-prod"}, Secret: "db"},
			host: "kv-prod.vault.azure.net", secret: "db"},
		{name: "Terraform literal key_vault_id is not a deployment reference", ref: keyvault.Reference{Kind: keyvault.TerraformData, Vault: keyvault.Vault{ID: prodID, Name: "kv-prod"}, Secret: "db"},
			host: "kv-prod.vault.azure.net", secret: "db"},
		{name: "secret URI in this cloud", ref: keyvault.Reference{Kind: keyvault.SecretURI, Vault: keyvault.Vault{Name: "kv-prod", Host: "KV-PROD.vault.azure.net"}, Secret: "db", Version: "0123456789abcdef0123456789abcdef"},
			host: "kv-prod.vault.azure.net", secret: "db", version: "0123456789abcdef0123456789abcdef"},
		{name: "secret URI in another cloud", ref: keyvault.Reference{Kind: keyvault.SecretURI, Vault: keyvault.Vault{Name: "kv-gov", Host: "kv-gov.vault.usgovcloudapi.net"}, Secret: "db"},
			reason: "vault kv-gov.vault.usgovcloudapi.net is not in the service connection's cloud (its vaults end in .vault.azure.net)"},
		{name: "vault from a parameter", ref: keyvault.Reference{Kind: keyvault.ARMParameter, Vault: keyvault.Vault{Dynamic: true, Expression: "[parameters('vaultId')]"}, Secret: "db"},
			reason: "the vault is computed at deployment time ([parameters('vaultId')])"},
		{name: "Terraform vault from another module", ref: keyvault.Reference{Kind: keyvault.TerraformData, Vault: keyvault.Vault{Dynamic: true, Expression: "module.kv.id"}, Secret: "db"},
			reason: "the vault is computed at deployment time (module.kv.id)"},
		{name: "secret name from a variable", ref: keyvault.Reference{Kind: keyvault.BicepGetSecret, Vault: keyvault.Vault{Name: "kv-prod"}, SecretDynamic: true},
			reason: "the secret name is computed at deployment time"},
		{name: "pipeline task downloading everything", ref: keyvault.Reference{Kind: keyvault.PipelineTask, Vault: keyvault.Vault{Name: "kv-prod"}, Secret: "*"},
			reason: "downloads every secret of the vault"},
		{name: "pipeline task with a named secret", ref: keyvault.Reference{Kind: keyvault.PipelineTask, Vault: keyvault.Vault{Name: "kv-prod"}, Secret: "db"},
			host: "kv-prod.vault.azure.net", secret: "db"},
		{name: "malformed secret name", ref: keyvault.Reference{Kind: keyvault.ARMParameter, Vault: keyvault.Vault{Name: "kv-prod"}, Secret: "db_password"},
			reason: "malformed reference (KV008): secret name"},
		{name: "malformed vault name", ref: keyvault.Reference{Kind: keyvault.TerraformData, Vault: keyvault.Vault{Name: "1kv"}, Secret: "db"},
			reason: "malformed reference (KV008): vault name"},
		{name: "malformed version", ref: keyvault.Reference{Kind: keyvault.SecretURI, Vault: keyvault.Vault{Name: "kv-prod", Host: "kv-prod.vault.azure.net"}, Secret: "db", Version: "latest"},
			reason: "malformed reference (KV008): secret version"},
		{name: "no vault at all", ref: keyvault.Reference{Kind: keyvault.AppServiceSetting, Secret: "db"},
			reason: "no literal vault name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.ref.Source = src("infra/main.json", 3)
			p := Resolve([]keyvault.Reference{c.ref}, "vault.azure.net")
			if c.reason != "" {
				require.Empty(t, p.Targets)
				require.Len(t, p.Unresolved, 1)
				assert.Contains(t, p.Unresolved[0].Reason, c.reason)
				assert.Empty(t, p.Vaults)
				return
			}
			require.Empty(t, p.Unresolved)
			require.Len(t, p.Targets, 1)
			got := p.Targets[0]
			assert.Equal(t, c.host, got.Host)
			assert.Equal(t, c.secret, got.Secret)
			assert.Equal(t, c.version, got.Version)
			if c.kv014 != "" {
				require.Len(t, p.Vaults, 1)
				assert.Equal(t, c.kv014, p.Vaults[0].ID)
				assert.Equal(t, c.host, p.Vaults[0].Host)
			} else {
				assert.Empty(t, p.Vaults)
			}
			assert.Equal(t, c.noResourceID, p.NoResourceID == 1)
		})
	}
}

func TestResolveDeduplicates(t *testing.T) {
	refs := []keyvault.Reference{
		{Kind: keyvault.ARMParameter, Vault: keyvault.Vault{ID: prodID, Name: "kv-prod"}, Secret: "db", Source: src("a.parameters.json", 1)},
		{Kind: keyvault.ARMParameter, Vault: keyvault.Vault{ID: prodID, Name: "kv-prod"}, Secret: "DB", Source: src("b.parameters.json", 2)},
		{Kind: keyvault.SecretURI, Vault: keyvault.Vault{Name: "kv-prod", Host: "kv-prod.vault.azure.net"}, Secret: "db", Source: src("app.json", 3)},
		{Kind: keyvault.TerraformData, Vault: keyvault.Vault{Name: "KV-PROD"}, Secret: "db", Version: "0123456789abcdef0123456789abcdef", Source: src("main.tf", 4)},
		{Kind: keyvault.TerraformData, Vault: keyvault.Vault{Name: "kv-dev"}, Secret: "db", Source: src("main.tf", 5)},
	}
	p := Resolve(refs, "vault.azure.net")
	require.Len(t, p.Targets, 3, "same vault, secret and version share one lookup, case-insensitively")
	assert.Equal(t, "kv-dev.vault.azure.net", p.Targets[0].Host, "targets are sorted")
	assert.Len(t, p.Targets[1].Refs, 3)
	assert.Equal(t, "", p.Targets[1].Version)
	assert.Equal(t, "0123456789abcdef0123456789abcdef", p.Targets[2].Version)
	require.Len(t, p.Vaults, 1)
	assert.Len(t, p.Vaults[0].Refs, 2, "KV014 applies to the two parameter-file references only")
}

func TestResolveOtherClouds(t *testing.T) {
	ref := keyvault.Reference{Kind: keyvault.TerraformData, Vault: keyvault.Vault{Name: "kv-gov"}, Secret: "db"}
	for suffix, host := range map[string]string{"vault.usgovcloudapi.net": "kv-gov.vault.usgovcloudapi.net", "vault.azure.cn": "kv-gov.vault.azure.cn"} {
		p := Resolve([]keyvault.Reference{ref}, suffix)
		require.Len(t, p.Targets, 1)
		assert.Equal(t, host, p.Targets[0].Host)
	}
	uri := keyvault.Reference{Kind: keyvault.SecretURI, Vault: keyvault.Vault{Name: "kv-cn", Host: "kv-cn.vault.azure.cn"}, Secret: "db"}
	p := Resolve([]keyvault.Reference{uri}, "vault.azure.cn")
	require.Len(t, p.Targets, 1)
	p = Resolve([]keyvault.Reference{uri}, "vault.azure.net")
	require.Len(t, p.Unresolved, 1)
}
