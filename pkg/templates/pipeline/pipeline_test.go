package pipeline

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/stagegate/stagegate/pkg/templates/pos"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

func parseFile(t *testing.T, name string) *Pipeline {
	t.Helper()
	p, err := Parse(name, readTestdata(t, name))
	require.NoError(t, err)
	return p
}

func TestIsPipeline(t *testing.T) {
	tests := map[string]bool{
		"azure-pipelines.yml":    true,
		"extends.yml":            true,
		"steps-template.yml":     true,
		"variables-template.yml": true,
		"github-workflow.yml":    false,
		"gitlab-ci.yml":          false,
		"k8s.yml":                false,
	}
	for name, want := range tests {
		doc, err := ParseYAML(name, readTestdata(t, name))
		require.NoError(t, err, name)
		assert.Equal(t, want, IsPipeline(doc), name)
	}
	inline := map[string]bool{
		"jobs:\n  - job: a\n":                true,
		"stages: [build, test]\n":            false,
		"steps: 5\n":                         false,
		"- a\n- b\n":                         false,
		"variables:\n  a: b\nother: 1\n":     false,
		"extends:\n  template: x.yml\n":      true,
		"":                                   false,
		"name: x\ntrigger: none\n":           false,
		"trigger: none\nsteps:\n- script: x": true,
	}
	for src, want := range inline {
		doc, err := ParseYAML("x.yml", []byte(src))
		require.NoError(t, err, src)
		assert.Equal(t, want, IsPipeline(doc), src)
	}
	assert.False(t, IsPipeline(nil))
}

func TestVariables(t *testing.T) {
	p := parseFile(t, "azure-pipelines.yml")
	require.Len(t, p.Variables, 5)
	assert.Equal(t, "kv-linked-secrets", p.Variables[0].Group)
	require.NotNil(t, p.Variables[1].Template)
	assert.Equal(t, "vars/common.yml", p.Variables[1].Template.Template)
	assert.NotNil(t, p.Variables[1].Template.Parameters)
	db := p.Variables[2]
	assert.Equal(t, "dbPassword", db.Name)
	assert.Equal(t, "Sup3rS3cret!", db.Value)
	assert.Equal(t, pos.Pos{Offset: db.NamePos.Offset, Line: 18, Col: 11}, db.NamePos)
	assert.Equal(t, 19, db.ValuePos.Line)
	assert.Equal(t, 12, db.ValuePos.Col)
	assert.Equal(t, "'Sup3rS3cret!'", string(p.Doc.Src[db.ValuePos.Offset:db.ValuePos.Offset+14]))
	assert.Equal(t, ScopePipeline, db.Scope)
	assert.False(t, db.Conditional)
	assert.True(t, p.Variables[3].Readonly)
	api := p.Variables[4]
	assert.Equal(t, "apiToken", api.Name)
	assert.True(t, api.Conditional, "defined under ${{ if }}")

	build := p.Stages[0]
	require.Len(t, build.Variables, 2)
	assert.Equal(t, "storageKey", build.Variables[0].Name)
	assert.Equal(t, "abc123literal==", build.Variables[0].Value)
	assert.Equal(t, ScopeStage, build.Variables[0].Scope)
	assert.Same(t, build, build.Variables[0].Stage)
	assert.Equal(t, 30, build.Variables[0].NamePos.Line)
	assert.Equal(t, 7, build.Variables[0].NamePos.Col)

	deployJob := p.Stages[1].Jobs[0]
	require.Len(t, deployJob.Variables, 1)
	assert.Equal(t, ScopeJob, deployJob.Variables[0].Scope)
	assert.Same(t, deployJob, deployJob.Variables[0].Job)
	assert.Equal(t, "job-level-literal", deployJob.Variables[0].Value)

	assert.Len(t, p.AllVariables, 8)
	require.Len(t, p.Parameters, 2)
	assert.Equal(t, "adminPassword", p.Parameters[1].Name)
	assert.Equal(t, "string", p.Parameters[1].Type)
	assert.Equal(t, "P@ssw0rd-default", p.Parameters[1].Default.Value)
}

