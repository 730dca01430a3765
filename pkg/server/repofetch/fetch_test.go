package repofetch_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/azdo"
	"github.com/stagegate/stagegate/pkg/azdo/azdosim"
	"github.com/stagegate/stagegate/pkg/server/repofetch"
)

const (
	token  = "repofetch-test-token-0123456789"
	commit = "89abcdef0123456789abcdef0123456789abcdef"
)

func scenario(files map[string]string) *azdosim.Scenario {
	sc := &azdosim.Scenario{Organization: "contoso", Tokens: []string{token}}
	p := &azdosim.Project{Name: "Payments"}
	p.AddRepository(&azdosim.Repository{Name: "infra", Trees: map[string]map[string]string{commit: files}})
	sc.Projects = []*azdosim.Project{p}
	return sc
}

// start serves a simulator on its own URL (the client library caches locations per URL).
func start(t *testing.T, files map[string]string) (*azdosim.Server, string) {
	t.Helper()
	sim, err := azdosim.New(scenario(files), azdosim.Options{})
	require.NoError(t, err)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return sim, sim.OrgURL(srv.URL)
}

func noSleep(context.Context, time.Duration) error { return nil }

func TestFetch(t *testing.T) {
	files := map[string]string{"infra/main.bicep": "param p string\n", "pipelines/deploy.yml": "steps: []\n"}
	tests := []struct {
		name    string
		src     func(org string) repofetch.Source
		fault   *azdosim.Fault
		lim     repofetch.Limits
		want    map[string]string
		err     []string
		retries int32
		isLimit bool
	}{
		{name: "whole tree", src: func(org string) repofetch.Source {
			return repofetch.Source{OrgURL: org, Credential: azdo.JobToken(token), Project: "Payments", Repository: "infra", Commit: commit}
		}, want: files},
		{name: "retries a throttled download", src: func(org string) repofetch.Source {
			return repofetch.Source{OrgURL: org, Credential: azdo.PAT(token), Project: "Payments", Repository: "infra", Commit: commit}
		}, fault: &azdosim.Fault{Route: azdosim.RouteItems, Kind: azdosim.FaultThrottle, RetryAfter: "0", Times: 2}, want: files, retries: 2},
		{name: "retries an outage, then gives up", src: func(org string) repofetch.Source {
			return repofetch.Source{OrgURL: org, Credential: azdo.JobToken(token), Project: "Payments", Repository: "infra", Commit: commit}
		}, fault: &azdosim.Fault{Route: azdosim.RouteItems, Kind: azdosim.FaultStatus, Status: 503}, err: []string{"503", "try again later"}, retries: 3},
		{name: "bad token", src: func(org string) repofetch.Source {
			return repofetch.Source{OrgURL: org, Credential: azdo.JobToken("wrong"), Project: "Payments", Repository: "infra", Commit: commit}
		}, err: []string{"401", "job token"}},
		{name: "forbidden", src: func(org string) repofetch.Source {
			return repofetch.Source{OrgURL: org, Credential: azdo.JobToken(token), Project: "Payments", Repository: "infra", Commit: commit}
		}, fault: &azdosim.Fault{Route: azdosim.RouteItems, Kind: azdosim.FaultStatus, Status: 403}, err: []string{"403", "Code (Read)"}},
		{name: "unknown commit", src: func(org string) repofetch.Source {
			return repofetch.Source{OrgURL: org, Credential: azdo.JobToken(token), Project: "Payments", Repository: "infra", Commit: strings.Repeat("f", 40)}
		}, err: []string{"404", "commit"}},
		{name: "short commit", src: func(org string) repofetch.Source {
			return repofetch.Source{OrgURL: org, Credential: azdo.JobToken(token), Project: "Payments", Repository: "infra", Commit: "89abcdef"}
		}, err: []string{"not a full 40-character commit id"}},
		{name: "archive over the limit", src: func(org string) repofetch.Source {
			return repofetch.Source{OrgURL: org, Credential: azdo.JobToken(token), Project: "Payments", Repository: "infra", Commit: commit}
		}, lim: repofetch.Limits{MaxArchiveBytes: 100}, err: []string{"larger than the limit of 100 bytes"}, isLimit: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim, org := start(t, files)
			if tc.fault != nil {
				require.NoError(t, sim.Inject(*tc.fault))
			}
			var retries atomic.Int32
			f := &repofetch.Fetcher{Limits: tc.lim, Sleep: noSleep, OnRetry: func() { retries.Add(1) }}
			dir := t.TempDir()
			st, err := f.Fetch(context.Background(), tc.src(org), dir)
			assert.Equal(t, tc.retries, retries.Load())
			if len(tc.err) > 0 {
				require.Error(t, err)
				for _, s := range tc.err {
					assert.Contains(t, err.Error(), s)
				}
				assert.NotContains(t, err.Error(), token)
				assert.Equal(t, tc.isLimit, errors.Is(err, repofetch.ErrLimit))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, len(tc.want), st.Files)
			for name, body := range tc.want {
				b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
				require.NoError(t, err)
				assert.Equal(t, body, string(b))
			}
		})
	}
}

func TestFetchRefusesHostileArchiveFromTheService(t *testing.T) {
	_, org := start(t, map[string]string{"ok.json": "{}", "../../escape.json": "{}"})
	parent := t.TempDir()
	dir := filepath.Join(parent, "src")
	require.NoError(t, os.Mkdir(dir, 0o700))
	f := &repofetch.Fetcher{Sleep: noSleep}
	_, err := f.Fetch(context.Background(), repofetch.Source{OrgURL: org, Credential: azdo.JobToken(token), Project: "Payments", Repository: "infra", Commit: commit}, dir)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "unsafe entry name")
	_, statErr := os.Stat(filepath.Join(parent, "escape.json"))
	assert.True(t, os.IsNotExist(statErr))
}

// A redirect (a sign-in page, a hostile proxy) is not followed, so the credential stays with
// the organization's host.
func TestFetchNeverFollowsRedirects(t *testing.T) {
	var leaked atomic.Bool
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			leaked.Store(true)
		}
	}))
	defer other.Close()
	org := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/steal", http.StatusFound)
	}))
	defer org.Close()
	f := &repofetch.Fetcher{Sleep: noSleep}
	_, err := f.Fetch(context.Background(), repofetch.Source{OrgURL: org.URL + "/contoso", Credential: azdo.JobToken(token), Repository: "infra", Commit: commit}, t.TempDir())
	require.Error(t, err)
	assert.False(t, leaked.Load())
}
