package tasks_test

// These tests hold the agentless tasks to the server they call: the request each task.json
// makes Azure DevOps send is parsed by pkg/server's own parser and answered by a real
// stagegate serve handler. They live in package tasks_test because pkg/server imports tasks.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/finding"
	"github.com/stagegate/stagegate/pkg/gaterun"
	"github.com/stagegate/stagegate/pkg/server"
	"github.com/stagegate/stagegate/pkg/server/repofetch"
	"github.com/stagegate/stagegate/tasks"
)

const (
	testOrg       = "https://dev.azure.com/contoso"
	testServer    = "https://stagegate.example.com/"
	testRepo      = "3411ebc1-d5aa-464f-9615-0b527bc66719"
	testCommit    = "0123456789abcdef0123456789abcdef01234567"
	testUser      = "stagegate"
	testPassword  = "check-password-0123456789"
	testAuthToken = "job-access-token-0123456789abcdef"
)

func agentlessTasks(t *testing.T) []*tasks.Definition {
	t.Helper()
	defs, err := tasks.All()
	require.NoError(t, err)
	var out []*tasks.Definition
	for _, d := range defs {
		if d.Agentless() {
			out = append(out, d)
		}
	}
	require.Len(t, out, 3)
	return out
}

// releaseVariables are what a classic release gate has: no Build variables, the artifact's
// instead.
func releaseVariables(org, serverURL string) map[string]string {
	vars := tasks.SampleVariables(org, serverURL)
	for k := range vars {
		if strings.HasPrefix(k, "Build.") {
			delete(vars, k)
		}
	}
	vars["System.HostType"] = "release"
	vars["Release.EnvironmentName"] = "production"
	vars["Release.Artifacts.app.Repository.Id"] = testRepo
	vars["Release.Artifacts.app.SourceBranch"] = "refs/heads/release/2.1"
	vars["Release.Artifacts.app.SourceVersion"] = testCommit
	vars["Release.Artifacts.app.BuildId"] = "777"
	return vars
}

var releaseMapping = map[string]string{
	"environment": "$(Release.EnvironmentName)",
	"repository":  "$(Release.Artifacts.app.Repository.Id)",
	"branch":      "$(Release.Artifacts.app.SourceBranch)",
	"commit":      "$(Release.Artifacts.app.SourceVersion)",
	"buildId":     "$(Release.Artifacts.app.BuildId)",
}

// mappingFor keeps the release mappings the task has inputs for.
func mappingFor(d *tasks.Definition) map[string]string {
	out := map[string]string{}
	for k, v := range releaseMapping {
		if _, ok := d.Input(k); ok {
			out[k] = v
		}
	}
	return out
}

