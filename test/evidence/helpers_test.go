// Package evidence holds cross-product tests that back the product's security claims with
// observations: a fault matrix for the Azure DevOps gates (every failure mode ends in a retry
// that succeeds or a Failed result that names the cause), canary leak tests over every output
// the product writes, and hostile inputs (bounded time and memory, no injection).
//
// Everything runs in process through gaterun.Main (agent and local modes) and server.New, against
// azdosim over real HTTP, so the tests observe the real logging commands and answers.
package evidence

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/azdo"
	"github.com/stagegate/stagegate/pkg/azdo/azdosim"
	"github.com/stagegate/stagegate/pkg/gaterun"
	"github.com/stagegate/stagegate/pkg/gates/reviews"
	"github.com/stagegate/stagegate/pkg/gates/workitems"
	"github.com/stagegate/stagegate/pkg/task"

	"github.com/stagegate/stagegate/internal/testfiles"
)

// testNow is the clock of the simulator and of every gate run, so relative scenario dates and
// SLA ages are the same on every run.
var testNow = time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)

// Canary credentials. Each is long enough for every redactor and shaped like the real thing: the
// job token like a JWT, the PAT like a 52-character personal access token, the service
// principal key like an Entra client secret.
const (
	jobTokenCanary = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.Q0FOQVJZLWpvYi10b2tlbg.c4n4ry-J0b_T0k3n-7f3Q"
	patCanary      = "cnrypat7q2mzr5w9kd3h8e6ta1ycbufjn0vgs2pxo7lqi4ekw3a"
	spKeyCanary    = "Cny8Q~spK3y.Zt4rWm9Lx2Nc7Vb5Hj3Kd1Pq6Sa0Ue"
	spEndpointID   = "7d1cbd0b-52cb-4f6e-8b7b-5d0a3b51c6a1"
)

// The demo organization's facts the tests rely on (examples/azdo/*.json).
const (
	reviewsRepoID    = "3411ebc1-d5aa-464f-9615-0b527bc66719"
	reviewsCompliant = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678" // PR 21: two approvals
)

// command is one logging command as the agent reads it (task.ParseCommand), with its raw line.
type command struct {
	task.Command
	line string
}

func parseLog(stdout string) []command {
	var out []command
	for _, line := range strings.Split(stdout, "\n") {
		if c, ok := task.ParseCommand(line); ok {
			out = append(out, command{Command: c, line: line})
		}
	}
	return out
}

// agentRun is one gate run in agent mode.
type agentRun struct {
	stdout  string
	code    int
	tempDir string // AGENT_TEMPDIRECTORY: the summary goes here
	cmds    []command
}

func (r agentRun) named(name string) []command {
	var out []command
	for _, c := range r.cmds {
		if c.Name == name {
			out = append(out, c)
		}
	}
	return out
}

// complete returns the single task.complete command, failing the test when there is not
// exactly one.
func (r agentRun) complete(t testing.TB) command {
	t.Helper()
	c := r.named("task.complete")
	require.Len(t, c, 1, "exactly one task.complete:\n%s", r.stdout)
	return c[0]
}

func (r agentRun) codes() map[string]int {
	m := map[string]int{}
	for _, c := range r.named("task.logissue") {
		m[c.Props["code"]]++
	}
	return m
}

// summary returns the uploaded Markdown summary.
func (r agentRun) summary(t testing.TB) string {
	t.Helper()
	up := r.named("task.uploadsummary")
	require.Len(t, up, 1, r.stdout)
	data, err := os.ReadFile(up[0].Data)
	require.NoError(t, err)
	return string(data)
}

// runAgent runs the gate as the agent would: TF_BUILD and the given environment, stdout is the
// pipeline log. The run is bounded by a context deadline so that a hang fails the test instead
// of stalling the package.
func runAgent(t testing.TB, g gaterun.Gate, env map[string]string) agentRun {
	t.Helper()
	return runAgentWithin(t, time.Minute, g, env)
}

