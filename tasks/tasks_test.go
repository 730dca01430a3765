package tasks

import (
	"bytes"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/internal/testfiles"
)

// contractInput is one row of the input tables in PRODUCT.md. Pipelines reference these names
// and rely on these defaults, so this table IS the contract: change it only with the product.
type contractInput struct {
	name, typ, defaultValue string
}

type contractTask struct {
	id      string // stable forever: existing pipelines and classic definitions refer to it
	binary  string
	inputs  []contractInput
	outputs []string
}

var modeInput = contractInput{"mode", "pickList", "enforce"}

func contract() map[string]contractTask {
	return map[string]contractTask{
		"SecurityWorkItemGate": {
			id:     "49b43a3b-73eb-4f91-ab05-0efa60b74d80",
			binary: "workitem-gate",
			inputs: []contractInput{
				{"project", "string", "$(System.TeamProject)"},
				{"tags", "string", "Security"},
				{"workItemTypes", "string", ""},
				{"areaPath", "string", ""},
				{"scope", "pickList", "project"},
				{"queryId", "string", ""},
				{"maxCritical", "string", "0"},
				{"maxHigh", "string", "0"},
				{"maxMedium", "string", "-1"},
				{"maxLow", "string", "-1"},
				{"slaDays", "string", "critical=7,high=30,medium=90,low=180"},
				{"defaultSeverity", "string", "2 - High"},
				{"requireReviewTag", "string", ""},
				modeInput,
			},
			outputs: []string{"openCritical", "openHigh", "openMedium", "openLow", "overdue", "meanTimeToResolveDays", "oldestOpenAgeDays"},
		},
		"ProductionReviewGate": {
			id:     "b5961645-20fe-45ae-aebd-505fd90274de",
			binary: "review-gate",
			inputs: []contractInput{
				{"repository", "string", "$(Build.Repository.ID)"},
				{"productionBranches", "string", "refs/heads/main,refs/heads/master,refs/heads/release/*"},
				{"branch", "string", "$(Build.SourceBranch)"},
				{"commit", "string", "$(Build.SourceVersion)"},
				{"minimumApprovers", "string", "2"},
				{"checkPolicy", "boolean", "true"},
				{"checkChange", "boolean", "true"},
				{"countApprovedWithSuggestions", "boolean", "true"},
				{"onNonProductionBranch", "pickList", "pass"},
				modeInput,
			},
			outputs: []string{"pullRequestId", "approvers", "policyCompliant"},
		},
		"KeyVaultReferenceGate": {
			id:     "3122fe72-23b3-436a-8758-534206329fea",
			binary: "keyvault-gate",
			inputs: []contractInput{
				// filePath: the agent roots a relative value against the sources directory.
				{"rootDirectory", "filePath", "$(Build.SourcesDirectory)"},
				{"include", "string", "**/*.json,**/*.jsonc,**/*.bicep,**/*.bicepparam,**/*.tf,**/*.tfvars,**/*.yml,**/*.yaml"},
				{"exclude", "string", "**/node_modules/**,**/.git/**,**/.terraform/**"},
				{"allowedVaults", "string", ""},
				{"verifyReferences", "boolean", "false"},
				{"azureSubscription", "connectedService:AzureRM", ""},
				{"expiryWarningDays", "string", "30"},
				{"requireExpiry", "boolean", "true"},
				// string, not filePath: the agent turns an empty filePath input into the
				// sources directory, and "no baseline" must stay empty.
				{"baselineFile", "string", ""},
				{"sarifFile", "string", ""},
				modeInput,
			},
			outputs: []string{"findings", "errors", "warnings", "filesScanned", "referencesFound", "secretsVerified"},
		},
	}
}

// rawTask reads tasks/<name>/task.json from disk as generic JSON, for the fields Definition
// does not carry.
func rawTask(t *testing.T, name string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testfiles.ModuleRoot(t), "tasks", name, "task.json"))
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(data, &m), "tasks/%s/task.json", name)
	return m
}

