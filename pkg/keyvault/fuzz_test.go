package keyvault

import (
	"strings"
	"testing"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"/subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-app",
		"https://kv-app.vault.azure.net/secrets/db/0123456789abcdef0123456789abcdef",
		"@Microsoft.KeyVault(SecretUri=https://kv-app.vault.azure.net/secrets/db/)",
		"@Microsoft.KeyVault(VaultName=kv;SecretName=s;SecretVersion=v)",
		"https://kv.vault.azure.cn:443/secrets/a?api-version=7.4",
		"", "/", "@Microsoft.KeyVault(",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if id, err := ParseVaultID(s); err == nil {
			if !strings.EqualFold(id.String(), s) {
				t.Fatalf("round trip %q -> %q", s, id.String())
			}
			if ValidateVaultName(id.Name) != nil {
				t.Fatalf("accepted id with invalid name %q", id.Name)
			}
		}
		if p, ok, err := ParseSecretURI(s); ok && err == nil && p.Secret == "" {
			t.Fatalf("secret uri %q parsed without a secret name", s)
		}
		if r, ok, err := ParseAppServiceRef(s); ok && err == nil && !r.HasURI && (r.Vault == "" || r.Secret == "") {
			t.Fatalf("app service ref %q accepted without vault and secret", s)
		}
		_ = Reference{Vault: Vault{ID: s, Name: s}, Secret: s, Version: s}.Check()
	})
}
