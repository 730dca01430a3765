package verify

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/finding"
	"github.com/stagegate/stagegate/pkg/keyvault"
	"github.com/stagegate/stagegate/pkg/keyvault/azcred"
	"github.com/stagegate/stagegate/pkg/keyvault/verify/verifytest"
	"github.com/stagegate/stagegate/pkg/task"
)

// fixture is a fake Azure with one identity of a kind in a cloud.
type fixture struct {
	f     *verifytest.Fake
	id    *azcred.Identity
	cloud azcred.Cloud
}

func newFixture(t testing.TB, kind, cloudName string) *fixture {
	t.Helper()
	f := verifytest.New(t)
	var cert *verifytest.ClientCertificate
	if kind == verifytest.KindCertificate {
		var err error
		cert, err = verifytest.NewClientCertificate(1024)
		require.NoError(t, err)
	}
	conn := f.NewConnection(kind, cloudName, cert)
	env := conn.Env()
	if kind == verifytest.KindWorkload {
		env[task.JobTokenVar] = f.JobToken
		env[azcred.OIDCRequestURIVar] = f.OIDCRequestURI
		t.Setenv(azcred.OIDCRequestURIVar, f.OIDCRequestURI)
	}
	id, err := azcred.New(azcred.Config{Env: task.MapEnv(env), OnAgent: true, Connection: conn.ID,
		ClientOptions: azcore.ClientOptions{Transport: f.Client()}})
	require.NoError(t, err)
	return &fixture{f: f, id: id, cloud: id.Cloud}
}

func (fx *fixture) verifier(t testing.TB, change func(*Options)) *Verifier {
	t.Helper()
	o := Options{Identity: fx.id, Now: now, ExpiryWarningDays: 30, RequireExpiry: true,
		ClientOptions: azcore.ClientOptions{Transport: fx.f.Client(), Retry: policy.RetryOptions{RetryDelay: time.Millisecond, MaxRetryDelay: 5 * time.Second}}}
	if change != nil {
		change(&o)
	}
	v, err := New(o)
	require.NoError(t, err)
	return v
}

func (fx *fixture) host(vault string) string { return vault + "." + fx.cloud.VaultSuffix }

func vid(group, name string) string {
	return "/subscriptions/" + sub + "/resourceGroups/" + group + "/providers/Microsoft.KeyVault/vaults/" + name
}

func ref(kind keyvault.Kind, vault keyvault.Vault, secret, version, path string, line int) keyvault.Reference {
	return keyvault.Reference{Kind: kind, Vault: vault, Secret: secret, Version: version,
		Source: keyvault.Source{Path: path, Line: line, Column: 5, Logical: fmt.Sprintf("/parameters/p%d/reference", line)}, Parameter: fmt.Sprintf("p%d", line)}
}

func armVault(group, name string) keyvault.Vault {
	return keyvault.Vault{ID: vid(group, name), Name: name, SubscriptionID: sub, ResourceGroup: group}
}

// assertListOnly proves that no request could have read a secret value: every data-plane
// request is a list of one secret's versions.
func assertListOnly(t *testing.T, f *verifytest.Fake) {
	t.Helper()
	for _, r := range f.Requests() {
		if r.Kind == "vault" {
			assert.True(t, IsVersionListPath(r.Method, r.Path), "request %s %s is not a version list", r.Method, r.Path)
		}
		assert.NotEqual(t, "unknown", r.Kind, "unexpected request %+v", r)
	}
}

