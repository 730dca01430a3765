package reviews_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/azdo"
	"github.com/stagegate/stagegate/pkg/azdo/azdosim"
	"github.com/stagegate/stagegate/pkg/gaterun"
	"github.com/stagegate/stagegate/pkg/gates/reviews"
	"github.com/stagegate/stagegate/pkg/task"
)

// healthy is an organization where main is protected and mergeSHA came through PR 21 with two
// approvals.
func healthy() *world {
	w := newWorld()
	w.proj.AddPolicies(compliant(1, nil))
	w.completedPR(21, mergeSHA, rv("bob", 10), rv("carol", 10))
	return w
}

func TestGateDefinition(t *testing.T) {
	g := reviews.Gate()
	assert.Equal(t, "ProductionReviewGate", g.Task)
	assert.Equal(t, "reviews", g.Command)
	assert.NotNil(t, g.Evaluate)
}

func TestRequestBudget(t *testing.T) {
	tests := []struct {
		name   string
		world  func() *world
		inputs map[string]string
		byCall map[string]int
	}{
		{name: "common case", world: healthy, byCall: map[string]int{
			azdosim.RouteLocations: 1, azdosim.RoutePolicyConfigurations: 1, azdosim.RoutePullRequestQuery: 1, azdosim.RoutePullRequest: 1}},
		{name: "repository by name", world: healthy, inputs: map[string]string{"repository": repoName}, byCall: map[string]int{
			azdosim.RouteLocations: 1, azdosim.RouteRepository: 1, azdosim.RoutePolicyConfigurations: 1, azdosim.RoutePullRequestQuery: 1, azdosim.RoutePullRequest: 1}},
		{name: "default-branch policy", world: func() *world {
			w := newWorld()
			w.proj.AddPolicies(defaultBranchPolicy(nil))
			w.completedPR(21, mergeSHA, rv("bob", 10), rv("carol", 10))
			return w
		}, byCall: map[string]int{
			azdosim.RouteLocations: 1, azdosim.RouteRepository: 1, azdosim.RoutePolicyConfigurations: 1, azdosim.RoutePullRequestQuery: 1, azdosim.RoutePullRequest: 1}},
		{name: "direct push", world: healthy, inputs: map[string]string{"commit": pushedSHA}, byCall: map[string]int{
			azdosim.RouteLocations: 1, azdosim.RoutePolicyConfigurations: 1, azdosim.RoutePullRequestQuery: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, tt.world().sc, azdosim.Options{})
			r := h.mustEvaluate(tt.inputs, nil)
			got := map[string]int{}
			for _, req := range h.sim.Requests() {
				got[req.Route]++
			}
			assert.Equal(t, tt.byCall, got)
			if tt.name != "direct push" {
				assert.Empty(t, r.Findings)
				assert.Equal(t, "true", output(r, "policyCompliant"))
			}
			if tt.name == "common case" {
				assert.LessOrEqual(t, h.sim.Count(""), 4)
			}
		})
	}
}

func TestNonProductionBranch(t *testing.T) {
	for _, mode := range []string{"pass", "fail"} {
		t.Run(mode, func(t *testing.T) {
			h := start(t, healthy().sc, azdosim.Options{})
			inputs := map[string]string{"onNonProductionBranch": mode, "productionBranches": "main, release/*"}
			r := h.mustEvaluate(inputs, map[string]string{"BUILD_SOURCEBRANCH": "refs/heads/feature/login"})
			assert.Zero(t, h.sim.Count(""), "nothing is read for a branch that is not gated")
			want := "refs/heads/feature/login is not a production branch: it matches none of the patterns in productionBranches (refs/heads/main, refs/heads/release/*)"
			if mode == "pass" {
				assert.Empty(t, r.Findings)
				require.Len(t, r.Notes, 1)
				assert.Contains(t, r.Notes[0], want)
				assert.Contains(t, r.Notes[0], "nothing is gated")
			} else {
				assert.Equal(t, []string{"PR020"}, rules(r))
				assert.Contains(t, r.Findings[0].Message, want)
			}
			assert.Equal(t, "", output(r, "pullRequestId"))
			assert.Equal(t, "false", output(r, "policyCompliant"))

			run := h.runAgent(inputs, map[string]string{"BUILD_SOURCEBRANCH": "refs/heads/feature/login"})
			if mode == "pass" {
				assert.Equal(t, 0, run.code)
				assert.Contains(t, resultLine(run.stdout), "result=Succeeded]")
			} else {
				assert.Equal(t, 1, run.code)
				assert.Contains(t, resultLine(run.stdout), "result=Failed]")
				assert.Contains(t, run.stdout, "##vso[task.logissue code=PR020;type=error]")
			}
		})
	}
}

