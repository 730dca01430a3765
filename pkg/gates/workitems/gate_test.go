package workitems

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/azdo"
	"github.com/stagegate/stagegate/pkg/azdo/azdosim"
	"github.com/stagegate/stagegate/pkg/finding"
	"github.com/stagegate/stagegate/pkg/gaterun"
)

// The demo scenario with every default: open critical and high items exceed their zero
// thresholds, #1 is past the 7-day critical SLA.
func TestDefaultsOnDemoScenario(t *testing.T) {
	h := demoHarness(t)
	r := h.mustEvaluate(t, nil, nil)

	assert.Equal(t, map[string]string{
		"openCritical": "2", "openHigh": "4", "openMedium": "2", "openLow": "1",
		"overdue": "1", "meanTimeToResolveDays": "15", "oldestOpenAgeDays": "100",
	}, outputs(r))
	assert.Equal(t, []string{
		"WI001:workitem/1", "WI001:workitem/2", // 2 open 1 - Critical items, 0 allowed
		"WI001:workitem/3", "WI001:workitem/6", "WI001:workitem/14", "WI001:workitem/16", // #6 has no severity: 2 - High
		"WI002:workitem/1",
	}, sortedByCheckThenID(r))
	assert.Equal(t, []string{CheckThresholds, CheckSLA}, checkNames(r), "no review tag check unless requireReviewTag is set")

	overdue := byRule(r, RuleOverdue)
	require.Len(t, overdue, 1)
	f := overdue[0]
	assert.Equal(t, finding.Error, f.Severity)
	assert.Equal(t, `#1 "SQL injection in payment search" is 12 days old, past the 7-day SLA for 1 - Critical by 5 days (Active)`, f.Message)
	assert.Equal(t, "workitem/1", f.Location.Logical)
	assert.Equal(t, h.orgURL+"/Payments/_workitems/edit/1", f.URL)
	assert.Equal(t, finding.Fingerprint("WI002", "payments", "1"), f.Fingerprint)

	crit := byRule(r, RuleThreshold)[0]
	assert.Equal(t, `2 open 1 - Critical items, 0 allowed (maxCritical): #1 "SQL injection in payment search" is open (Active, 12 days old)`, crit.Message)

	// 1 WIQL + 1 batch read (14 items) + states of Bug and Vulnerability; nothing per item.
	assert.Equal(t, map[string]int{azdosim.RouteWIQL: 1, azdosim.RouteWorkItemsBatch: 1, azdosim.RouteWorkItemTypeStates: 2}, h.counts())

	detail := checkDetail(r, CheckThresholds)
	assert.Contains(t, detail, `Project "Payments": tags "Security", work item types (all), area path (all): 14 work items returned (not closed, or closed in the last 90 days)`)
	assert.Contains(t, detail, "WIQL: "+BuildWIQL(&Config{Tags: []string{"Security"}}))
	assert.Contains(t, detail, "Read 14 work items; 13 match (Removed excluded), 9 of them open")
	assert.Contains(t, detail, "Open by severity: critical 2 (0 allowed), high 4 (0 allowed), medium 2 (no limit), low 1 (no limit)")
	assert.Contains(t, checkDetail(r, CheckSLA), "SLA in days since created: critical 7, high 30, medium 90, low 180. 1 of 9 open items past their SLA.")

	require.Len(t, r.Tables, 1)
	assert.Equal(t, []string{"1 - Critical", "2", "0", "1", "7", "12", "0", "0"}, r.Tables[0].Rows[0])
	assert.Equal(t, []string{"2 - High", "4", "0", "0", "30", "20", "2", "17.5"}, r.Tables[0].Rows[1], "#9 took 20 days, #18 15 days")
	assert.Equal(t, []string{"Total", "9", "", "1", "", "100", "3", "15"}, r.Tables[0].Rows[4])
	assert.Len(t, r.Rules, 3)
	assert.Empty(t, r.Notes)
}

