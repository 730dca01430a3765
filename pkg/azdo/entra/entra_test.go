package entra_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/azdo"
	"github.com/stagegate/stagegate/pkg/azdo/azdosim"
	"github.com/stagegate/stagegate/pkg/azdo/entra"
)

var _ azdo.Credential = (*entra.Credential)(nil)

// fakeTokens hands out numbered tokens valid for an hour of the fake clock.
type fakeTokens struct {
	mu        sync.Mutex
	now       *time.Time
	calls     int
	scopes    []string
	fail      error
	refreshOn time.Duration
}

func (f *fakeTokens) GetToken(_ context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scopes = opts.Scopes
	if f.fail != nil {
		return azcore.AccessToken{}, f.fail
	}
	f.calls++
	tok := azcore.AccessToken{Token: "token-" + string(rune('0'+f.calls)), ExpiresOn: f.now.Add(time.Hour)}
	if f.refreshOn > 0 {
		tok.RefreshOn = f.now.Add(f.refreshOn)
	}
	return tok, nil
}

func TestCachesAndRefreshes(t *testing.T) {
	now := time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)
	fake := &fakeTokens{now: &now}
	c, err := entra.New(fake, entra.Options{Now: func() time.Time { return now }, Source: "the test identity"})
	require.NoError(t, err)
	ctx := context.Background()

	h, err := c.Authorization(ctx)
	require.NoError(t, err)
	assert.Equal(t, "Bearer token-1", h)
	assert.Equal(t, []string{entra.Scope}, fake.scopes)
	assert.Equal(t, "the test identity", c.Source())

	now = now.Add(50 * time.Minute)
	h, _ = c.Authorization(ctx)
	assert.Equal(t, "Bearer token-1", h, "cached while far from expiry")

	now = now.Add(6 * time.Minute) // 4 minutes left: inside the 5-minute margin
	h, _ = c.Authorization(ctx)
	assert.Equal(t, "Bearer token-2", h, "renewed before expiry")
	assert.Equal(t, 2, fake.calls)

	// A failed renewal keeps using a still-valid token...
	now = now.Add(56 * time.Minute)
	fake.fail = errors.New("AADSTS700024: client assertion is not within its valid time range")
	h, err = c.Authorization(ctx)
	require.NoError(t, err)
	assert.Equal(t, "Bearer token-2", h)
	// ...and fails once it has expired.
	now = now.Add(5 * time.Minute)
	_, err = c.Authorization(ctx)
	assert.ErrorContains(t, err, "AADSTS700024")
	assert.NotContains(t, c.String(), "token-")
}

func TestHonoursRefreshOn(t *testing.T) {
	now := time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)
	fake := &fakeTokens{now: &now, refreshOn: 10 * time.Minute}
	c, err := entra.New(fake, entra.Options{Now: func() time.Time { return now }})
	require.NoError(t, err)
	_, _ = c.Authorization(context.Background())
	now = now.Add(11 * time.Minute)
	h, err := c.Authorization(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "Bearer token-2", h)
}

func TestNewNeedsACredential(t *testing.T) {
	_, err := entra.New(nil, entra.Options{})
	assert.Error(t, err)
}

func TestWithTheClient(t *testing.T) {
	now := time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)
	cred, err := entra.New(&fakeTokens{now: &now}, entra.Options{Now: func() time.Time { return now }})
	require.NoError(t, err)
	sc := azdosim.NewScenario("org", "token-1")
	sc.Project("P").AddRepository(&azdosim.Repository{Name: "r"})
	sim, err := azdosim.New(sc, azdosim.Options{})
	require.NoError(t, err)
	srv := httptest.NewServer(sim)
	defer srv.Close()
	c, err := azdo.New(context.Background(), azdo.Options{OrgURL: sim.OrgURL(srv.URL), Credential: cred})
	require.NoError(t, err)
	r, err := c.GetRepository(context.Background(), "P", "r")
	require.NoError(t, err)
	assert.Equal(t, "r", r.Name)
}