func TestStepsAndTasks(t *testing.T) {
	p := parseFile(t, "azure-pipelines.yml")
	require.Len(t, p.Stages, 2)
	assert.Equal(t, "Build", p.Stages[0].Name)
	compile := p.Stages[0].Jobs[0]
	assert.Equal(t, "Compile", compile.Name)
	assert.Equal(t, "job", compile.Kind)

	var kinds []string
	for _, s := range compile.Steps {
		kinds = append(kinds, s.Kind.String())
	}
	assert.Equal(t, []string{"checkout", "script", "bash", "template", "pwsh"}, kinds)

	script := compile.Steps[1]
	assert.True(t, script.Kind.IsScript())
	assert.Equal(t, "Build", script.DisplayName)
	assert.Contains(t, script.Script, "dotnet build")
	require.Len(t, script.Env, 2)
	assert.Equal(t, "NUGET_TOKEN", script.Env[0].Key)
	assert.Equal(t, "literal-nuget-token", script.Env[0].Value)
	assert.Equal(t, 43, script.Env[0].KeyPos.Line)
	assert.Equal(t, 15, script.Env[0].KeyPos.Col)
	assert.Equal(t, 28, script.Env[0].ValuePos.Col)
	assert.Equal(t, 39, p.Doc.LinePos(script.ScriptNode, 0).Line, "block scalar content starts below the indicator")
	assert.Equal(t, 40, p.Doc.LinePos(script.ScriptNode, 1).Line)
	assert.Equal(t, 15, p.Doc.LinePos(script.ScriptNode, 1).Col)
	assert.Same(t, compile, script.Job)
	assert.Same(t, p.Stages[0], script.Stage)

	bash := compile.Steps[2]
	assert.True(t, bash.Conditional)
	tmpl := compile.Steps[3]
	require.NotNil(t, tmpl.Template)
	assert.Equal(t, "steps/sign.yml", tmpl.Template.Template)
	pre := compile.Steps[4]
	assert.Equal(t, "signing-literal", pre.Env[0].Value, "steps inside template parameters are found")

	deploy := p.Stages[1].Jobs[0]
	assert.Equal(t, "deployment", deploy.Kind)
	assert.Equal(t, "production", deploy.Environment)
	assert.Equal(t, "runOnce", deploy.Strategy)
	var hooks []string
	for _, s := range deploy.Steps {
		hooks = append(hooks, s.Hook+"/"+s.Kind.String())
	}
	assert.Equal(t, []string{"preDeploy/powershell", "deploy/task", "deploy/task", "on.failure/script"}, hooks)

	arm := deploy.Steps[1]
	assert.True(t, arm.IsTask("azureresourcemanagertemplatedeployment"))
	assert.Equal(t, "3", arm.TaskVersion)
	assert.Equal(t, 72, arm.TaskPos.Line)
	assert.Equal(t, "$(Build.SourcesDirectory)/infra/vm.json", arm.Input("CSMFILE").Value)
	assert.Equal(t, "$(System.DefaultWorkingDirectory)/infra/vm.parameters.json", arm.Input("csmParametersFile").Value)
	ov := arm.Input("overrideParameters")
	require.NotNil(t, ov)
	overrides := ParseOverrideParameters(ov.Value)
	require.Len(t, overrides, 4)
	assert.Equal(t, Override{Name: "adminPassword", Value: "Literal Pass 1!", Quoted: true, Offset: 25, ValueOffset: 40}, overrides[1])
	assert.Equal(t, "$(sqlAdminPassword)", overrides[2].Value)
	assert.True(t, overrides[3].JSON)
	assert.Nil(t, arm.Input("missing"))

	cli := deploy.Steps[2]
	assert.True(t, cli.IsTask("AzureCLI"))
	script2 := cli.Input("inlineScript")
	deps := ParseAzDeployments(script2.Value)
	require.Len(t, deps, 1)
	d := deps[0]
	assert.Equal(t, "group", d.Scope)
	assert.Equal(t, "create", d.Action)
	assert.Equal(t, "rg-app", d.Group)
	assert.Equal(t, "infra/main.bicep", d.TemplateFile)
	require.Len(t, d.Parameters, 3)
	assert.Equal(t, "infra/main.bicepparam", d.Parameters[0].File)
	assert.Equal(t, "adminPassword", d.Parameters[1].Name)
	assert.Equal(t, "Inline-Secret1", d.Parameters[1].Value)
	assert.Equal(t, 4, d.Parameters[1].Line)
	lp := p.Doc.LinePos(script2.Node, d.Parameters[1].Line)
	assert.Equal(t, 98, lp.Line)
	assert.Equal(t, "--parameters adminPassword", string(p.Doc.Src[lp.Offset:lp.Offset+26]))

	smoke := p.Stages[1].Jobs[1]
	assert.Equal(t, "template", smoke.Kind)
	require.Len(t, smoke.Steps, 1, "steps passed to a job template")
	assert.True(t, smoke.Steps[0].IsTask("AzurePowerShell"))

	assert.Len(t, p.AllSteps, 10)
	assert.Len(t, p.AllJobs, 3)
}

