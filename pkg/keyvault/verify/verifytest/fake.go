// Package verifytest is a fake of the Azure services reference verification talks to, for
// tests: Microsoft Entra ID token endpoints in the public, US Government and China clouds, the
// Azure Pipelines OIDC endpoint, the managed identity endpoint (IMDS), Key Vault's data plane
// (challenge authentication, secret version listing with paging, faults) and the Azure Resource
// Manager vault resource. It serves the real host names over TLS with a throwaway certificate
// authority; Client routes every host to it, and Proxy lets a child process reach it through
// HTTPS_PROXY with SSL_CERT_FILE pointing at CAPEM. Every request is recorded, so tests can
// prove that no secret value was ever read.
package verifytest

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Tenant is the directory every fake identity lives in.
const Tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"

// Version is one version of a secret as Key Vault lists it.
type Version struct {
	// ID is the 32-hex-digit version id; Add fills it when empty.
	ID        string
	Enabled   bool
	Created   time.Time
	Updated   time.Time // Created when zero
	NotBefore time.Time // zero: none
	Expires   time.Time // zero: none
}

// Vault is a fake Key Vault and its Resource Manager resource.
type Vault struct {
	// Secrets maps a secret name (compared case-insensitively) to its versions.
	Secrets map[string][]Version
	// ResourceID is the vault's resource id, served by the management API with
	// EnabledForTemplateDeployment.
	ResourceID                   string
	EnabledForTemplateDeployment bool
	// EmptyListForMissing answers a list of an unknown secret's versions with an empty page
	// instead of 404 SecretNotFound (both happen in the field).
	EmptyListForMissing bool
	// PageSize bounds versions per page (25, Key Vault's default, when 0).
	PageSize int

	// Status answers every authenticated data-plane request with this status (403, 500),
	// with ErrorCode and InnerCode in the error body.
	Status    int
	ErrorCode string
	InnerCode string
	// Throttle answers this many authenticated requests with 429 and RetryAfter first.
	Throttle   int
	RetryAfter string
	// ARMStatus answers the management API with this status (403 AuthorizationFailed).
	ARMStatus int
	// Down makes the host unresolvable.
	Down bool
	// Latency delays every answer, like a vault in another region.
	Latency time.Duration
}

// App is an application registration (service principal) in the fake tenant.
type App struct {
	ClientID string
	// Secret is the client secret it accepts.
	Secret string
	// Cert is the certificate it accepts client assertions from.
	Cert *x509.Certificate
	// Federated accepts the OIDC token the fake Azure Pipelines endpoint issued.
	Federated bool
}

// Request is one recorded request.
type Request struct {
	Kind   string // discovery, token, oidc, imds, vault, arm
	Host   string
	Method string
	Path   string
	Query  string
	// Authenticated is true when the request carried a token the fake issued.
	Authenticated bool
	// ClientID is the identity a token request authenticated (token, imds).
	ClientID string
	// Scope is the scope (or resource) a token request asked for.
	Scope string
}

// Fake is the fake Azure. Create it with New; configure it before the code under test runs.
type Fake struct {
	// JobToken is the bearer the OIDC endpoint expects; ConnectionID its serviceConnectionId.
	JobToken     string
	ConnectionID string
	// OIDCRequestURI is what the agent exports as SYSTEM_OIDCREQUESTURI.
	OIDCRequestURI string

	tls  *httptest.Server
	imds *httptest.Server
	pki  *pki

	mu        sync.Mutex
	vaults    map[string]*Vault // by host
	apps      map[string]*App
	mi        map[string]bool // managed identity client ids; "" is the system-assigned one
	requests  []Request
	oidcToken string
	seq       int
}

