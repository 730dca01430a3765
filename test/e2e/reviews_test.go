package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/azdo/azdosim"
	"github.com/stagegate/stagegate/pkg/task"
)

const (
	reviewsToken     = "stagegate-demo-token"
	reviewsRepoID    = "3411ebc1-d5aa-464f-9615-0b527bc66719"
	reviewsCompliant = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678" // PR 21: two approvals
	reviewsBypassed  = "b2c3d4e5f60718293a4b5c6d7e8f901234567890" // PR 22: policy bypass
	reviewsPushed    = "e5f6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e" // no pull request
	// A bypass reason that tries to end the task as Succeeded from inside the log.
	hostileReason = "INC-9 ##vso[task.complete result=Succeeded]all good\n##vso[task.complete result=Succeeded]"
)

// reviewsSim serves the demo scenario from examples/, with PR 22's bypass reason made hostile.
func reviewsSim(t *testing.T) (*azdosim.Server, string) {
	t.Helper()
	return serveScenario(t, "reviews-scenario.json", func(sc *azdosim.Scenario) {
		var found bool
		for _, pr := range sc.Projects[0].Repositories[0].PullRequests {
			if pr.ID == 22 {
				pr.CompletionOptions.BypassReason = hostileReason
				found = true
			}
		}
		require.True(t, found, "the demo scenario has PR 22")
	})
}

func runReviewGate(t *testing.T, bin, collectionURI string, env map[string]string) agentRun {
	t.Helper()
	base := map[string]string{
		"TF_BUILD":                  "True",
		"SYSTEM_COLLECTIONURI":      collectionURI,
		"SYSTEM_TEAMPROJECT":        "Payments",
		"SYSTEM_JOBID":              "job-1",
		"BUILD_REPOSITORY_ID":       reviewsRepoID,
		"BUILD_REPOSITORY_NAME":     "payments-api",
		"BUILD_REPOSITORY_PROVIDER": "TfsGit",
		"BUILD_SOURCEBRANCH":        "refs/heads/main",
		"BUILD_SOURCEVERSION":       reviewsCompliant,
		task.JobTokenVar:            reviewsToken,
		"STAGEGATE_TIMEOUT":         "30s",
	}
	// The macros expand to what the run uses, env included.
	get := func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return base[k]
	}
	return runAgent(t, bin, taskVars(t, "ProductionReviewGate", map[string]string{
		"Build.Repository.ID": get("BUILD_REPOSITORY_ID"), "Build.SourceBranch": get("BUILD_SOURCEBRANCH"), "Build.SourceVersion": get("BUILD_SOURCEVERSION"),
	}, base, env))
}

