package reviews_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/azdo"
	"github.com/stagegate/stagegate/pkg/azdo/azdosim"
	"github.com/stagegate/stagegate/pkg/finding"
	"github.com/stagegate/stagegate/pkg/gaterun"
	"github.com/stagegate/stagegate/pkg/gates/reviews"
	"github.com/stagegate/stagegate/pkg/task"
	"github.com/stagegate/stagegate/tasks"
)

const (
	token       = "reviews-test-token"
	project     = "Payments"
	repoID      = "3411ebc1-d5aa-464f-9615-0b527bc66719"
	otherRepoID = "49c1d4d0-be28-4f20-9e0a-4ecfafc39257"
	repoName    = "payments-api"
	mainRef     = "refs/heads/main"
	mergeSHA    = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
	otherSHA    = "b2c3d4e5f60718293a4b5c6d7e8f901234567890"
	pushedSHA   = "e5f6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e"
)

var testNow = time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)

// world is a small organization: project Payments with repositories payments-api (default
// branch main) and legacy-service (default branch master), people and one group.
type world struct {
	sc   *azdosim.Scenario
	proj *azdosim.Project
	repo *azdosim.Repository
}

func newWorld() *world {
	sc := azdosim.NewScenario("contoso", token)
	sc.AddIdentity("alice", "Alice Developer", false).
		AddIdentity("bob", "Bob Reviewer", false).
		AddIdentity("carol", "Carol Architect", false).
		AddIdentity("dave", "Dave Oncall", false).
		AddIdentity("erin", "Erin Security", false).
		AddIdentity("team", "Payments Team", true)
	p := sc.Project(project)
	repo := p.AddRepository(&azdosim.Repository{ID: repoID, Name: repoName, DefaultBranch: mainRef})
	p.AddRepository(&azdosim.Repository{ID: otherRepoID, Name: "legacy-service", DefaultBranch: "refs/heads/master"})
	return &world{sc: sc, proj: p, repo: repo}
}

// compliant is a repository-scoped minimum-reviewers policy on main that meets every requirement.
func compliant(id int, settings map[string]any) *azdosim.Policy {
	s := map[string]any{"blockLastPusherVote": true}
	for k, v := range settings {
		s[k] = v
	}
	return azdosim.MinimumReviewersPolicy(id, repoID, mainRef, "Exact", 2, s)
}

func rv(identity string, vote int, votedFor ...string) azdosim.Reviewer {
	return azdosim.Reviewer{Identity: identity, Vote: vote, VotedFor: votedFor}
}

// completedPR adds a pull request by alice into main, completed with sha as its merge commit.
func (w *world) completedPR(id int, sha string, reviewers ...azdosim.Reviewer) *azdosim.PullRequest {
	pr := &azdosim.PullRequest{ID: id, Title: "Change " + sha[:7], Status: "completed", CreatedBy: "alice", ClosedBy: "alice",
		SourceRefName: "refs/heads/feature/x", TargetRefName: mainRef, LastMergeCommit: sha, Reviewers: reviewers,
		CompletionOptions: &azdosim.CompletionOptions{}}
	w.repo.PullRequests = append(w.repo.PullRequests, pr)
	return pr
}

type harness struct {
	t   testing.TB
	sim *azdosim.Server
	url string
	// token is the credential the client sends.
	token string

	mu       sync.Mutex
	warnings []string
}

func start(t testing.TB, sc *azdosim.Scenario, opts azdosim.Options) *harness {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return testNow }
	}
	sim, err := azdosim.New(sc, opts)
	require.NoError(t, err)
	return serve(t, sim, sim)
}

// serve runs handler (the simulator, possibly wrapped) on a new server: the client library caches
// locations per URL, so every test needs its own.
//
// A closed test server's port can be handed out again, which would make a later test find its
// locations cached and send one request fewer; a random path prefix keeps every URL unique.
func serve(t testing.TB, sim *azdosim.Server, handler http.Handler) *harness {
	var b [8]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	prefix := "/t" + hex.EncodeToString(b[:])
	srv := httptest.NewServer(http.StripPrefix(prefix, handler))
	t.Cleanup(srv.Close)
	return &harness{t: t, sim: sim, url: sim.OrgURL(srv.URL + prefix), token: token}
}

