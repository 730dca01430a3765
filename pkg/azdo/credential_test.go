package azdo_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/azdo"
)

func TestCredentials(t *testing.T) {
	ctx := context.Background()
	h, err := azdo.JobToken(" job-token-value ").Authorization(ctx)
	require.NoError(t, err)
	assert.Equal(t, "Bearer job-token-value", h)
	assert.Equal(t, azdo.SourceJobToken, azdo.JobToken("x").Source())

	h, err = azdo.PAT("pat-value").Authorization(ctx)
	require.NoError(t, err)
	assert.Equal(t, "Basic "+base64.StdEncoding.EncodeToString([]byte(":pat-value")), h)
	assert.Equal(t, azdo.SourcePAT, azdo.PAT("x").Source())

	for _, c := range []azdo.Credential{azdo.JobToken(""), azdo.PAT("  ")} {
		_, err := c.Authorization(ctx)
		assert.ErrorIs(t, err, azdo.ErrNoCredential)
	}
	for _, c := range []azdo.Credential{azdo.JobToken("secret-job-token"), azdo.PAT("secret-job-token")} {
		for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
			assert.NotContains(t, fmt.Sprintf(format, c), "secret-job-token", format)
		}
	}
}

func TestFromAgentEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		org     string
		source  string
		header  string
		wantErr string
	}{
		{
			name:   "job token",
			env:    map[string]string{azdo.EnvCollectionURI: "https://dev.azure.com/contoso/", azdo.EnvJobToken: "jt", azdo.EnvPAT: "pat"},
			org:    "https://dev.azure.com/contoso/",
			source: azdo.SourceJobToken, header: "Bearer jt",
		},
		{
			name:   "mapped System.AccessToken",
			env:    map[string]string{azdo.EnvCollectionURI: "https://dev.azure.com/contoso/", azdo.EnvAccessToken: "st"},
			org:    "https://dev.azure.com/contoso/",
			source: azdo.SourceJobToken, header: "Bearer st",
		},
		{
			name:   "PAT fallback",
			env:    map[string]string{azdo.EnvCollectionURI: "https://dev.azure.com/contoso/", azdo.EnvJobToken: " ", azdo.EnvPAT: "pat"},
			org:    "https://dev.azure.com/contoso/",
			source: azdo.SourcePAT, header: "Basic " + base64.StdEncoding.EncodeToString([]byte(":pat")),
		},
		{name: "no token", env: map[string]string{azdo.EnvCollectionURI: "https://dev.azure.com/contoso/"}, wantErr: "neither the job token"},
		{name: "no collection", env: map[string]string{azdo.EnvPAT: "pat"}, wantErr: azdo.EnvCollectionURI + " is not set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lookup := func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
			org, cred, err := azdo.FromAgentEnv(lookup)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.org, org)
			assert.Equal(t, tt.source, cred.Source())
			h, err := cred.Authorization(context.Background())
			require.NoError(t, err)
			assert.Equal(t, tt.header, h)
		})
	}
	_, _, err := azdo.FromAgentEnv(func(string) (string, bool) { return "", false })
	assert.ErrorContains(t, err, "not set")
}