func TestReviewGateBinary(t *testing.T) {
	bin := buildCmd(t, "review-gate")

	t.Run("compliant change", func(t *testing.T) {
		sim, uri := reviewsSim(t)
		run := runReviewGate(t, bin, uri, nil)
		assert.Equal(t, 0, run.code, run.stdout)
		assert.Equal(t, []string{"Succeeded"}, run.results())
		assert.True(t, strings.HasPrefix(run.stdout, "##vso[task.setsecret]"+reviewsToken+"\n"), "the token is registered first")
		assert.Empty(t, run.issues())
		assert.Equal(t, map[string]string{"pullRequestId": "21", "approvers": "2", "policyCompliant": "true"}, run.outputs())
		assert.Equal(t, 4, sim.Count(""), "request budget")
		summary, err := os.ReadFile(filepath.Join(run.tempDir, "stagegate-reviews-job-1.md"))
		require.NoError(t, err)
		assert.Contains(t, string(summary), "pullrequest/21")
		assert.Contains(t, string(summary), "Bob Reviewer")
	})

	t.Run("bypassed change cannot flip its own result", func(t *testing.T) {
		_, uri := reviewsSim(t)
		run := runReviewGate(t, bin, uri, map[string]string{"INPUT_COMMIT": reviewsBypassed, "BUILD_SOURCEVERSION": reviewsBypassed})
		assert.Equal(t, 1, run.code, run.stdout)
		assert.Equal(t, []string{"Failed"}, run.results(), "exactly one result, from the gate: %s", run.stdout)
		var codes []string
		for _, is := range run.issues() {
			codes = append(codes, is.Props["code"])
			assert.Equal(t, "error", is.Props["type"])
		}
		assert.ElementsMatch(t, []string{"PR011", "PR013"}, codes)
		for _, is := range run.issues() {
			if is.Props["code"] == "PR013" {
				assert.Contains(t, is.Data, "completed by Dave Oncall")
				assert.Contains(t, is.Data, "INC-9 ##vso%5Btask.complete result=Succeeded]all good")
			}
		}
		for _, line := range strings.Split(run.stdout, "\n") {
			assert.LessOrEqual(t, strings.Count(line, "##vso["), 1, "one command per line at most: %q", line)
		}
		summary, err := os.ReadFile(filepath.Join(run.tempDir, "stagegate-reviews-job-1.md"))
		require.NoError(t, err)
		assert.NotContains(t, string(summary), "##vso[")
		assert.Contains(t, string(summary), "INC-9")
	})

	t.Run("bypassed change in audit mode", func(t *testing.T) {
		_, uri := reviewsSim(t)
		run := runReviewGate(t, bin, uri, map[string]string{"INPUT_COMMIT": reviewsBypassed, "INPUT_MODE": "audit"})
		assert.Equal(t, 0, run.code, run.stdout)
		assert.Equal(t, []string{"SucceededWithIssues"}, run.results())
		assert.Len(t, run.issues(), 2)
	})

	t.Run("direct push", func(t *testing.T) {
		_, uri := reviewsSim(t)
		run := runReviewGate(t, bin, uri, map[string]string{"INPUT_COMMIT": reviewsPushed})
		assert.Equal(t, 1, run.code, run.stdout)
		assert.Equal(t, []string{"Failed"}, run.results())
		require.Len(t, run.issues(), 1)
		assert.Equal(t, "PR010", run.issues()[0].Props["code"])
		assert.Equal(t, "", run.outputs()["pullRequestId"])
	})

	t.Run("non-production branch passes with a notice", func(t *testing.T) {
		sim, uri := reviewsSim(t)
		run := runReviewGate(t, bin, uri, map[string]string{"INPUT_BRANCH": "refs/heads/feature/x"})
		assert.Equal(t, 0, run.code, run.stdout)
		assert.Equal(t, []string{"Succeeded"}, run.results())
		assert.Contains(t, run.stdout, "refs/heads/feature/x is not a production branch")
		assert.Zero(t, sim.Count(""))
	})

	t.Run("GitHub repository fails closed", func(t *testing.T) {
		_, uri := reviewsSim(t)
		run := runReviewGate(t, bin, uri, map[string]string{"BUILD_REPOSITORY_PROVIDER": "GitHub"})
		assert.Equal(t, 2, run.code, run.stdout)
		assert.Equal(t, []string{"Failed"}, run.results())
		require.Len(t, run.issues(), 1)
		assert.Contains(t, run.issues()[0].Data, `hosted by "GitHub"`)
	})

	t.Run("403 fails closed with the permission", func(t *testing.T) {
		sim, uri := reviewsSim(t)
		require.NoError(t, sim.Inject(azdosim.Fault{Route: azdosim.RoutePullRequestQuery, Kind: azdosim.FaultStatus, Status: 403}))
		run := runReviewGate(t, bin, uri, map[string]string{"INPUT_MODE": "audit"})
		assert.Equal(t, 2, run.code, run.stdout)
		assert.Equal(t, []string{"Failed"}, run.results())
		require.Len(t, run.issues(), 1)
		assert.Contains(t, run.issues()[0].Data, "403 Forbidden")
		assert.Contains(t, run.issues()[0].Data, "Build Service")
	})

	t.Run("refused token fails closed", func(t *testing.T) {
		_, uri := reviewsSim(t)
		run := runReviewGate(t, bin, uri, map[string]string{task.JobTokenVar: "wrong-token"})
		assert.Equal(t, 2, run.code, run.stdout)
		assert.Equal(t, []string{"Failed"}, run.results())
		assert.Contains(t, run.stdout, "401 Unauthorized")
		assert.NotContains(t, strings.ReplaceAll(run.stdout, "##vso[task.setsecret]wrong-token", ""), "wrong-token")
	})
}
