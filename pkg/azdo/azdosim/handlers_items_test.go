package azdosim_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"sort"
	"testing"

	"github.com/microsoft/azure-devops-go-api/azuredevops/v7"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/git"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/azdo/azdosim"
)

const itemsCommit = "0123456789abcdef0123456789abcdef01234567"

func itemsScenario() *azdosim.Scenario {
	sc := &azdosim.Scenario{Organization: "contoso", Tokens: []string{demoToken}}
	p := &azdosim.Project{Name: "Payments"}
	p.AddRepository(&azdosim.Repository{Name: "payments-api", Trees: map[string]map[string]string{
		itemsCommit: {
			"infra/main.bicep":        "param adminPassword string\n",
			"infra/modules/sql.bicep": "// sql\n",
			"pipelines/deploy.yml":    "steps: []\n",
			"README.md":               "# payments\n",
		},
	}})
	sc.Projects = []*azdosim.Project{p}
	return sc
}

func getZip(t *testing.T, orgURL string, args git.GetItemZipArgs) ([]byte, error) {
	t.Helper()
	conn := azuredevops.NewPatConnection(orgURL, demoToken)
	g, err := git.NewClient(context.Background(), conn)
	require.NoError(t, err)
	rc, err := g.GetItemZip(context.Background(), args)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func TestItemsZipWithTheRealClient(t *testing.T) {
	sim, orgURL := start(t, itemsScenario(), azdosim.Options{})
	full := git.VersionControlRecursionTypeValues.Full
	commit := git.GitVersionTypeValues.Commit
	tests := []struct {
		name      string
		repo      string
		path      string
		version   string
		wantFiles map[string]string
		wantDirs  []string
		wantCode  int
	}{
		{name: "whole tree by name", repo: "payments-api", path: "/", version: itemsCommit,
			wantFiles: map[string]string{"infra/main.bicep": "param adminPassword string\n", "infra/modules/sql.bicep": "// sql\n", "pipelines/deploy.yml": "steps: []\n", "README.md": "# payments\n"},
			wantDirs:  []string{"infra/", "infra/modules/", "pipelines/"}},
		{name: "commit id in upper case", repo: "payments-api", path: "/", version: "0123456789ABCDEF0123456789ABCDEF01234567",
			wantFiles: map[string]string{"infra/main.bicep": "param adminPassword string\n", "infra/modules/sql.bicep": "// sql\n", "pipelines/deploy.yml": "steps: []\n", "README.md": "# payments\n"},
			wantDirs:  []string{"infra/", "infra/modules/", "pipelines/"}},
		{name: "a folder keeps repository-relative names", repo: "payments-api", path: "/infra", version: itemsCommit,
			wantFiles: map[string]string{"infra/main.bicep": "param adminPassword string\n", "infra/modules/sql.bicep": "// sql\n"},
			wantDirs:  []string{"infra/", "infra/modules/"}},
		{name: "unknown commit", repo: "payments-api", path: "/", version: "ffffffffffffffffffffffffffffffffffffffff", wantCode: http.StatusNotFound},
		{name: "unknown folder", repo: "payments-api", path: "/nothing", version: itemsCommit, wantCode: http.StatusNotFound},
		{name: "unknown repository", repo: "other", path: "/", version: itemsCommit, wantCode: http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, err := getZip(t, orgURL, git.GetItemZipArgs{
				Project: ptr("Payments"), RepositoryId: ptr(tc.repo), Path: ptr(tc.path), RecursionLevel: &full,
				VersionDescriptor: &git.GitVersionDescriptor{Version: ptr(tc.version), VersionType: &commit},
			})
			if tc.wantCode != 0 {
				var we azuredevops.WrappedError
				var wep *azuredevops.WrappedError
				switch {
				case errors.As(err, &wep):
					require.NotNil(t, wep.StatusCode)
					assert.Equal(t, tc.wantCode, *wep.StatusCode)
				case errors.As(err, &we):
					require.NotNil(t, we.StatusCode)
					assert.Equal(t, tc.wantCode, *we.StatusCode)
				default:
					t.Fatalf("want an Azure DevOps error with status %d, got %v", tc.wantCode, err)
				}
				return
			}
			require.NoError(t, err)
			zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
			require.NoError(t, err)
			files := map[string]string{}
			var dirs []string
			for _, f := range zr.File {
				if f.FileInfo().IsDir() {
					dirs = append(dirs, f.Name)
					continue
				}
				rc, err := f.Open()
				require.NoError(t, err)
				b, err := io.ReadAll(rc)
				require.NoError(t, err)
				files[f.Name] = string(b)
			}
			sort.Strings(dirs)
			assert.Equal(t, tc.wantFiles, files)
			assert.Equal(t, tc.wantDirs, dirs)
		})
	}
	assert.Positive(t, sim.Count(azdosim.RouteItems))
}

func TestItemsRefusesJSONAndOtherVersionTypes(t *testing.T) {
	_, orgURL := start(t, itemsScenario(), azdosim.Options{})
	for name, query := range map[string]string{
		"json":   "?path=/&versionDescriptor.versionType=commit&versionDescriptor.version=" + itemsCommit + "&api-version=7.1",
		"branch": "?path=/&versionDescriptor.versionType=branch&versionDescriptor.version=main&$format=zip&api-version=7.1",
	} {
		t.Run(name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, orgURL+"/Payments/_apis/git/repositories/payments-api/items"+query, nil)
			require.NoError(t, err)
			req.SetBasicAuth("", demoToken)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		})
	}
}
