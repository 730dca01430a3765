package verifytest

import (
	"encoding/json"
	"strings"
)

// Connection is an AzureRM service connection as the agent exports it (ENDPOINT_*).
type Connection struct {
	ID string
	// Scheme is WorkloadIdentityFederation, ServicePrincipal or ManagedServiceIdentity.
	Scheme string
	// AuthType is spnKey or spnCertificate (ServicePrincipal).
	AuthType    string
	TenantID    string
	ClientID    string
	Key         string // serviceprincipalkey
	CertPEM     string // servicePrincipalCertificate
	MSIClientID string // data msiclientId
	// Environment is the cloud: AzureCloud, AzureUSGovernment, AzureChinaCloud.
	Environment string
	// AuthJSON exports the authorization as ENDPOINT_AUTH_<ID> JSON (as newer agents do)
	// instead of one variable per parameter.
	AuthJSON bool
}

// Env returns the connection's environment variables.
func (c Connection) Env() map[string]string {
	key := strings.ToUpper(strings.NewReplacer(".", "_", " ", "_").Replace(c.ID))
	m := map[string]string{
		"ENDPOINT_URL_" + key:         "https://management.azure.com/",
		"ENDPOINT_AUTH_SCHEME_" + key: c.Scheme,
	}
	params := map[string]string{}
	set := func(k, v string) {
		if v != "" {
			params[k] = v
		}
	}
	set("tenantid", c.TenantID)
	set("serviceprincipalid", c.ClientID)
	set("serviceprincipalkey", c.Key)
	set("authenticationType", c.AuthType)
	set("servicePrincipalCertificate", c.CertPEM)
	if c.AuthJSON {
		b, _ := json.Marshal(map[string]any{"parameters": params, "scheme": c.Scheme})
		m["ENDPOINT_AUTH_"+key] = string(b)
	} else {
		for k, v := range params {
			m["ENDPOINT_AUTH_PARAMETER_"+key+"_"+strings.ToUpper(k)] = v
		}
	}
	if c.Environment != "" {
		m["ENDPOINT_DATA_"+key+"_ENVIRONMENT"] = c.Environment
	}
	if c.MSIClientID != "" {
		m["ENDPOINT_DATA_"+key+"_MSICLIENTID"] = c.MSIClientID
	}
	return m
}

// Identity kinds NewConnection can register.
const (
	KindSecret      = "secret"
	KindCertificate = "certificate"
	KindWorkload    = "workload"
	KindManaged     = "managed"
	KindManagedUser = "managed-user"
)

// Kinds lists every identity kind.
func Kinds() []string {
	return []string{KindSecret, KindCertificate, KindWorkload, KindManaged, KindManagedUser}
}

// Client ids of the identities NewConnection registers.
const (
	SecretClientID   = "0a1b2c3d-0000-4000-8000-000000000001"
	CertClientID     = "0a1b2c3d-0000-4000-8000-000000000002"
	WorkloadClientID = "0a1b2c3d-0000-4000-8000-000000000003"
	ManagedClientID  = "0a1b2c3d-0000-4000-8000-000000000004"
	// ClientSecret is the secret SecretClientID accepts.
	ClientSecret = "sg~FakeClientSecret.0123456789abcdefABCDEF"
)

// NewConnection registers an identity of kind in the fake and returns the service connection
// (id f.ConnectionID) that uses it in cloud env. cert is needed for KindCertificate.
func (f *Fake) NewConnection(kind, env string, cert *ClientCertificate) Connection {
	c := Connection{ID: f.ConnectionID, TenantID: Tenant, Environment: env}
	switch kind {
	case KindSecret:
		f.AddApp(App{ClientID: SecretClientID, Secret: ClientSecret})
		c.Scheme, c.AuthType, c.ClientID, c.Key = "ServicePrincipal", "spnKey", SecretClientID, ClientSecret
	case KindCertificate:
		f.AddApp(App{ClientID: CertClientID, Cert: cert.Cert})
		c.Scheme, c.AuthType, c.ClientID, c.CertPEM = "ServicePrincipal", "spnCertificate", CertClientID, string(cert.PEM)
	case KindWorkload:
		f.AddApp(App{ClientID: WorkloadClientID, Federated: true})
		c.Scheme, c.ClientID = "WorkloadIdentityFederation", WorkloadClientID
	case KindManaged:
		f.AddManagedIdentity("")
		c.Scheme = "ManagedServiceIdentity"
	case KindManagedUser:
		f.AddManagedIdentity(ManagedClientID)
		c.Scheme, c.MSIClientID = "ManagedServiceIdentity", ManagedClientID
	}
	return c
}
