package evidence

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/azdo/azdosim"
	"github.com/stagegate/stagegate/pkg/gaterun"
	"github.com/stagegate/stagegate/pkg/gates/keyvault"
	"github.com/stagegate/stagegate/pkg/gates/keyvault/kvtest"
	"github.com/stagegate/stagegate/pkg/gates/reviews"
	"github.com/stagegate/stagegate/pkg/gates/workitems"
	"github.com/stagegate/stagegate/pkg/server"
	"github.com/stagegate/stagegate/pkg/task"

	"github.com/stagegate/stagegate/internal/testfiles"
)

// Leak tests: canary credentials (the job token, a PAT, a service principal secret) sit in
// every run's environment, and canary secrets sit in the scanned templates. After every gate run
// in every output mode, no canary appears in any encoding in anything the product wrote; the
// job token and the PAT may appear only in their own ##vso[task.setsecret] line (that is how the
// agent learns to mask them), and template secrets nowhere at all.

// templateSeed makes the template canaries; they differ from the credential canaries.
const templateSeed = 20251109

// spEnv is an AzureRM service connection with a service principal secret, as the agent exports
// it for a task whose azureSubscription input names it.
func spEnv() map[string]string { return spEnvTenant("72f988bf-86f1-41af-91ab-2d7cd011db47") }

func spEnvTenant(tenant string) map[string]string {
	id := task.EnvName(spEndpointID)
	auth, _ := json.Marshal(map[string]any{"scheme": "ServicePrincipal", "parameters": map[string]string{
		"serviceprincipalid": "4b9a2f3e-58e4-4c3b-9f0e-0a1b2c3d4e5f", "tenantid": tenant,
		"serviceprincipalkey": spKeyCanary, "authenticationType": "spnKey",
	}})
	return map[string]string{
		"ENDPOINT_URL_" + id:                                     "https://management.azure.com/",
		"ENDPOINT_AUTH_SCHEME_" + id:                             "ServicePrincipal",
		"ENDPOINT_AUTH_" + id:                                    string(auth),
		"ENDPOINT_AUTH_PARAMETER_" + id + "_SERVICEPRINCIPALKEY": spKeyCanary,
		"ENDPOINT_AUTH_PARAMETER_" + id + "_SERVICEPRINCIPALID":  "4b9a2f3e-58e4-4c3b-9f0e-0a1b2c3d4e5f",
		"ENDPOINT_AUTH_PARAMETER_" + id + "_TENANTID":            tenant,
		"ENDPOINT_DATA_" + id + "_SUBSCRIPTIONID":                "0b1f6471-1bf0-4dda-aec3-cb9272f09590",
	}
}

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// canaryTree is a repository whose templates carry every kind of template secret: literals the
// rules KV001, KV003, KV007, KV010 and KV011 flag, and credentials KV009 finds.
func canaryTree(c kvtest.Canaries) map[string]string {
	return map[string]string{
		"infra/main.json": `{
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
  "contentVersion": "1.0.0.0",
  "parameters": {"adminPassword": {"type": "securestring"}, "sqlPassword": {"type": "string", "defaultValue": "` + c.PlainPassword + `"}},
  "resources": [{"type": "Microsoft.Compute/virtualMachines", "apiVersion": "2023-03-01", "name": "vm",
    "properties": {"osProfile": {"adminUsername": "azureuser", "adminPassword": "` + c.DBPassword + `"}}}]
}
`,
		"infra/main.parameters.json": `{
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#",
  "contentVersion": "1.0.0.0",
  "parameters": {"adminPassword": {"value": "` + c.PlainPassword + `"}}
}
`,
		"infra/app.bicep":      "var s = '" + c.ClientSecret + "'\n@secure()\nparam p string = '" + c.PlainPassword + "'\n",
		"infra/main.tf":        "provider \"azurerm\" {\n  features {}\n  client_secret = \"" + c.ClientSecret + "\"\n}\nlocals {\n  u = \"" + c.URLWithPass + "\"\n}\n",
		"app/appsettings.json": `{"Db": "` + c.ConnString + `", "Blob": "` + c.SASURL + `", "Key": "` + c.StorageKey + `"}`,
		"k8s/tls.yaml":         "key: |\n  " + strings.ReplaceAll(strings.TrimSpace(c.PrivateKeyPEM), "\n", "\n  ") + "\n",
		"pipelines/ci.yml":     "variables:\n  dbPassword: '" + c.DBPassword + "'\nsteps:\n  - script: ./deploy.sh\n    env:\n      CLIENT_SECRET: '" + c.ClientSecret + "'\n",
	}
}