// New starts the fake; it stops when the test ends.
func New(tb testing.TB) *Fake {
	tb.Helper()
	p, err := newPKI()
	if err != nil {
		tb.Fatalf("verifytest: %v", err)
	}
	f := &Fake{
		JobToken:       "job-token-for-oidc",
		ConnectionID:   "3b7d6a2e-1111-4c3b-9a55-0123456789ab",
		OIDCRequestURI: "https://dev.azure.com/contoso/5c2a/_apis/distributedtask/hubs/build/plans/0d1e/jobs/9f8e/oidctoken",
		pki:            p,
		vaults:         map[string]*Vault{},
		apps:           map[string]*App{},
		mi:             map[string]bool{},
		oidcToken:      "eyJoaWRkZW4iOiJvaWRjIn0.fake-oidc-assertion.sig",
	}
	f.tls = httptest.NewUnstartedServer(http.HandlerFunc(f.serveTLS))
	f.tls.TLS = newServerTLS(p)
	// Clients that drop idle connections are normal here, not worth a log line.
	f.tls.Config.ErrorLog = log.New(io.Discard, "", 0)
	f.tls.StartTLS()
	f.imds = httptest.NewServer(http.HandlerFunc(f.serveIMDS))
	tb.Cleanup(func() {
		f.tls.Close()
		f.imds.Close()
	})
	return f
}

// AddVault serves v at host (myvault.vault.azure.net).
func (f *Fake) AddVault(host string, v *Vault) *Vault {
	f.mu.Lock()
	defer f.mu.Unlock()
	for name, vs := range v.Secrets {
		for i := range vs {
			if vs[i].ID == "" {
				f.seq++
				vs[i].ID = fmt.Sprintf("%032x", f.seq)
			}
			if vs[i].Updated.IsZero() {
				vs[i].Updated = vs[i].Created
			}
		}
		v.Secrets[name] = vs
	}
	f.vaults[strings.ToLower(host)] = v
	return v
}

// Vault returns the vault served at host, for changing faults between runs.
func (f *Fake) Vault(host string) *Vault {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.vaults[strings.ToLower(host)]
}

// SetVault changes a vault under the lock (faults between runs, from other goroutines).
func (f *Fake) SetVault(host string, change func(v *Vault)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f.vaults[strings.ToLower(host)])
}

// AddApp registers a service principal.
func (f *Fake) AddApp(a App) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.apps[a.ClientID] = &a
}

// AddManagedIdentity makes a managed identity available on the fake host ("" is the
// system-assigned identity).
func (f *Fake) AddManagedIdentity(clientID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mi[clientID] = true
}

// OIDCToken is the assertion the OIDC endpoint hands out.
func (f *Fake) OIDCToken() string { return f.oidcToken }

// Requests returns every request so far.
func (f *Fake) Requests() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Request(nil), f.requests...)
}

// ResetRequests forgets the recorded requests.
func (f *Fake) ResetRequests() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = nil
}

// Count returns how many recorded requests are of kind.
func (f *Fake) Count(kind string) int {
	n := 0
	for _, r := range f.Requests() {
		if r.Kind == kind {
			n++
		}
	}
	return n
}

// CAPEM is the fake certificate authority, for SSL_CERT_FILE in child processes.
func (f *Fake) CAPEM() []byte { return f.pki.caPEM }

// Client returns an HTTP client that sends every request for a fake host to the fake: HTTPS to
// the TLS server (verifying its certificate against the fake CA), plain HTTP (IMDS) to the IMDS
// server. Hosts of Down vaults do not resolve.
func (f *Fake) Client() *http.Client {
	tlsAddr := f.tls.Listener.Addr().String()
	imdsAddr := f.imds.Listener.Addr().String()
	d := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			if f.isDown(host) {
				return nil, &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}}
			}
			if port == "80" {
				return d.DialContext(ctx, network, imdsAddr)
			}
			return d.DialContext(ctx, network, tlsAddr)
		},
		TLSClientConfig:     newClientTLS(f.pki),
		MaxIdleConnsPerHost: 32,
	}
	return &http.Client{Transport: tr}
}

func (f *Fake) isDown(host string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := f.vaults[strings.ToLower(host)]
	return v != nil && v.Down
}

func (f *Fake) record(r Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r)
}

func hostOnly(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		return strings.ToLower(host)
	}
	return strings.ToLower(h)
}

func (f *Fake) serveTLS(w http.ResponseWriter, r *http.Request) {
	host := hostOnly(r.Host)
	switch {
	case strings.HasPrefix(host, "login."):
		f.serveLogin(w, r, host)
	case host == "dev.azure.com":
		f.serveOIDC(w, r, host)
	case strings.HasPrefix(host, "management."):
		f.serveARM(w, r, host)
	case vaultAudience(host) != "":
		f.serveVault(w, r, host)
	default:
		f.record(Request{Kind: "unknown", Host: host, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery})
		http.Error(w, "unknown host "+host, http.StatusBadGateway)
	}
}

