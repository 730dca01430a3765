package workitems

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/gaterun"
	"github.com/stagegate/stagegate/pkg/task"
)

func TestParseConfigDefaults(t *testing.T) {
	h := &harness{}
	c, err := parseConfig(h.runtime(t, nil, nil))
	require.NoError(t, err)
	assert.Equal(t, &Config{
		Project: "Payments", Tags: []string{"Security"}, Scope: ScopeProject,
		Max: [Low + 1]int{0, 0, 0, -1, -1}, SLA: SLADays{-1, 7, 30, 90, 180}, Default: High,
	}, c)
}

func TestParseConfigValues(t *testing.T) {
	h := &harness{}
	c, err := parseConfig(h.runtime(t, map[string]string{
		"project": "Other", "tags": "Security, Pentest\nCVE", "workItemTypes": "Bug, Issue", "areaPath": `Other\Web\`,
		"scope": "RUN", "queryId": "Shared Queries/Sec", "maxCritical": "3", "maxHigh": "-1", "maxMedium": "1000000", "maxLow": "0",
		"slaDays": "high=1", "defaultSeverity": "low", "requireReviewTag": "SecurityReviewed",
	}, map[string]string{"BUILD_BUILDID": "42", "SYSTEM_TEAMPROJECT": "Pipelines"}))
	require.NoError(t, err)
	assert.Equal(t, &Config{
		Project: "Other", Tags: []string{"Security", "Pentest", "CVE"}, Types: []string{"Bug", "Issue"}, AreaPath: `Other\Web`,
		Scope: ScopeRun, QueryID: "Shared Queries/Sec", Max: [Low + 1]int{0, 3, -1, 1000000, 0}, SLA: SLADays{-1, -1, 1, -1, -1},
		Default: Low, ReviewTag: "SecurityReviewed", BuildID: 42, BuildProject: "Pipelines",
	}, c)
}

func TestParseConfigErrors(t *testing.T) {
	cases := []struct {
		name   string
		inputs map[string]string
		env    map[string]string
		want   []string
	}{
		{"maxHigh not a number", map[string]string{"maxHigh": "two"}, nil,
			[]string{`input "maxHigh": got "two", expected an integer from -1 to 1000000 (-1 means no limit)`}},
		{"maxCritical below -1", map[string]string{"maxCritical": "-5"}, nil, []string{`input "maxCritical"`, "an integer from -1"}},
		{"maxLow fraction", map[string]string{"maxLow": "1.5"}, nil, []string{`input "maxLow"`}},
		{"slaDays unknown severity", map[string]string{"slaDays": "critical=7,urgent=1"}, nil,
			[]string{`input "slaDays"`, `unknown severity "urgent"`, "critical, high, medium, low"}},
		{"slaDays malformed", map[string]string{"slaDays": "critical:7"}, nil, []string{`input "slaDays"`, `"critical:7" is not a severity=days pair`}},
		{"slaDays bad days", map[string]string{"slaDays": "high=soon"}, nil, []string{`input "slaDays"`, `"soon" is not a number of days`}},
		{"defaultSeverity unknown", map[string]string{"defaultSeverity": "5 - Info"}, nil,
			[]string{`input "defaultSeverity": got "5 - Info", expected one of 1 - Critical, 2 - High, 3 - Medium, 4 - Low`}},
		{"scope unknown", map[string]string{"scope": "org"}, nil, []string{`input "scope": got "org", expected one of project, run`}},
		{"tag with a semicolon", map[string]string{"tags": "Security;Pentest"}, nil, []string{`input "tags"`, "contains ';'"}},
		{"no tags at all", map[string]string{"tags": " , "}, nil, []string{`input "tags"`, "at least one tag, or a saved query in queryId"}},
		{"review tag list", map[string]string{"requireReviewTag": "A,B"}, nil, []string{`input "requireReviewTag"`, "a single tag"}},
		{"project default empty outside a pipeline", nil, map[string]string{"SYSTEM_TEAMPROJECT": ""},
			[]string{`input "project": is required`, "$(System.TeamProject) is empty here; outside a pipeline pass --project"}},
		{"scope run without a build id", map[string]string{"scope": "run"}, nil, []string{`scope "run" needs the run's build id, but BUILD_BUILDID is not set`}},
		{"review tag without a build id", map[string]string{"requireReviewTag": "Reviewed"}, nil, []string{"requireReviewTag needs the run's build id"}},
		{"bad build id", map[string]string{"scope": "run"}, map[string]string{"BUILD_BUILDID": "abc"}, []string{`BUILD_BUILDID is "abc", not a positive number`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := &harness{}
			_, err := parseConfig(h.runtime(t, tc.inputs, tc.env))
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

// Bad inputs fail before any connection is made.
func TestBadInputFailsBeforeConnecting(t *testing.T) {
	h := &harness{}
	called := false
	g := GateWith(func(context.Context, *gaterun.Runtime) (Reader, error) { called = true; return nil, assert.AnError })
	_, err := g.Evaluate(context.Background(), h.runtime(t, map[string]string{"maxHigh": "two"}, nil))
	require.Error(t, err)
	assert.False(t, called)
}

// `stagegate workitems` locally: the missing pieces are named with what to set.
func TestLocalRunErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want []string
	}{
		{"no project", nil, nil, []string{`input "project": is required`, "pass --project"}},
		{"no organization", []string{"--project", "Payments"}, nil,
			[]string{"SYSTEM_COLLECTIONURI is not set", "AZURE_DEVOPS_EXT_PAT to a personal access token with the Work Items (Read) scope"}},
		{"no token", []string{"--project", "Payments"}, map[string]string{"SYSTEM_COLLECTIONURI": "https://dev.azure.com/contoso/"},
			[]string{"AZURE_DEVOPS_EXT_PAT"}},
		{"bad flag value", []string{"--project", "Payments", "--maxHigh", "two"}, nil, []string{`input "maxHigh": got "two"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := gaterun.Main(context.Background(), Gate(), tc.args, task.MapEnv(tc.env), &stdout, &stderr, gaterun.Options{})
			assert.Equal(t, gaterun.ExitError, code)
			for _, w := range tc.want {
				assert.Contains(t, stderr.String(), w)
			}
		})
	}
}

// Locally with a PAT against the simulator, flags as inputs, JSON out.
func TestLocalRunWithPAT(t *testing.T) {
	h := demoHarness(t)
	var stdout, stderr bytes.Buffer
	env := task.MapEnv(map[string]string{"SYSTEM_COLLECTIONURI": h.orgURL + "/", "AZURE_DEVOPS_EXT_PAT": demoToken})
	code := gaterun.Main(context.Background(), Gate(), []string{"--project", "Payments", "--maxCritical=-1", "--maxHigh=-1", "--slaDays", "critical=30", "--format", "json"},
		env, &stdout, &stderr, gaterun.Options{Now: func() time.Time { return testNow }})
	assert.Equal(t, gaterun.ExitPassed, code, stderr.String())
	assert.Contains(t, stdout.String(), `"openCritical": "2"`)
	assert.Contains(t, stdout.String(), `"status": "passed"`)
}