func TestAllMatchesContract(t *testing.T) {
	defs, err := All()
	require.NoError(t, err)
	want := contract()
	agentless := agentlessContract()
	var names []string
	for _, d := range defs {
		names = append(names, d.Name)
	}
	wantNames := make([]string, 0, len(want)+len(agentless))
	for n := range want {
		wantNames = append(wantNames, n)
	}
	for n := range agentless {
		wantNames = append(wantNames, n)
	}
	sort.Strings(wantNames)
	require.Equal(t, wantNames, names, "All returns every task folder, sorted by name")

	for _, d := range defs {
		t.Run(d.Name, func(t *testing.T) {
			got := make(map[string]contractInput, len(d.Inputs))
			for _, in := range d.Inputs {
				_, dup := got[in.Name]
				assert.False(t, dup, "input %s declared twice", in.Name)
				got[in.Name] = contractInput{in.Name, in.Type, in.DefaultValue}
			}
			if a, ok := agentless[d.Name]; ok {
				assert.True(t, d.Agentless(), "runs on the server")
				assert.Equal(t, a.id, d.ID, "task ids never change")
				wantInputs := make(map[string]contractInput, len(a.inputs))
				for _, in := range a.inputs {
					wantInputs[in.name] = in
				}
				assert.Equal(t, wantInputs, got, "input names, types and defaults are the public contract")
				assert.Empty(t, d.OutputVariables, "a server task sets no output variables")
				return
			}
			c := want[d.Name]
			assert.False(t, d.Agentless(), "runs on an agent")
			assert.Equal(t, c.id, d.ID, "task ids never change")
			wantInputs := make(map[string]contractInput, len(c.inputs))
			for _, in := range c.inputs {
				wantInputs[in.name] = in
			}
			assert.Equal(t, wantInputs, got, "input names, types and defaults are the public contract")

			var outs []string
			for _, ov := range d.OutputVariables {
				outs = append(outs, ov.Name)
				assert.NotEmpty(t, ov.Description, "output variable %s needs a description", ov.Name)
			}
			assert.ElementsMatch(t, c.outputs, outs)

			mode, ok := d.Input("mode")
			require.True(t, ok)
			assert.Equal(t, map[string]string{"enforce": "Enforce: violations fail the task", "audit": "Audit: report violations, block nothing"}, mode.Options)
		})
	}
}

func TestAgentless(t *testing.T) {
	tests := []struct {
		runsOn []string
		want   bool
	}{
		{runsOn: nil, want: false},
		{runsOn: []string{"Agent", "DeploymentGroup"}, want: false},
		{runsOn: []string{"Server", "ServerGate"}, want: true},
		{runsOn: []string{"ServerGate"}, want: true},
		{runsOn: []string{"Server", "Agent"}, want: false},
	}
	for _, tt := range tests {
		d := &Definition{RunsOn: tt.runsOn}
		assert.Equal(t, tt.want, d.Agentless(), "%v", tt.runsOn)
	}
}

func TestDefinitionsAreUsable(t *testing.T) {
	defs, err := All()
	require.NoError(t, err)
	for _, d := range defs {
		t.Run(d.Name, func(t *testing.T) {
			assert.NotEmpty(t, d.FriendlyName)
			assert.LessOrEqual(t, len(d.FriendlyName), 40, "the service rejects longer friendly names")
			assert.NotEmpty(t, d.Description)
			for _, in := range d.Inputs {
				assert.NotEmpty(t, in.Label, "input %s label", in.Name)
				assert.NotEmpty(t, in.HelpMarkDown, "input %s help", in.Name)
				switch in.Type {
				case "pickList":
					assert.Contains(t, in.Options, in.DefaultValue, "input %s: default must be one of its options", in.Name)
				case "boolean":
					assert.Contains(t, []string{"true", "false"}, in.DefaultValue, "input %s", in.Name)
				default:
					assert.Empty(t, in.Options, "input %s: only pickLists have options", in.Name)
				}
			}
		})
	}
}