// clouds maps each cloud's login host to its Key Vault audience and management endpoint.
var clouds = []struct{ login, vault, mgmt string }{
	{"login.microsoftonline.com", "https://vault.azure.net", "https://management.azure.com"},
	{"login.microsoftonline.us", "https://vault.usgovcloudapi.net", "https://management.usgovcloudapi.net"},
	{"login.chinacloudapi.cn", "https://vault.azure.cn", "https://management.chinacloudapi.cn"},
}

func vaultAudience(host string) string {
	for _, c := range clouds {
		if strings.HasSuffix(host, "."+strings.TrimPrefix(c.vault, "https://")) {
			return c.vault
		}
	}
	return ""
}

func loginFor(audience string) string {
	for _, c := range clouds {
		if c.vault == audience || c.mgmt == audience {
			return c.login
		}
	}
	return ""
}

// token is what the fake's access tokens carry (base64url JSON, not a JWT).
type token struct {
	Aud   string `json:"aud"`
	AppID string `json:"appid"`
	Tid   string `json:"tid"`
}

func issue(t token) string {
	b, _ := json.Marshal(t)
	return "fk." + base64.RawURLEncoding.EncodeToString(b)
}

func bearer(r *http.Request) (token, bool) {
	h := r.Header.Get("Authorization")
	raw, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return token{}, false
	}
	raw, ok = strings.CutPrefix(raw, "fk.")
	if !ok {
		return token{}, false
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		return token{}, false
	}
	var t token
	if json.Unmarshal(b, &t) != nil {
		return token{}, false
	}
	return t, true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func kvError(w http.ResponseWriter, status int, code, inner, msg string) {
	e := map[string]any{"code": code, "message": msg}
	if inner != "" {
		e["innererror"] = map[string]any{"code": inner}
	}
	writeJSON(w, status, map[string]any{"error": e})
}

// serveLogin is Microsoft Entra ID: instance discovery, OpenID configuration, token endpoint.
func (f *Fake) serveLogin(w http.ResponseWriter, r *http.Request, host string) {
	base := "https://" + host
	switch {
	case r.URL.Path == "/common/discovery/instance":
		f.record(Request{Kind: "discovery", Host: host, Method: r.Method, Path: r.URL.Path})
		writeJSON(w, 200, map[string]any{
			"tenant_discovery_endpoint": base + "/" + Tenant + "/v2.0/.well-known/openid-configuration",
			"api-version":               "1.1",
			"metadata":                  []any{map[string]any{"preferred_network": host, "preferred_cache": host, "aliases": []string{host}}},
		})
	case strings.HasSuffix(r.URL.Path, "/v2.0/.well-known/openid-configuration"):
		f.record(Request{Kind: "discovery", Host: host, Method: r.Method, Path: r.URL.Path})
		tenant := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")[0]
		if tenant != Tenant {
			writeJSON(w, 400, map[string]any{"error": "invalid_tenant", "error_description": "AADSTS90002: Tenant '" + tenant + "' not found."})
			return
		}
		writeJSON(w, 200, map[string]any{
			"token_endpoint":         base + "/" + tenant + "/oauth2/v2.0/token",
			"authorization_endpoint": base + "/" + tenant + "/oauth2/v2.0/authorize",
			"issuer":                 base + "/" + tenant + "/v2.0",
			"jwks_uri":               base + "/" + tenant + "/discovery/v2.0/keys",
		})
	case strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token") && r.Method == http.MethodPost:
		f.serveToken(w, r, host)
	default:
		f.record(Request{Kind: "unknown", Host: host, Method: r.Method, Path: r.URL.Path})
		http.NotFound(w, r)
	}
}

func tokenError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]any{"error": code, "error_description": desc})
}