func TestAgentlessBodiesParse(t *testing.T) {
	for _, d := range agentlessTasks(t) {
		_, agentTask, ok := tasks.AgentlessGate(d.Name)
		require.True(t, ok)
		agent, err := tasks.Get(agentTask)
		require.NoError(t, err)
		scenarios := []struct {
			name   string
			inputs map[string]string
			vars   map[string]string
			check  func(t *testing.T, req *server.CheckRequest)
		}{
			{
				name:   "agentless job, defaults",
				inputs: map[string]string{"environment": "production"},
				vars:   tasks.SampleVariables(testOrg, testServer),
				check: func(t *testing.T, req *server.CheckRequest) {
					assert.Equal(t, "Payments", req.Project)
					if _, ok := d.Input("repository"); ok {
						assert.Equal(t, testRepo, req.Repository)
						assert.Equal(t, testCommit, req.Commit)
						assert.Equal(t, "TfsGit", req.RepositoryProvider)
					}
					if _, ok := d.Input("buildId"); ok {
						assert.Equal(t, "501", req.BuildID)
					}
				},
			},
			{
				name:   "classic release gate, artifact variables mapped",
				inputs: mappingFor(d),
				vars:   releaseVariables(testOrg, testServer),
				check: func(t *testing.T, req *server.CheckRequest) {
					if _, ok := d.Input("commit"); ok {
						assert.Equal(t, testCommit, req.Commit)
						assert.Equal(t, testRepo, req.Repository)
					}
					if _, ok := d.Input("branch"); ok {
						assert.Equal(t, "refs/heads/release/2.1", req.Branch)
					}
					if _, ok := d.Input("buildId"); ok {
						assert.Equal(t, "777", req.BuildID)
					}
					assert.Empty(t, req.RepositoryProvider, "$(Build.Repository.Provider) does not exist in a release: absent, not a literal macro")
				},
			},
			{
				name:   "classic release gate, nothing mapped",
				inputs: map[string]string{"environment": "production"},
				vars:   releaseVariables(testOrg, testServer),
				check: func(t *testing.T, req *server.CheckRequest) {
					// Unexpanded defaults count as absent: the server then names what is missing.
					assert.Empty(t, req.Repository)
					assert.Empty(t, req.Commit)
					assert.Empty(t, req.Branch)
					assert.Empty(t, req.BuildID)
					for k, v := range req.Inputs {
						assert.NotContains(t, v, "$(", "inputs.%s", k)
					}
				},
			},
		}
		for _, sc := range scenarios {
			t.Run(d.Name+"/"+sc.name, func(t *testing.T) {
				r, err := tasks.RenderAgentlessRequest(d.Name, sc.inputs, sc.vars)
				require.NoError(t, err)
				req, err := server.ParseCheckRequest(r.Body)
				require.NoError(t, err, "stagegate serve accepts the body:\n%s", r.Body)
				assert.Equal(t, "production", req.Environment)
				assert.Equal(t, testOrg+"/", req.Organization)
				require.NotEmpty(t, req.Inputs)
				for name := range req.Inputs {
					in, ok := agent.Input(name)
					assert.True(t, ok, "the server accepts only %s's inputs, not %q", agentTask, name)
					assert.NotEqual(t, "mode", in.Name, "the mode is the server policy's")
				}
				sc.check(t, req)
			})
		}
	}
}

// A value with a double quote cannot be sent as written: the body is invalid and the server
// refuses it, so the task fails rather than evaluating something else.
func TestAgentlessQuoteFailsClosed(t *testing.T) {
	for _, d := range agentlessTasks(t) {
		t.Run(d.Name, func(t *testing.T) {
			r, err := tasks.RenderAgentlessRequest(d.Name, map[string]string{"environment": `prod"uction`}, tasks.SampleVariables(testOrg, testServer))
			require.NoError(t, err)
			_, err = server.ParseCheckRequest(r.Body)
			require.Error(t, err)
		})
	}
}

// Git allows a double quote in a branch name, and whoever pushes a branch names it. The
// review check puts the branch first in every object it appears in and repeats every key it
// could inject after it, so the last occurrence (the one the server keeps) is the task's.
func TestAgentlessBranchCannotOverrideOtherFields(t *testing.T) {
	const evil = "ffffffffffffffffffffffffffffffffffffffff"
	payloads := []string{
		// valid JSON with known fields in both places the branch goes (top level and inputs)
		`a","commit":"` + evil + `","branch":"b`,
		`a","repository":"other","commit":"` + evil + `","project":"Other","branch":"b`,
		`a","minimumApprovers":"0","checkChange":"false","checkPolicy":"false","productionBranches":"refs/heads/none","branch":"b`,
		`a","environment":"staging","organization":"https://dev.azure.com/evil/","branch":"b`,
		// refused by the parser
		`a","inputs":{"commit":"` + evil + `"},"branch":"b`,
		`a"},"commit":"` + evil + `","x":{"y":"`,
	}
	vars := tasks.SampleVariables(testOrg, testServer)
	want := map[string]string{
		"repository": testRepo, "commit": testCommit, "productionBranches": "refs/heads/main,refs/heads/master,refs/heads/release/*",
		"minimumApprovers": "2", "onNonProductionBranch": "pass", "checkPolicy": "true", "checkChange": "true",
		"countApprovedWithSuggestions": "true",
	}
	var parsed int
	var refusals []string
	for i, p := range payloads {
		r, err := tasks.RenderAgentlessRequest("ProductionReviewCheck", map[string]string{"environment": "production", "branch": "refs/heads/" + p}, vars)
		require.NoError(t, err)
		req, err := server.ParseCheckRequest(r.Body)
		if err != nil {
			refusals = append(refusals, err.Error()) // fails closed
			continue
		}
		parsed++
		assert.Equal(t, "production", req.Environment, "payload %d", i)
		assert.Equal(t, testOrg+"/", req.Organization, "payload %d", i)
		assert.Equal(t, "Payments", req.Project, "payload %d", i)
		assert.Equal(t, testRepo, req.Repository, "payload %d", i)
		assert.Equal(t, testCommit, req.Commit, "payload %d", i)
		for k, v := range want {
			assert.Equal(t, v, req.Inputs[k], "payload %d: inputs.%s", i, k)
		}
	}
	if parsed == 0 {
		// Only a parser that refuses repeated keys may refuse them all; otherwise the
		// payloads no longer test the key order.
		for _, r := range refusals[:4] {
			assert.Regexp(t, `(?i)duplicate|twice|repeated`, r)
		}
	}
}