func TestRulesFireAndStayQuiet(t *testing.T) {
	fx := newFixture(t, verifytest.KindSecret, "AzureCloud")
	v1, v2 := verifytest.VersionID("p1"), verifytest.VersionID("p2")
	fx.f.AddVault(fx.host("kv-prod"), &verifytest.Vault{ResourceID: vid("rg-prod", "kv-prod"), EnabledForTemplateDeployment: true, Secrets: map[string][]verifytest.Version{
		"ok-secret": {{Enabled: true, Created: now.Add(-day), Expires: now.Add(90 * day)}},
		"expiring":  {{Enabled: true, Created: now.Add(-day), Expires: now.Add(10 * day)}},
		"no-expiry": {{Enabled: true, Created: now.Add(-day)}},
		"disabled":  {{Enabled: false, Created: now.Add(-day), Expires: now.Add(90 * day)}},
		"expired":   {{Enabled: true, Created: now.Add(-90 * day), Expires: now.Add(-day)}},
		"future":    {{Enabled: true, Created: now.Add(-day), NotBefore: now.Add(2 * day), Expires: now.Add(90 * day)}},
		"Pinned": {
			{ID: v1, Enabled: true, Created: now.Add(-10 * day), Expires: now.Add(90 * day)},
			{ID: v2, Enabled: false, Created: now.Add(-day), Expires: now.Add(90 * day)},
		},
	}})
	fx.f.AddVault(fx.host("kv-legacy"), &verifytest.Vault{ResourceID: vid("rg-old", "kv-legacy"), EnabledForTemplateDeployment: false, EmptyListForMissing: true, Secrets: map[string][]verifytest.Version{
		"db": {{Enabled: true, Created: now.Add(-day), Expires: now.Add(200 * day)}},
	}})
	prod, legacy := armVault("rg-prod", "kv-prod"), armVault("rg-old", "kv-legacy")
	const p = "infra/app.parameters.json"
	refs := []keyvault.Reference{
		ref(keyvault.ARMParameter, prod, "ok-secret", "", p, 1),
		ref(keyvault.ARMParameter, prod, "expiring", "", p, 2),
		ref(keyvault.BicepGetSecret, keyvault.Vault{Name: "kv-prod"}, "no-expiry", "", "main.bicep", 3),
		ref(keyvault.TerraformData, keyvault.Vault{Name: "kv-prod"}, "disabled", "", "main.tf", 4),
		ref(keyvault.SecretURI, keyvault.Vault{Name: "kv-prod", Host: "kv-prod.vault.azure.net"}, "expired", "", "app.json", 5),
		ref(keyvault.ARMParameter, prod, "future", "", p, 6),
		ref(keyvault.ARMParameter, prod, "pinned", v1, p, 7),
		ref(keyvault.ARMParameter, prod, "pinned", verifytest.VersionID("gone"), p, 8),
		ref(keyvault.ARMParameter, prod, "pinned", "", p, 9),
		ref(keyvault.ARMParameter, prod, "ghost", "", p, 10),
		ref(keyvault.ARMParameter, legacy, "db", "", "old.parameters.json", 11),
		ref(keyvault.ARMParameter, legacy, "ghost2", "", "old.parameters.json", 12),
		ref(keyvault.ARMParameter, armVault("rg-wrong", "kv-prod"), "ok-secret", "", "wrong.parameters.json", 13),
		ref(keyvault.ARMParameter, keyvault.Vault{Dynamic: true, Expression: "[parameters('vaultId')]"}, "ok-secret", "", p, 14),
		ref(keyvault.ARMParameter, prod, "ok-secret", "", "copy.parameters.json", 15),
	}
	v := fx.verifier(t, nil)
	fs, err := v.Verify(context.Background(), refs)
	require.NoError(t, err)

	got := map[string]string{}
	for _, f := range fs {
		key := fmt.Sprintf("%s %s:%d", f.Rule, f.Location.Path, f.Location.Line)
		assert.NotContains(t, got, key, "one finding per rule and reference")
		got[key] = f.Message
		assert.Equal(t, CheckName, f.Check)
		assert.Len(t, f.Fingerprint, 32)
		assert.Equal(t, map[string]finding.Severity{KV012: finding.Error, KV013: finding.Warning, KV014: finding.Error}[f.Rule], f.Severity)
	}
	want := map[string]string{
		"KV013 " + p + ":2":              "vault kv-prod: secret 'expiring' (current version",
		"KV013 main.bicep:3":             "has no expiry date (requireExpiry is true)",
		"KV012 main.tf:4":                "is disabled",
		"KV012 app.json:5":               "expired on 2026-11-28 12:00 UTC",
		"KV012 " + p + ":6":              "is not valid before 2026-12-01 12:00 UTC",
		"KV012 " + p + ":8":              "has no version " + verifytest.VersionID("gone"),
		"KV012 " + p + ":9":              "(current version " + v2 + ") is disabled; version " + v1 + " is enabled",
		"KV012 " + p + ":10":             "secret 'ghost' does not exist (404 SecretNotFound)",
		"KV014 old.parameters.json:11":   "vault kv-legacy does not allow template deployment (enabledForTemplateDeployment is false)",
		"KV014 old.parameters.json:12":   "vault kv-legacy does not allow template deployment",
		"KV012 old.parameters.json:12":   "secret 'ghost2' does not exist (no versions)",
		"KV014 wrong.parameters.json:13": "does not exist (404 ResourceNotFound)",
	}
	for k, msg := range want {
		if assert.Contains(t, got, k) {
			assert.Contains(t, got[k], msg, k)
		}
	}
	for k := range got {
		assert.Contains(t, want, k, "unexpected finding %s: %s", k, got[k])
	}
	assert.Contains(t, got["KV012 "+p+":8"], "(referenced for parameter 'p8')")

	// Every reference appears in the table: distinct secrets plus the one not verified.
	tbl := v.Table()
	assert.Equal(t, []string{"Vault", "Secret", "Version", "State", "Expires", "Referenced from"}, tbl.Header)
	states := map[string]string{}
	for _, row := range tbl.Rows {
		states[row[0]+"/"+row[1]+"/"+row[2]] = row[3] + " | " + row[4] + " | " + row[5]
	}
	var okRow string
	for k, s := range states {
		if strings.HasPrefix(k, "kv-prod/ok-secret/current") {
			okRow = s
		}
	}
	assert.True(t, strings.HasPrefix(okRow, "verified ok | 2027-02-27 | "), okRow)
	assert.Contains(t, okRow, "and 2 more", "references to one secret share a row")
	assert.Equal(t, "KV012: secret 'pinned' has no version "+verifytest.VersionID("gone")+" (it has 2 other versions) | - | "+p+":8", states["kv-prod/pinned/"+verifytest.VersionID("gone")])
	assert.True(t, strings.HasPrefix(states["kv-prod/pinned/"+v1], "verified ok"), states["kv-prod/pinned/"+v1])
	assert.Equal(t, "not verified: the vault is computed at deployment time ([parameters('vaultId')]) | - | "+p+":14", states["[parameters('vaultId')]/ok-secret/current"])
	for k, s := range states {
		if strings.Contains(k, "no-expiry") {
			assert.Contains(t, s, "| never |")
		}
	}

	st := v.Stats()
	assert.Equal(t, len(refs), st.References)
	assert.Equal(t, 12, st.Secrets, "15 references, 1 not verifiable, 3 sharing a lookup")
	assert.Equal(t, 1, st.NotVerified)
	assert.Equal(t, 2, st.Vaults)
	assert.Equal(t, 12, v.Verified())
	// One list per secret plus one unauthenticated challenge per vault; three vault reads.
	assert.Equal(t, int64(12+2), st.VaultRequests)
	assert.Equal(t, int64(3), st.ManagementRequests)
	assert.Equal(t, 14, fx.f.Count("vault"))
	assert.Equal(t, 3, fx.f.Count("arm"))
	assert.Contains(t, v.Detail(), "12 secrets looked up in 2 vaults as service principal with client id "+verifytest.SecretClientID)
	assert.Contains(t, v.Detail(), "14 Key Vault requests, 3 Resource Manager requests")
	assert.Contains(t, v.Detail(), "1 reference not verified")
	notes := v.Notes()
	require.Len(t, notes, 2)
	assert.Contains(t, notes[0], "1 Key Vault reference could not be verified")
	assert.Contains(t, notes[1], "KV014 (enabledForTemplateDeployment) was not checked for 1 deployment-time reference")
	assertListOnly(t, fx.f)
}