// outputs collects everything a run wrote where someone could read it, by name.
type outputs map[string]string

func (o outputs) addFiles(t *testing.T, prefix, dir string) {
	t.Helper()
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		require.NoError(t, err)
		if !d.IsDir() {
			data, err := os.ReadFile(p)
			require.NoError(t, err)
			rel, _ := filepath.Rel(dir, p)
			o[prefix+"/"+filepath.ToSlash(rel)] = string(data)
		}
		return nil
	}))
}

// assertNoCanary checks one output: no credential canary in any encoding, and (for outputs of
// runs that scanned the canary tree) no template secret in clear, base64, URL-encoded or as any
// 10-character window.
func assertNoCanary(t *testing.T, where, text string, templ *kvtest.Canaries) {
	t.Helper()
	for name, secret := range map[string]string{"job token": jobTokenCanary, "PAT": patCanary, "service principal key": spKeyCanary} {
		assert.Empty(t, credentialLeaks(text, secret), "%s: the %s leaks", where, name)
	}
	if templ != nil {
		assert.Empty(t, templ.Leaks(text), "%s: a template secret leaks", where)
		for _, s := range templ.Secrets() {
			assert.NotContains(t, text, url.QueryEscape(s), "%s: a template secret leaks URL-encoded", where)
		}
	}
}

// assertAgentLog checks a pipeline log: each credential the task holds appears once, in its own
// setsecret line; setsecret carries nothing else; the rest of the log has no canary.
func assertAgentLog(t *testing.T, where, stdout string, registered []string, templ *kvtest.Canaries) {
	t.Helper()
	rest := stdout
	for _, secret := range registered {
		var n int
		rest, n = withoutSetSecret(rest, secret)
		assert.Equal(t, 1, n, "%s: the credential is registered exactly once", where)
	}
	for _, c := range parseLog(rest) {
		assert.NotEqual(t, "task.setsecret", c.Name, "%s: only credentials the task holds are registered: %s", where, c.line)
	}
	assertNoCanary(t, where, rest, templ)
}

// echoFault makes Azure DevOps answer 401 with a message that quotes the credential it received,
// in the forms a proxy or a service might echo.
func echoFault(route, secret string) azdosim.Fault {
	msg := "TF400813: denied for Bearer " + secret + "; Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(":"+secret)) +
		"; token " + base64.StdEncoding.EncodeToString([]byte(secret))
	return azdosim.Fault{Route: route, Kind: azdosim.FaultStatus, Status: http.StatusUnauthorized, Message: msg}
}