// planRecorder is the distributedtask side of Azure DevOps: it records TaskCompleted events.
type planRecorder struct {
	mu     sync.Mutex
	events map[string]planEvent // by task instance id
	lines  []string             // the log lines posted to any timeline, for failure messages
}

type planEvent struct {
	Name, TaskID, JobID, Result string
	Token, Path                 string
}

func (p *planRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if !strings.Contains(r.URL.Path, "/_apis/distributedtask/") {
		http.NotFound(w, r)
		return
	}
	if strings.HasSuffix(r.URL.Path, "/events") {
		var ev planEvent
		if err := json.Unmarshal(body, &ev); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if u, pw, ok := r.BasicAuth(); ok && u == "" {
			ev.Token = pw
		}
		ev.Path = r.URL.Path
		p.mu.Lock()
		p.events[ev.TaskID] = ev
		p.mu.Unlock()
	}
	if strings.HasSuffix(r.URL.Path, "/feed") {
		var feed struct{ Value []string }
		if err := json.Unmarshal(body, &feed); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		p.mu.Lock()
		p.lines = append(p.lines, feed.Value...)
		p.mu.Unlock()
	}
	w.WriteHeader(http.StatusOK)
}

func (p *planRecorder) wait(t *testing.T, taskID string) planEvent {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		ev, ok := p.events[taskID]
		p.mu.Unlock()
		if ok {
			return ev
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no TaskCompleted for task instance %s within 20s; log:\n%s", taskID, p.log())
	return planEvent{}
}

func (p *planRecorder) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// receive waits for the next value on ch; a gate that was never reached fails the test with the
// log the server posted, instead of hanging it.
func receive[T any](t *testing.T, ch <-chan T, plan *planRecorder) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(20 * time.Second):
		t.Fatalf("the gate was not evaluated within 20s; log:\n%s", plan.log())
	}
	var zero T
	return zero
}

// evaluation is what a fake gate saw: every input of its agent task and the run context.
type evaluation struct {
	task   string
	inputs map[string]string
	env    map[string]string
}

type fakeFetcher struct{ got chan repofetch.Source }

func (f fakeFetcher) Fetch(_ context.Context, src repofetch.Source, _ string) (repofetch.Stats, error) {
	f.got <- src
	return repofetch.Stats{}, nil
}

