package azcred_test

import (
	"context"
	"maps"
	"strings"
	"sync"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/keyvault/azcred"
	"github.com/stagegate/stagegate/pkg/keyvault/verify/verifytest"
	"github.com/stagegate/stagegate/pkg/task"
)

func TestCloudByName(t *testing.T) {
	cases := []struct {
		in, name, suffix, mgmt, authority string
		err                               string
	}{
		{in: "", name: "AzureCloud", suffix: "vault.azure.net", mgmt: "https://management.azure.com", authority: "https://login.microsoftonline.com/"},
		{in: "AzureCloud", name: "AzureCloud", suffix: "vault.azure.net", mgmt: "https://management.azure.com", authority: "https://login.microsoftonline.com/"},
		{in: "azureusgovernment", name: "AzureUSGovernment", suffix: "vault.usgovcloudapi.net", mgmt: "https://management.usgovcloudapi.net", authority: "https://login.microsoftonline.us/"},
		{in: " AzureChinaCloud ", name: "AzureChinaCloud", suffix: "vault.azure.cn", mgmt: "https://management.chinacloudapi.cn", authority: "https://login.chinacloudapi.cn/"},
		{in: "AzureStack", err: `environment "AzureStack" is not supported; expected one of AzureCloud, AzureUSGovernment, AzureChinaCloud`},
		{in: "AzureGermanCloud", err: "is not supported"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := azcred.CloudByName(c.in)
			if c.err != "" {
				require.ErrorContains(t, err, c.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.name, got.Name)
			assert.Equal(t, c.suffix, got.VaultSuffix)
			assert.Equal(t, c.mgmt, got.ManagementEndpoint)
			assert.Equal(t, c.mgmt+"/.default", got.ManagementScope())
			assert.Equal(t, c.authority, got.Configuration.ActiveDirectoryAuthorityHost)
			assert.Equal(t, "https://my-vault."+c.suffix+"/", got.VaultURL("My-Vault"))
		})
	}
}

// secrets collects what a run registered with the agent's secret hook.
type secrets struct {
	mu   sync.Mutex
	vals []string
}

func (s *secrets) add(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.vals = append(s.vals, v)
}

func (s *secrets) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.vals...)
}

func TestCredentialPerKindAndCloud(t *testing.T) {
	cert, err := verifytest.NewClientCertificate(1024)
	require.NoError(t, err)
	for _, cl := range azcred.Clouds() {
		for _, kind := range verifytest.Kinds() {
			t.Run(cl.Name+"/"+kind, func(t *testing.T) {
				f := verifytest.New(t)
				conn := f.NewConnection(kind, cl.Name, cert)
				env := conn.Env()
				env[task.JobTokenVar] = f.JobToken
				env[azcred.OIDCRequestURIVar] = f.OIDCRequestURI
				// azidentity reads SYSTEM_OIDCREQUESTURI from the process environment itself.
				t.Setenv(azcred.OIDCRequestURIVar, f.OIDCRequestURI)
				var reg secrets
				id, err := azcred.New(azcred.Config{Env: task.MapEnv(env), OnAgent: true, Connection: conn.ID, Secret: reg.add,
					ClientOptions: azcore.ClientOptions{Transport: f.Client()}})
				require.NoError(t, err)
				assert.Equal(t, cl.Name, id.Cloud.Name)
				assert.Contains(t, id.String(), "service connection "+conn.ID)

				scope := "https://" + cl.VaultSuffix + "/.default"
				tok, err := id.Credential.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{scope}})
				require.NoError(t, err)
				assert.NotEmpty(t, tok.Token)

				login := strings.TrimSuffix(strings.TrimPrefix(cl.Configuration.ActiveDirectoryAuthorityHost, "https://"), "/")
				var tokenReqs []verifytest.Request
				for _, r := range f.Requests() {
					if r.Kind == "token" || r.Kind == "imds" {
						tokenReqs = append(tokenReqs, r)
					}
				}
				require.Len(t, tokenReqs, 1, "one token request")
				tr := tokenReqs[0]
				switch kind {
				case verifytest.KindManaged, verifytest.KindManagedUser:
					assert.Equal(t, "imds", tr.Kind)
					assert.Equal(t, "https://"+cl.VaultSuffix, tr.Scope, "managed identity asks for the resource, not a scope")
					assert.Equal(t, conn.MSIClientID, tr.ClientID)
					assert.Equal(t, azcred.KindManagedIdentity, id.Kind)
				default:
					assert.Equal(t, login, tr.Host, "the connection's cloud selects the authority host")
					assert.Equal(t, conn.ClientID, tr.ClientID)
					assert.Equal(t, conn.ClientID, id.ClientID)
					assert.Equal(t, verifytest.Tenant, id.TenantID)
					assert.Contains(t, id.String(), "client id "+conn.ClientID)
				}
				oidc := f.Count("oidc")
				switch kind {
				case verifytest.KindWorkload:
					assert.Equal(t, 1, oidc, "workload identity federation asks the pipeline's OIDC endpoint for an assertion")
					assert.Equal(t, azcred.KindWorkloadIdentity, id.Kind)
					for _, r := range f.Requests() {
						if r.Kind == "oidc" {
							assert.Contains(t, r.Query, "serviceConnectionId="+conn.ID)
						}
					}
				default:
					assert.Zero(t, oidc)
				}
				switch kind {
				case verifytest.KindSecret:
					assert.Equal(t, []string{verifytest.ClientSecret}, reg.all(), "the client secret is registered before use")
				case verifytest.KindCertificate:
					got := reg.all()
					require.NotEmpty(t, got)
					assert.Equal(t, strings.TrimSpace(conn.CertPEM), got[0], "the whole PEM is registered first")
					keyLines := 0
					for _, line := range strings.Split(string(cert.KeyPEM), "\n") {
						if line != "" && !strings.HasPrefix(line, "-----") {
							assert.Contains(t, got, line, "every line of the private key is masked")
							keyLines++
						}
					}
					assert.Equal(t, keyLines+1, len(got))
					for _, line := range strings.Split(string(cert.PEM), "\n") {
						if strings.HasPrefix(line, "MII") && !strings.Contains(string(cert.KeyPEM), line) {
							assert.NotContains(t, got, line, "certificate lines are public and not masked")
						}
					}
				default:
					assert.Empty(t, reg.all())
				}
			})
		}
	}
}