// runAgentWithin is runAgent with another bound, for runs whose work grows with their input.
func runAgentWithin(t testing.TB, bound time.Duration, g gaterun.Gate, env map[string]string) agentRun {
	t.Helper()
	tmp := t.TempDir()
	vars := map[string]string{
		"TF_BUILD":            "True",
		"SYSTEM_JOBID":        "job-ev",
		"AGENT_TEMPDIRECTORY": tmp,
		"STAGEGATE_TIMEOUT":   "30s",
		task.JobTokenVar:      jobTokenCanary,
	}
	for k, v := range env {
		vars[k] = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := gaterun.Main(ctx, g, nil, task.MapEnv(vars), &stdout, &stderr, gaterun.Options{Now: func() time.Time { return testNow }})
	require.NoError(t, ctx.Err(), "the gate ran past its bound")
	require.Empty(t, stderr.String(), "agent mode writes everything to the pipeline log")
	return agentRun{stdout: stdout.String(), code: code, tempDir: tmp, cmds: parseLog(stdout.String())}
}

// localRun is one gate run outside an agent.
type localRun struct {
	stdout, stderr string
	code           int
}

func runLocal(t testing.TB, g gaterun.Gate, args []string, env map[string]string) localRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := gaterun.Main(ctx, g, args, task.MapEnv(env), &stdout, &stderr, gaterun.Options{Now: func() time.Time { return testNow }})
	require.NoError(t, ctx.Err(), "the gate ran past its bound")
	return localRun{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// newSim serves a scenario from examples/azdo on its own server (the client library caches
// locations per URL) and returns the collection URI with its trailing slash, as the agent sets it.
func newSim(t testing.TB, file string, edit func(*azdosim.Scenario)) (*azdosim.Server, string) {
	t.Helper()
	sc, err := azdosim.LoadScenario(filepath.Join(testfiles.ModuleRoot(t), "examples", "azdo", file))
	require.NoError(t, err)
	sc.Tokens = []string{jobTokenCanary, patCanary}
	if edit != nil {
		edit(sc)
	}
	sim, err := azdosim.New(sc, azdosim.Options{Now: func() time.Time { return testNow }})
	require.NoError(t, err)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return sim, sim.OrgURL(srv.URL) + "/"
}

// workItemsEnv is the agent environment of the work item gate with task.json defaults (the
// agent expands $(System.TeamProject) itself; gaterun does the same for absent inputs).
func workItemsEnv(uri string) map[string]string {
	return map[string]string{
		"SYSTEM_COLLECTIONURI": uri,
		"SYSTEM_TEAMPROJECT":   "Payments",
		"BUILD_BUILDID":        "501",
	}
}

// reviewsEnv is the agent environment of the review gate deploying the compliant commit.
func reviewsEnv(uri string) map[string]string {
	return map[string]string{
		"SYSTEM_COLLECTIONURI":      uri,
		"SYSTEM_TEAMPROJECT":        "Payments",
		"BUILD_REPOSITORY_ID":       reviewsRepoID,
		"BUILD_REPOSITORY_NAME":     "payments-api",
		"BUILD_REPOSITORY_PROVIDER": "TfsGit",
		"BUILD_SOURCEBRANCH":        "refs/heads/main",
		"BUILD_SOURCEVERSION":       reviewsCompliant,
	}
}

// probe records what the retrying transport asked to sleep, so retry tests take no wall time
// and can still prove that Retry-After was honoured.
type probe struct {
	mu     sync.Mutex
	sleeps []time.Duration
}

func (p *probe) sleep(ctx context.Context, d time.Duration) error {
	p.mu.Lock()
	p.sleeps = append(p.sleeps, d)
	p.mu.Unlock()
	return ctx.Err()
}

func (p *probe) waits() []time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Duration(nil), p.sleeps...)
}

// connect opens a client exactly as the gates' own connect functions do (organization and
// credential from the agent environment, retries reported through rt.Warn), with the probe's
// sleep and, when given, a short attempt timeout.
func (p *probe) connect(ctx context.Context, rt *gaterun.Runtime, attemptTimeout time.Duration) (*azdo.Client, error) {
	orgURL, cred, err := azdo.FromAgentEnv(rt.Env)
	if err != nil {
		return nil, err
	}
	return azdo.New(ctx, azdo.Options{OrgURL: orgURL, Credential: cred, Warn: rt.Warn, Sleep: p.sleep, AttemptTimeout: attemptTimeout})
}

func (p *probe) workItemsGate(attemptTimeout time.Duration) gaterun.Gate {
	return workitems.GateWith(func(ctx context.Context, rt *gaterun.Runtime) (workitems.Reader, error) {
		c, err := p.connect(ctx, rt, attemptTimeout)
		if err != nil {
			return nil, err
		}
		return c, nil
	})
}

func (p *probe) reviewsGate(attemptTimeout time.Duration) gaterun.Gate {
	return reviews.GateWith(func(ctx context.Context, rt *gaterun.Runtime) (reviews.Reader, error) {
		c, err := p.connect(ctx, rt, attemptTimeout)
		if err != nil {
			return nil, err
		}
		return c, nil
	})
}

// encodings are the forms a credential travels in: clear, Basic-auth base64 (with and without
// the empty user), base64url, and URL-encoded (clear and Basic).
func encodings(secret string) map[string]string {
	basic := base64.StdEncoding.EncodeToString([]byte(":" + secret))
	return map[string]string{
		"clear":              secret,
		"base64":             base64.StdEncoding.EncodeToString([]byte(secret)),
		"base64 basic":       basic,
		"base64url":          base64.RawURLEncoding.EncodeToString([]byte(secret)),
		"url-encoded":        url.QueryEscape(secret),
		"path-encoded":       url.PathEscape(secret),
		"url-encoded basic":  url.QueryEscape(basic),
		"base64 basic (raw)": strings.TrimRight(basic, "="),
	}
}

// credentialLeaks names the encodings of secret found in text.
func credentialLeaks(text, secret string) []string {
	var found []string
	for form, v := range encodings(secret) {
		if v != "" && strings.Contains(text, v) {
			found = append(found, form)
		}
	}
	return found
}

// withoutSetSecret removes the one `##vso[task.setsecret]<secret>` line a credential may appear
// in and reports how many such lines there were.
func withoutSetSecret(stdout, secret string) (string, int) {
	var kept []string
	n := 0
	for _, l := range strings.Split(stdout, "\n") {
		if l == "##vso[task.setsecret]"+secret {
			n++
			continue
		}
		kept = append(kept, l)
	}
	return strings.Join(kept, "\n"), n
}