// sortedByCheckThenID orders findings by check, then rule, then numeric work item id.
func sortedByCheckThenID(r *finding.Report) []string {
	out := ids(r)
	order := map[string]int{}
	for i, c := range r.Checks {
		order[c.Name] = i
	}
	key := func(i int) (int, string, int) {
		f := r.Findings[i]
		var id int
		fmt.Sscanf(f.Location.Logical, "workitem/%d", &id)
		return order[f.Check], f.Rule, id
	}
	idx := make([]int, len(out))
	for i := range idx {
		idx[i] = i
	}
	for i := 1; i < len(idx); i++ {
		for j := i; j > 0; j-- {
			c1, r1, id1 := key(idx[j-1])
			c2, r2, id2 := key(idx[j])
			if c1 < c2 || c1 == c2 && (r1 < r2 || r1 == r2 && id1 <= id2) {
				break
			}
			idx[j-1], idx[j] = idx[j], idx[j-1]
		}
	}
	if len(out) == 0 {
		return nil
	}
	sorted := make([]string, len(out))
	for i, k := range idx {
		sorted[i] = out[k]
	}
	return sorted
}

func TestInputsAgainstSimulator(t *testing.T) {
	cases := []struct {
		name    string
		inputs  map[string]string
		env     map[string]string
		outputs map[string]string // subset
		want    []string          // findings, sorted by check, rule, id
		calls   map[string]int
	}{
		{
			name:    "no limits, no SLA: passes and still counts",
			inputs:  map[string]string{"maxCritical": "-1", "maxHigh": "-1", "slaDays": "critical=-1"},
			outputs: map[string]string{"openCritical": "2", "openHigh": "4", "overdue": "0"},
			want:    nil,
		},
		{
			name:    "thresholds at the counts allow them",
			inputs:  map[string]string{"maxCritical": "2", "maxHigh": "4", "maxMedium": "2", "maxLow": "1", "slaDays": "high=30"},
			outputs: map[string]string{"openCritical": "2", "overdue": "0"},
		},
		{
			name:   "a medium threshold below the count fires for every medium item",
			inputs: map[string]string{"maxCritical": "-1", "maxHigh": "-1", "maxMedium": "1", "slaDays": "low=180"},
			want:   []string{"WI001:workitem/4", "WI001:workitem/17"},
		},
		{
			name:    "tighter SLA for medium and low",
			inputs:  map[string]string{"maxCritical": "-1", "maxHigh": "-1", "slaDays": "medium=30, low=99"},
			outputs: map[string]string{"overdue": "3"},
			want:    []string{"WI002:workitem/4", "WI002:workitem/5", "WI002:workitem/17"},
		},
		{
			name:    "SLA keys in field form",
			inputs:  map[string]string{"maxCritical": "-1", "maxHigh": "-1", "slaDays": "1 - Critical=1,2 - High=4"},
			outputs: map[string]string{"overdue": "4"},
			want:    []string{"WI002:workitem/1", "WI002:workitem/2", "WI002:workitem/3", "WI002:workitem/6"},
		},
		{
			name:    "defaultSeverity Critical moves #6",
			inputs:  map[string]string{"defaultSeverity": "Critical", "maxHigh": "-1", "slaDays": "critical=4"},
			outputs: map[string]string{"openCritical": "3", "openHigh": "3", "overdue": "2"},
			want:    []string{"WI001:workitem/1", "WI001:workitem/2", "WI001:workitem/6", "WI002:workitem/1", "WI002:workitem/6"},
		},
		{
			name:    "defaultSeverity in field form",
			inputs:  map[string]string{"defaultSeverity": "4 - Low", "maxCritical": "-1", "maxHigh": "-1", "slaDays": "low=4"},
			outputs: map[string]string{"openHigh": "3", "openLow": "2"},
			want:    []string{"WI002:workitem/5", "WI002:workitem/6"},
		},
		{
			name:    "several tags, any matches, whole tags only",
			inputs:  map[string]string{"tags": "Compliance, SecurityReview", "maxHigh": "-1", "maxCritical": "-1", "slaDays": "high=8"},
			outputs: map[string]string{"openHigh": "2", "openCritical": "0", "meanTimeToResolveDays": "0"},
			want:    []string{"WI002:workitem/7", "WI002:workitem/8"},
		},
		{
			name:    "tags match case-insensitively",
			inputs:  map[string]string{"tags": "SECURITY", "maxCritical": "-1", "maxHigh": "-1"},
			outputs: map[string]string{"openLow": "1", "openCritical": "2"},
			want:    []string{"WI002:workitem/1"},
		},
		{
			name:    "workItemTypes",
			inputs:  map[string]string{"workItemTypes": "Vulnerability", "slaDays": "medium=59"},
			outputs: map[string]string{"openCritical": "0", "openMedium": "1", "meanTimeToResolveDays": "15", "oldestOpenAgeDays": "60"},
			want:    []string{"WI002:workitem/17"},
		},
		{
			name:    "areaPath keeps the area and below",
			inputs:  map[string]string{"areaPath": `Payments\Checkout`},
			outputs: map[string]string{"openHigh": "2", "openCritical": "0", "overdue": "0"},
			want:    []string{"WI001:workitem/14", "WI001:workitem/16"},
		},
		{
			name:    "areaPath with a trailing backslash",
			inputs:  map[string]string{"areaPath": `payments\search\`},
			outputs: map[string]string{"openCritical": "1"},
			want:    []string{"WI001:workitem/1", "WI002:workitem/1"},
		},
		{
			name:    "project input overrides System.TeamProject",
			inputs:  map[string]string{"project": "Platform"},
			outputs: map[string]string{"openCritical": "1", "openHigh": "0", "oldestOpenAgeDays": "40"},
			want:    []string{"WI001:workitem/101", "WI002:workitem/101"},
			calls:   map[string]int{azdosim.RouteWIQL: 1, azdosim.RouteWorkItemsBatch: 1, azdosim.RouteWorkItemTypeStates: 1},
		},
		{
			name:    "scope run: only the run's items, filters in memory",
			inputs:  map[string]string{"scope": "run"},
			env:     map[string]string{"BUILD_BUILDID": "501"},
			outputs: map[string]string{"openCritical": "1", "openHigh": "1", "openMedium": "0", "meanTimeToResolveDays": "0"},
			want:    []string{"WI001:workitem/1", "WI001:workitem/14", "WI002:workitem/1"}, // #7 is SecurityReview
			calls:   map[string]int{azdosim.RouteBuildWorkItems: 1, azdosim.RouteWorkItemsBatch: 1, azdosim.RouteWorkItemTypeStates: 1},
		},
		{
			name:    "scope run with no linked items",
			inputs:  map[string]string{"scope": "run"},
			env:     map[string]string{"BUILD_BUILDID": "503"},
			outputs: map[string]string{"openCritical": "0", "overdue": "0"},
			calls:   map[string]int{azdosim.RouteBuildWorkItems: 1},
		},
		{
			name:    "scope run with a review tag",
			inputs:  map[string]string{"scope": "run", "requireReviewTag": "Infrastructure", "maxHigh": "-1"},
			env:     map[string]string{"BUILD_BUILDID": "502"},
			outputs: map[string]string{"openHigh": "1"},
			want:    []string{"WI003:workitem/15"}, // #3 carries Infrastructure; #15 is resolved but still linked
			calls:   map[string]int{azdosim.RouteBuildWorkItems: 1, azdosim.RouteWorkItemsBatch: 1, azdosim.RouteWorkItemTypeStates: 1},
		},
		{
			name:    "scope project with a review tag checks the run's matching items",
			inputs:  map[string]string{"requireReviewTag": "SecurityReviewed", "maxCritical": "-1", "maxHigh": "-1"},
			env:     map[string]string{"BUILD_BUILDID": "501"},
			outputs: map[string]string{"openCritical": "2"},
			want:    []string{"WI002:workitem/1", "WI003:workitem/1", "WI003:workitem/14"}, // #7 does not match the tags
			calls:   map[string]int{azdosim.RouteWIQL: 1, azdosim.RouteBuildWorkItems: 1, azdosim.RouteWorkItemsBatch: 1, azdosim.RouteWorkItemTypeStates: 2},
		},
		{
			name:    "the run's build is read in the pipeline's project",
			inputs:  map[string]string{"project": "Platform", "scope": "run", "maxCritical": "-1", "maxHigh": "-1", "slaDays": "critical=365"},
			env:     map[string]string{"BUILD_BUILDID": "501"},
			outputs: map[string]string{"openCritical": "1", "openHigh": "1"},
		},
		{
			name:    "queryId by id ignores tags",
			inputs:  map[string]string{"queryId": "4d7c0d1e-5a2b-4c3d-9e8f-0a1b2c3d4e5f", "tags": "nothing-matches-this"},
			outputs: map[string]string{"openCritical": "2", "openHigh": "4", "openMedium": "1", "openLow": "1", "meanTimeToResolveDays": "0"},
			want: []string{"WI001:workitem/1", "WI001:workitem/2", "WI001:workitem/3", "WI001:workitem/6", "WI001:workitem/14", "WI001:workitem/16",
				"WI002:workitem/1"},
			calls: map[string]int{azdosim.RouteWIQLByID: 1, azdosim.RouteWorkItemsBatch: 1, azdosim.RouteWorkItemTypeStates: 1},
		},
		{
			name:    "queryId by path",
			inputs:  map[string]string{"queryId": "Shared Queries/Security/Closed last quarter"},
			outputs: map[string]string{"openCritical": "0", "meanTimeToResolveDays": "15"},
			calls:   map[string]int{azdosim.RouteQueries: 1, azdosim.RouteWIQLByID: 1, azdosim.RouteWorkItemsBatch: 1, azdosim.RouteWorkItemTypeStates: 2},
		},
		{
			name:    "queryId with scope run keeps the query's items linked to the run",
			inputs:  map[string]string{"queryId": "4d7c0d1e-5a2b-4c3d-9e8f-0a1b2c3d4e5f", "scope": "run"},
			env:     map[string]string{"BUILD_BUILDID": "501"},
			outputs: map[string]string{"openCritical": "1", "openHigh": "1"},
			want:    []string{"WI001:workitem/1", "WI001:workitem/14", "WI002:workitem/1"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := demoHarness(t)
			r := h.mustEvaluate(t, tc.inputs, tc.env)
			out := outputs(r)
			for k, v := range tc.outputs {
				assert.Equal(t, v, out[k], "output %s", k)
			}
			assert.Equal(t, tc.want, sortedByCheckThenID(r))
			if tc.calls != nil {
				assert.Equal(t, tc.calls, h.counts())
			}
		})
	}
}

func TestReviewTagCheckIsReported(t *testing.T) {
	h := demoHarness(t)
	r := h.mustEvaluate(t, map[string]string{"scope": "run", "requireReviewTag": "SecurityReviewed"}, map[string]string{"BUILD_BUILDID": "501"})
	assert.Equal(t, []string{CheckThresholds, CheckSLA, CheckReviewTags}, checkNames(r))
	assert.Equal(t, `3 work items linked to build 501, 2 of them matching; 2 without the review tag "SecurityReviewed".`, checkDetail(r, CheckReviewTags))
	assert.Contains(t, checkDetail(r, CheckThresholds), `Work items linked to build 501 (project "Payments"): 3; filters tags "Security"`)
	f := byRule(r, RuleReviewTag)
	require.Len(t, f, 2)
	assert.Equal(t, `#1 "SQL injection in payment search" is linked to this run (build 501) but does not carry the review tag "SecurityReviewed" (Active, 1 - Critical, 12 days old)`, f[0].Message)
}

func TestOneHopQueryIsRefused(t *testing.T) {
	sc := azdosim.NewScenario("onehop", testToken)
	sc.Project("Payments").AddWorkItems(&azdosim.WorkItem{ID: 1, Type: "Bug", Tags: []string{"Security"}}).AddQueries(&azdosim.SavedQuery{
		ID: "0e8d1e2f-6b3c-4d4e-8f90-1b2c3d4e5f61", Path: "Shared Queries/Linked", QueryType: "oneHop",
		WIQL: "SELECT [System.Id] FROM WorkItemLinks WHERE [Source].[System.Tags] CONTAINS 'Security' MODE (MustContain)"})
	for _, q := range []string{"0e8d1e2f-6b3c-4d4e-8f90-1b2c3d4e5f61", "Shared Queries/Linked"} {
		h := newHarness(t, sc)
		_, err := h.evaluate(t, map[string]string{"queryId": q}, nil)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "is a oneHop query; only flat queries (a list of work items) can be used: change the query type to flat")
	}
}

func TestSavedQueryErrors(t *testing.T) {
	cases := []struct{ queryID, want string }{
		{"5e8d1e2f-6b3c-4d4e-8f90-1b2c3d4e5f60", "is a tree query; only flat queries"},
		{"Shared Queries/Security/Security work breakdown", "is a tree query; only flat queries"},
		{"Shared Queries/Security", "is a folder, not a query"},
		{"Shared Queries/Nope", "404"},
	}
	for _, tc := range cases {
		t.Run(tc.queryID, func(t *testing.T) {
			h := demoHarness(t)
			_, err := h.evaluate(t, map[string]string{"queryId": tc.queryID}, nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "(input queryId)")
			assert.Contains(t, err.Error(), tc.want)
			assert.Zero(t, h.sim.Count(azdosim.RouteWorkItemsBatch), "nothing read after a failed query")
		})
	}
}

// Inputs reach WIQL quoted: a tag that tries to widen the query finds nothing.
func TestWIQLInjectionFindsNothing(t *testing.T) {
	h := demoHarness(t)
	r := h.mustEvaluate(t, map[string]string{"tags": "Security' OR [System.Id] > '0"}, nil)
	assert.Empty(t, r.Findings)
	assert.Equal(t, "0", outputs(r)["openCritical"])
	assert.Equal(t, map[string]int{azdosim.RouteWIQL: 1}, h.counts(), "the query returned no ids: nothing to read")

	// The same statement straight against the simulator: no ids at all, so the in-memory
	// tag check is not what saved us.
	c, err := azdo.New(context.Background(), azdo.Options{OrgURL: h.orgURL, Credential: azdo.JobToken(h.token)})
	require.NoError(t, err)
	for _, cfg := range []*Config{
		{Tags: []string{"Security' OR [System.Id] > '0"}},
		{Tags: []string{"Security"}, Types: []string{"Bug') OR ([System.Id] > 0"}},
		{Tags: []string{"Security"}, AreaPath: `Payments' OR [System.Id] > '0`},
	} {
		got, err := c.QueryWIQL(context.Background(), demoProjet, BuildWIQL(cfg))
		require.NoError(t, err, BuildWIQL(cfg))
		assert.Empty(t, got, BuildWIQL(cfg))
	}
}

// A lax service (or a future one) whose CONTAINS matched substrings must not widen the gate:
// tags are re-checked in memory as whole tags.
func TestTagsAreCheckedInMemory(t *testing.T) {
	h := demoHarness(t)
	g := GateWith(func(ctx context.Context, rt *gaterun.Runtime) (Reader, error) {
		r, err := h.connect(ctx, rt)
		if err != nil {
			return nil, err
		}
		return laxReader{Reader: r, extra: []int{7, 8, 13}}, nil
	})
	rt := h.runtime(t, map[string]string{"maxCritical": "-1", "maxHigh": "-1"}, nil)
	r, err := g.Evaluate(context.Background(), rt)
	require.NoError(t, err)
	assert.Equal(t, "4", outputs(r)["openHigh"], "#7, #8 (SecurityReview) and #13 (no tag) were read but do not match")
	assert.Equal(t, "1", outputs(r)["openLow"])
}

// laxReader adds ids to every WIQL answer, like a CONTAINS that matched substrings would.
type laxReader struct {
	Reader
	extra []int
}

func (l laxReader) QueryWIQL(ctx context.Context, project, wiql string) ([]int, error) {
	ids, err := l.Reader.QueryWIQL(ctx, project, wiql)
	return append(ids, l.extra...), err
}

func TestRequestBudget(t *testing.T) {
	// 450 open items of three types: 1 WIQL + ceil(450/200) = 3 batch reads + 3 states calls.
	sc := azdosim.NewScenario("budget", testToken)
	p := sc.Project("Big")
	types := []string{"Bug", "Task", "User Story"}
	for i := 1; i <= 450; i++ {
		p.AddWorkItems(&azdosim.WorkItem{ID: i, Type: types[i%3], State: "Active", Tags: []string{"Security"}, Severity: "3 - Medium", CreatedDaysAgo: azdosim.Days(float64(i % 50))})
	}
	h := newHarness(t, sc)
	r := h.mustEvaluate(t, nil, map[string]string{"SYSTEM_TEAMPROJECT": "Big"})
	assert.Equal(t, "450", outputs(r)["openMedium"])
	assert.Equal(t, map[string]int{azdosim.RouteWIQL: 1, azdosim.RouteWorkItemsBatch: 3, azdosim.RouteWorkItemTypeStates: 3}, h.counts())
	require.Len(t, h.clients, 1)
	stats := h.clients[0].Requests()
	assert.Equal(t, 7, stats.Total-stats.ByCall["locations"]-stats.ByCall["resourceAreas"], "the client counts the same requests")
	assert.Zero(t, stats.Retries)
}

func TestCustomProcessStates(t *testing.T) {
	sc := azdosim.NewScenario("custom", testToken)
	p := sc.Project("Sec")
	p.WorkItemTypes = []*azdosim.WorkItemType{{Name: "Finding", States: []azdosim.State{
		{Name: "Raised", Category: "Proposed"}, {Name: "Being fixed", Category: "InProgress"},
		{Name: "Verifying", Category: "Resolved"}, {Name: "Done", Category: "Completed"}, {Name: "Withdrawn", Category: "Removed"},
	}}}
	p.AddWorkItems(
		&azdosim.WorkItem{ID: 1, Type: "Finding", State: "Raised", Tags: []string{"Security"}, Severity: "1 - Critical", CreatedDaysAgo: azdosim.Days(1)},
		&azdosim.WorkItem{ID: 2, Type: "Finding", State: "Being fixed", Tags: []string{"Security"}, Severity: "1 - Critical", CreatedDaysAgo: azdosim.Days(1)},
		&azdosim.WorkItem{ID: 3, Type: "Finding", State: "Verifying", Tags: []string{"Security"}, Severity: "1 - Critical", CreatedDaysAgo: azdosim.Days(1)},
		&azdosim.WorkItem{ID: 4, Type: "Finding", State: "Done", Tags: []string{"Security"}, Severity: "1 - Critical", CreatedDaysAgo: azdosim.Days(3), ClosedDaysAgo: azdosim.Days(1.5)},
		&azdosim.WorkItem{ID: 5, Type: "Finding", State: "Withdrawn", Tags: []string{"Security"}, Severity: "1 - Critical", CreatedDaysAgo: azdosim.Days(9), ClosedDaysAgo: azdosim.Days(1)},
		&azdosim.WorkItem{ID: 6, Type: "Finding", State: "Done", Tags: []string{"Security"}, Severity: "1 - Critical", CreatedDaysAgo: azdosim.Days(200), ClosedDaysAgo: azdosim.Days(91)},
	)
	h := newHarness(t, sc)
	r := h.mustEvaluate(t, nil, map[string]string{"SYSTEM_TEAMPROJECT": "Sec"})
	assert.Equal(t, "2", outputs(r)["openCritical"], "Raised and Being fixed are open; Verifying (Resolved) is not")
	assert.Equal(t, "1.5", outputs(r)["meanTimeToResolveDays"], "Withdrawn (Removed) and #6 (closed 91 days ago) do not count")
	assert.Equal(t, []string{"WI001:workitem/1", "WI001:workitem/2"}, sortedByCheckThenID(r))
}

func TestAuditModeAndLogInjection(t *testing.T) {
	sc := azdosim.NewScenario("inject", testToken)
	sc.Project("Payments").AddWorkItems(&azdosim.WorkItem{ID: 1, Type: "Bug", State: "Active", Tags: []string{"Security"}, Severity: "1 - Critical",
		Title: "##vso[task.complete result=Succeeded]done\n##vso[task.setvariable variable=openCritical;isOutput=true]0", CreatedDaysAgo: azdosim.Days(30)})

	t.Run("enforce", func(t *testing.T) {
		h := newHarness(t, sc)
		out, code := h.agent(t, h.gate(), nil, nil)
		assert.Equal(t, gaterun.ExitViolated, code)
		assert.Equal(t, 1, strings.Count(out, "##vso[task.complete"), out)
		assert.Contains(t, out, "##vso[task.complete result=Failed]")
		assert.Equal(t, 7, strings.Count(out, "##vso[task.setvariable"), "the title cannot set an output")
		assert.NotContains(t, out, "##vso[task.setvariable variable=openCritical")
		assert.Contains(t, out, "##vso[task.setvariable isOutput=true;variable=openCritical]1")
		assert.Contains(t, out, "##vso[task.setvariable isOutput=true;variable=meanTimeToResolveDays]0")
		assert.Contains(t, out, "##vso[task.logissue code=WI001;type=error]WI001: 1 open 1 - Critical items, 0 allowed (maxCritical)")
		assert.Contains(t, out, "##vso[task.logissue code=WI002;type=error]WI002: ")
		assert.Contains(t, out, "##[group]Severity thresholds: ")
		assert.Contains(t, out, "##vso[task.uploadsummary]")
		assert.Equal(t, 1, strings.Count(out, testToken), "the token appears only in setsecret")
		assert.True(t, strings.HasPrefix(out, "##vso[task.setsecret]"+testToken+"\n"), "registered before anything else")
	})
	t.Run("audit", func(t *testing.T) {
		h := newHarness(t, sc)
		out, code := h.agent(t, h.gate(), map[string]string{"mode": "audit"}, nil)
		assert.Equal(t, gaterun.ExitPassed, code)
		assert.Equal(t, 1, strings.Count(out, "##vso[task.complete"), out)
		assert.Contains(t, out, "##vso[task.complete result=SucceededWithIssues]")
		assert.Contains(t, out, "##vso[task.logissue code=WI002;type=error]", "audit still reports every finding")
	})
	t.Run("the default connection reads the agent's environment", func(t *testing.T) {
		h := newHarness(t, sc)
		out, code := h.agent(t, Gate(), map[string]string{"maxCritical": "1", "slaDays": "critical=30"}, nil)
		assert.Equal(t, gaterun.ExitPassed, code, out)
		assert.Contains(t, out, "##vso[task.complete result=Succeeded]")
		assert.Contains(t, out, "##vso[task.setvariable isOutput=true;variable=openCritical]1")
	})
}

func TestThrottlingThenSuccess(t *testing.T) {
	h := demoHarness(t)
	require.NoError(t, h.sim.Inject(azdosim.Fault{Route: azdosim.RouteWIQL, Kind: azdosim.FaultThrottle, RetryAfter: "7", Times: 2}))
	require.NoError(t, h.sim.Inject(azdosim.Fault{Route: azdosim.RouteWorkItemsBatch, Kind: azdosim.FaultStatus, Status: 503, Times: 1}))
	r := h.mustEvaluate(t, nil, nil)
	assert.Equal(t, "2", outputs(r)["openCritical"])
	assert.Equal(t, map[string]int{azdosim.RouteWIQL: 3, azdosim.RouteWorkItemsBatch: 2, azdosim.RouteWorkItemTypeStates: 2}, h.counts())
	require.GreaterOrEqual(t, len(h.sleeps), 3)
	assert.Equal(t, 7*1e9, float64(h.sleeps[0]), "Retry-After honoured")
	require.NotEmpty(t, h.warnings, "each retry is reported as a warning")
	assert.Contains(t, strings.Join(h.warnings, "\n"), "429")
	assert.Equal(t, 3, h.clients[0].Requests().Retries)
}

func TestFailsClosed(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T, h *harness)
		want  []string
	}{
		{"401 wrong token", func(t *testing.T, h *harness) { h.token = "not-the-token" }, []string{"401 Unauthorized", "job token"}},
		{"403 on the query", func(t *testing.T, h *harness) {
			require.NoError(t, h.sim.Inject(azdosim.Fault{Route: azdosim.RouteWIQL, Kind: azdosim.FaultStatus, Status: 403}))
		}, []string{"403 Forbidden", "View work items", "query the work items of project \"Payments\""}},
		{"403 on the states", func(t *testing.T, h *harness) {
			require.NoError(t, h.sim.Inject(azdosim.Fault{Route: azdosim.RouteWorkItemTypeStates, Kind: azdosim.FaultStatus, Status: 403}))
		}, []string{"403", "read the states of work item type"}},
		{"throttled beyond the retries", func(t *testing.T, h *harness) {
			require.NoError(t, h.sim.Inject(azdosim.Fault{Route: azdosim.RouteWorkItemsBatch, Kind: azdosim.FaultThrottle}))
		}, []string{"429", "read 14 work items"}},
		{"server errors beyond the retries", func(t *testing.T, h *harness) {
			require.NoError(t, h.sim.Inject(azdosim.Fault{Route: azdosim.RouteWIQL, Kind: azdosim.FaultStatus, Status: 500}))
		}, []string{"500"}},
		{"unknown project", func(t *testing.T, h *harness) {}, []string{"404"}},
		{"unreachable service", func(t *testing.T, h *harness) {
			dead := httptest.NewServer(h.sim)
			dead.Close()
			h.orgURL = h.sim.OrgURL(dead.URL)
		}, []string{"could not reach Azure DevOps"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := demoHarness(t)
			tc.setup(t, h)
			inputs := map[string]string{}
			if tc.name == "unknown project" {
				inputs["project"] = "NoSuchProject"
			}
			r, err := h.evaluate(t, inputs, nil)
			require.Error(t, err)
			assert.Nil(t, r)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}

			// Through gaterun on an agent: Failed in both modes, the cause in the message.
			for _, mode := range []string{"enforce", "audit"} {
				out, code := h.agent(t, h.gate(), map[string]string{"mode": mode, "project": inputs["project"]}, nil)
				assert.Equal(t, gaterun.ExitError, code)
				assert.Equal(t, 1, strings.Count(out, "##vso[task.complete"))
				assert.Contains(t, out, "##vso[task.complete result=Failed]Security work item gate could not evaluate: ")
				assert.Contains(t, out, tc.want[0])
			}
		})
	}
}