func TestExtendsAndTemplates(t *testing.T) {
	p := parseFile(t, "extends.yml")
	require.NotNil(t, p.Extends)
	assert.Equal(t, "pipelines/secure.yml@templates", p.Extends.Template)
	require.Len(t, p.Stages, 1)
	require.Len(t, p.AllSteps, 1)
	cli := p.AllSteps[0]
	deps := ParseAzDeployments(cli.Input("inlineScript").Value)
	require.Len(t, deps, 1)
	assert.Equal(t, "sub", deps[0].Scope)
	assert.Equal(t, "main.bicep", deps[0].TemplateFile)
	require.Len(t, deps[0].Parameters, 1)
	assert.Equal(t, "main.parameters.json", deps[0].Parameters[0].File)

	st := parseFile(t, "steps-template.yml")
	require.Len(t, st.Steps, 1)
	assert.Nil(t, st.Steps[0].Job)
	require.Len(t, st.Parameters, 1)

	vt := parseFile(t, "variables-template.yml")
	require.Len(t, vt.Variables, 2)
	assert.Equal(t, "template-client-secret", vt.Variables[0].Value)
}

func TestAliasesAndMergeKeys(t *testing.T) {
	src := `
common: &envs
  TOKEN: literal-token
steps:
  - script: echo
    env: *envs
  - bash: echo
    env:
      <<: *envs
      OTHER: x
`
	p, err := Parse("a.yml", []byte(src))
	require.NoError(t, err)
	require.Len(t, p.Steps, 2)
	require.Len(t, p.Steps[0].Env, 1)
	assert.Equal(t, "literal-token", p.Steps[0].Env[0].Value)
	require.Len(t, p.Steps[1].Env, 2)
	assert.Equal(t, "TOKEN", p.Steps[1].Env[0].Key)
}

func billionLaughs(levels int) string {
	var b strings.Builder
	b.WriteString("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i <= levels; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [", i, i)
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]\n")
	}
	b.WriteString("steps:\n  - script: *a" + fmt.Sprint(levels) + "\n")
	return b.String()
}

func TestAliasBomb(t *testing.T) {
	_, err := ParseYAML("bomb.yml", []byte(billionLaughs(9)))
	require.Error(t, err)
	assert.ErrorIs(t, err, pos.ErrLimit)
	assert.Contains(t, err.Error(), "alias bomb")
	var pe *pos.Error
	require.True(t, errors.As(err, &pe))
	assert.Equal(t, "bomb.yml", pe.Path)
	// A little reuse is fine.
	_, err = ParseYAML("ok.yml", []byte(billionLaughs(2)))
	require.NoError(t, err)
}

func TestYAMLErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		line int
		msg  string
	}{
		{"invalid utf-8", "steps:\n  - script: \xff\xfe\n", 2, "invalid UTF-8"},
		// yaml.v3 reports the line of the enclosing block for parser errors.
		{"bad indentation", "steps:\n  - script: a\n   bad: [\n", 1, "did not find expected '-' indicator"},
		{"mapping in scalar", "a: b\n  c: d\n", 2, "mapping values are not allowed"},
		{"tab indentation", "steps:\n\t- script: a\n", 2, "invalid YAML"},
		{"unclosed quote", "a: \"abc\n", 2, "invalid YAML"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("p.yml", []byte(tc.src))
			require.Error(t, err)
			var pe *pos.Error
			require.True(t, errors.As(err, &pe), "%T %v", err, err)
			assert.Equal(t, "p.yml", pe.Path)
			assert.Equal(t, tc.line, pe.Line, err.Error())
			assert.GreaterOrEqual(t, pe.Col, 1)
			assert.Contains(t, pe.Msg, tc.msg)
		})
	}
	_, err := Parse("p.yml", []byte("- a\n- b\n"))
	require.Error(t, err, "a sequence at the top is not a pipeline")
	assert.Contains(t, err.Error(), "p.yml:1:1: expected a mapping")
}

func TestDeepNesting(t *testing.T) {
	src := strings.Repeat("[", 5000) + strings.Repeat("]", 5000)
	_, err := ParseYAML("deep.yml", []byte(src))
	require.Error(t, err)
	assert.ErrorIs(t, err, pos.ErrLimit)
	_, err = ParseYAML("deeper.yml", []byte(strings.Repeat("[", 100000)))
	require.Error(t, err, "yaml.v3's own limit")
}

func TestMultiDocumentAndEmpty(t *testing.T) {
	doc, err := ParseYAML("k8s.yml", readTestdata(t, "k8s.yml"))
	require.NoError(t, err)
	require.Len(t, doc.Docs, 2)
	assert.Equal(t, doc.Docs[0], doc.Root)
	assert.Equal(t, yaml.MappingNode, doc.Docs[1].Kind)

	empty, err := Parse("empty.yml", nil)
	require.NoError(t, err)
	assert.Nil(t, empty.Doc.Root)
	assert.Empty(t, empty.AllSteps)
}

func TestParseAzDeployments(t *testing.T) {
	tests := []struct {
		name   string
		script string
		want   []AzDeployment
	}{
		{
			"pwsh continuation and equals form",
			"az deployment group create `\n  --resource-group=rg `\n  --template-file main.json `\n  --parameters=@p.json secret=\"two words\"\n",
			[]AzDeployment{{Line: 0, Scope: "group", Action: "create", Group: "rg", TemplateFile: "main.json", Parameters: []AzParam{
				{Line: 3, Text: "@p.json", File: "p.json"}, {Line: 3, Text: "secret=two words", Name: "secret", Value: "two words"},
			}}},
		},
		{
			"legacy command and several commands",
			"echo start; az group deployment create -g rg --template-uri https://x/t.json -p '{\"a\":{\"value\":1}}'\naz deployment sub what-if -f a.bicep",
			[]AzDeployment{
				{Line: 0, Scope: "group", Action: "create", Group: "rg", TemplateURI: "https://x/t.json", Parameters: []AzParam{{Line: 0, Text: `{"a":{"value":1}}`, JSON: true}}},
				{Line: 1, Scope: "sub", Action: "what-if", TemplateFile: "a.bicep"},
			},
		},
		{
			"not deployments",
			"az keyvault secret show --name x\n# az deployment group create -f commented.json\necho az deployment group create",
			nil,
		},
		{
			"parameters file path with slash and equals in url",
			"az deployment mg validate -f t.json -p ./p/x.json https://h/p.json?sv=1",
			[]AzDeployment{{Line: 0, Scope: "mg", Action: "validate", TemplateFile: "t.json", Parameters: []AzParam{
				{Line: 0, Text: "./p/x.json", File: "./p/x.json"}, {Line: 0, Text: "https://h/p.json?sv=1", File: "https://h/p.json?sv=1"},
			}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, ParseAzDeployments(tc.script))
		})
	}
}

