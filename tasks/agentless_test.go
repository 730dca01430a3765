package tasks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/internal/testfiles"
)

// agentlessTask is the contract of one agentless task. Classic release definitions and YAML
// pipelines refer to these ids, input names and defaults; the server's API fixes the rest.
type agentlessTask struct {
	id        string // stable forever, like the agent tasks' ids
	gate      string // stagegate serve route: POST /v1/gates/{gate}
	agentTask string // the agent task whose input names the server accepts under "inputs"
	inputs    []contractInput
	// body maps each field of the request body ("inputs.x" for an input) to the macro that fills
	// it: "$(name)" of a task input, or a variable.
	body map[string]string
	// notOffered are the agent task's inputs the agentless task leaves to the server's policy.
	notOffered []string
}

var (
	connectionInput  = contractInput{"connectedServiceName", "connectedService:Generic", ""}
	environmentInput = contractInput{"environment", "string", ""}
)

func agentlessContract() map[string]agentlessTask {
	return map[string]agentlessTask{
		"SecurityWorkItemCheck": {
			id:        "1b792249-b246-43c2-bfed-5f676a956497",
			gate:      "workitems",
			agentTask: "SecurityWorkItemGate",
			inputs: []contractInput{
				connectionInput, environmentInput,
				{"tags", "string", "Security"},
				{"workItemTypes", "string", ""},
				{"scope", "pickList", "project"},
				{"maxCritical", "string", "0"},
				{"maxHigh", "string", "0"},
				{"maxMedium", "string", "-1"},
				{"maxLow", "string", "-1"},
				{"slaDays", "string", "critical=7,high=30,medium=90,low=180"},
				{"defaultSeverity", "string", "2 - High"},
				{"requireReviewTag", "string", ""},
				{"project", "string", "$(System.TeamProject)"},
				{"buildId", "string", "$(Build.BuildId)"},
			},
			body: map[string]string{
				"environment": "$(environment)", "organization": "$(system.CollectionUri)",
				"project": "$(project)", "buildId": "$(buildId)",
				"inputs.tags": "$(tags)", "inputs.workItemTypes": "$(workItemTypes)", "inputs.scope": "$(scope)",
				"inputs.maxCritical": "$(maxCritical)", "inputs.maxHigh": "$(maxHigh)", "inputs.maxMedium": "$(maxMedium)",
				"inputs.maxLow": "$(maxLow)", "inputs.slaDays": "$(slaDays)", "inputs.defaultSeverity": "$(defaultSeverity)",
				"inputs.requireReviewTag": "$(requireReviewTag)",
			},
			// An area path holds backslashes and a query path may hold quotes: neither survives
			// the unescaped body. mode is the policy's alone.
			notOffered: []string{"areaPath", "queryId", "mode"},
		},
		"ProductionReviewCheck": {
			id:        "351dc987-2ece-4f48-b501-2323fe187ff2",
			gate:      "reviews",
			agentTask: "ProductionReviewGate",
			inputs: []contractInput{
				connectionInput, environmentInput,
				{"repository", "string", "$(Build.Repository.ID)"},
				{"branch", "string", "$(Build.SourceBranch)"},
				{"commit", "string", "$(Build.SourceVersion)"},
				{"productionBranches", "string", "refs/heads/main,refs/heads/master,refs/heads/release/*"},
				{"minimumApprovers", "string", "2"},
				{"onNonProductionBranch", "pickList", "pass"},
				{"checkPolicy", "boolean", "true"},
				{"checkChange", "boolean", "true"},
				{"countApprovedWithSuggestions", "boolean", "true"},
			},
			body: map[string]string{
				"environment": "$(environment)", "organization": "$(system.CollectionUri)",
				"project": "$(System.TeamProject)", "repositoryProvider": "$(Build.Repository.Provider)",
				"repository": "$(repository)", "branch": "$(branch)", "commit": "$(commit)",
				"inputs.repository": "$(repository)", "inputs.branch": "$(branch)", "inputs.commit": "$(commit)",
				"inputs.productionBranches": "$(productionBranches)", "inputs.minimumApprovers": "$(minimumApprovers)",
				"inputs.onNonProductionBranch": "$(onNonProductionBranch)", "inputs.checkPolicy": "$(checkPolicy)",
				"inputs.checkChange": "$(checkChange)", "inputs.countApprovedWithSuggestions": "$(countApprovedWithSuggestions)",
			},
			notOffered: []string{"mode"},
		},
		"KeyVaultReferenceCheck": {
			id:        "a1d2d3c5-3aa6-4177-b28e-25fb09d00150",
			gate:      "keyvault",
			agentTask: "KeyVaultReferenceGate",
			inputs: []contractInput{
				connectionInput, environmentInput,
				{"repository", "string", "$(Build.Repository.ID)"},
				{"commit", "string", "$(Build.SourceVersion)"},
				// Relative to the repository the server downloads: the agent task's
				// $(Build.SourcesDirectory) default means nothing there.
				{"rootDirectory", "string", ""},
				{"include", "string", "**/*.json,**/*.jsonc,**/*.bicep,**/*.bicepparam,**/*.tf,**/*.tfvars,**/*.yml,**/*.yaml"},
				{"exclude", "string", "**/node_modules/**,**/.git/**,**/.terraform/**"},
				{"allowedVaults", "string", ""},
				{"baselineFile", "string", ""},
			},
			body: map[string]string{
				"environment": "$(environment)", "organization": "$(system.CollectionUri)",
				"project": "$(System.TeamProject)", "repositoryProvider": "$(Build.Repository.Provider)",
				"repository": "$(repository)", "commit": "$(commit)",
				"inputs.rootDirectory": "$(rootDirectory)", "inputs.include": "$(include)", "inputs.exclude": "$(exclude)",
				"inputs.allowedVaults": "$(allowedVaults)", "inputs.baselineFile": "$(baselineFile)",
			},
			// The server verifies no secrets, writes no SARIF file and has no service connections.
			notOffered: []string{"verifyReferences", "azureSubscription", "expiryWarningDays", "requireExpiry", "sarifFile", "mode"},
		},
	}
}

