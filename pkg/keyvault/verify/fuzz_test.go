package verify

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/keyvault"
)

func seedDir(f *testing.F, dir string) {
	f.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*"))
	require.NoError(f, err)
	require.NotEmpty(f, files)
	for _, p := range files {
		b, err := os.ReadFile(p)
		require.NoError(f, err)
		f.Add(b)
	}
}

func TestParseAPIError(t *testing.T) {
	cases := map[string]apiError{
		"forbidden-rbac.json":   {Code: "Forbidden", Inner: "ForbiddenByRbac"},
		"forbidden-policy.json": {Code: "Forbidden", Inner: "AccessDenied"},
		"firewall.json":         {Code: "Forbidden", Inner: "ForbiddenByFirewall"},
		"not-found.json":        {Code: "SecretNotFound"},
		"not-json.txt":          {},
	}
	for file, want := range cases {
		b, err := os.ReadFile(filepath.Join("testdata", "errors", file))
		require.NoError(t, err)
		got := parseAPIError(b)
		assert.Equal(t, want.Code, got.Code, file)
		assert.Equal(t, want.Inner, got.Inner, file)
		assert.NotContains(t, got.Message, "\n", "messages are one line")
	}
	fw := parseAPIError([]byte(`{"error":{"code":"Forbidden","message":"Client address is not authorized"}}`))
	assert.Contains(t, forbiddenAdvice(fw, "kv.vault.azure.net", "me"), "network rules", "the firewall is recognised by its message too")
}

func FuzzParseAPIError(f *testing.F) {
	seedDir(f, "errors")
	f.Fuzz(func(t *testing.T, body []byte) {
		e := parseAPIError(body)
		for _, s := range []string{e.Code, e.Inner, e.Message} {
			if strings.ContainsAny(s, "\r\n") {
				t.Fatalf("multi-line field %q", s)
			}
			if !utf8.ValidString(s) && utf8.ValidString(string(body)) {
				t.Fatalf("clipping broke UTF-8: %q", s)
			}
		}
		if len([]rune(e.Message)) > 300 || len([]rune(e.Code)) > 80 {
			t.Fatalf("unclipped field")
		}
		_ = forbiddenAdvice(e, "kv.vault.azure.net", "someone")
	})
}

func TestParseVaultProperties(t *testing.T) {
	cases := map[string]struct {
		enabled bool
		err     string
	}{
		"enabled.json":       {enabled: true},
		"absent-flag.json":   {enabled: false},
		"disabled.json":      {enabled: false},
		"no-properties.json": {err: "no properties"},
	}
	for file, want := range cases {
		b, err := os.ReadFile(filepath.Join("testdata", "vaults", file))
		require.NoError(t, err)
		got, err := parseVaultProperties(b)
		if want.err != "" {
			require.ErrorContains(t, err, want.err, file)
			continue
		}
		require.NoError(t, err, file)
		assert.Equal(t, want.enabled, got, file)
	}
	_, err := parseVaultProperties([]byte("<html>"))
	require.ErrorContains(t, err, "not a vault resource")
}

func FuzzParseVaultProperties(f *testing.F) {
	seedDir(f, "vaults")
	f.Fuzz(func(t *testing.T, body []byte) {
		enabled, err := parseVaultProperties(body)
		if err != nil && enabled {
			t.Fatalf("enabled reported with an error")
		}
	})
}

// FuzzResolve feeds arbitrary reference fields through Resolve: it must never panic, and a
// reference is either one lookup of a well-formed secret or reported as not verified.
func FuzzResolve(f *testing.F) {
	f.Add("arm-parameter", "kv-prod", "", prodID, "db-password", "", false, false)
	f.Add("secret-uri", "kv-prod", "kv-prod.vault.azure.net", "", "db", "0123456789abcdef0123456789abcdef", false, false)
	f.Add("bicep-getsecret", "", "", "", "", "", true, true)
	f.Add("pipeline-task", "kv", "", "", "*", "", false, false)
	f.Add("secret-uri", "x", "x.vault.azure.cn:443", "", "a", "", false, false)
	f.Add("terraform-data", "Kv--x", "", "/subscriptions/x", "db_1", "latest", false, false)
	f.Fuzz(func(t *testing.T, kind, name, host, id, secret, version string, dynVault, dynSecret bool) {
		ref := keyvault.Reference{Kind: keyvault.Kind(kind), Vault: keyvault.Vault{Name: name, Host: host, ID: id, Dynamic: dynVault},
			Secret: secret, SecretDynamic: dynSecret, Version: version}
		p := Resolve([]keyvault.Reference{ref}, "vault.azure.net")
		if len(p.Targets)+len(p.Unresolved) != 1 {
			t.Fatalf("reference neither resolved nor reported: %+v", p)
		}
		for _, u := range p.Unresolved {
			if u.Reason == "" {
				t.Fatalf("not verified without a reason")
			}
		}
		for _, tg := range p.Targets {
			if err := keyvault.ValidateSecretName(tg.Secret); err != nil {
				t.Fatalf("target with a bad secret name %q: %v", tg.Secret, err)
			}
			if !strings.HasSuffix(tg.Host, ".vault.azure.net") || strings.ContainsAny(tg.Host, "/:@?# ") {
				t.Fatalf("target host %q", tg.Host)
			}
			if _, ok := keyvault.IsVaultHost(tg.Host); !ok {
				t.Fatalf("target host %q is not a vault host", tg.Host)
			}
			if tg.Version != "" && keyvault.ValidateVersion(tg.Version) != nil {
				t.Fatalf("target version %q", tg.Version)
			}
			if dynVault || dynSecret {
				t.Fatalf("a computed reference was resolved")
			}
		}
	})
}