func (f *Fake) serveToken(w http.ResponseWriter, r *http.Request, host string) {
	if err := r.ParseForm(); err != nil {
		tokenError(w, 400, "invalid_request", err.Error())
		return
	}
	clientID, scope := r.PostForm.Get("client_id"), r.PostForm.Get("scope")
	audience := ""
	for _, s := range strings.Fields(scope) {
		if strings.HasSuffix(s, "/.default") {
			audience = strings.TrimSuffix(strings.TrimSuffix(s, "/.default"), "/")
		}
	}
	f.record(Request{Kind: "token", Host: host, Method: r.Method, Path: r.URL.Path, ClientID: clientID, Scope: scope})
	tenant := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")[0]
	if tenant != Tenant {
		tokenError(w, 400, "invalid_request", "AADSTS90002: Tenant '"+tenant+"' not found.")
		return
	}
	if loginFor(audience) != host {
		tokenError(w, 400, "invalid_resource", fmt.Sprintf("AADSTS500011: The resource principal named %s was not found in the tenant (asked at %s).", audience, host))
		return
	}
	f.mu.Lock()
	app := f.apps[clientID]
	f.mu.Unlock()
	if app == nil {
		tokenError(w, 400, "unauthorized_client", "AADSTS700016: Application with identifier '"+clientID+"' was not found in the directory.")
		return
	}
	if r.PostForm.Get("grant_type") != "client_credentials" {
		tokenError(w, 400, "unsupported_grant_type", "expected client_credentials")
		return
	}
	switch {
	case r.PostForm.Has("client_secret"):
		if app.Secret == "" || r.PostForm.Get("client_secret") != app.Secret {
			tokenError(w, 401, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
			return
		}
	case r.PostForm.Has("client_assertion"):
		a := r.PostForm.Get("client_assertion")
		switch {
		case app.Federated && a == f.oidcToken:
		case app.Cert != nil && verifyAssertion(a, app.Cert, clientID) == nil:
		default:
			tokenError(w, 401, "invalid_client", "AADSTS700027: Client assertion failed signature validation or does not match a federated credential.")
			return
		}
	default:
		tokenError(w, 401, "invalid_client", "AADSTS7000218: The request body must contain client_assertion or client_secret.")
		return
	}
	writeJSON(w, 200, map[string]any{
		"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
		"access_token": issue(token{Aud: audience, AppID: clientID, Tid: tenant}),
	})
}

// verifyAssertion checks a certificate client assertion: a PS256 (or RS256) JWT whose
// thumbprint header names cert, signed by its key, issued by and for clientID.
func verifyAssertion(a string, cert *x509.Certificate, clientID string) error {
	parts := strings.Split(a, ".")
	if len(parts) != 3 {
		return fmt.Errorf("not a JWT")
	}
	var hdr map[string]any
	var claims map[string]any
	for i, dst := range []*map[string]any{&hdr, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, dst); err != nil {
			return err
		}
	}
	sum256 := sha256.Sum256(cert.Raw)
	// MSAL writes the thumbprint in standard base64 (RFC 7515 says base64url); accept both.
	if x := hdr["x5t#S256"]; x != base64.StdEncoding.EncodeToString(sum256[:]) && x != base64.RawURLEncoding.EncodeToString(sum256[:]) {
		return fmt.Errorf("thumbprint does not match")
	}
	if claims["iss"] != clientID || claims["sub"] != clientID {
		return fmt.Errorf("issuer/subject %v/%v, want %s", claims["iss"], claims["sub"], clientID)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return err
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return fmt.Errorf("not an RSA certificate")
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if hdr["alg"] == "RS256" {
		return rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig)
	}
	return rsa.VerifyPSS(pub, crypto.SHA256, digest[:], sig, nil)
}

