package server

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/azdo/azdosim"
)

// The real gates through the server, against the simulator over HTTP: the workitems and reviews
// gates read the demo organization; the Key Vault gate downloads a repository at a commit.

const (
	demoToken   = "stagegate-demo-token"
	cleanCommit = "1111111111111111111111111111111111111111"
	leakyCommit = "2222222222222222222222222222222222222222"
)

var simNow = time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)

func demoSim(t testing.TB) *azdosim.Server {
	t.Helper()
	sc, err := azdosim.Demo()
	require.NoError(t, err)
	for _, p := range sc.Projects {
		for _, r := range p.Repositories {
			if r.Name == "payments-api" {
				r.Trees = map[string]map[string]string{
					cleanCommit: {
						"infra/main.bicep":     "@secure()\nparam adminPassword string\noutput name string = 'app'\n",
						"pipelines/build.yml":  "steps:\n- script: echo build\n",
						"app/appsettings.json": "{\"Logging\": {\"LogLevel\": \"Information\"}}\n",
					},
					leakyCommit: {
						"infra/main.bicep":       "param adminPassword string = 'Sup3rS3cret!'\noutput name string = 'app'\n",
						"infra/vm.json":          `{"$schema":"https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#","contentVersion":"1.0.0.0","parameters":{"adminPassword":{"type":"securestring","defaultValue":"P@ssw0rd123!"}},"resources":[]}`,
						"pipelines/release.yml":  "variables:\n  dbPassword: 'hunter2hunter2'\nsteps:\n- script: echo deploy\n",
						"docs/readme-not-a.json": "{}",
					},
				}
			}
		}
	}
	sim, err := azdosim.New(sc, azdosim.Options{Now: func() time.Time { return simNow }})
	require.NoError(t, err)
	return sim
}

func TestRealWorkItemsGateBothModes(t *testing.T) {
	sim := demoSim(t)
	h := newHarness(t, harnessOptions{sim: sim, opts: func(o *Options) { o.Now = func() time.Time { return simNow } }})
	body := map[string]any{"environment": "staging", "organization": "contoso", "project": "Payments"}
	hd := map[string]string{HeaderAuthToken: demoToken}

	syncA := h.do(call{gate: "workitems", headers: hd, body: body})
	require.Equal(t, http.StatusOK, syncA.status, string(syncA.body))
	assert.Equal(t, "SecurityWorkItemGate", syncA.json["gate"])
	assert.Equal(t, "audit", syncA.json["mode"], "staging policy")
	assert.Nil(t, syncA.json["error"])
	findings, _ := syncA.json["findings"].([]any)
	require.NotEmpty(t, findings, "the demo organization has open security items")
	assert.Equal(t, "passed", syncA.json["status"], "audit mode never blocks")
	assert.Equal(t, "warned", syncA.json["outcome"])
	outputs, _ := syncA.json["outputs"].(map[string]any)
	assert.Contains(t, outputs, "openHigh")
	wiql := sim.Count(azdosim.RouteWIQL)
	assert.Positive(t, wiql)

	// The same evaluation in production (enforce) by callback fails, with the check's token.
	cb := h.callbackHeaders(newTaskID())
	cb[HeaderAuthToken] = demoToken
	a := h.do(call{gate: "workitems", completion: "callback", headers: cb, body: map[string]any{"environment": "production", "project": "Payments"}})
	require.Equal(t, http.StatusAccepted, a.status, string(a.body))
	ev := h.plan.waitEvents(t, 1)
	assert.Equal(t, resultFailed, ev[0].Event.Result)
	assert.Equal(t, wiql+1, sim.Count(azdosim.RouteWIQL))
	lines := strings.Join(h.plan.lines(), "\n")
	assert.Contains(t, lines, "WI001")
	assert.NotContains(t, lines, demoToken)

	// A wrong token fails closed with the status in the verdict.
	cb = h.callbackHeaders(newTaskID())
	cb[HeaderAuthToken] = "expired-token-0123456789"
	a = h.do(call{gate: "workitems", completion: "callback", headers: cb, body: map[string]any{"environment": "production", "project": "Payments"}})
	require.Equal(t, http.StatusAccepted, a.status)
	ev = h.plan.waitEvents(t, 2)
	assert.Equal(t, resultFailed, ev[1].Event.Result)
	assert.Contains(t, strings.Join(h.plan.lines(), "\n"), "401")
}

