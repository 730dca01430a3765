// Package azcred turns an Azure Resource Manager service connection, as the agent exports it
// (ENDPOINT_AUTH_*, ENDPOINT_DATA_*), into an azidentity credential and the cloud it belongs
// to: workload identity federation, a service principal secret or certificate, or a managed
// identity. Off an agent and without a connection it falls back to azidentity's
// DefaultAzureCredential (az login, environment, managed identity). Secrets it reads from the
// connection are registered through Config.Secret before they are used and never appear in an
// error.
//
// It lives apart from package keyvault so that only the binaries that verify references link
// azidentity.
package azcred

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/stagegate/stagegate/pkg/task"
)

// Authentication schemes of AzureRM service connections (ENDPOINT_AUTH_SCHEME_<id>).
const (
	SchemeWorkloadIdentity = "WorkloadIdentityFederation"
	SchemeServicePrincipal = "ServicePrincipal"
	SchemeManagedIdentity  = "ManagedServiceIdentity"
)

// Kinds of identity, as messages name them.
const (
	KindWorkloadIdentity  = "workload identity federation"
	KindSecret            = "service principal secret"
	KindCertificate       = "service principal certificate"
	KindManagedIdentity   = "managed identity"
	KindDefaultCredential = "DefaultAzureCredential"
)

// OIDCRequestURIVar is where the agent exports the OIDC token endpoint for workload identity
// federation.
const OIDCRequestURIVar = "SYSTEM_OIDCREQUESTURI"

// Config says where to find the identity.
type Config struct {
	// Env reads the agent's environment (ENDPOINT_*, SYSTEM_*).
	Env task.LookupFunc
	// OnAgent is true inside a pipeline job: a connection is then required.
	OnAgent bool
	// Connection is the azureSubscription input: the service connection id.
	Connection string
	// Secret registers a credential so the agent masks it (nil: nothing to register).
	Secret func(string)
	// ClientOptions configure the credential's HTTP pipeline (transport, retries); Cloud is
	// overwritten with the connection's cloud.
	ClientOptions azcore.ClientOptions
	// ProcessEnv reads the process environment, which azidentity consults itself for
	// SYSTEM_OIDCREQUESTURI (os.LookupEnv when nil).
	ProcessEnv task.LookupFunc
	// Local builds the credential for runs off an agent without a connection, normally
	// DefaultAzureCredential. nil refuses such runs; a binary that only runs on agents leaves it
	// nil so that DefaultAzureCredential (and the public-client code it links) stays out of it.
	Local LocalFunc
}

// LocalFunc builds a credential for local runs with the given client options.
type LocalFunc func(opts azcore.ClientOptions) (azcore.TokenCredential, error)

// DefaultAzureCredential is the LocalFunc of the stagegate CLI: azidentity's default chain
// (environment, workload identity, managed identity, Azure CLI, Azure Developer CLI).
func DefaultAzureCredential(opts azcore.ClientOptions) (azcore.TokenCredential, error) {
	return azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{ClientOptions: opts})
}

// Identity is a credential and what messages need to say about it.
type Identity struct {
	Credential azcore.TokenCredential
	Cloud      Cloud
	// Kind is one of the Kind constants.
	Kind string
	// ClientID is the application (client) id, "" when unknown (system-assigned managed
	// identity, DefaultAzureCredential).
	ClientID string
	TenantID string
	// Connection is the service connection id, "" for DefaultAzureCredential.
	Connection string
}

// String names the identity for messages: which principal, through which connection.
func (id *Identity) String() string {
	who := id.Kind
	switch {
	case id.ClientID != "" && id.Kind == KindManagedIdentity:
		who = "managed identity with client id " + id.ClientID
	case id.ClientID != "":
		who = "service principal with client id " + id.ClientID
	case id.Kind == KindManagedIdentity:
		who = "the system-assigned managed identity"
	case id.Kind == KindDefaultCredential:
		who = "the identity DefaultAzureCredential found (az login, AZURE_* environment or managed identity)"
	}
	if id.Connection != "" {
		return fmt.Sprintf("%s (service connection %s, %s)", who, id.Connection, id.Kind)
	}
	return who
}