// serverVariables are the variables an agentless task may read: the ones the official server
// tasks (InvokeRESTAPI, AzureFunction) use, the run context, and the service connection's URL.
var serverVariables = []string{
	"system.CollectionUri", "system.TeamProjectId", "system.TeamProject", "system.HostType", "system.PlanId",
	"system.JobId", "system.TimelineId", "system.TaskInstanceId", "system.AccessToken",
	"Build.BuildId", "Build.Repository.ID", "Build.Repository.Provider", "Build.SourceBranch", "Build.SourceVersion",
	"endpoint.url",
}

// callbackHeaders are the headers stagegate serve needs in callback mode (pkg/server/request.go),
// filled the way the official server tasks' default headers fill them.
var callbackHeaders = map[string]string{
	"Content-Type":   "application/json",
	"PlanUrl":        "$(system.CollectionUri)",
	"ProjectId":      "$(system.TeamProjectId)",
	"HubName":        "$(system.HostType)",
	"PlanId":         "$(system.PlanId)",
	"JobId":          "$(system.JobId)",
	"TimelineId":     "$(system.TimelineId)",
	"TaskInstanceId": "$(system.TaskInstanceId)",
	"AuthToken":      "$(system.AccessToken)",
}

// HTTPExecute is execution.HttpRequest.Execute of an agentless task.json.
type HTTPExecute struct {
	EndpointID        string `json:"EndpointId"`
	EndpointURL       string `json:"EndpointUrl"`
	Method            string
	Headers           string
	Body              string
	WaitForCompletion string
}