// The identity never reads a secret value: the pipeline refuses anything but a version list,
// before a request leaves the process.
func TestGuardRefusesValueReads(t *testing.T) {
	fx := newFixture(t, verifytest.KindSecret, "AzureCloud")
	fx.f.AddVault(fx.host("kv-prod"), &verifytest.Vault{Secrets: map[string][]verifytest.Version{"db": {{Enabled: true, Created: now}}}})
	v := fx.verifier(t, nil)
	c, err := v.newSecretsClient(fx.host("kv-prod"))
	require.NoError(t, err)
	ctx := context.Background()
	_, err = c.GetSecret(ctx, "db", "", nil)
	require.ErrorContains(t, err, "refusing GET /secrets/db/: reference verification only lists secret versions and never reads secret values")
	_, err = c.GetSecret(ctx, "db", verifytest.VersionID("x"), nil)
	require.ErrorContains(t, err, "refusing GET /secrets/db/"+verifytest.VersionID("x"))
	pager := c.NewListSecretPropertiesPager(nil)
	_, err = pager.NextPage(ctx)
	require.ErrorContains(t, err, "refusing GET /secrets")
	assert.Zero(t, fx.f.Count("vault"), "nothing reached the vault")

	pv := c.NewListSecretPropertiesVersionsPager("db", nil)
	page, err := pv.NextPage(ctx)
	require.NoError(t, err)
	require.Len(t, page.Value, 1)
	assertListOnly(t, fx.f)

	cases := []struct {
		method, path string
		ok           bool
	}{
		{"GET", "/secrets/db/versions", true},
		{"GET", "/secrets/db/versions/", true},
		{"GET", "/secrets/db", false},
		{"GET", "/secrets/db/", false},
		{"GET", "/secrets/db/0123", false},
		{"GET", "/secrets/versions", false},
		{"GET", "/secrets//versions", false},
		{"GET", "/secrets", false},
		{"GET", "/deletedsecrets/db/versions", false},
		{"GET", "/secrets/db/versions/extra", false},
		{"POST", "/secrets/db/versions", false},
		{"PUT", "/secrets/db", false},
	}
	for _, c := range cases {
		assert.Equal(t, c.ok, IsVersionListPath(c.method, c.path), "%s %s", c.method, c.path)
	}
}