func TestNoCanaryLeaksAgent(t *testing.T) {
	templ := kvtest.NewCanaries(templateSeed)
	registered := []string{jobTokenCanary, patCanary}
	common := merge(spEnv(), map[string]string{"AZURE_DEVOPS_EXT_PAT": patCanary, "SYSTEM_DEBUG": "true"})

	t.Run("workitems", func(t *testing.T) {
		_, uri := newSim(t, "scenario.json", nil)
		r := runAgent(t, workitems.Gate(), merge(common, workItemsEnv(uri)))
		assert.Equal(t, gaterun.ExitViolated, r.code, r.stdout)
		assert.Contains(t, r.stdout, "##[debug]", "debug output is on, so the most text is checked")
		assertAgentLog(t, "pipeline log", r.stdout, registered, nil)
		out := outputs{}
		out.addFiles(t, "agent temp", r.tempDir)
		require.NotEmpty(t, out, "the summary was written")
		for where, text := range out {
			assertNoCanary(t, where, text, nil)
		}
	})

	t.Run("workitems, Azure DevOps echoes the token", func(t *testing.T) {
		sim, uri := newSim(t, "scenario.json", nil)
		require.NoError(t, sim.Inject(echoFault(azdosim.RouteWIQL, jobTokenCanary)))
		r := runAgent(t, workitems.Gate(), merge(common, workItemsEnv(uri)))
		assert.Equal(t, gaterun.ExitError, r.code, r.stdout)
		assert.Contains(t, r.complete(t).Data, "401 Unauthorized")
		assert.Contains(t, r.complete(t).Data, "Service message: TF400813: denied for ***; Authorization: Basic ***; token ***", "the echo is shown, redacted")
		assertAgentLog(t, "pipeline log", r.stdout, registered, nil)
	})

	t.Run("reviews", func(t *testing.T) {
		_, uri := newSim(t, "reviews-scenario.json", nil)
		r := runAgent(t, reviews.Gate(), merge(common, reviewsEnv(uri)))
		assert.Equal(t, gaterun.ExitPassed, r.code, r.stdout)
		assertAgentLog(t, "pipeline log", r.stdout, registered, nil)
		assertNoCanary(t, "summary", r.summary(t), nil)
	})

	t.Run("reviews, Azure DevOps echoes the token", func(t *testing.T) {
		sim, uri := newSim(t, "reviews-scenario.json", nil)
		require.NoError(t, sim.Inject(echoFault(azdosim.RoutePullRequestQuery, jobTokenCanary)))
		r := runAgent(t, reviews.Gate(), merge(common, reviewsEnv(uri)))
		assert.Equal(t, gaterun.ExitError, r.code, r.stdout)
		assert.Contains(t, r.complete(t).Data, "denied for ***; Authorization: Basic ***; token ***")
		assertAgentLog(t, "pipeline log", r.stdout, registered, nil)
	})

	for _, mode := range []string{"enforce", "audit"} {
		t.Run("keyvault "+mode, func(t *testing.T) {
			src := testfiles.WriteTree(t, canaryTree(templ))
			// Accept one finding through a baseline, so the accepted-finding paths render too.
			bl := filepath.Join(t.TempDir(), "baseline.json")
			lr := runLocal(t, keyvault.Gate(), []string{"--format", "json", "--write-baseline", bl, src}, nil)
			require.Equal(t, gaterun.ExitViolated, lr.code, lr.stderr)
			blData, err := os.ReadFile(bl)
			require.NoError(t, err)
			var doc struct {
				Version  int              `json:"version"`
				Accepted []map[string]any `json:"accepted"`
			}
			require.NoError(t, json.Unmarshal(blData, &doc))
			require.NotEmpty(t, doc.Accepted)
			doc.Accepted = doc.Accepted[:1]
			doc.Accepted[0]["justification"] = "accepted for the leak test"
			blData, err = json.Marshal(doc)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(bl, blData, 0o644))

			sarifDir := t.TempDir()
			r := runAgent(t, keyvault.Gate(), merge(common, map[string]string{
				"BUILD_SOURCESDIRECTORY": src, "INPUT_MODE": mode, "INPUT_SARIFFILE": filepath.Join(sarifDir, "kv.sarif"),
				"INPUT_BASELINEFILE": bl, "INPUT_AZURESUBSCRIPTION": spEndpointID,
			}))
			want := map[string]int{"enforce": gaterun.ExitViolated, "audit": gaterun.ExitPassed}[mode]
			assert.Equal(t, want, r.code, r.stdout)
			codes := r.codes()
			for _, rule := range []string{"KV001", "KV002", "KV007", "KV009", "KV010", "KV011"} {
				assert.Positive(t, codes[rule], "the canaries are found (%s), so their findings are what is checked", rule)
			}
			assertAgentLog(t, "pipeline log", r.stdout, registered, &templ)
			out := outputs{}
			out.addFiles(t, "agent temp", r.tempDir)
			out.addFiles(t, "sarif", sarifDir)
			require.Len(t, out, 2, "summary and SARIF")
			assert.Contains(t, r.summary(t), "| KV003 | accepted |", "the accepted finding is rendered")
			for where, text := range out {
				assertNoCanary(t, where, text, &templ)
			}
		})
	}
}