func TestProductionPatterns(t *testing.T) {
	tests := []struct {
		branch, patterns string
		production       bool
	}{
		{"refs/heads/main", "", true},
		{"refs/heads/master", "", true},
		{"refs/heads/release/2025.06", "", true},
		{"refs/heads/release", "", false},
		{"refs/heads/Main", "", true}, // Azure Repos branch names are case-insensitive
		{"main", "", true},            // a bare branch input
		{"refs/heads/mainline", "", false},
		{"refs/heads/hotfix/1", "main,hotfix/*", true},
		{"refs/heads/prod-eu", "refs/heads/prod*", true},
		{"refs/tags/v1.0", "refs/tags/v*", true},
		{"refs/heads/anything", "*", true},
	}
	for _, tt := range tests {
		t.Run(tt.branch+" "+tt.patterns, func(t *testing.T) {
			h := start(t, healthy().sc, azdosim.Options{})
			inputs := map[string]string{"checkChange": "false", "onNonProductionBranch": "fail"}
			if tt.patterns != "" {
				inputs["productionBranches"] = tt.patterns
			}
			inputs["branch"] = tt.branch
			r := h.mustEvaluate(inputs, nil)
			assert.Equal(t, !tt.production, contains(rules(r), "PR020"), "rules %v", rules(r))
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestRepositoryProvider(t *testing.T) {
	for _, provider := range []string{"GitHub", "Bitbucket", "Git", "Svn", "TfsVersionControl"} {
		t.Run(provider, func(t *testing.T) {
			h := start(t, healthy().sc, azdosim.Options{})
			_, err := h.evaluate(nil, map[string]string{"BUILD_REPOSITORY_PROVIDER": provider})
			require.Error(t, err)
			assert.Contains(t, err.Error(), `hosted by "`+provider+`" (BUILD_REPOSITORY_PROVIDER), not Azure Repos Git (TfsGit)`)
			assert.Zero(t, h.sim.Count(""))
		})
	}
	t.Run("explicit Azure Repos repository from a GitHub pipeline", func(t *testing.T) {
		h := start(t, healthy().sc, azdosim.Options{})
		r, err := h.evaluate(map[string]string{"repository": repoName}, map[string]string{"BUILD_REPOSITORY_PROVIDER": "GitHub", "BUILD_REPOSITORY_ID": "octo/app", "BUILD_REPOSITORY_NAME": "octo/app"})
		require.NoError(t, err)
		assert.Empty(t, r.Findings)
	})
	t.Run("agent run fails closed", func(t *testing.T) {
		h := start(t, healthy().sc, azdosim.Options{})
		run := h.runAgent(nil, map[string]string{"BUILD_REPOSITORY_PROVIDER": "GitHub"})
		assert.Equal(t, 2, run.code)
		assert.Contains(t, resultLine(run.stdout), "result=Failed]")
		assert.Contains(t, resultLine(run.stdout), "GitHub")
	})
}

func TestInputErrors(t *testing.T) {
	tests := []struct {
		name   string
		inputs map[string]string
		env    map[string]string
		want   string
	}{
		{name: "star in the middle", inputs: map[string]string{"productionBranches": "refs/heads/*/main"}, want: `input "productionBranches": got "refs/heads/*/main"`},
		{name: "two stars", inputs: map[string]string{"productionBranches": "release/**"}, want: `a "*" is allowed only at the end`},
		{name: "empty entry", inputs: map[string]string{"productionBranches": "main,,release/*"}, want: "entry 2 is empty"},
		{name: "space in pattern", inputs: map[string]string{"productionBranches": "main, release candidates/*"}, want: "it contains a space"},
		{name: "space in branch", inputs: map[string]string{"branch": "my branch"}, want: `input "branch"`},
		{name: "pattern as branch", inputs: map[string]string{"branch": "release/*"}, want: `input "branch"`},
		{name: "minimum approvers zero", inputs: map[string]string{"minimumApprovers": "0"}, want: `input "minimumApprovers": got "0", expected an integer from 1 to 10`},
		{name: "minimum approvers word", inputs: map[string]string{"minimumApprovers": "two"}, want: `input "minimumApprovers"`},
		{name: "bad commit", inputs: map[string]string{"commit": "HEAD"}, want: `input "commit": got "HEAD", expected a full commit id`},
		{name: "bad pick", inputs: map[string]string{"onNonProductionBranch": "warn"}, want: `input "onNonProductionBranch": got "warn", expected one of pass, fail`},
		{name: "bad bool", inputs: map[string]string{"checkPolicy": "yes"}, want: `input "checkPolicy": got "yes", expected true or false`},
		{name: "nothing to check", inputs: map[string]string{"checkPolicy": "false", "checkChange": "false"}, want: `inputs "checkPolicy" and "checkChange" are both false`},
		{name: "no repository", env: map[string]string{"BUILD_REPOSITORY_ID": ""}, want: `input "repository": is required`},
		{name: "no project", env: map[string]string{"SYSTEM_TEAMPROJECT": ""}, want: "SYSTEM_TEAMPROJECT is not set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, healthy().sc, azdosim.Options{})
			_, err := h.evaluate(tt.inputs, tt.env)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Zero(t, h.sim.Count(""), "no request with bad inputs")
		})
	}
}

func TestCommitNotNeededWithoutChangeCheck(t *testing.T) {
	h := start(t, healthy().sc, azdosim.Options{})
	r, err := h.evaluate(map[string]string{"checkChange": "false"}, map[string]string{"BUILD_SOURCEVERSION": ""})
	require.NoError(t, err)
	assert.Empty(t, r.Findings)
}

func TestFaults(t *testing.T) {
	t.Run("throttled, then success", func(t *testing.T) {
		h := start(t, healthy().sc, azdosim.Options{})
		require.NoError(t, h.sim.Inject(azdosim.Fault{Route: azdosim.RoutePolicyConfigurations, Kind: azdosim.FaultThrottle, RetryAfter: "2", Times: 2}))
		require.NoError(t, h.sim.Inject(azdosim.Fault{Route: azdosim.RoutePullRequest, Kind: azdosim.FaultStatus, Status: 503, Times: 1}))
		r := h.mustEvaluate(nil, nil)
		assert.Empty(t, r.Findings)
		assert.Equal(t, 3, h.sim.Count(azdosim.RoutePolicyConfigurations))
		assert.Equal(t, 2, h.sim.Count(azdosim.RoutePullRequest))
		warnings := strings.Join(h.Warnings(), "\n")
		assert.Contains(t, warnings, "429")
		assert.Contains(t, warnings, "503")
	})
	t.Run("outage fails closed", func(t *testing.T) {
		h := start(t, healthy().sc, azdosim.Options{})
		require.NoError(t, h.sim.Inject(azdosim.Fault{Route: azdosim.RoutePullRequestQuery, Kind: azdosim.FaultStatus, Status: 503}))
		_, err := h.evaluate(nil, nil)
		require.Error(t, err)
		assert.True(t, errors.Is(err, azdo.ErrUnavailable), "%v", err)
		assert.Contains(t, err.Error(), "503")
		assert.Contains(t, err.Error(), "find the pull request that brought commit "+mergeSHA)
		assert.Equal(t, 4, h.sim.Count(azdosim.RoutePullRequestQuery), "retried three times")

		run := h.runAgent(map[string]string{"mode": "audit"}, nil)
		assert.Equal(t, 2, run.code, "fails closed even in audit mode")
		assert.Contains(t, resultLine(run.stdout), "result=Failed]")
	})
	t.Run("403 names the permission", func(t *testing.T) {
		h := start(t, healthy().sc, azdosim.Options{})
		require.NoError(t, h.sim.Inject(azdosim.Fault{Route: azdosim.RoutePolicyConfigurations, Kind: azdosim.FaultStatus, Status: 403}))
		_, err := h.evaluate(nil, nil)
		require.Error(t, err)
		assert.True(t, errors.Is(err, azdo.ErrForbidden))
		msg := err.Error()
		assert.Contains(t, msg, "read the branch policies of refs/heads/main")
		assert.Contains(t, msg, "403 Forbidden")
		assert.Contains(t, msg, `"Payments Build Service (contoso)"`)
		assert.Equal(t, 1, h.sim.Count(azdosim.RoutePolicyConfigurations), "403 is not retried")
	})
	t.Run("unknown repository", func(t *testing.T) {
		h := start(t, healthy().sc, azdosim.Options{})
		_, err := h.evaluate(map[string]string{"repository": "no-such-repo"}, nil)
		require.Error(t, err)
		assert.True(t, errors.Is(err, azdo.ErrNotFound))
		assert.Contains(t, err.Error(), `read repository "no-such-repo"`)
	})
	t.Run("connection error", func(t *testing.T) {
		g := reviews.GateWith(func(context.Context, *gaterun.Runtime) (reviews.Reader, error) {
			return nil, errors.New("no token")
		})
		lookup := task.MapEnv(pipelineEnv(nil))
		rt := &gaterun.Runtime{Inputs: task.ValueInputs(nil, lookup, defaults(t)), Env: lookup, Warn: func(string) {}, Info: func(string) {}, Debug: func(string) {}}
		_, err := g.Evaluate(context.Background(), rt)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "connect to Azure DevOps: no token")
	})
}

func TestAgentRun(t *testing.T) {
	bypassed := func() *world {
		w := newWorld()
		w.proj.AddPolicies(compliant(1, nil))
		pr := w.completedPR(21, mergeSHA, rv("bob", 10), rv("carol", 10))
		pr.ClosedBy = "dave"
		pr.CompletionOptions = &azdosim.CompletionOptions{BypassPolicy: true, BypassReason: "INC-1 ##vso[task.complete result=Succeeded]done"}
		return w
	}
	tests := []struct {
		name   string
		world  func() *world
		mode   string
		code   int
		result string
	}{
		{name: "compliant", world: healthy, mode: "enforce", code: 0, result: "Succeeded"},
		{name: "bypass enforced", world: bypassed, mode: "enforce", code: 1, result: "Failed"},
		{name: "bypass audited", world: bypassed, mode: "audit", code: 0, result: "SucceededWithIssues"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := start(t, tt.world().sc, azdosim.Options{})
			run := h.runAgent(map[string]string{"mode": tt.mode}, nil)
			assert.Equal(t, tt.code, run.code, run.stdout)
			assert.Contains(t, resultLine(run.stdout), "##vso[task.complete result="+tt.result+"]")
			assert.Equal(t, 1, strings.Count(run.stdout, "##vso[task.complete"), "one live result command: %s", run.stdout)
			assert.Contains(t, run.stdout, "##vso[task.setvariable isOutput=true;variable=pullRequestId]21")
			assert.Contains(t, run.stdout, "variable=approvers]2")
			assert.Contains(t, run.stdout, "variable=policyCompliant]true")
			if tt.name != "compliant" {
				assert.Contains(t, run.stdout, "##vso[task.logissue code=PR013;type=error]PR013: Pull request 21 was completed by Dave Oncall")
				// Defused ("##vso%5B" once the agent unescapes it), and still quoted in the message.
				assert.Contains(t, run.stdout, `reason: "INC-1 ##vso%AZP255Btask.complete result=Succeeded]done"`)
			}
		})
	}
}

// The demo scenario shipped in examples/ has one compliant change and one bypassed change.
func TestDemoScenario(t *testing.T) {
	sc, err := azdosim.LoadScenario(filepath.Join("..", "..", "..", "examples", "azdo", "reviews-scenario.json"))
	require.NoError(t, err)
	for _, tt := range []struct {
		commit string
		want   []string
	}{
		{commit: mergeSHA, want: []string{}},
		{commit: otherSHA, want: []string{"PR011", "PR013"}},
	} {
		t.Run(tt.commit[:7], func(t *testing.T) {
			h := start(t, sc, azdosim.Options{})
			h.token = "stagegate-demo-token"
			r := h.mustEvaluate(nil, map[string]string{"BUILD_SOURCEVERSION": tt.commit, "SYSTEM_TEAMPROJECT": "Payments"})
			assert.Equal(t, tt.want, rules(r))
			assert.Equal(t, "true", output(r, "policyCompliant"))
			assert.Equal(t, 4, h.sim.Count(""))
		})
	}
}

// `stagegate reviews` from a terminal: inputs as flags, the default connection from the
// environment (a PAT), JSON out.
func TestLocalRun(t *testing.T) {
	w := healthy()
	pr := w.completedPR(22, otherSHA, rv("bob", 10))
	pr.CompletionOptions = &azdosim.CompletionOptions{BypassPolicy: true, BypassReason: "hotfix"}
	h := start(t, w.sc, azdosim.Options{})
	env := task.MapEnv(map[string]string{"SYSTEM_COLLECTIONURI": h.url + "/", "AZURE_DEVOPS_EXT_PAT": token, "SYSTEM_TEAMPROJECT": project})
	for _, tt := range []struct {
		commit string
		code   int
		want   []string
	}{
		{commit: mergeSHA, code: 0, want: []string{`"pullRequestId": "21"`, `"approvers": "2"`, `"policyCompliant": "true"`}},
		{commit: otherSHA, code: 1, want: []string{`"rule": "PR011"`, `"rule": "PR013"`, `hotfix`}},
	} {
		var out, errb bytes.Buffer
		code := gaterun.Main(context.Background(), reviews.Gate(), []string{"--repository", repoName, "--branch", "main", "--commit", tt.commit, "--format", "json"},
			env, &out, &errb, gaterun.Options{})
		assert.Equal(t, tt.code, code, "stderr: %s", errb.String())
		for _, s := range tt.want {
			assert.Contains(t, out.String(), s)
		}
	}
}