// HTTPExecuteOf reads execution.HttpRequest.Execute strictly: any other handler, section or
// field is an error, so a task cannot grow an unchecked part.
func HTTPExecuteOf(taskJSON []byte) (*HTTPExecute, error) {
	var doc struct {
		Execution map[string]json.RawMessage `json:"execution"`
	}
	if err := json.Unmarshal(taskJSON, &doc); err != nil {
		return nil, fmt.Errorf("parse task.json: %w", err)
	}
	if len(doc.Execution) != 1 || doc.Execution["HttpRequest"] == nil {
		return nil, fmt.Errorf("execution: want only HttpRequest, got %d handlers", len(doc.Execution))
	}
	var sections map[string]json.RawMessage
	if err := json.Unmarshal(doc.Execution["HttpRequest"], &sections); err != nil {
		return nil, fmt.Errorf("execution.HttpRequest: %w", err)
	}
	if len(sections) != 1 || sections["Execute"] == nil {
		return nil, fmt.Errorf("execution.HttpRequest: want only Execute, got %d sections", len(sections))
	}
	dec := json.NewDecoder(bytes.NewReader(sections["Execute"]))
	dec.DisallowUnknownFields()
	var ex HTTPExecute
	if err := dec.Decode(&ex); err != nil {
		return nil, fmt.Errorf("execution.HttpRequest.Execute: %w", err)
	}
	return &ex, nil
}

var macroPattern = regexp.MustCompile(`\$\(([^()]+)\)`)

// expandMacros replaces $(name) by lookup(name), names compared ignoring case like Azure DevOps
// variables. A macro nobody defines stays as written, as Azure DevOps leaves it.
func expandMacros(s string, values map[string]string) string {
	return macroPattern.ReplaceAllStringFunc(s, func(m string) string {
		if v, ok := values[strings.ToLower(m[2:len(m)-1])]; ok {
			return v
		}
		return m
	})
}

// RenderedRequest is the HTTP request the Azure DevOps server sends for an agentless task.
type RenderedRequest struct {
	URL     string
	Headers map[string]string
	Body    []byte
}

// RenderAgentlessRequest renders an agentless task's request the way the server does: each
// input is its given value or its default, with variables expanded; then the macros of the
// Execute fields are replaced by inputs and variables, as text (no JSON escaping). It is
// exported for the tests of package tasks_test, which send the result to stagegate serve.
func RenderAgentlessRequest(name string, inputs, variables map[string]string) (*RenderedRequest, error) {
	data, err := files.ReadFile(name + "/task.json")
	if err != nil {
		return nil, fmt.Errorf("task %s: %w", name, err)
	}
	def, err := parse(data)
	if err != nil {
		return nil, err
	}
	ex, err := HTTPExecuteOf(data)
	if err != nil {
		return nil, err
	}
	vars := make(map[string]string, len(variables))
	for k, v := range variables {
		vars[strings.ToLower(k)] = v
	}
	values := make(map[string]string, len(vars)+len(def.Inputs))
	for k, v := range vars {
		values[k] = v
	}
	for _, in := range def.Inputs {
		v, given := inputs[in.Name]
		if !given {
			v = in.DefaultValue
		}
		values[strings.ToLower(in.Name)] = expandMacros(v, vars)
	}
	for k := range inputs {
		if _, ok := def.Input(k); !ok {
			return nil, fmt.Errorf("task %s has no input %q", name, k)
		}
	}
	headers := map[string]string{}
	if err := json.Unmarshal([]byte(expandMacros(ex.Headers, values)), &headers); err != nil {
		return nil, fmt.Errorf("task %s: headers are not a JSON object of strings: %w", name, err)
	}
	return &RenderedRequest{
		URL:     expandMacros(ex.EndpointURL, values),
		Headers: headers,
		Body:    []byte(expandMacros(ex.Body, values)),
	}, nil
}

// AgentlessGate returns the stagegate serve gate and the agent task an agentless task asks for.
func AgentlessGate(name string) (gate, agentTask string, ok bool) {
	c, ok := agentlessContract()[name]
	return c.gate, c.agentTask, ok
}