func TestTaskJSONValidatesAgainstOfficialSchema(t *testing.T) {
	root := testfiles.ModuleRoot(t)
	schemaPath := filepath.Join(root, "..", "shared", "schemas", "tasks.schema.json")
	f, err := os.Open(schemaPath)
	require.NoError(t, err, "the official task schema is expected at ../shared/schemas/ beside the repository")
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft4)
	const url = "file:///tasks.schema.json"
	require.NoError(t, c.AddResource(url, doc))
	schema, err := c.Compile(url)
	require.NoError(t, err)

	// The schema must be able to fail, or passing proves nothing.
	bad, err := jsonschema.UnmarshalJSON(strings.NewReader(`{"id":"not-a-guid","inputs":[{"name":"x"}]}`))
	require.NoError(t, err)
	require.Error(t, schema.Validate(bad))

	for name := range contract() {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(root, "tasks", name, "task.json"))
			require.NoError(t, err)
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
			require.NoError(t, err)
			assert.NoError(t, schema.Validate(inst))
		})
	}
	// The schema lists no HttpRequest handler: validate everything else of an agentless task;
	// TestAgentlessExecution checks the HttpRequest block itself.
	for name := range agentlessContract() {
		t.Run(name, func(t *testing.T) {
			m := rawTask(t, name)
			require.Contains(t, m, "execution")
			delete(m, "execution")
			data, err := json.Marshal(m)
			require.NoError(t, err)
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
			require.NoError(t, err)
			assert.NoError(t, schema.Validate(inst))
		})
	}
}

func TestTaskJSONRuntimeFields(t *testing.T) {
	root := testfiles.ModuleRoot(t)
	versionFile, err := os.ReadFile(filepath.Join(root, "VERSION"))
	require.NoError(t, err)
	major := strings.SplitN(strings.TrimSpace(string(versionFile)), ".", 2)[0]

	guid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]string{}
	for name, c := range contract() {
		t.Run(name, func(t *testing.T) {
			m := rawTask(t, name)
			assert.Equal(t, name, m["name"])
			id, _ := m["id"].(string)
			assert.Regexp(t, guid, id, "a random (v4) lower-case GUID")
			if other, dup := seen[strings.ToLower(id)]; dup {
				t.Errorf("%s reuses the id of %s", name, other)
			}
			seen[strings.ToLower(id)] = name

			// Node24 for new agents, Node20_1 and Node16 for older ones, Node10 for Azure
			// DevOps Server agents; all run the same launcher.
			assert.Equal(t, map[string]any{
				"Node24":   map[string]any{"target": "index.js"},
				"Node20_1": map[string]any{"target": "index.js"},
				"Node16":   map[string]any{"target": "index.js"},
				"Node10":   map[string]any{"target": "index.js"},
			}, m["execution"])
			assert.Equal(t, "2.144.0", m["minimumAgentVersion"], "the oldest agent with the Node10 handler")
			assert.NotEmpty(t, m["instanceNameFormat"])

			version, _ := m["version"].(map[string]any)
			assert.Equal(t, major, jsonNumber(version["Major"]), "the task major version follows VERSION; tools/pack stamps Minor and Patch")

			groups := map[string]bool{}
			if gs, ok := m["groups"].([]any); ok {
				for _, g := range gs {
					groups[g.(map[string]any)["name"].(string)] = true
				}
			}
			inputNames := map[string]bool{}
			for _, in := range m["inputs"].([]any) {
				inputNames[in.(map[string]any)["name"].(string)] = true
			}
			for _, in := range m["inputs"].([]any) {
				in := in.(map[string]any)
				if g, ok := in["groupName"].(string); ok {
					assert.True(t, groups[g], "input %s names undeclared group %s", in["name"], g)
				}
				if rule, ok := in["visibleRule"].(string); ok {
					ref := strings.TrimSpace(strings.SplitN(rule, "=", 2)[0])
					assert.True(t, inputNames[ref], "input %s: visibleRule refers to unknown input %q", in["name"], ref)
				}
			}

			launcher, err := os.ReadFile(filepath.Join(root, "tasks", name, "launcher.json"))
			require.NoError(t, err)
			var l struct{ Binary string }
			require.NoError(t, json.Unmarshal(launcher, &l))
			assert.Equal(t, c.binary, l.Binary)
			st, err := os.Stat(filepath.Join(root, "cmd", l.Binary))
			require.NoError(t, err, "launcher.json names cmd/%s", l.Binary)
			assert.True(t, st.IsDir())

			icon, err := os.Open(filepath.Join(root, "tasks", name, "icon.png"))
			require.NoError(t, err)
			defer icon.Close()
			cfg, err := png.DecodeConfig(icon)
			require.NoError(t, err)
			assert.Equal(t, [2]int{128, 128}, [2]int{cfg.Width, cfg.Height})
		})
	}
}

