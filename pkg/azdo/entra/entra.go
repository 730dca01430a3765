// Package entra authenticates to Azure DevOps with a Microsoft Entra token
// from azidentity. It lives apart from package azdo so that the task
// binaries, which use the job token, do not link azidentity.
package entra

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// Scope is the Azure DevOps resource's default scope.
const Scope = "499b84ac-1321-427f-aa17-267ca6975798/.default"

// DefaultSource names DefaultAzureCredential in error messages.
const DefaultSource = "the Microsoft Entra token from azidentity's DefaultAzureCredential (az login, environment, managed identity)"

// Options tune a Credential.
type Options struct {
	// Source names the token source in error messages. Default: a generic
	// Microsoft Entra description.
	Source string
	// RefreshMargin renews the token this long before it expires.
	// Default 5 minutes.
	RefreshMargin time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Credential is an azdo.Credential backed by an azcore.TokenCredential. It
// caches the token and renews it before it expires (or at the RefreshOn
// time the identity library suggests). Safe for concurrent use.
type Credential struct {
	tc     azcore.TokenCredential
	source string
	margin time.Duration
	now    func() time.Time

	mu  sync.Mutex
	tok azcore.AccessToken
}

// New wraps any azcore.TokenCredential.
func New(tc azcore.TokenCredential, opts Options) (*Credential, error) {
	if tc == nil {
		return nil, errors.New("entra: a token credential is required")
	}
	c := &Credential{tc: tc, source: opts.Source, margin: opts.RefreshMargin, now: opts.Now}
	if c.source == "" {
		c.source = "the Microsoft Entra token"
	}
	if c.margin <= 0 {
		c.margin = 5 * time.Minute
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// NewDefault uses azidentity's DefaultAzureCredential.
func NewDefault(opts *azidentity.DefaultAzureCredentialOptions) (*Credential, error) {
	tc, err := azidentity.NewDefaultAzureCredential(opts)
	if err != nil {
		return nil, fmt.Errorf("entra: no Microsoft Entra credential available: %w", err)
	}
	return New(tc, Options{Source: DefaultSource})
}

// Authorization returns "Bearer <token>", fetching a new token when there is
// none or the cached one is close to expiry.
func (c *Credential) Authorization(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.tok.Token == "" || !now.Before(c.tok.ExpiresOn.Add(-c.margin)) || !c.tok.RefreshOn.IsZero() && !now.Before(c.tok.RefreshOn) {
		tok, err := c.tc.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{Scope}})
		if err != nil {
			// A still-valid token beats a failed refresh.
			if c.tok.Token != "" && now.Before(c.tok.ExpiresOn) {
				return "Bearer " + c.tok.Token, nil
			}
			return "", fmt.Errorf("entra: get a token for Azure DevOps: %w", err)
		}
		if tok.Token == "" {
			return "", errors.New("entra: the identity returned an empty token")
		}
		c.tok = tok
	}
	return "Bearer " + c.tok.Token, nil
}

// Source names the token source for error messages.
func (c *Credential) Source() string { return c.source }

// String keeps the token out of %v.
func (c *Credential) String() string { return "entra.Credential(" + c.source + ")" }