// serveOIDC is Azure Pipelines' OIDC token endpoint (SYSTEM_OIDCREQUESTURI).
func (f *Fake) serveOIDC(w http.ResponseWriter, r *http.Request, host string) {
	f.record(Request{Kind: "oidc", Host: host, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery})
	want, _ := url.Parse(f.OIDCRequestURI)
	if r.Method != http.MethodPost || r.URL.Path != want.Path {
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+f.JobToken {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if r.URL.Query().Get("serviceConnectionId") != f.ConnectionID {
		writeJSON(w, 400, map[string]any{"message": "service connection " + r.URL.Query().Get("serviceConnectionId") + " not found"})
		return
	}
	writeJSON(w, 200, map[string]any{"oidcToken": f.oidcToken})
}

// serveIMDS is the managed identity endpoint of an Azure VM.
func (f *Fake) serveIMDS(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	clientID := q.Get("client_id")
	f.record(Request{Kind: "imds", Host: hostOnly(r.Host), Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, ClientID: clientID, Scope: q.Get("resource")})
	if r.URL.Path != "/metadata/identity/oauth2/token" || r.Header.Get("Metadata") != "true" {
		writeJSON(w, 400, map[string]any{"error": "invalid_request", "error_description": "Required metadata header not specified"})
		return
	}
	f.mu.Lock()
	ok := f.mi[clientID]
	f.mu.Unlock()
	if !ok {
		writeJSON(w, 400, map[string]any{"error": "invalid_request", "error_description": "Identity not found"})
		return
	}
	aud := strings.TrimSuffix(q.Get("resource"), "/")
	app := clientID
	if app == "" {
		app = "system-assigned"
	}
	writeJSON(w, 200, map[string]any{
		"access_token": issue(token{Aud: aud, AppID: app, Tid: Tenant}),
		"expires_in":   "3599", "expires_on": strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10),
		"resource": q.Get("resource"), "token_type": "Bearer", "client_id": app,
	})
}

type versionJSON struct {
	ID         string         `json:"id"`
	Attributes map[string]any `json:"attributes"`
}

func (f *Fake) serveVault(w http.ResponseWriter, r *http.Request, host string) {
	tok, authed := bearer(r)
	req := Request{Kind: "vault", Host: host, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Authenticated: authed}
	f.record(req)
	audience := vaultAudience(host)
	if !authed {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer authorization="https://%s/%s", resource="%s"`, loginFor(audience), Tenant, audience))
		kvError(w, 401, "Unauthorized", "", "AKV10000: Request is missing a Bearer or PoP token.")
		return
	}
	if tok.Aud != audience || tok.Tid != Tenant {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer authorization="https://%s/%s", resource="%s"`, loginFor(audience), Tenant, audience))
		kvError(w, 401, "Unauthorized", "", fmt.Sprintf("AKV10022: Invalid audience %s or tenant %s.", tok.Aud, tok.Tid))
		return
	}
	f.mu.Lock()
	v := f.vaults[host]
	var latency time.Duration
	if v != nil {
		latency = v.Latency
	}
	f.mu.Unlock()
	if latency > 0 {
		time.Sleep(latency)
	}
	f.mu.Lock()
	var status, throttled int
	var code, inner, retryAfter string
	if v != nil {
		status, code, inner = v.Status, v.ErrorCode, v.InnerCode
		if status == 0 && v.Throttle > 0 {
			v.Throttle--
			throttled, retryAfter = 429, v.RetryAfter
		}
	}
	f.mu.Unlock()
	if v == nil {
		http.Error(w, "no such vault", http.StatusBadGateway)
		return
	}
	if status != 0 {
		kvError(w, status, code, inner, fmt.Sprintf("Caller (appid=%s) is not authorized to perform the operation on %s.", tok.AppID, host))
		return
	}
	if throttled != 0 {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		kvError(w, 429, "Throttled", "", "Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached")
		return
	}
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if r.Method != http.MethodGet || len(segs) < 2 || segs[0] != "secrets" {
		kvError(w, 400, "BadParameter", "", "unsupported request "+r.Method+" "+r.URL.Path)
		return
	}
	if len(segs) != 3 || segs[2] != "versions" {
		// A secret value read: the verifier must never get here. Answer so a bug is visible.
		writeJSON(w, 200, map[string]any{"value": "SECRET-VALUE-MUST-NOT-BE-READ", "id": "https://" + host + r.URL.Path})
		return
	}
	f.listVersions(w, r, host, v, segs[1])
}