func TestAgentlessTasksAgainstStagegateServe(t *testing.T) {
	plan := &planRecorder{events: map[string]planEvent{}}
	upstream := httptest.NewServer(plan)
	t.Cleanup(upstream.Close)
	org := upstream.URL + "/contoso"

	cfgYAML := `organizations:
  - ` + org + `
callers:
  - name: release-gates
    username: ` + testUser + `
    passwordEnv: SG_PASSWORD
environments:
  production:
    workitems:
      maxMedium: 5
`
	cfg, err := server.ParseConfig("test.yaml", []byte(cfgYAML), func(k string) (string, bool) {
		return testPassword, k == "SG_PASSWORD"
	})
	require.NoError(t, err)

	seen := make(chan evaluation, 8)
	fake := func(task string) server.GateSpec {
		return server.GateSpec{Build: func(*server.Connection) gaterun.Gate {
			return gaterun.Gate{Task: task, Command: "fake", Title: "Fake " + task, Evaluate: func(_ context.Context, rt *gaterun.Runtime) (*finding.Report, error) {
				def, err := tasks.Get(task)
				if err != nil {
					return nil, err
				}
				ev := evaluation{task: task, inputs: map[string]string{}, env: map[string]string{}}
				for _, in := range def.Inputs {
					ev.inputs[in.Name] = rt.Inputs.Raw(in.Name)
				}
				for _, k := range []string{"SYSTEM_TEAMPROJECT", "BUILD_REPOSITORY_ID", "BUILD_SOURCEBRANCH", "BUILD_SOURCEVERSION", "BUILD_BUILDID", "SYSTEM_HOSTTYPE"} {
					ev.env[k], _ = rt.Env(k)
				}
				seen <- ev
				return &finding.Report{Gate: task, Title: "Fake " + task, Checks: []finding.Check{{Name: "fake"}}}, nil
			}}
		}}
	}
	keyvault := fake("KeyVaultReferenceGate")
	keyvault.Sources = true
	fetched := make(chan repofetch.Source, 8)
	srv, err := server.New(server.Options{
		Config: cfg,
		Gates: map[string]server.GateSpec{
			server.GateWorkItems: fake("SecurityWorkItemGate"),
			server.GateReviews:   fake("ProductionReviewGate"),
			server.GateKeyVault:  keyvault,
		},
		Sources:      fakeFetcher{got: fetched},
		Sleep:        func(ctx context.Context, _ time.Duration) error { return ctx.Err() },
		FeedInterval: 10 * time.Millisecond,
		TempDir:      t.TempDir(),
	})
	require.NoError(t, err)
	front := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		front.Close()
	})

	// send makes the request Azure DevOps makes for the task: the rendered URL, headers and
	// body, with the Generic service connection's Basic credentials.
	send := func(t *testing.T, r *tasks.RenderedRequest) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, r.URL, bytes.NewReader(r.Body))
		require.NoError(t, err)
		for k, v := range r.Headers {
			req.Header.Set(k, v)
		}
		req.SetBasicAuth(testUser, testPassword)
		resp, err := front.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var answer map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&answer)
		return resp.StatusCode, answer
	}

	tests := []struct {
		task       string
		serverURL  string // the Generic service connection's URL
		inputs     map[string]string
		vars       func(org, serverURL string) map[string]string
		wantInputs map[string]string // what the gate evaluated with
		wantEnv    map[string]string
	}{
		{
			task: "SecurityWorkItemCheck", serverURL: front.URL,
			inputs: map[string]string{"environment": "production", "tags": "Security,Pentest", "maxHigh": "3", "scope": "run"},
			vars:   tasks.SampleVariables,
			wantInputs: map[string]string{
				"tags": "Security,Pentest", "maxHigh": "3", "maxCritical": "0", "scope": "run", "project": "Payments",
				"maxMedium": "5", // the policy wins over the task's -1
				"mode":      "enforce", "areaPath": "",
			},
			wantEnv: map[string]string{"SYSTEM_TEAMPROJECT": "Payments", "BUILD_BUILDID": "501", "SYSTEM_HOSTTYPE": "build"},
		},
		{
			task: "ProductionReviewCheck", serverURL: front.URL + "/",
			inputs: map[string]string{"environment": "production", "minimumApprovers": "3", "checkPolicy": "false"},
			vars:   tasks.SampleVariables,
			wantInputs: map[string]string{
				"repository": testRepo, "branch": "refs/heads/main", "commit": testCommit, "minimumApprovers": "3",
				"checkPolicy": "false", "checkChange": "true", "mode": "enforce",
			},
			wantEnv: map[string]string{"BUILD_REPOSITORY_ID": testRepo, "BUILD_SOURCEBRANCH": "refs/heads/main", "BUILD_SOURCEVERSION": testCommit},
		},
		{
			task: "ProductionReviewCheck", serverURL: front.URL,
			inputs: mappingFor(mustGet(t, "ProductionReviewCheck")),
			vars:   releaseVariables,
			wantInputs: map[string]string{
				"repository": testRepo, "branch": "refs/heads/release/2.1", "commit": testCommit, "minimumApprovers": "2",
			},
			wantEnv: map[string]string{"SYSTEM_HOSTTYPE": "release"},
		},
		{
			task: "KeyVaultReferenceCheck", serverURL: front.URL + "/",
			inputs: map[string]string{"environment": "production", "rootDirectory": "infra", "allowedVaults": "kv-prod-weu"},
			vars:   tasks.SampleVariables,
			wantInputs: map[string]string{
				"rootDirectory": "infra", "allowedVaults": "kv-prod-weu", "baselineFile": "",
				"include":          "**/*.json,**/*.jsonc,**/*.bicep,**/*.bicepparam,**/*.tf,**/*.tfvars,**/*.yml,**/*.yaml",
				"verifyReferences": "false", "sarifFile": "", "azureSubscription": "", "mode": "enforce",
			},
			wantEnv: map[string]string{"BUILD_REPOSITORY_ID": testRepo, "BUILD_SOURCEVERSION": testCommit},
		},
	}
	for i, tt := range tests {
		t.Run(tt.task, func(t *testing.T) {
			vars := tt.vars(org, tt.serverURL)
			vars["System.TaskInstanceId"] = []string{
				"0e5b7a43-2f4c-4d8e-9a61-4b0c2d3e4f50", "1e5b7a43-2f4c-4d8e-9a61-4b0c2d3e4f51",
				"2e5b7a43-2f4c-4d8e-9a61-4b0c2d3e4f52", "3e5b7a43-2f4c-4d8e-9a61-4b0c2d3e4f53",
			}[i]
			r, err := tasks.RenderAgentlessRequest(tt.task, tt.inputs, vars)
			require.NoError(t, err)
			status, answer := send(t, r)
			require.Equal(t, http.StatusAccepted, status, "stagegate serve accepts the callback request: %v", answer)
			assert.Equal(t, "accepted", answer["status"])

			ev := receive(t, seen, plan)
			gate, agentTask, _ := tasks.AgentlessGate(tt.task)
			assert.Equal(t, agentTask, ev.task)
			for k, v := range tt.wantInputs {
				assert.Equal(t, v, ev.inputs[k], "input %s", k)
			}
			for k, v := range tt.wantEnv {
				assert.Equal(t, v, ev.env[k], "%s", k)
			}
			if gate == server.GateKeyVault {
				src := receive(t, fetched, plan)
				assert.Equal(t, testRepo, src.Repository)
				assert.Equal(t, testCommit, src.Commit)
				assert.Equal(t, "Payments", src.Project)
			}

			done := plan.wait(t, vars["System.TaskInstanceId"])
			assert.Equal(t, "TaskCompleted", done.Name)
			assert.Equal(t, "succeeded", done.Result)
			assert.Equal(t, vars["System.JobId"], done.JobID)
			assert.Equal(t, testAuthToken, done.Token, "completed with the job's own token")
			assert.Contains(t, done.Path, "/contoso/"+vars["System.TeamProjectId"]+"/_apis/distributedtask/hubs/"+vars["System.HostType"]+"/plans/"+vars["System.PlanId"]+"/events")
		})
	}

	// A release gate that maps nothing fails closed, naming what to map.
	t.Run("KeyVaultReferenceCheck unmapped in a release", func(t *testing.T) {
		vars := releaseVariables(org, front.URL)
		r, err := tasks.RenderAgentlessRequest("KeyVaultReferenceCheck", map[string]string{"environment": "production"}, vars)
		require.NoError(t, err)
		status, answer := send(t, r)
		assert.Equal(t, http.StatusBadRequest, status)
		assert.Equal(t, "failed", answer["status"])
		assert.Contains(t, answer["error"], "repository, commit")
	})
}

func mustGet(t *testing.T, name string) *tasks.Definition {
	t.Helper()
	d, err := tasks.Get(name)
	require.NoError(t, err)
	return d
}