func TestEveryCredentialKindInEveryCloud(t *testing.T) {
	for _, cl := range azcred.Clouds() {
		for _, kind := range verifytest.Kinds() {
			t.Run(cl.Name+"/"+kind, func(t *testing.T) {
				fx := newFixture(t, kind, cl.Name)
				fx.f.AddVault(fx.host("kv-app"), &verifytest.Vault{ResourceID: vid("rg", "kv-app"), EnabledForTemplateDeployment: true, Secrets: map[string][]verifytest.Version{
					"api-key": {{Enabled: true, Created: now.Add(-day), Expires: now.Add(60 * day)}},
				}})
				refs := []keyvault.Reference{
					ref(keyvault.ARMParameter, armVault("rg", "kv-app"), "api-key", "", "a.parameters.json", 1),
					ref(keyvault.TerraformData, keyvault.Vault{Name: "kv-app"}, "api-key", "", "main.tf", 2),
				}
				v := fx.verifier(t, nil)
				fs, err := v.Verify(context.Background(), refs)
				require.NoError(t, err)
				assert.Empty(t, fs, "a healthy secret in a vault that allows template deployment raises nothing")
				assert.Equal(t, 1, v.Verified())
				hosts := map[string]int{}
				for _, r := range fx.f.Requests() {
					hosts[r.Kind+" "+r.Host]++
				}
				assert.Equal(t, 2, hosts["vault kv-app."+cl.VaultSuffix], "challenge plus one list")
				assert.Equal(t, 1, hosts["arm "+strings.TrimPrefix(cl.ManagementEndpoint, "https://")])
				login := strings.TrimSuffix(strings.TrimPrefix(cl.Configuration.ActiveDirectoryAuthorityHost, "https://"), "/")
				switch kind {
				case verifytest.KindManaged, verifytest.KindManagedUser:
					assert.Equal(t, 2, fx.f.Count("imds"), "one token per audience (Key Vault, Resource Manager)")
				default:
					assert.Equal(t, 2, hosts["token "+login], "one token per audience from the cloud's authority")
				}
				if kind == verifytest.KindWorkload {
					assert.GreaterOrEqual(t, fx.f.Count("oidc"), 1)
				}
				assertListOnly(t, fx.f)
			})
		}
	}
}