// New builds the identity: from the service connection when cfg.Connection is set, else (only
// off an agent) from cfg.Local, normally DefaultAzureCredential. Locally the cloud is
// AzureCloud unless AZURE_AUTHORITY_HOST names another cloud's authority.
func New(cfg Config) (*Identity, error) {
	if cfg.Env == nil {
		cfg.Env = func(string) (string, bool) { return "", false }
	}
	if cfg.Secret == nil {
		cfg.Secret = func(string) {}
	}
	if cfg.ProcessEnv == nil {
		cfg.ProcessEnv = os.LookupEnv
	}
	if strings.TrimSpace(cfg.Connection) == "" {
		if cfg.OnAgent {
			return nil, errors.New("input \"azureSubscription\": is required when verifyReferences is true: give an Azure Resource Manager service connection whose identity may list the referenced secrets")
		}
		return defaultIdentity(cfg)
	}
	ep, err := task.GetEndpoint(cfg.Env, cfg.Connection)
	if err != nil {
		return nil, fmt.Errorf("input \"azureSubscription\": %w", err)
	}
	return fromEndpoint(cfg, ep)
}

func defaultIdentity(cfg Config) (*Identity, error) {
	c := Clouds()[0]
	if h, ok := cfg.ProcessEnv("AZURE_AUTHORITY_HOST"); ok && h != "" {
		if byHost, found := cloudByAuthority(h); found {
			c = byHost
		}
	}
	if cfg.Local == nil {
		return nil, errors.New("input \"azureSubscription\": is required when verifyReferences is true (this binary has no local credential fallback): give an Azure Resource Manager service connection, or run `stagegate keyvault`, which uses DefaultAzureCredential")
	}
	opts := cfg.ClientOptions
	opts.Cloud = c.Configuration
	cred, err := cfg.Local(opts)
	if err != nil {
		return nil, fmt.Errorf("DefaultAzureCredential: %w", err)
	}
	return &Identity{Credential: cred, Cloud: c, Kind: KindDefaultCredential}, nil
}

// connErr is an error about one field of the service connection.
type connErr struct {
	conn, scheme, field, problem string
}

func (e *connErr) Error() string {
	s := "service connection " + e.conn
	if e.scheme != "" {
		s += " (scheme " + e.scheme + ")"
	}
	return s + ": " + e.field + " " + e.problem
}