func TestParseOverrideParameters(t *testing.T) {
	tests := []struct {
		in   string
		want []Override
	}{
		{"", nil},
		{"-a 1 -b 'x y' -c", []Override{
			{Name: "a", Value: "1", Offset: 0, ValueOffset: 3},
			{Name: "b", Value: "x y", Offset: 5, ValueOffset: 8, Quoted: true},
			{Name: "c", Offset: 14, ValueOffset: 16},
		}},
		{"-flag -next v", []Override{{Name: "flag", Offset: 0, ValueOffset: 6}, {Name: "next", Value: "v", Offset: 6, ValueOffset: 12}}},
		{`-arr ["a", "b]"] -n -1`, []Override{
			{Name: "arr", Value: `["a", "b]"]`, Offset: 0, ValueOffset: 5, JSON: true},
			{Name: "n", Value: "-1", Offset: 17, ValueOffset: 20},
		}},
		{`stray -p "esc \" q"`, []Override{{Name: "p", Value: `esc " q`, Offset: 6, ValueOffset: 9, Quoted: true}}},
		{`-open "unterminated`, []Override{{Name: "open", Value: "unterminated", Offset: 0, ValueOffset: 6, Quoted: true}}},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, ParseOverrideParameters(tc.in), tc.in)
	}
}

// get answers what the first matching entry of pairs says, for every key of every mapping in
// the test documents (conditional blocks, merge keys and aliases included) and for absent keys.
func TestGetMatchesPairs(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.yml"))
	require.NoError(t, err)
	extra := map[string]string{
		"merge-and-if.yml": "base: &b\n  name: fromBase\n  image: x\nstep:\n  <<: *b\n  ${{ if true }}:\n    image: conditional\n    only: inIf\n  image: plain\n  name: own\n",
	}
	docs := map[string][]byte{}
	for _, f := range files {
		docs[f] = readTestdata(t, filepath.Base(f))
	}
	for name, src := range extra {
		docs[name] = []byte(src)
	}
	checked := 0
	for name, src := range docs {
		doc, err := ParseYAML(name, src)
		require.NoError(t, err, name)
		var walk func(n *yaml.Node, depth int)
		walk = func(n *yaml.Node, depth int) {
			if n == nil || depth > 100 {
				return
			}
			if n.Kind == yaml.MappingNode {
				keys := map[string]bool{"absent-key": true}
				for _, kv := range pairs(n, 0) {
					keys[kv.key.Value] = true
				}
				for k := range keys {
					var want *yaml.Node
					for _, kv := range pairs(n, 0) {
						if kv.key.Value == k {
							want = resolve(kv.value)
							break
						}
					}
					assert.Same(t, want, get(n, k), "%s: key %q at line %d", name, k, n.Line)
					checked++
				}
			}
			for _, c := range n.Content {
				walk(c, depth+1)
			}
		}
		for _, d := range doc.Docs {
			walk(d, 0)
		}
	}
	assert.Greater(t, checked, 100)
	doc, err := ParseYAML("merge-and-if.yml", []byte(extra["merge-and-if.yml"]))
	require.NoError(t, err)
	step := get(doc.Root, "step")
	assert.Equal(t, "fromBase", scalar(get(step, "name")), "the merged mapping comes first")
	assert.Equal(t, "inIf", scalar(get(step, "only")))
}