func TestPaging(t *testing.T) {
	fx := newFixture(t, verifytest.KindSecret, "AzureCloud")
	var versions []verifytest.Version
	for i := 0; i < 60; i++ {
		versions = append(versions, verifytest.Version{ID: verifytest.VersionID(fmt.Sprint(i)), Enabled: i != 59, Created: now.Add(time.Duration(i-100) * time.Hour), Expires: now.Add(90 * day)})
	}
	fx.f.AddVault(fx.host("kv-big"), &verifytest.Vault{PageSize: 25, Secrets: map[string][]verifytest.Version{"rotated": versions}})
	refs := []keyvault.Reference{
		ref(keyvault.TerraformData, keyvault.Vault{Name: "kv-big"}, "rotated", "", "main.tf", 1),
		ref(keyvault.TerraformData, keyvault.Vault{Name: "kv-big"}, "rotated", verifytest.VersionID("3"), "main.tf", 2),
	}
	v := fx.verifier(t, nil)
	fs, err := v.Verify(context.Background(), refs)
	require.NoError(t, err)
	require.Len(t, fs, 1)
	assert.Contains(t, fs[0].Message, "(current version "+verifytest.VersionID("59")+") is disabled; version "+verifytest.VersionID("58")+" is enabled", "the newest version is on the last page")
	// Unpinned: 3 pages. Pinned: found on the first page, listing stops. Plus one challenge.
	assert.Equal(t, 5, fx.f.Count("vault"))
	assertListOnly(t, fx.f)
}

func TestRefusedVaultFailsClosedWithAdvice(t *testing.T) {
	cases := []struct {
		name        string
		status      int
		code, inner string
		want        []string
	}{
		{name: "RBAC", status: 403, code: "Forbidden", inner: "ForbiddenByRbac", want: []string{"vault kv-locked.vault.azure.net: 403 Forbidden/ForbiddenByRbac", "service principal with client id " + verifytest.SecretClientID, "may not list the secrets of vault kv-locked", `"Key Vault Reader" role`}},
		{name: "access policy", status: 403, code: "Forbidden", inner: "AccessDenied", want: []string{"403 Forbidden/AccessDenied", "client id " + verifytest.SecretClientID, "secret permission List in the vault's access policies (not Get)"}},
		{name: "firewall", status: 403, code: "Forbidden", inner: "ForbiddenByFirewall", want: []string{"403 Forbidden/ForbiddenByFirewall", "network rules refuse this agent"}},
		{name: "token refused", status: 401, code: "Unauthorized", want: []string{"vault kv-locked.vault.azure.net: 401 Unauthorized", "refused the token of service principal with client id " + verifytest.SecretClientID, "another Microsoft Entra tenant"}},
		{name: "server error", status: 503, code: "ServiceUnavailable", want: []string{"vault kv-locked.vault.azure.net: 503 ServiceUnavailable after retries", "fails closed"}},
		{name: "bad request", status: 400, code: "BadParameter", want: []string{"400 BadParameter: unexpected answer"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fx := newFixture(t, verifytest.KindSecret, "AzureCloud")
			fx.f.AddVault(fx.host("kv-ok"), &verifytest.Vault{Secrets: map[string][]verifytest.Version{"db": {{Enabled: true, Expires: now.Add(60 * day)}}}})
			fx.f.AddVault(fx.host("kv-locked"), &verifytest.Vault{Status: c.status, ErrorCode: c.code, InnerCode: c.inner, Secrets: map[string][]verifytest.Version{}})
			refs := []keyvault.Reference{ref(keyvault.TerraformData, keyvault.Vault{Name: "kv-ok"}, "db", "", "main.tf", 1)}
			for i := 0; i < 20; i++ {
				refs = append(refs, ref(keyvault.TerraformData, keyvault.Vault{Name: "kv-locked"}, fmt.Sprintf("s%d", i), "", "main.tf", 10+i))
			}
			v := fx.verifier(t, nil)
			fs, err := v.Verify(context.Background(), refs)
			require.Error(t, err, "a vault that refuses fails the verification")
			assert.Nil(t, fs)
			for _, w := range c.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.NotContains(t, err.Error(), "\n", "one line")
			locked := 0
			for _, r := range fx.f.Requests() {
				if r.Kind == "vault" && strings.HasPrefix(r.Host, "kv-locked") {
					locked++
				}
			}
			attempts := 2 // challenge + one list
			if c.status >= 500 {
				attempts = 1 + 5 // challenge + first try and 4 retries
			}
			assert.Equal(t, attempts, locked, "the first failure stops the other 19 lookups against that vault")
			assertListOnly(t, fx.f)
		})
	}
}

