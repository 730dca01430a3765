package rules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTemplateCandidates(t *testing.T) {
	cases := map[string][]string{
		"infra/app.parameters.json":      {"infra/app.json", "infra/app.jsonc", "infra/app.bicep", "infra/app.template.json"},
		"infra/App.Parameters.Prod.json": {"infra/App.json", "infra/App.jsonc", "infra/App.bicep", "infra/App.template.json"},
		"main.parameters.jsonc":          {"main.json", "main.jsonc", "main.bicep", "main.template.json"},
		"parameters.json":                nil,
		"infra/values.json":              nil,
		"a.parameters.x.y.json":          nil,
	}
	for in, want := range cases {
		assert.Equal(t, want, templateCandidates(in), in)
	}
}

func TestResolvePipelinePath(t *testing.T) {
	cases := []struct {
		in     string
		want   string
		inside bool
	}{
		{"$(Build.SourcesDirectory)/infra/main.json", "infra/main.json", true},
		{"$(System.DefaultWorkingDirectory)\\infra\\main.json", "infra/main.json", true},
		{"$(build.sourcesdirectory)/./infra/../infra/main.json", "infra/main.json", true},
		{"infra/main.bicep", "infra/main.bicep", true},
		{"./infra/main.bicep", "infra/main.bicep", true},
		{"$(Pipeline.Workspace)/drop/main.json", "", false},
		{"/home/vsts/work/1/s/main.json", "", false},
		{"C:\\agent\\main.json", "", false},
		{"../other-repo/main.json", "", false},
		{"${{ parameters.template }}", "", false},
	}
	for _, c := range cases {
		got, inside := resolvePipelinePath(c.in)
		assert.Equal(t, c.inside, inside, c.in)
		assert.Equal(t, c.want, got, c.in)
	}
}

func TestPairNotesAndGlobs(t *testing.T) {
	tpl := armHead + `"parameters": { "adminPassword": { "type": "securestring" } }, "resources": [] }`
	files := map[string]string{
		"infra/a/main.json": tpl,
		"infra/b/main.json": tpl,
		"azure-pipelines.yml": `
steps:
  - task: AzureResourceManagerTemplateDeployment@3
    inputs:
      csmFile: '**/a/main.json'
      overrideParameters: -adminPassword literal-value-1
  - task: AzureResourceManagerTemplateDeployment@3
    inputs:
      csmFile: $(Pipeline.Workspace)/drop/main.json
      overrideParameters: -adminPassword $(pw)
  - task: AzureResourceManagerTemplateDeployment@3
    inputs:
      csmFile: infra/missing.json
`,
		"p.bicepparam": "using './missing.bicep'\nparam x = 'y'\n",
	}
	issues, _, cross := scanTree(t, files, nil)
	require.Len(t, issues["azure-pipelines.yml"], 1)
	assert.Contains(t, issues["azure-pipelines.yml"][0].Message, "infra/a/main.json")
	require.Len(t, cross.Notes, 3)
	joined := strings.Join(cross.Notes, "\n")
	assert.Contains(t, joined, "not under rootDirectory")
	assert.Contains(t, joined, "infra/missing.json, which was not found")
	assert.Contains(t, joined, "p.bicepparam:1: using './missing.bicep'")
}

// TestExamplesTree runs the rules over the demo tree and checks every rule fires there.
func TestExamplesTree(t *testing.T) {
	root := filepath.Join("..", "..", "..", "..", "examples", "keyvault")
	files := map[string]string{}
	require.NoError(t, filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		require.NoError(t, err)
		if d.IsDir() || strings.HasSuffix(p, ".md") {
			return nil
		}
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		rel, _ := filepath.Rel(root, p)
		files[filepath.ToSlash(rel)] = string(b)
		return nil
	}))
	issues, refs, _ := scanTree(t, files, nil)
	seen := map[string]bool{}
	for _, list := range issues {
		for _, is := range list {
			seen[is.Rule] = true
		}
	}
	for _, r := range Catalog()[1:] {
		assert.True(t, seen[r.ID], "the examples show no %s finding", r.ID)
	}
	assert.False(t, seen[KV000], "the demo tree must be parsable")
	assert.NotEmpty(t, refs)
	for _, clean := range []string{"infra/arm/vm.json", "infra/arm/vm.parameters.json", "infra/bicep/main.bicep", "infra/bicep/modules/sql.bicep",
		"infra/bicep/main.bicepparam", "infra/bicep/app.prod.bicepparam", "infra/terraform/main.tf", "pipelines/deploy.yml", "app/appsettings.json"} {
		assert.Empty(t, issues[clean], "%s is a well-kept example", clean)
	}
}