func TestAuthJSONEndpoint(t *testing.T) {
	f := verifytest.New(t)
	conn := f.NewConnection(verifytest.KindSecret, "AzureCloud", nil)
	conn.AuthJSON = true
	id, err := azcred.New(azcred.Config{Env: task.MapEnv(conn.Env()), OnAgent: true, Connection: conn.ID,
		ClientOptions: azcore.ClientOptions{Transport: f.Client()}})
	require.NoError(t, err)
	_, err = id.Credential.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://vault.azure.net/.default"}})
	require.NoError(t, err)
	assert.Equal(t, azcred.KindSecret, id.Kind)
}

func TestWrongSecretFailsAtTokenTime(t *testing.T) {
	f := verifytest.New(t)
	conn := f.NewConnection(verifytest.KindSecret, "AzureCloud", nil)
	conn.Key = "not-the-secret-value-123"
	id, err := azcred.New(azcred.Config{Env: task.MapEnv(conn.Env()), OnAgent: true, Connection: conn.ID,
		ClientOptions: azcore.ClientOptions{Transport: f.Client()}})
	require.NoError(t, err)
	_, err = id.Credential.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://vault.azure.net/.default"}})
	require.ErrorContains(t, err, "AADSTS7000215")
	assert.NotContains(t, err.Error(), "not-the-secret-value-123")
}