func fromEndpoint(cfg Config, ep *task.Endpoint) (*Identity, error) {
	conn := ep.ID
	scheme := strings.TrimSpace(ep.Scheme)
	env, _ := ep.Data("environment")
	c, err := CloudByName(env)
	if err != nil {
		return nil, &connErr{conn: conn, scheme: scheme, field: "data parameter \"environment\"", problem: err.Error()}
	}
	opts := cfg.ClientOptions
	opts.Cloud = c.Configuration
	auth := func(key string) (string, error) {
		v, _ := ep.AuthParam(key)
		v = strings.TrimSpace(v)
		if v == "" {
			return "", &connErr{conn: conn, scheme: scheme, field: "authorization parameter \"" + key + "\"", problem: "is missing or empty"}
		}
		return v, nil
	}
	id := &Identity{Cloud: c, Connection: conn}
	switch {
	case strings.EqualFold(scheme, SchemeWorkloadIdentity):
		id.Kind = KindWorkloadIdentity
		if id.TenantID, err = auth("tenantid"); err != nil {
			return nil, err
		}
		if id.ClientID, err = auth("serviceprincipalid"); err != nil {
			return nil, err
		}
		tok, ok := task.JobToken(cfg.Env)
		if !ok {
			return nil, &connErr{conn: conn, scheme: scheme, field: "the job access token (" + task.JobTokenVar + ")", problem: "is not available; workload identity federation exchanges it for an OIDC token"}
		}
		uri, _ := cfg.Env(OIDCRequestURIVar)
		uri = strings.TrimSpace(uri)
		if uri == "" {
			return nil, &connErr{conn: conn, scheme: scheme, field: OIDCRequestURIVar, problem: "is not set; the agent sets it for jobs that may use workload identity federation (agent 3.227 or later)"}
		}
		if pv, _ := cfg.ProcessEnv(OIDCRequestURIVar); strings.TrimSpace(pv) != uri {
			return nil, &connErr{conn: conn, scheme: scheme, field: OIDCRequestURIVar, problem: "must be set in this process's environment, where azidentity reads it"}
		}
		cred, err := azidentity.NewAzurePipelinesCredential(id.TenantID, id.ClientID, conn, tok, &azidentity.AzurePipelinesCredentialOptions{ClientOptions: opts})
		if err != nil {
			return nil, fmt.Errorf("service connection %s (%s): %w", conn, id.Kind, err)
		}
		id.Credential = cred
	case scheme == "" || strings.EqualFold(scheme, SchemeServicePrincipal):
		if id.TenantID, err = auth("tenantid"); err != nil {
			return nil, err
		}
		if id.ClientID, err = auth("serviceprincipalid"); err != nil {
			return nil, err
		}
		authType, _ := ep.AuthParam("authenticationType")
		switch t := strings.TrimSpace(authType); {
		case t == "" || strings.EqualFold(t, "spnKey"):
			id.Kind = KindSecret
			secret, err := auth("serviceprincipalkey")
			if err != nil {
				return nil, err
			}
			cfg.Secret(secret)
			cred, err := azidentity.NewClientSecretCredential(id.TenantID, id.ClientID, secret, &azidentity.ClientSecretCredentialOptions{ClientOptions: opts})
			if err != nil {
				return nil, fmt.Errorf("service connection %s (%s): %w", conn, id.Kind, err)
			}
			id.Credential = cred
		case strings.EqualFold(t, "spnCertificate"):
			id.Kind = KindCertificate
			pemText, err := auth("servicePrincipalCertificate")
			if err != nil {
				return nil, err
			}
			registerPEM(cfg.Secret, pemText)
			certs, key, err := azidentity.ParseCertificates([]byte(pemText), nil)
			if err != nil {
				// The parser's message never quotes the input; the PEM itself stays out of errors.
				return nil, &connErr{conn: conn, scheme: scheme, field: "authorization parameter \"servicePrincipalCertificate\"", problem: "is not a PEM certificate with an unencrypted private key: " + err.Error()}
			}
			cred, err := azidentity.NewClientCertificateCredential(id.TenantID, id.ClientID, certs, key, &azidentity.ClientCertificateCredentialOptions{ClientOptions: opts})
			if err != nil {
				return nil, fmt.Errorf("service connection %s (%s): %w", conn, id.Kind, err)
			}
			id.Credential = cred
		default:
			return nil, &connErr{conn: conn, scheme: scheme, field: "authorization parameter \"authenticationType\"", problem: fmt.Sprintf("is %q; expected spnKey or spnCertificate", t)}
		}
	case strings.EqualFold(scheme, SchemeManagedIdentity):
		id.Kind = KindManagedIdentity
		id.TenantID, _ = ep.AuthParam("tenantid")
		mo := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: opts}
		if cid, _ := ep.Data("msiclientId"); strings.TrimSpace(cid) != "" {
			id.ClientID = strings.TrimSpace(cid)
			mo.ID = azidentity.ClientID(id.ClientID)
		}
		cred, err := azidentity.NewManagedIdentityCredential(mo)
		if err != nil {
			return nil, fmt.Errorf("service connection %s (%s): %w", conn, id.Kind, err)
		}
		id.Credential = cred
	default:
		return nil, &connErr{conn: conn, field: "authorization scheme", problem: fmt.Sprintf("%q is not supported; expected %s, %s or %s", scheme, SchemeWorkloadIdentity, SchemeServicePrincipal, SchemeManagedIdentity)}
	}
	return id, nil
}

// registerPEM masks a certificate PEM: the whole value and each line of its private key block
// as written, since the agent masks line by line and a multi-line value would never match.
func registerPEM(secret func(string), text string) {
	secret(text)
	inKey := false
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "-----BEGIN") && strings.Contains(line, "PRIVATE KEY"):
			inKey = true
		case strings.HasPrefix(line, "-----END"):
			inKey = false
		case inKey && len(line) >= 8 && !strings.Contains(line, ":"):
			secret(line)
		}
	}
}