// TestNoCanaryLeaksVerifyConnection uses the service principal secret for real: with
// verifyReferences the gate reads the connection and builds the credential, which an invalid
// tenant id makes fail before any request. On the agent the key is registered with setsecret
// before use (the only place it may appear); off the agent it appears nowhere.
func TestNoCanaryLeaksVerifyConnection(t *testing.T) {
	templ := kvtest.NewCanaries(templateSeed)
	src := testfiles.WriteTree(t, canaryTree(templ))
	env := merge(spEnvTenant("not a tenant id!"), map[string]string{"INPUT_VERIFYREFERENCES": "true", "INPUT_AZURESUBSCRIPTION": spEndpointID})

	r := runAgent(t, keyvault.Gate(), merge(env, map[string]string{"BUILD_SOURCESDIRECTORY": src, "INPUT_MODE": "audit"}))
	assert.Equal(t, gaterun.ExitError, r.code, r.stdout)
	assert.Equal(t, "Failed", r.complete(t).Props["result"])
	assert.Contains(t, r.complete(t).Data, "service connection "+spEndpointID+" (service principal secret): invalid tenantID", "the error names the connection")
	assertAgentLog(t, "pipeline log", r.stdout, []string{jobTokenCanary, spKeyCanary}, &templ)

	l := runLocal(t, keyvault.Gate(), []string{"--verifyReferences", "--azureSubscription", spEndpointID, src}, env)
	assert.Equal(t, gaterun.ExitError, l.code)
	assert.Contains(t, l.stderr, "invalid tenantID")
	assertNoCanary(t, "stderr", l.stderr, &templ)
	assertNoCanary(t, "stdout", l.stdout, &templ)
}