// SampleVariables are the variables of an agentless job of a YAML run in organization org,
// calling stagegate serve at serverURL.
func SampleVariables(org, serverURL string) map[string]string {
	return map[string]string{
		"System.CollectionUri":      org + "/",
		"System.TeamProjectId":      "6ce954b1-ce1f-45d1-b94d-e6bf2464ba2c",
		"System.TeamProject":        "Payments",
		"System.HostType":           "build",
		"System.PlanId":             "11111111-2222-4333-8444-555555555555",
		"System.JobId":              "66666666-7777-4888-9999-000000000000",
		"System.TimelineId":         "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee",
		"System.TaskInstanceId":     "12345678-9abc-4def-8123-456789abcdef",
		"System.AccessToken":        "job-access-token-0123456789abcdef",
		"Build.BuildId":             "501",
		"Build.Repository.ID":       "3411ebc1-d5aa-464f-9615-0b527bc66719",
		"Build.Repository.Provider": "TfsGit",
		"Build.SourceBranch":        "refs/heads/main",
		"Build.SourceVersion":       "0123456789abcdef0123456789abcdef01234567",
		"endpoint.url":              serverURL,
	}
}

func agentlessNames() []string {
	names := make([]string, 0, 3)
	for n := range agentlessContract() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func TestAgentlessExecution(t *testing.T) {
	known := map[string]bool{}
	for _, v := range serverVariables {
		known[strings.ToLower(v)] = true
	}
	for _, name := range agentlessNames() {
		c := agentlessContract()[name]
		t.Run(name, func(t *testing.T) {
			data, err := files.ReadFile(name + "/task.json")
			require.NoError(t, err)
			def, err := parse(data)
			require.NoError(t, err)
			ex, err := HTTPExecuteOf(data)
			require.NoError(t, err)

			conn, ok := def.Input("connectedServiceName")
			require.True(t, ok)
			assert.Equal(t, "connectedService:Generic", conn.Type)
			assert.True(t, conn.Required)
			assert.Equal(t, "$(connectedServiceName)", ex.EndpointID, "the service connection authenticates the call (Basic: a caller of the server)")
			assert.Equal(t, "POST", ex.Method)
			assert.Equal(t, "true", ex.WaitForCompletion, "callback mode: the server posts TaskCompleted; gates run longer than the 20 s a synchronous call may take")

			// Every macro is an input of the task or a variable the server defines; every input
			// reaches the request.
			used := map[string]bool{}
			for _, field := range []string{ex.EndpointURL, ex.Headers, ex.Body} {
				for _, m := range macroPattern.FindAllStringSubmatch(field, -1) {
					name := strings.ToLower(m[1])
					_, isInput := def.Input(name)
					assert.True(t, isInput || known[name], "macro $(%s) is neither an input nor a server variable", m[1])
					used[name] = true
				}
			}
			for _, in := range def.Inputs {
				if in.Name != "connectedServiceName" {
					assert.True(t, used[strings.ToLower(in.Name)], "input %s never reaches the request", in.Name)
				}
			}

			// The URL names the gate's route in callback mode, whether or not the service
			// connection's URL ends with a slash (the server routes "//v1/..." as "/v1/...").
			for _, base := range []string{"https://stagegate.example.com", "https://stagegate.example.com/"} {
				u, err := url.Parse(expandMacros(ex.EndpointURL, map[string]string{"endpoint.url": base}))
				require.NoError(t, err)
				assert.Equal(t, "stagegate.example.com", u.Host)
				assert.Equal(t, "/v1/gates/"+c.gate, path.Clean(u.Path))
				assert.Equal(t, url.Values{"completion": {"callback"}}, u.Query())
			}

			// The headers are the callback headers, exactly.
			var headers map[string]string
			require.NoError(t, json.Unmarshal([]byte(ex.Headers), &headers), "Headers is a JSON object of strings")
			assert.Equal(t, callbackHeaders, headers)

			// Each body field is filled by the macro the contract names.
			assert.Equal(t, c.body, bodyFields(t, ex.Body))
		})
	}
}

// bodyFields flattens a body template to field -> macro ("inputs.x" for inputs).
func bodyFields(t *testing.T, body string) map[string]string {
	t.Helper()
	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &doc), "the body template is JSON before any substitution")
	out := map[string]string{}
	for k, v := range doc {
		if k == "inputs" {
			inputs, ok := v.(map[string]any)
			require.True(t, ok, "inputs is an object")
			for ik, iv := range inputs {
				s, ok := iv.(string)
				require.True(t, ok, "inputs.%s is a string", ik)
				out["inputs."+ik] = s
			}
			continue
		}
		s, ok := v.(string)
		require.True(t, ok, "%s is a string: an unquoted macro would be invalid JSON when its value is empty", k)
		out[k] = s
	}
	return out
}