func TestConnectionErrors(t *testing.T) {
	cert, err := verifytest.NewClientCertificate(1024)
	require.NoError(t, err)
	base := func(kind string) map[string]string {
		f := verifytest.New(t)
		env := f.NewConnection(kind, "AzureCloud", cert).Env()
		env[task.JobTokenVar] = "job-token"
		env[azcred.OIDCRequestURIVar] = f.OIDCRequestURI
		return env
	}
	const id = "3b7d6a2e-1111-4c3b-9a55-0123456789ab"
	key := strings.ToUpper(id)
	without := func(env map[string]string, keys ...string) map[string]string {
		out := maps.Clone(env)
		for _, k := range keys {
			delete(out, k)
		}
		return out
	}
	with := func(env map[string]string, k, v string) map[string]string {
		out := maps.Clone(env)
		out[k] = v
		return out
	}
	processOIDC := task.MapEnv(map[string]string{azcred.OIDCRequestURIVar: "https://dev.azure.com/contoso/5c2a/_apis/distributedtask/hubs/build/plans/0d1e/jobs/9f8e/oidctoken"})
	cases := []struct {
		name    string
		env     map[string]string
		conn    string
		onAgent bool
		local   azcred.LocalFunc
		process task.LookupFunc
		want    []string
	}{
		{name: "agent without connection", env: map[string]string{}, onAgent: true, want: []string{`input "azureSubscription": is required`}},
		{name: "local without fallback", env: map[string]string{}, want: []string{`input "azureSubscription"`, "stagegate keyvault"}},
		{name: "connection not exported", env: map[string]string{}, conn: "sc-prod", onAgent: true, want: []string{"service connection sc-prod", "no ENDPOINT_* variables"}},
		{name: "unsupported scheme", env: with(base(verifytest.KindSecret), "ENDPOINT_AUTH_SCHEME_"+key, "PublishProfile"), want: []string{"service connection " + id, "authorization scheme", `"PublishProfile" is not supported`}},
		{name: "unsupported cloud", env: with(base(verifytest.KindSecret), "ENDPOINT_DATA_"+key+"_ENVIRONMENT", "AzureStack"), want: []string{"service connection " + id, `data parameter "environment"`, "AzureStack"}},
		{name: "spn without tenant", env: without(base(verifytest.KindSecret), "ENDPOINT_AUTH_PARAMETER_"+key+"_TENANTID"), want: []string{"service connection " + id, `authorization parameter "tenantid" is missing`}},
		{name: "spn without client id", env: without(base(verifytest.KindSecret), "ENDPOINT_AUTH_PARAMETER_"+key+"_SERVICEPRINCIPALID"), want: []string{`authorization parameter "serviceprincipalid" is missing`}},
		{name: "spn without key", env: without(base(verifytest.KindSecret), "ENDPOINT_AUTH_PARAMETER_"+key+"_SERVICEPRINCIPALKEY"), want: []string{`authorization parameter "serviceprincipalkey" is missing`}},
		{name: "unknown authentication type", env: with(base(verifytest.KindSecret), "ENDPOINT_AUTH_PARAMETER_"+key+"_AUTHENTICATIONTYPE", "spnPassword"), want: []string{`authorization parameter "authenticationType"`, "spnKey or spnCertificate"}},
		{name: "certificate missing", env: without(base(verifytest.KindCertificate), "ENDPOINT_AUTH_PARAMETER_"+key+"_SERVICEPRINCIPALCERTIFICATE"), want: []string{`authorization parameter "servicePrincipalCertificate" is missing`}},
		{name: "certificate without key", env: with(base(verifytest.KindCertificate), "ENDPOINT_AUTH_PARAMETER_"+key+"_SERVICEPRINCIPALCERTIFICATE", strings.Split(string(cert.PEM), "-----BEGIN PRIVATE KEY-----")[0]), want: []string{`"servicePrincipalCertificate" is not a PEM certificate with an unencrypted private key`}},
		{name: "certificate garbage", env: with(base(verifytest.KindCertificate), "ENDPOINT_AUTH_PARAMETER_"+key+"_SERVICEPRINCIPALCERTIFICATE", "hunter2-not-a-pem"), want: []string{`"servicePrincipalCertificate" is not a PEM`}},
		{name: "workload without job token", env: without(base(verifytest.KindWorkload), task.JobTokenVar), process: processOIDC, want: []string{"service connection " + id, task.JobTokenVar, "is not available"}},
		{name: "workload without oidc uri", env: without(base(verifytest.KindWorkload), azcred.OIDCRequestURIVar), process: processOIDC, want: []string{azcred.OIDCRequestURIVar + " is not set"}},
		{name: "workload oidc uri only in the map", env: base(verifytest.KindWorkload), process: task.MapEnv(nil), want: []string{azcred.OIDCRequestURIVar + " must be set in this process's environment"}},
		{name: "workload without client id", env: without(base(verifytest.KindWorkload), "ENDPOINT_AUTH_PARAMETER_"+key+"_SERVICEPRINCIPALID"), process: processOIDC, want: []string{"WorkloadIdentityFederation", `"serviceprincipalid" is missing`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conn := c.conn
			if conn == "" && len(c.env) > 0 {
				conn = id
			}
			process := c.process
			if process == nil {
				process = task.MapEnv(nil)
			}
			var reg secrets
			_, err := azcred.New(azcred.Config{Env: task.MapEnv(c.env), OnAgent: c.onAgent || conn != "", Connection: conn, Secret: reg.add, Local: c.local, ProcessEnv: process})
			require.Error(t, err)
			for _, w := range c.want {
				assert.Contains(t, err.Error(), w)
			}
			// No error quotes a credential from the connection.
			for _, v := range append(reg.all(), verifytest.ClientSecret, "hunter2-not-a-pem") {
				if len(v) > 8 {
					assert.NotContains(t, err.Error(), v)
				}
			}
			assert.NotContains(t, err.Error(), "PRIVATE KEY")
		})
	}
}

func TestLocalDefaultCredential(t *testing.T) {
	f := verifytest.New(t)
	f.NewConnection(verifytest.KindSecret, "AzureUSGovernment", nil)
	// DefaultAzureCredential's first link reads a service principal from the environment.
	t.Setenv("AZURE_TENANT_ID", verifytest.Tenant)
	t.Setenv("AZURE_CLIENT_ID", verifytest.SecretClientID)
	t.Setenv("AZURE_CLIENT_SECRET", verifytest.ClientSecret)
	t.Setenv("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.us/")
	id, err := azcred.New(azcred.Config{OnAgent: false, Local: azcred.DefaultAzureCredential,
		ClientOptions: azcore.ClientOptions{Transport: f.Client()}})
	require.NoError(t, err)
	assert.Equal(t, azcred.KindDefaultCredential, id.Kind)
	assert.Equal(t, "AzureUSGovernment", id.Cloud.Name, "AZURE_AUTHORITY_HOST selects the cloud locally")
	assert.Contains(t, id.String(), "DefaultAzureCredential")
	_, err = id.Credential.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://vault.usgovcloudapi.net/.default"}})
	require.NoError(t, err)
	assert.Equal(t, 1, f.Count("token"))
	for _, r := range f.Requests() {
		if r.Kind == "token" {
			assert.Equal(t, "login.microsoftonline.us", r.Host)
		}
	}
}