func TestNoCanaryLeaksLocal(t *testing.T) {
	templ := kvtest.NewCanaries(templateSeed)
	src := testfiles.WriteTree(t, canaryTree(templ))
	type gateCase struct {
		name  string
		gate  gaterun.Gate
		env   func(uri string) map[string]string
		args  []string
		templ *kvtest.Canaries
		sim   string
	}
	cases := []gateCase{
		{name: "workitems", gate: workitems.Gate(), env: workItemsEnv, sim: "scenario.json"},
		{name: "reviews", gate: reviews.Gate(), env: reviewsEnv, sim: "reviews-scenario.json"},
		{name: "keyvault", gate: keyvault.Gate(), args: []string{"--azureSubscription", spEndpointID, src}, templ: &templ},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Outside an agent the PAT is the credential; the job token is not set.
			env := merge(spEnv(), map[string]string{"AZURE_DEVOPS_EXT_PAT": patCanary, "SYSTEM_DEBUG": "true"})
			if c.sim != "" {
				_, uri := newSim(t, c.sim, nil)
				env = merge(env, c.env(uri))
			}
			out := outputs{}
			for _, format := range []string{"text", "json", "sarif", "junit"} {
				r := runLocal(t, c.gate, append([]string{"--format", format}, c.args...), env)
				assert.NotEqual(t, gaterun.ExitError, r.code, "%s evaluates: %s", format, r.stderr)
				require.NotEmpty(t, r.stdout)
				out[format+" stdout"] = r.stdout
				out[format+" stderr"] = r.stderr
			}
			files := t.TempDir()
			args := []string{"--format", "json", "--output", filepath.Join(files, "report.json"), "--write-baseline", filepath.Join(files, "baseline.json")}
			if c.templ != nil {
				args = append(args, "--sarifFile", filepath.Join(files, "kv.sarif"))
			}
			r := runLocal(t, c.gate, append(args, c.args...), env)
			assert.NotEqual(t, gaterun.ExitError, r.code, r.stderr)
			out["--output stdout"], out["--output stderr"] = r.stdout, r.stderr
			out.addFiles(t, "files", files)
			wantFiles := 2
			if c.templ != nil {
				wantFiles = 3
			}
			assert.Len(t, out, 10+wantFiles, "report, baseline (and SARIF) written")
			for where, text := range out {
				assertNoCanary(t, where, text, c.templ)
			}
		})
	}

	t.Run("workitems, Azure DevOps echoes the PAT", func(t *testing.T) {
		sim, uri := newSim(t, "scenario.json", nil)
		require.NoError(t, sim.Inject(echoFault(azdosim.RouteWIQL, patCanary)))
		r := runLocal(t, workitems.Gate(), []string{"--format", "json"}, merge(spEnv(), workItemsEnv(uri), map[string]string{"AZURE_DEVOPS_EXT_PAT": patCanary}))
		assert.Equal(t, gaterun.ExitError, r.code)
		assert.Contains(t, r.stderr, "401 Unauthorized")
		assert.Contains(t, r.stderr, "the personal access token in AZURE_DEVOPS_EXT_PAT", "the message names the credential source")
		assertNoCanary(t, "stderr", r.stderr, nil)
		assertNoCanary(t, "stdout", r.stdout, nil)
	})
}

// planRecorder is the distributedtask side of Azure DevOps for callback checks: it records the
// raw bodies of feed and event posts.
type planRecorder struct {
	mu     sync.Mutex
	bodies []string
	events int
}

func (p *planRecorder) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.URL.Path, "/_apis/distributedtask/") {
			next.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		p.mu.Lock()
		p.bodies = append(p.bodies, r.URL.Path+"\n"+string(body))
		if strings.HasSuffix(r.URL.Path, "/events") {
			p.events++
		}
		p.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	})
}

func (p *planRecorder) snapshot() (int, []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.events, append([]string(nil), p.bodies...)
}

// syncBuffer collects the server's JSON log from its goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

const (
	leakCommit     = "4444444444444444444444444444444444444444"
	callerPassword = "check-caller-password-0123456789"
)