func (f *Fake) listVersions(w http.ResponseWriter, r *http.Request, host string, v *Vault, name string) {
	f.mu.Lock()
	var versions []Version
	found := false
	for n, vs := range v.Secrets {
		if strings.EqualFold(n, name) {
			versions, found = append([]Version(nil), vs...), true
			name = n
		}
	}
	pageSize, emptyForMissing := v.PageSize, v.EmptyListForMissing
	f.mu.Unlock()
	if !found {
		if emptyForMissing {
			writeJSON(w, 200, map[string]any{"value": []any{}, "nextLink": nil})
			return
		}
		kvError(w, 404, "SecretNotFound", "", fmt.Sprintf("A secret with (name/id) %s was not found in this key vault.", name))
		return
	}
	if pageSize <= 0 {
		pageSize = 25
	}
	start, _ := strconv.Atoi(r.URL.Query().Get("$skiptoken"))
	start = max(0, min(start, len(versions)))
	end := min(start+pageSize, len(versions))
	page := make([]versionJSON, 0, end-start)
	for _, ver := range versions[start:end] {
		attrs := map[string]any{"enabled": ver.Enabled, "created": ver.Created.Unix(), "updated": ver.Updated.Unix(), "recoveryLevel": "Recoverable+Purgeable"}
		if !ver.NotBefore.IsZero() {
			attrs["nbf"] = ver.NotBefore.Unix()
		}
		if !ver.Expires.IsZero() {
			attrs["exp"] = ver.Expires.Unix()
		}
		page = append(page, versionJSON{ID: "https://" + host + "/secrets/" + name + "/" + ver.ID, Attributes: attrs})
	}
	var next any
	if end < len(versions) {
		next = fmt.Sprintf("https://%s/secrets/%s/versions?api-version=%s&$skiptoken=%d&maxresults=%d", host, name, r.URL.Query().Get("api-version"), end, pageSize)
	}
	writeJSON(w, 200, map[string]any{"value": page, "nextLink": next})
}

// serveARM is the Resource Manager GET of a vault resource.
func (f *Fake) serveARM(w http.ResponseWriter, r *http.Request, host string) {
	tok, authed := bearer(r)
	f.record(Request{Kind: "arm", Host: host, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Authenticated: authed})
	if !authed || strings.TrimSuffix(tok.Aud, "/") != "https://"+host {
		writeJSON(w, 401, map[string]any{"error": map[string]any{"code": "InvalidAuthenticationToken", "message": "The access token is invalid or has the wrong audience."}})
		return
	}
	if r.Method != http.MethodGet || r.URL.Query().Get("api-version") == "" {
		writeJSON(w, 400, map[string]any{"error": map[string]any{"code": "MissingApiVersionParameter", "message": "api-version is required"}})
		return
	}
	f.mu.Lock()
	var v *Vault
	var vhost string
	for h, cand := range f.vaults {
		if cand.ResourceID != "" && strings.EqualFold(cand.ResourceID, r.URL.Path) {
			v, vhost = cand, h
		}
	}
	var armStatus int
	var enabled bool
	if v != nil {
		armStatus, enabled = v.ARMStatus, v.EnabledForTemplateDeployment
	}
	f.mu.Unlock()
	if v == nil {
		writeJSON(w, 404, map[string]any{"error": map[string]any{"code": "ResourceNotFound", "message": "The Resource '" + r.URL.Path + "' was not found."}})
		return
	}
	if armStatus != 0 {
		writeJSON(w, armStatus, map[string]any{"error": map[string]any{"code": "AuthorizationFailed",
			"message": fmt.Sprintf("The client '%s' does not have authorization to perform action 'Microsoft.KeyVault/vaults/read' over scope '%s'.", tok.AppID, r.URL.Path)}})
		return
	}
	segs := strings.Split(r.URL.Path, "/")
	writeJSON(w, 200, map[string]any{
		"id": r.URL.Path, "name": segs[len(segs)-1], "type": "Microsoft.KeyVault/vaults", "location": "westeurope",
		"properties": map[string]any{"enabledForTemplateDeployment": enabled, "vaultUri": "https://" + vhost + "/", "tenantId": Tenant},
	})
}

// VaultRequestPaths lists the distinct paths of data-plane requests, sorted.
func (f *Fake) VaultRequestPaths() []string {
	seen := map[string]bool{}
	for _, r := range f.Requests() {
		if r.Kind == "vault" {
			seen[r.Method+" "+r.Path] = true
		}
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// VersionID makes a deterministic 32-hex-digit version id from a label.
func VersionID(label string) string {
	s := sha256.Sum256([]byte(label))
	return hex.EncodeToString(s[:16])
}