func TestThrottling(t *testing.T) {
	t.Run("retried honouring Retry-After", func(t *testing.T) {
		fx := newFixture(t, verifytest.KindSecret, "AzureCloud")
		fx.f.AddVault(fx.host("kv-busy"), &verifytest.Vault{Throttle: 1, RetryAfter: "1", Secrets: map[string][]verifytest.Version{"db": {{Enabled: true, Expires: now.Add(60 * day)}}}})
		v := fx.verifier(t, nil)
		fs, err := v.Verify(context.Background(), []keyvault.Reference{ref(keyvault.TerraformData, keyvault.Vault{Name: "kv-busy"}, "db", "", "main.tf", 1)})
		require.NoError(t, err)
		assert.Empty(t, fs)
		assert.Equal(t, 3, fx.f.Count("vault"), "challenge, 429, success")
		assert.Equal(t, int64(3), v.Stats().VaultRequests)
		assert.GreaterOrEqual(t, v.Stats().Duration, time.Second, "the Retry-After: 1 wait was honoured (RetryDelay is 1 ms)")
	})
	t.Run("Retry-After beyond the cap gives up at once", func(t *testing.T) {
		fx := newFixture(t, verifytest.KindSecret, "AzureCloud")
		fx.f.AddVault(fx.host("kv-busy"), &verifytest.Vault{Throttle: 100, RetryAfter: "3600", Secrets: map[string][]verifytest.Version{"db": {{Enabled: true}}}})
		v := fx.verifier(t, nil)
		_, err := v.Verify(context.Background(), []keyvault.Reference{ref(keyvault.TerraformData, keyvault.Vault{Name: "kv-busy"}, "db", "", "main.tf", 1)})
		require.ErrorContains(t, err, "vault kv-busy.vault.azure.net: 429 throttled")
		assert.Contains(t, err.Error(), "honouring Retry-After")
		assert.Equal(t, 2, fx.f.Count("vault"), "an hour's Retry-After is not waited for")
	})
	t.Run("persistent throttling exhausts the retries", func(t *testing.T) {
		fx := newFixture(t, verifytest.KindSecret, "AzureCloud")
		fx.f.AddVault(fx.host("kv-busy"), &verifytest.Vault{Throttle: 100, Secrets: map[string][]verifytest.Version{"db": {{Enabled: true}}}})
		v := fx.verifier(t, nil)
		_, err := v.Verify(context.Background(), []keyvault.Reference{ref(keyvault.TerraformData, keyvault.Vault{Name: "kv-busy"}, "db", "", "main.tf", 1)})
		require.ErrorContains(t, err, "429 throttled")
		assert.Equal(t, 1+5, fx.f.Count("vault"), "at least three retries (four) before giving up")
	})
	t.Run("the deadline caps the total time", func(t *testing.T) {
		fx := newFixture(t, verifytest.KindSecret, "AzureCloud")
		fx.f.AddVault(fx.host("kv-busy"), &verifytest.Vault{Throttle: 100, RetryAfter: "30", Secrets: map[string][]verifytest.Version{"db": {{Enabled: true}}}})
		v := fx.verifier(t, func(o *Options) { o.ClientOptions.Retry.MaxRetryDelay = time.Minute })
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		_, err := v.Verify(ctx, []keyvault.Reference{ref(keyvault.TerraformData, keyvault.Vault{Name: "kv-busy"}, "db", "", "main.tf", 1)})
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Contains(t, err.Error(), "did not finish before the task's deadline")
	})
}