func TestNoCanaryLeaksServer(t *testing.T) {
	templ := kvtest.NewCanaries(templateSeed)
	sc, err := azdosim.Demo()
	require.NoError(t, err)
	sc.Tokens = []string{jobTokenCanary, patCanary}
	for _, p := range sc.Projects {
		for _, r := range p.Repositories {
			if r.Name == "payments-api" {
				r.Trees = map[string]map[string]string{leakCommit: canaryTree(templ)}
			}
		}
	}
	sim, err := azdosim.New(sc, azdosim.Options{Now: func() time.Time { return testNow }})
	require.NoError(t, err)
	plan := &planRecorder{}
	upstream := httptest.NewServer(plan.wrap(sim))
	t.Cleanup(upstream.Close)
	org := sim.OrgURL(upstream.URL)

	// The server reads Azure DevOps with a PAT identity in synchronous mode and with each check's
	// AuthToken (the job token) in callback mode.
	cfgYAML := "listen: \"127.0.0.1:0\"\norganizations:\n  - " + org + "\ncallers:\n  - name: checks\n    username: stagegate\n    passwordEnv: EV_PASSWORD\n" +
		"identity:\n  type: pat\n  patEnv: EV_PAT\nallowUnknownEnvironments: true\nlogLevel: debug\n"
	cfg, err := server.ParseConfig("evidence.yaml", []byte(cfgYAML), task.MapEnv(map[string]string{"EV_PASSWORD": callerPassword, "EV_PAT": patCanary}))
	require.NoError(t, err)
	identity, err := server.NewIdentity(cfg.Identity)
	require.NoError(t, err)
	var logs syncBuffer
	srv, err := server.New(server.Options{
		Config: cfg, Identity: identity, Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now: func() time.Time { return testNow }, TempDir: t.TempDir(), FeedInterval: 10 * time.Millisecond,
		Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() },
	})
	require.NoError(t, err)
	front := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		front.Close()
	})

	post := func(gate, completion string, headers map[string]string, body map[string]any) (int, string) {
		t.Helper()
		b, err := json.Marshal(body)
		require.NoError(t, err)
		u := front.URL + "/v1/gates/" + gate
		if completion != "" {
			u += "?completion=" + completion
		}
		req, err := http.NewRequest(http.MethodPost, u, bytes.NewReader(b))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth("stagegate", callerPassword)
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := front.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(data)
	}
	ctxBody := map[string]any{"environment": "production", "organization": org, "project": "Payments", "repository": "payments-api",
		"repositoryProvider": "TfsGit", "branch": "refs/heads/main", "commit": leakCommit}
	answers := outputs{}
	for _, gate := range []string{"workitems", "reviews", "keyvault"} {
		code, body := post(gate, "", nil, ctxBody)
		assert.Equal(t, http.StatusOK, code, body)
		assert.Contains(t, body, `"status":"failed"`, "the production policy fails each gate on the demo data")
		assert.NotContains(t, body, `"error":`, "the gate evaluated")
		answers["sync "+gate] = body
	}
	assert.Contains(t, answers["sync keyvault"], "KV009", "the canaries were scanned")

	// Callback mode: acknowledged at once, then feed lines and one TaskCompleted per check.
	callbacks := 0
	for _, gate := range []string{"workitems", "keyvault"} {
		h := map[string]string{
			server.HeaderPlanURL: org + "/", server.HeaderProjectID: "6ce954b1-ce1f-45d1-b94d-e6bf2464ba2c", server.HeaderHubName: "Checks",
			server.HeaderPlanID: "11111111-2222-3333-4444-555555555555", server.HeaderJobID: "66666666-7777-8888-9999-000000000000",
			server.HeaderTimelineID: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", server.HeaderAuthToken: jobTokenCanary,
			server.HeaderTaskInstanceID: []string{"0e8d9f4a-1b2c-4d3e-8f90-a1b2c3d4e5f6", "1e8d9f4a-1b2c-4d3e-8f90-a1b2c3d4e5f6"}[callbacks],
		}
		code, body := post(gate, "callback", h, ctxBody)
		require.Equal(t, http.StatusAccepted, code, body)
		answers["callback ack "+gate] = body
		callbacks++
	}

	// A token the service echoes back, in synchronous mode with the PAT identity.
	require.NoError(t, sim.Inject(echoFault(azdosim.RouteWIQL, patCanary)))
	code, body := post("workitems", "", nil, ctxBody)
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "401 Unauthorized")
	answers["sync workitems, echoed PAT"] = body

	require.NoError(t, srv.Shutdown(context.Background()), "the callbacks finish")
	events, bodies := plan.snapshot()
	assert.Equal(t, callbacks, events, "one TaskCompleted per callback")
	require.Greater(t, len(bodies), callbacks, "feed lines were posted")
	feed := strings.Join(bodies, "\n")
	assert.Contains(t, feed, "KV009", "the keyvault findings went to the feed")
	answers["plan feed and events"] = feed
	answers["server log"] = logs.String()
	for where, text := range answers {
		assertNoCanary(t, where, text, &templ)
	}
}