// The demo scenario the lead wires into `stagegate demo`: the default run fails on the overdue
// critical item.
func TestDemoScenarioFailsOnOverdueCritical(t *testing.T) {
	h := demoHarness(t)
	out, code := h.agent(t, Gate(), nil, nil)
	assert.Equal(t, gaterun.ExitViolated, code, out)
	assert.Contains(t, out, `##vso[task.logissue code=WI002;type=error]WI002: #1 "SQL injection in payment search" is 12 days old, past the 7-day SLA for 1 - Critical`)
	assert.Contains(t, out, "##vso[task.complete result=Failed]Security work item gate failed: 7 violations")
}

// With several batch reads in flight, the failing one is reported, not the reads it canceled.
func TestBatchReadFailureIsTheCause(t *testing.T) {
	sc := azdosim.NewScenario("batches", testToken)
	p := sc.Project("Big")
	for i := 1; i <= 1000; i++ {
		p.AddWorkItems(&azdosim.WorkItem{ID: i, Type: "Bug", State: "Active", Tags: []string{"Security"}, Severity: "4 - Low", CreatedDaysAgo: azdosim.Days(1)})
	}
	h := newHarness(t, sc)
	require.NoError(t, h.sim.Inject(azdosim.Fault{Route: azdosim.RouteWorkItemsBatch, Kind: azdosim.FaultStatus, Status: 403, Skip: 2, Times: 1}))
	_, err := h.evaluate(t, nil, map[string]string{"SYSTEM_TEAMPROJECT": "Big"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "read 1000 work items: GetWorkItems: access denied (403 Forbidden)")
	assert.NotContains(t, err.Error(), "canceled")
	assert.LessOrEqual(t, h.counts()[azdosim.RouteWorkItemsBatch], 5)

	// The same organization without the fault (a new server: the canceled reads may still be
	// logged by the old one).
	h = newHarness(t, sc)
	r := h.mustEvaluate(t, map[string]string{"maxLow": "999"}, map[string]string{"SYSTEM_TEAMPROJECT": "Big"})
	assert.Equal(t, "1000", outputs(r)[OutOpenLow])
	assert.Len(t, r.Findings, 1000, "one WI001 per low item")
	assert.Equal(t, 5, h.counts()[azdosim.RouteWorkItemsBatch])
}

func TestReadItemsKeepsOrder(t *testing.T) {
	sc := azdosim.NewScenario("order", testToken)
	p := sc.Project("P")
	var ids []int
	for i := 1; i <= 650; i++ {
		p.AddWorkItems(&azdosim.WorkItem{ID: i, Type: "Task", State: "New"})
		ids = append(ids, 651-i) // descending
	}
	h := newHarness(t, sc)
	c, err := azdo.New(context.Background(), azdo.Options{OrgURL: h.orgURL, Credential: azdo.JobToken(h.token)})
	require.NoError(t, err)
	items, err := readItems(context.Background(), c, "P", ids)
	require.NoError(t, err)
	require.Len(t, items, 650)
	for i, w := range items {
		require.Equal(t, ids[i], w.ID)
	}
	assert.Equal(t, 4, h.sim.Count(azdosim.RouteWorkItemsBatch))
}
