package keyvault

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const sub = "00000000-1111-2222-3333-444444444444"

func TestParseVaultID(t *testing.T) {
	cases := []struct {
		in      string
		name    string
		wantErr string
	}{
		{"/subscriptions/" + sub + "/resourceGroups/rg-app/providers/Microsoft.KeyVault/vaults/kv-app-prod", "kv-app-prod", ""},
		{"/SUBSCRIPTIONS/" + sub + "/resourcegroups/rg.(x)/providers/microsoft.keyvault/VAULTS/Kv1", "Kv1", ""},
		{"/subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st1", "", "segment 6"},
		{"/subscriptions/not-a-guid/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv1", "", "not a GUID"},
		{"/subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/k", "", "3 to 24"},
		{"/subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv--a", "", "two hyphens"},
		{"/subscriptions/" + sub + "/resourceGroups/rg./providers/Microsoft.KeyVault/vaults/kv1", "", "period"},
		{"/subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv1/secrets/x", "", "not a vault resource id"},
		{"kv1", "", "not a vault resource id"},
		{"", "", "not a vault resource id"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			id, err := ParseVaultID(c.in)
			if c.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), c.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.name, id.Name)
			assert.True(t, strings.EqualFold(c.in, id.String()), id.String())
		})
	}
}

func TestValidateNames(t *testing.T) {
	for _, ok := range []string{"a", "db-password", strings.Repeat("x", 127), "ABC123"} {
		assert.NoError(t, ValidateSecretName(ok), ok)
	}
	for _, bad := range []string{"", "db_password", "db.password", strings.Repeat("x", 128), "naïve", "a b"} {
		assert.Error(t, ValidateSecretName(bad), bad)
	}
	for _, ok := range []string{"kv1", "kv-app-prod-weu-001", "Abc"} {
		assert.NoError(t, ValidateVaultName(ok), ok)
	}
	for _, bad := range []string{"k", "1kv", "kv-", "kv_1", strings.Repeat("k", 25), "kv--1"} {
		assert.Error(t, ValidateVaultName(bad), bad)
	}
	assert.NoError(t, ValidateVersion("0123456789abcdef0123456789ABCDEF"))
	assert.Error(t, ValidateVersion("0123456789abcdef"))
	assert.Error(t, ValidateVersion("0123456789abcdef0123456789abcdeg"))
	assert.True(t, IsGUID(sub))
	assert.False(t, IsGUID("00000000111122223333444444444444"))
}

func TestParseSecretURI(t *testing.T) {
	p, ok, err := ParseSecretURI("https://kv-app.vault.azure.net/secrets/db-password/0123456789abcdef0123456789abcdef")
	require.True(t, ok)
	require.NoError(t, err)
	assert.Equal(t, SecretURIParts{Host: "kv-app.vault.azure.net", Vault: "kv-app", Secret: "db-password", Version: "0123456789abcdef0123456789abcdef"}, p)

	p, ok, err = ParseSecretURI("https://KV-Gov.vault.usgovcloudapi.net/Secrets/api-key/")
	require.True(t, ok)
	require.NoError(t, err)
	assert.Equal(t, "kv-gov", p.Vault)
	assert.Equal(t, "api-key", p.Secret)
	assert.Empty(t, p.Version)

	_, ok, err = ParseSecretURI("https://kv-app.vault.azure.net/secrets/a/b/c")
	assert.True(t, ok)
	assert.Error(t, err)

	// An empty name or version segment is malformed, not a reference to "" (fuzz crasher).
	for _, bad := range []string{"https://kv.vault.azure.net/secrets//0", "https://kv.vault.azure.net/secrets/a//", "https://kv.vault.azure.net/secrets//"} {
		_, ok, err = ParseSecretURI(bad)
		assert.True(t, ok, bad)
		assert.ErrorContains(t, err, "empty path segment", bad)
	}

	for _, not := range []string{"https://example.com/secrets/a", "http://kv.vault.azure.net/secrets/a", "https://kv.vault.azure.net/keys/k1", "https://a.b.vault.azure.net/secrets/x", "kv"} {
		_, ok, _ := ParseSecretURI(not)
		assert.False(t, ok, not)
	}
}

func TestParseAppServiceRef(t *testing.T) {
	r, ok, err := ParseAppServiceRef("@Microsoft.KeyVault(SecretUri=https://kv-app.vault.azure.net/secrets/db/)")
	require.True(t, ok)
	require.NoError(t, err)
	assert.True(t, r.HasURI)
	assert.Equal(t, "kv-app", r.SecretURI.Vault)

	r, ok, err = ParseAppServiceRef("@Microsoft.KeyVault(VaultName=kv-app; SecretName=db; SecretVersion=0123456789abcdef0123456789abcdef)")
	require.True(t, ok)
	require.NoError(t, err)
	assert.Equal(t, AppServiceRef{Vault: "kv-app", Secret: "db", Version: "0123456789abcdef0123456789abcdef"}, r)

	for _, bad := range []string{"@Microsoft.KeyVault(VaultName=kv)", "@Microsoft.KeyVault(SecretUri=https://x.example.com/secrets/a)", "@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/a", "@Microsoft.KeyVault(Foo=bar)", "@Microsoft.KeyVault(x)"} {
		_, ok, err := ParseAppServiceRef(bad)
		assert.True(t, ok, bad)
		assert.Error(t, err, bad)
	}
	_, ok, _ = ParseAppServiceRef("plain value")
	assert.False(t, ok)
}