func jsonNumber(v any) string {
	f, ok := v.(float64)
	if !ok {
		return ""
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

func TestGetAndInput(t *testing.T) {
	d, err := Get("securityworkitemgate")
	require.NoError(t, err, "names compare case-insensitively")
	assert.Equal(t, "SecurityWorkItemGate", d.Name)

	in, ok := d.Input("MAXCRITICAL")
	require.True(t, ok, "input names compare case-insensitively, like INPUT_ variables")
	assert.Equal(t, "maxCritical", in.Name)
	assert.Equal(t, "0", in.DefaultValue)
	assert.Equal(t, "thresholds", in.GroupName)

	_, ok = d.Input("noSuchInput")
	assert.False(t, ok)

	_, err = Get("NoSuchGate")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "NoSuchGate")
	assert.Contains(t, err.Error(), "KeyVaultReferenceGate", "the error lists the known tasks")

	// Callers may modify what they get without affecting later calls.
	d.Inputs[0].DefaultValue = "changed"
	again, err := Get("SecurityWorkItemGate")
	require.NoError(t, err)
	assert.NotEqual(t, "changed", again.Inputs[0].DefaultValue)
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		want    []Input
		wantErr string
	}{
		{
			name: "string, boolean and absent defaults",
			json: `{"id":"x","name":"T","inputs":[
				{"name":"a","type":"string","defaultValue":"v"},
				{"name":"b","type":"boolean","defaultValue":true},
				{"name":"c","type":"boolean","defaultValue":false},
				{"name":"d","type":"string"},
				{"name":"e","type":"string","defaultValue":null}]}`,
			want: []Input{
				{Name: "a", Type: "string", DefaultValue: "v"},
				{Name: "b", Type: "boolean", DefaultValue: "true"},
				{Name: "c", Type: "boolean", DefaultValue: "false"},
				{Name: "d", Type: "string"},
				{Name: "e", Type: "string"},
			},
		},
		{name: "number default", json: `{"id":"x","name":"T","inputs":[{"name":"n","defaultValue":3}]}`, wantErr: `input 0 ("n") defaultValue: want a string or a boolean, got 3`},
		{name: "not json", json: `{"id":`, wantErr: "parse task.json"},
		{name: "no name", json: `{"id":"x"}`, wantErr: "needs a name and an id"},
		{name: "no id", json: `{"name":"T"}`, wantErr: "needs a name and an id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := parse([]byte(tt.json))
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, d.Inputs)
		})
	}
}

func FuzzParse(f *testing.F) {
	paths, err := filepath.Glob("*/task.json")
	require.NoError(f, err)
	require.NotEmpty(f, paths)
	for _, p := range paths {
		data, err := os.ReadFile(p)
		require.NoError(f, err)
		f.Add(data)
	}
	f.Add([]byte(`{"id":"x","name":"T","inputs":[{"name":"b","defaultValue":true}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := parse(data)
		if err != nil {
			return
		}
		if d.Name == "" || d.ID == "" {
			t.Fatalf("parse accepted a definition without name or id: %+v", d)
		}
		for _, in := range d.Inputs {
			if _, ok := d.Input(in.Name); !ok {
				t.Fatalf("Input(%q) does not find a declared input", in.Name)
			}
		}
	})
}

func BenchmarkGet(b *testing.B) {
	for b.Loop() {
		d, err := Get("KeyVaultReferenceGate")
		require.NoError(b, err)
		if _, ok := d.Input("rootDirectory"); !ok {
			b.Fatal("rootDirectory missing")
		}
	}
}

func TestDefaultInputVars(t *testing.T) {
	d := &Definition{Inputs: []Input{
		{Name: "rootDirectory", DefaultValue: "$(Build.SourcesDirectory)/infra"},
		{Name: "mode", DefaultValue: "enforce"},
		{Name: "empty"},
		{Name: "keep", DefaultValue: "$(Unknown.Macro)"},
	}}
	assert.Equal(t, map[string]string{
		"INPUT_ROOTDIRECTORY": "/src/infra",
		"INPUT_MODE":          "enforce",
		"INPUT_EMPTY":         "",
		"INPUT_KEEP":          "$(Unknown.Macro)",
	}, d.DefaultInputVars(map[string]string{"Build.SourcesDirectory": "/src"}))
}