func TestUnreachableVaultFailsClosed(t *testing.T) {
	fx := newFixture(t, verifytest.KindSecret, "AzureCloud")
	fx.f.AddVault(fx.host("kv-ok"), &verifytest.Vault{Secrets: map[string][]verifytest.Version{"db": {{Enabled: true, Expires: now.Add(60 * day)}}}})
	fx.f.AddVault(fx.host("kv-typo"), &verifytest.Vault{Down: true})
	v := fx.verifier(t, nil)
	_, err := v.Verify(context.Background(), []keyvault.Reference{
		ref(keyvault.TerraformData, keyvault.Vault{Name: "kv-ok"}, "db", "", "main.tf", 1),
		ref(keyvault.TerraformData, keyvault.Vault{Name: "kv-typo"}, "db", "", "main.tf", 2),
		ref(keyvault.TerraformData, keyvault.Vault{Name: "kv-typo"}, "other", "", "main.tf", 3),
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "vault kv-typo.vault.azure.net is unreachable: its name does not resolve")
	assert.Contains(t, err.Error(), "check the vault name")
	var results []string
	for _, r := range v.Results() {
		results = append(results, r.Vault+"/"+r.Secret+": "+string(r.State))
	}
	sort.Strings(results)
	assert.Equal(t, []string{"kv-ok/db: verified", "kv-typo/db: not verified", "kv-typo/other: not verified"}, results, "a vault that cannot be read is never counted as verified")
	assert.Equal(t, 1, v.Verified())
}

func TestResourceManagerRefusal(t *testing.T) {
	fx := newFixture(t, verifytest.KindSecret, "AzureCloud")
	fx.f.AddVault(fx.host("kv-prod"), &verifytest.Vault{ResourceID: vid("rg", "kv-prod"), ARMStatus: http.StatusForbidden, Secrets: map[string][]verifytest.Version{"db": {{Enabled: true, Expires: now.Add(60 * day)}}}})
	v := fx.verifier(t, nil)
	_, err := v.Verify(context.Background(), []keyvault.Reference{ref(keyvault.ARMParameter, armVault("rg", "kv-prod"), "db", "", "a.parameters.json", 1)})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "read vault "+vid("rg", "kv-prod")+" from Resource Manager: 403 AuthorizationFailed")
	assert.Contains(t, err.Error(), "client id "+verifytest.SecretClientID)
	assert.Contains(t, err.Error(), `"Reader" or "Key Vault Reader" role on the vault (Microsoft.KeyVault/vaults/read)`)
}

func TestConcurrencyDeduplicatesAndPrimesEachVaultOnce(t *testing.T) {
	fx := newFixture(t, verifytest.KindSecret, "AzureCloud")
	var refs []keyvault.Reference
	for vi := 0; vi < 4; vi++ {
		name := fmt.Sprintf("kv-%d", vi)
		secrets := map[string][]verifytest.Version{}
		for si := 0; si < 10; si++ {
			s := fmt.Sprintf("s%d", si)
			secrets[s] = []verifytest.Version{{Enabled: true, Created: now.Add(-day), Expires: now.Add(60 * day)}}
			for dup := 0; dup < 3; dup++ {
				refs = append(refs, ref(keyvault.TerraformData, keyvault.Vault{Name: name}, s, "", fmt.Sprintf("m%d.tf", dup), vi*100+si))
			}
		}
		fx.f.AddVault(fx.host(name), &verifytest.Vault{Secrets: secrets})
	}
	v := fx.verifier(t, func(o *Options) { o.Concurrency = 16 })
	fs, err := v.Verify(context.Background(), refs)
	require.NoError(t, err)
	assert.Empty(t, fs)
	assert.Equal(t, 40, v.Verified())
	unauth := 0
	for _, r := range fx.f.Requests() {
		if r.Kind == "vault" && !r.Authenticated {
			unauth++
		}
	}
	assert.Equal(t, 4, unauth, "one challenge round trip per vault, even with 16 lookups in flight")
	assert.Equal(t, 44, fx.f.Count("vault"), "120 references, 40 distinct secrets")
	assert.Equal(t, 1, fx.f.Count("token"), "one token for all vaults")
}

func TestCancelledBeforeStart(t *testing.T) {
	fx := newFixture(t, verifytest.KindSecret, "AzureCloud")
	fx.f.AddVault(fx.host("kv-ok"), &verifytest.Vault{Secrets: map[string][]verifytest.Version{"db": {{Enabled: true}}}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	v := fx.verifier(t, nil)
	_, err := v.Verify(ctx, []keyvault.Reference{ref(keyvault.TerraformData, keyvault.Vault{Name: "kv-ok"}, "db", "", "main.tf", 1)})
	require.ErrorIs(t, err, context.Canceled)
	assert.Zero(t, v.Verified())
}

func TestNoReferences(t *testing.T) {
	fx := newFixture(t, verifytest.KindSecret, "AzureCloud")
	v := fx.verifier(t, nil)
	fs, err := v.Verify(context.Background(), nil)
	require.NoError(t, err)
	assert.Empty(t, fs)
	assert.Empty(t, fx.f.Requests(), "no reference, no request")
	assert.Equal(t, [][]string{{"-", "no Key Vault references", "", "", "", ""}}, v.Table().Rows)
}

func TestNewNeedsAnIdentity(t *testing.T) {
	_, err := New(Options{})
	require.ErrorContains(t, err, "no identity")
}