func (h *harness) warn(s string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.warnings = append(h.warnings, s)
}

func (h *harness) Warnings() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.warnings...)
}

// connect builds a real client against the simulator with a sleep that never waits.
func (h *harness) connect(ctx context.Context, rt *gaterun.Runtime) (reviews.Reader, error) {
	return azdo.New(ctx, azdo.Options{
		OrgURL:     h.url,
		Credential: azdo.JobToken(h.token),
		Warn:       rt.Warn,
		Sleep:      func(ctx context.Context, _ time.Duration) error { return ctx.Err() },
		Now:        func() time.Time { return testNow },
	})
}

func defaults(t testing.TB) map[string]string {
	t.Helper()
	def, err := tasks.Get("ProductionReviewGate")
	require.NoError(t, err)
	m := map[string]string{}
	for _, in := range def.Inputs {
		m[in.Name] = in.DefaultValue
	}
	return m
}

// pipelineEnv is what the agent sets for a build of payments-api at main.
func pipelineEnv(extra map[string]string) map[string]string {
	env := map[string]string{
		"SYSTEM_TEAMPROJECT":        project,
		"BUILD_REPOSITORY_ID":       repoID,
		"BUILD_REPOSITORY_NAME":     repoName,
		"BUILD_REPOSITORY_PROVIDER": "TfsGit",
		"BUILD_SOURCEBRANCH":        mainRef,
		"BUILD_SOURCEVERSION":       mergeSHA,
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// evaluate runs the gate's Evaluate with inputs given as values (unset inputs take the task.json
// defaults, with $(Build.*) macros expanded from env).
func (h *harness) evaluate(inputs, env map[string]string) (*finding.Report, error) {
	h.t.Helper()
	lookup := task.MapEnv(pipelineEnv(env))
	rt := &gaterun.Runtime{
		Inputs: task.ValueInputs(inputs, lookup, defaults(h.t)),
		Env:    lookup,
		Now:    testNow,
		Warn:   h.warn,
		Info:   func(string) {},
		Debug:  func(string) {},
		Secret: func(string) {},
	}
	return reviews.GateWith(h.connect).Evaluate(context.Background(), rt)
}

func (h *harness) mustEvaluate(inputs, env map[string]string) *finding.Report {
	h.t.Helper()
	r, err := h.evaluate(inputs, env)
	require.NoError(h.t, err)
	require.NotNil(h.t, r)
	return r
}

// agentRun is one run through gaterun.Main as the agent starts it.
type agentRun struct {
	stdout string
	code   int
}

func (h *harness) runAgent(inputs, env map[string]string) agentRun {
	h.t.Helper()
	full := pipelineEnv(env)
	full["TF_BUILD"] = "True"
	full["AGENT_TEMPDIRECTORY"] = h.t.TempDir()
	full[task.JobTokenVar] = h.token
	for k, v := range inputs {
		full["INPUT_"+task.EnvName(k)] = v
	}
	var out, errb bytes.Buffer
	code := gaterun.Main(context.Background(), reviews.GateWith(h.connect), nil, task.MapEnv(full), &out, &errb, gaterun.Options{Now: func() time.Time { return testNow }})
	return agentRun{stdout: out.String(), code: code}
}

// rules lists the rule ids of the report's findings, sorted.
func rules(r *finding.Report) []string {
	out := []string{}
	for _, f := range r.Findings {
		out = append(out, f.Rule)
	}
	sort.Strings(out)
	return out
}

func findingOf(t testing.TB, r *finding.Report, rule string) finding.Finding {
	t.Helper()
	for _, f := range r.Findings {
		if f.Rule == rule {
			return f
		}
	}
	require.Failf(t, "finding not found", "no %s finding in %v", rule, rules(r))
	return finding.Finding{}
}

func output(r *finding.Report, name string) string {
	for _, o := range r.Outputs {
		if o.Name == name {
			return o.Value
		}
	}
	return "<unset>"
}

// resultLine returns the task.complete line of an agent run.
func resultLine(stdout string) string {
	for _, l := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(l, "##vso[task.complete ") {
			return l
		}
	}
	return ""
}

func noChange() map[string]string { return map[string]string{"checkChange": "false"} }
func noPolicy() map[string]string { return map[string]string{"checkPolicy": "false"} }