func TestAgentlessInputsMirrorAgentTask(t *testing.T) {
	for _, name := range agentlessNames() {
		c := agentlessContract()[name]
		t.Run(name, func(t *testing.T) {
			def, err := Get(name)
			require.NoError(t, err)
			agent, err := Get(c.agentTask)
			require.NoError(t, err)
			require.False(t, agent.Agentless())

			covered := map[string]string{}
			for field, macro := range c.body {
				in, isInput := strings.CutPrefix(field, "inputs.")
				if !isInput {
					in = field
				}
				if _, ok := agent.Input(in); ok {
					covered[in] = macro
				}
				if isInput {
					_, ok := agent.Input(in)
					assert.True(t, ok, "the server refuses inputs.%s: %s has no such input", in, c.agentTask)
				}
			}
			for _, in := range agent.Inputs {
				_, sent := covered[in.Name]
				assert.True(t, sent != contains(c.notOffered, in.Name),
					"%s input %s must be either sent or listed as left to the server's policy", c.agentTask, in.Name)
			}
			_, hasMode := def.Input("mode")
			assert.False(t, hasMode, "the mode comes from the server's policy only")

			// An input that mirrors an agent input keeps its type, default and choices, so the
			// two tasks read the same; rootDirectory is relative to the downloaded repository.
			for _, in := range def.Inputs {
				a, ok := agent.Input(in.Name)
				if !ok || in.Name == "rootDirectory" {
					continue
				}
				assert.Equal(t, a.Type, in.Type, "input %s", in.Name)
				assert.Equal(t, a.DefaultValue, in.DefaultValue, "input %s", in.Name)
				assert.Equal(t, a.Options, in.Options, "input %s", in.Name)
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestAgentlessTaskJSON(t *testing.T) {
	root := testfiles.ModuleRoot(t)
	for _, name := range agentlessNames() {
		c := agentlessContract()[name]
		t.Run(name, func(t *testing.T) {
			m := rawTask(t, name)
			assert.Equal(t, []any{"Server", "ServerGate"}, m["runsOn"], "agentless jobs and classic release gates")
			assert.Equal(t, []any{"Build", "Release"}, m["visibility"])
			assert.NotContains(t, m, "minimumAgentVersion", "no agent runs it")
			assert.NoFileExists(t, filepath.Join(root, "tasks", name, "launcher.json"), "no launcher: nothing runs on an agent")
			assert.Contains(t, m["instanceNameFormat"], "$(environment)")

			help, _ := m["helpMarkDown"].(string)
			for _, want := range []string{"stagegate serve", "policy", "double quote", "backslash"} {
				assert.Contains(t, help, want, "the task's help explains the server, its policy and the unescaped body")
			}

			groups := map[string]bool{}
			for _, g := range m["groups"].([]any) {
				groups[g.(map[string]any)["name"].(string)] = true
			}
			for _, in := range m["inputs"].([]any) {
				in := in.(map[string]any)
				if g, ok := in["groupName"].(string); ok {
					assert.True(t, groups[g], "input %s names undeclared group %s", in["name"], g)
				}
				// Defaults and choices go into the body unescaped: they must never need escaping.
				values := []string{fmt.Sprint(in["defaultValue"])}
				if opts, ok := in["options"].(map[string]any); ok {
					for k := range opts {
						values = append(values, k)
					}
				}
				for _, v := range values {
					assert.NotContains(t, v, `"`, "input %s", in["name"])
					assert.NotContains(t, v, `\`, "input %s", in["name"])
				}
			}

			// The same icon as the agent task of the same gate.
			icon, err := os.ReadFile(filepath.Join(root, "tasks", name, "icon.png"))
			require.NoError(t, err)
			agentIcon, err := os.ReadFile(filepath.Join(root, "tasks", c.agentTask, "icon.png"))
			require.NoError(t, err)
			assert.Equal(t, agentIcon, icon, "copy tasks/%s/icon.png after `make icons`", c.agentTask)
		})
	}
}

func TestRenderAgentlessRequest(t *testing.T) {
	vars := SampleVariables("https://dev.azure.com/contoso", "https://stagegate.example.com/")
	r, err := RenderAgentlessRequest("ProductionReviewCheck", map[string]string{"environment": "production", "minimumApprovers": "3"}, vars)
	require.NoError(t, err)
	assert.Equal(t, "https://stagegate.example.com//v1/gates/reviews?completion=callback", r.URL)
	assert.Equal(t, "https://dev.azure.com/contoso/", r.Headers["PlanUrl"])
	assert.Equal(t, "job-access-token-0123456789abcdef", r.Headers["AuthToken"])
	var body struct {
		Environment, Branch, Commit string
		Inputs                      map[string]string
	}
	require.NoError(t, json.Unmarshal(r.Body, &body))
	assert.Equal(t, "production", body.Environment)
	assert.Equal(t, "refs/heads/main", body.Branch, "the input default $(Build.SourceBranch) is expanded first")
	assert.Equal(t, "0123456789abcdef0123456789abcdef01234567", body.Commit)
	assert.Equal(t, "3", body.Inputs["minimumApprovers"])
	assert.Equal(t, "refs/heads/main,refs/heads/master,refs/heads/release/*", body.Inputs["productionBranches"], "defaults fill the inputs not given")

	// Without the Build variables (a classic release gate) the macros stay as written.
	delete(vars, "Build.SourceVersion")
	r, err = RenderAgentlessRequest("ProductionReviewCheck", nil, vars)
	require.NoError(t, err)
	assert.Contains(t, string(r.Body), `"commit":"$(Build.SourceVersion)"`)

	_, err = RenderAgentlessRequest("ProductionReviewCheck", map[string]string{"mode": "audit"}, vars)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `no input "mode"`)
	_, err = RenderAgentlessRequest("NoSuchCheck", nil, vars)
	require.Error(t, err)
	_, err = RenderAgentlessRequest("SecurityWorkItemGate", nil, vars)
	require.Error(t, err, "an agent task has no HttpRequest")
	assert.Contains(t, err.Error(), "want only HttpRequest")
}

func TestHTTPExecuteOfIsStrict(t *testing.T) {
	tests := []struct {
		name, json, wantErr string
	}{
		{name: "agent task", json: `{"execution":{"Node20_1":{"target":"index.js"}}}`, wantErr: "want only HttpRequest"},
		{name: "two handlers", json: `{"execution":{"HttpRequest":{"Execute":{}},"Node10":{}}}`, wantErr: "got 2 handlers"},
		{name: "cancel section", json: `{"execution":{"HttpRequest":{"Execute":{},"Cancel":{}}}}`, wantErr: "want only Execute"},
		{name: "unknown field", json: `{"execution":{"HttpRequest":{"Execute":{"Expression":"x"}}}}`, wantErr: `unknown field "Expression"`},
		{name: "not json", json: `{`, wantErr: "parse task.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := HTTPExecuteOf([]byte(tt.json))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
	ex, err := HTTPExecuteOf([]byte(`{"execution":{"HttpRequest":{"Execute":{"EndpointId":"a","EndpointUrl":"b","Method":"POST","Headers":"{}","Body":"{}","WaitForCompletion":"true"}}}}`))
	require.NoError(t, err)
	assert.Equal(t, HTTPExecute{EndpointID: "a", EndpointURL: "b", Method: "POST", Headers: "{}", Body: "{}", WaitForCompletion: "true"}, *ex)
}

func TestExpandMacros(t *testing.T) {
	values := map[string]string{"system.collectionuri": "https://dev.azure.com/x/", "a": "$(b)", "b": "no"}
	assert.Equal(t, "https://dev.azure.com/x/ and $(missing)", expandMacros("$(System.CollectionUri) and $(missing)", values))
	assert.Equal(t, "$(b)", expandMacros("$(a)", values), "one pass: values are not expanded again")
}