func TestReferenceCheck(t *testing.T) {
	good := Reference{Kind: ARMParameter, Vault: Vault{ID: "/subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-app", Name: "kv-app"}, Secret: "db-password"}
	assert.Empty(t, good.Check())
	assert.Equal(t, "kv-app/db-password", good.String())

	bad := good
	bad.Secret = "db_password"
	bad.Version = "latest"
	probs := bad.Check()
	require.Len(t, probs, 2)
	assert.Equal(t, "secret name", probs[0].Field)
	assert.Equal(t, "secret version", probs[1].Field)

	dyn := Reference{Vault: Vault{Dynamic: true, Expression: "parameters('kv')"}, SecretDynamic: true}
	assert.Empty(t, dyn.Check())
	assert.Equal(t, "parameters('kv')/(computed)", dyn.String())

	all := Reference{Kind: PipelineTask, Vault: Vault{Name: "kv-app"}, Secret: "*"}
	assert.Empty(t, all.Check())
	// Only the pipeline task means "every secret" by "*" (fuzz crasher: an ARM reference to
	// secret "*" became a lookup of a secret named "*").
	star := Reference{Kind: ARMParameter, Vault: Vault{Name: "kv-app"}, Secret: "*"}
	probs = star.Check()
	require.Len(t, probs, 1)
	assert.Equal(t, "secret name", probs[0].Field)

	// A name beside a valid id is judged too: Resolve builds the vault's host from the name
	// (fuzz crasher: name " " with a valid id became host " .vault.azure.net").
	for _, tc := range []struct {
		name, want string
	}{
		{" ", `" " does not match the vault id's name "kv-app"`},
		{"kv-other", `"kv-other" does not match the vault id's name "kv-app"`},
		{"KV-APP", ""},
	} {
		r := good
		r.Vault.Name = tc.name
		probs := r.Check()
		if tc.want == "" {
			assert.Empty(t, probs, tc.name)
			continue
		}
		require.Len(t, probs, 1, tc.name)
		assert.Equal(t, "vault name", probs[0].Field)
		assert.Contains(t, probs[0].Error(), tc.want)
	}
	broken := good
	broken.Vault.ID, broken.Vault.Name = "/subscriptions/x", " "
	probs = broken.Check()
	require.Len(t, probs, 1, "the id problem says it; the name is not judged twice")
	assert.Equal(t, "vault id", probs[0].Field)
}

func TestAllowList(t *testing.T) {
	a, err := ParseAllowList([]string{"KV-App", " /subscriptions/" + sub + "/resourceGroups/rg-shared/providers/Microsoft.KeyVault/vaults/kv-shared/ ", ""})
	require.NoError(t, err)
	assert.False(t, a.Empty())
	assert.Equal(t, []string{"KV-App", "/subscriptions/" + sub + "/resourceGroups/rg-shared/providers/Microsoft.KeyVault/vaults/kv-shared/"}, a.Items())

	cases := []struct {
		name string
		v    Vault
		want Decision
	}{
		{"name match any case", Vault{Name: "kv-app"}, Allowed},
		{"name entry allows any id of that vault", Vault{Name: "kv-app", ID: "/subscriptions/" + sub + "/resourceGroups/other/providers/Microsoft.KeyVault/vaults/kv-app"}, Allowed},
		{"id match", Vault{Name: "kv-shared", ID: "/subscriptions/" + sub + "/resourceGroups/RG-SHARED/providers/Microsoft.KeyVault/vaults/KV-SHARED"}, Allowed},
		{"same name other group", Vault{Name: "kv-shared", ID: "/subscriptions/" + sub + "/resourceGroups/rg-other/providers/Microsoft.KeyVault/vaults/kv-shared"}, Denied},
		{"id entry by name when no id is known", Vault{Name: "kv-shared"}, Allowed},
		{"other vault", Vault{Name: "kv-rogue"}, Denied},
		{"dynamic", Vault{Dynamic: true, Expression: "$(kv)"}, Unknown},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { assert.Equal(t, c.want, a.Check(c.v)) })
	}

	var none *AllowList
	assert.True(t, none.Empty())
	assert.Equal(t, Allowed, none.Check(Vault{Dynamic: true}))

	_, err = ParseAllowList([]string{"kv_bad"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "kv_bad")
	_, err = ParseAllowList([]string{"/subscriptions/x/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv1"})
	require.Error(t, err)
}
