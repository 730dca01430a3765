package e2e

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/azdo/azdosim"
	"github.com/stagegate/stagegate/pkg/task"
)

// The workitem-gate binary, run as the agent runs it: environment in (INPUT_* with task.json
// defaults applied, SYSTEM_*, the job token), logging commands and exit code out, against the
// demo scenario served by azdosim over real HTTP.

const wiToken = "stagegate-demo-token"

// wiSim serves examples/azdo/scenario.json on a new server; edit may change the scenario first.
func wiSim(t *testing.T, edit func(*azdosim.Scenario)) (*azdosim.Server, string) {
	t.Helper()
	return serveScenario(t, "scenario.json", edit)
}

func wiExec(t *testing.T, bin, collectionURI string, env map[string]string) agentRun {
	t.Helper()
	return runAgent(t, bin, taskVars(t, "SecurityWorkItemGate", map[string]string{"System.TeamProject": "Payments"}, map[string]string{
		"TF_BUILD":             "True",
		"SYSTEM_COLLECTIONURI": collectionURI,
		"SYSTEM_TEAMPROJECT":   "Payments",
		"SYSTEM_JOBID":         "job-7",
		"BUILD_BUILDID":        "501",
		"STAGEGATE_TIMEOUT":    "30s",
		task.JobTokenVar:       wiToken,
	}, env))
}

func TestWorkItemGateBinary(t *testing.T) {
	bin := buildCmd(t, "workitem-gate")

	t.Run("defaults fail on the overdue critical item", func(t *testing.T) {
		sim, uri := wiSim(t, nil)
		run := wiExec(t, bin, uri, nil)
		assert.Equal(t, 1, run.code, run.stdout)
		assert.True(t, strings.HasPrefix(run.stdout, "##vso[task.setsecret]"+wiToken+"\n"), "the token is registered first")
		assert.Equal(t, 1, strings.Count(run.stdout, wiToken))
		complete := run.named("task.complete")
		require.Len(t, complete, 1)
		assert.Equal(t, "Failed", complete[0].Props["result"])
		assert.Equal(t, "Security work item gate failed: 7 violations", complete[0].Data)
		assert.Equal(t, map[string]int{"WI001": 6, "WI002": 1}, run.codes())
		var overdue []string
		for _, c := range run.named("task.logissue") {
			assert.Equal(t, "error", c.Props["type"])
			if c.Props["code"] == "WI002" {
				overdue = append(overdue, c.Data)
			}
		}
		require.Len(t, overdue, 1)
		assert.True(t, strings.HasPrefix(overdue[0], `WI002: #1 "SQL injection in payment search" is 12 days old, past the 7-day SLA for 1 - Critical by 5 days (Active) (`+uri+"Payments/_workitems/edit/1)"), overdue[0])
		assert.Equal(t, map[string]string{
			"openCritical": "2", "openHigh": "4", "openMedium": "2", "openLow": "1",
			"overdue": "1", "meanTimeToResolveDays": "15", "oldestOpenAgeDays": "100",
		}, run.outputs())
		assert.Contains(t, run.stdout, "##[group]Severity thresholds: failed (6 errors, 0 warnings, 0 accepted)\n")
		assert.Contains(t, run.stdout, "##[group]SLA: failed (1 errors, 0 warnings, 0 accepted)\n")
		assert.Contains(t, run.stdout, "WIQL: SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = @project AND ([System.Tags] CONTAINS 'Security')")

		// Discovery (OPTIONS, ResourceAreas) + 1 WIQL + 1 batch + 2 states (Bug, Vulnerability).
		assert.Equal(t, 1, sim.Count(azdosim.RouteWIQL))
		assert.Equal(t, 1, sim.Count(azdosim.RouteWorkItemsBatch))
		assert.Equal(t, 2, sim.Count(azdosim.RouteWorkItemTypeStates))
		assert.LessOrEqual(t, sim.Count(""), 6)

		uploads := run.named("task.uploadsummary")
		require.Len(t, uploads, 1)
		summary, err := os.ReadFile(uploads[0].Data)
		require.NoError(t, err)
		assert.Contains(t, string(summary), "### Security work items by severity")
		assert.Contains(t, string(summary), "| 1 - Critical | 2 | 0 | 1 | 7 | 12 | 0 | 0 |")
	})

	t.Run("audit mode blocks nothing", func(t *testing.T) {
		_, uri := wiSim(t, nil)
		run := wiExec(t, bin, uri, map[string]string{"INPUT_MODE": "audit"})
		assert.Equal(t, 0, run.code, run.stdout)
		complete := run.named("task.complete")
		require.Len(t, complete, 1)
		assert.Equal(t, "SucceededWithIssues", complete[0].Props["result"])
		assert.Equal(t, 7, len(run.named("task.logissue")))
	})

	t.Run("a hostile title cannot complete the task", func(t *testing.T) {
		_, uri := wiSim(t, func(sc *azdosim.Scenario) {
			sc.Projects[0].WorkItems[0].Title = "##vso[task.complete result=Succeeded]fixed\r\n##vso[task.setvariable variable=overdue;isOutput=true]0"
		})
		run := wiExec(t, bin, uri, nil)
		assert.Equal(t, 1, run.code)
		assert.Equal(t, 1, strings.Count(run.stdout, "##vso[task.complete"), run.stdout)
		complete := run.named("task.complete")
		require.Len(t, complete, 1)
		assert.Equal(t, "Failed", complete[0].Props["result"])
		assert.Equal(t, "1", run.outputs()["overdue"])
		assert.Len(t, run.named("task.setvariable"), 7)
	})

	t.Run("scope run with a review tag", func(t *testing.T) {
		sim, uri := wiSim(t, nil)
		run := wiExec(t, bin, uri, map[string]string{"INPUT_SCOPE": "run", "INPUT_REQUIREREVIEWTAG": "SecurityReviewed", "INPUT_MAXHIGH": "-1"})
		assert.Equal(t, 1, run.code, run.stdout)
		assert.Equal(t, map[string]int{"WI001": 1, "WI002": 1, "WI003": 2}, run.codes())
		assert.Contains(t, run.stdout, "##[group]Review tags: failed (2 errors, 0 warnings, 0 accepted)\n")
		assert.Equal(t, 1, sim.Count(azdosim.RouteBuildWorkItems))
		assert.Zero(t, sim.Count(azdosim.RouteWIQL), "scope run reads the build's work items, not a query")
	})

	t.Run("a refused token fails closed with the status", func(t *testing.T) {
		_, uri := wiSim(t, nil)
		for _, mode := range []string{"enforce", "audit"} {
			run := wiExec(t, bin, uri, map[string]string{task.JobTokenVar: "expired-token", "INPUT_MODE": mode})
			assert.Equal(t, 2, run.code, run.stdout)
			complete := run.named("task.complete")
			require.Len(t, complete, 1)
			assert.Equal(t, "Failed", complete[0].Props["result"])
			assert.Contains(t, complete[0].Data, "401 Unauthorized")
			assert.Equal(t, 1, strings.Count(run.stdout, "expired-token"), "only in setsecret, so the agent masks it")
		}
	})

	t.Run("a bad input names itself", func(t *testing.T) {
		_, uri := wiSim(t, nil)
		run := wiExec(t, bin, uri, map[string]string{"INPUT_MAXHIGH": "two"})
		assert.Equal(t, 2, run.code)
		complete := run.named("task.complete")
		require.Len(t, complete, 1)
		assert.Equal(t, `Security work item gate could not evaluate: input "maxHigh": got "two", expected an integer from -1 to 1000000 (-1 means no limit)`, complete[0].Data)
	})
}