func TestRealReviewsGate(t *testing.T) {
	sim := demoSim(t)
	h := newHarness(t, harnessOptions{sim: sim, opts: func(o *Options) { o.Now = func() time.Time { return simNow } }})
	a := h.do(call{gate: "reviews", headers: map[string]string{HeaderAuthToken: demoToken}, body: map[string]any{
		"environment": "staging", "organization": h.org, "project": "Payments", "repository": "payments-api",
		"repositoryProvider": "TfsGit", "branch": "refs/heads/main", "commit": "$(Build.SourceVersion)",
		"inputs": map[string]any{"checkChange": false},
	}})
	require.Equal(t, http.StatusOK, a.status, string(a.body))
	assert.Equal(t, "ProductionReviewGate", a.json["gate"])
	assert.Nil(t, a.json["error"], "the policy check runs without a commit")
	assert.Positive(t, sim.Count(azdosim.RoutePolicyConfigurations))
	// A GitHub repository fails closed with the gate's own message.
	a = h.do(call{gate: "reviews", headers: map[string]string{HeaderAuthToken: demoToken}, body: map[string]any{
		"environment": "staging", "organization": h.org, "project": "Payments", "repository": "octo/app", "repositoryProvider": "GitHub",
	}})
	require.Equal(t, http.StatusOK, a.status)
	assert.Equal(t, "failed", a.json["status"])
	assert.Contains(t, a.json["error"], "GitHub")
}

func TestRealKeyVaultGateScansTheCommit(t *testing.T) {
	sim := demoSim(t)
	h := newHarness(t, harnessOptions{sim: sim})
	run := func(commit, environment string, inputs map[string]any) answer {
		return h.do(call{gate: "keyvault", headers: map[string]string{HeaderAuthToken: demoToken}, body: map[string]any{
			"environment": environment, "organization": "contoso", "project": "Payments", "repository": "payments-api",
			"commit": commit, "inputs": inputs,
		}})
	}
	clean := run(cleanCommit, "production", nil)
	require.Equal(t, http.StatusOK, clean.status, string(clean.body))
	assert.Nil(t, clean.json["error"])
	assert.Equal(t, "passed", clean.json["status"], string(clean.body))

	leaky := run(leakyCommit, "production", nil)
	require.Equal(t, http.StatusOK, leaky.status)
	assert.Nil(t, leaky.json["error"])
	assert.Equal(t, "failed", leaky.json["status"])
	rules := map[string]bool{}
	for _, f := range leaky.json["findings"].([]any) {
		fm := f.(map[string]any)
		rules[fm["rule"].(string)] = true
		loc, _ := fm["location"].(map[string]any)
		if p, ok := loc["path"].(string); ok {
			assert.False(t, strings.HasPrefix(p, "/"), "paths are relative to the repository: %s", p)
		}
	}
	assert.True(t, rules["KV002"], "a secure parameter with a default: %v", rules)
	for _, secret := range []string{"Sup3rS3cret!", "P@ssw0rd123!", "hunter2hunter2"} {
		assert.NotContains(t, string(leaky.body), secret, "secrets found in templates are never echoed")
	}

	// rootDirectory narrows the scan to a folder of the download.
	narrowed := run(leakyCommit, "production", map[string]any{"rootDirectory": "docs"})
	require.Equal(t, http.StatusOK, narrowed.status)
	assert.Equal(t, "passed", narrowed.json["status"], string(narrowed.body))

	// A commit the repository does not have fails closed with the status.
	missing := run(strings.Repeat("3", 40), "production", nil)
	assert.Equal(t, "failed", missing.json["status"])
	assert.Contains(t, missing.json["error"], "404")

	// The keyvault gate needs the commit.
	noCommit := h.do(call{gate: "keyvault", headers: map[string]string{HeaderAuthToken: demoToken}, body: map[string]any{
		"environment": "production", "organization": "contoso", "project": "Payments", "repository": "payments-api"}})
	assert.Equal(t, http.StatusBadRequest, noCommit.status)
	assert.Contains(t, noCommit.json["error"], "commit")
	assert.Equal(t, 4, sim.Count(azdosim.RouteItems))

	// Every download was removed after its evaluation.
	require.NoError(t, h.srv.Shutdown(context.Background()))
	left, err := filepathGlob(h.srv.tempDir, "stagegate-*")
	require.NoError(t, err)
	assert.Empty(t, left)
}

func filepathGlob(dir, pattern string) ([]string, error) {
	return filepath.Glob(filepath.Join(dir, pattern))
}
