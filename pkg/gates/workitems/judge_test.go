package workitems

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/azdo"
)

// Judge is pure: these cases build facts by hand for what a scenario cannot hold (a state the
// type does not list, a severity value from a custom list, a completed item without a closed
// date).
func wi(id int, typ, state, severity string, created time.Time, tags string, extra map[string]any) azdo.WorkItem {
	f := map[string]any{
		azdo.FieldTitle: "item", azdo.FieldState: state, azdo.FieldWorkItemType: typ, azdo.FieldTeamProject: "P",
		azdo.FieldAreaPath: "P", azdo.FieldTags: tags, azdo.FieldCreatedDate: created.Format(time.RFC3339Nano),
	}
	if severity != "" {
		f[azdo.FieldSeverity] = severity
	}
	for k, v := range extra {
		f[k] = v
	}
	return azdo.WorkItem{ID: id, Fields: f, URL: "https://dev.azure.com/o/P/_workitems/edit/" + strconv.Itoa(id)}
}

func baseConfig() *Config {
	sla, _ := ParseSLA("critical=7,high=30,medium=90,low=180")
	return &Config{Project: "P", Scope: ScopeProject, Tags: []string{"Security"}, Max: [Low + 1]int{0, 0, 0, -1, -1}, SLA: sla, Default: High}
}

func bugStates() map[string]string {
	return map[string]string{"new": "Proposed", "active": "InProgress", "resolved": "Resolved", "closed": "Completed", "removed": "Removed"}
}

func TestJudgeEdges(t *testing.T) {
	now := time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)
	ago := func(d float64) time.Time { return now.Add(-time.Duration(d * 24 * float64(time.Hour))) }
	items := []azdo.WorkItem{
		wi(1, "Bug", "Active", "1 - Critical", ago(7), "Security", nil),    // exactly the SLA: not overdue
		wi(2, "Bug", "Active", "1 - Critical", ago(7.99), "Security", nil), // 7 whole days: not overdue
		wi(3, "Bug", "Active", "1 - Critical", ago(8), "Security", nil),    // 8 days: overdue
		wi(4, "Bug", "Limbo", "4 - Low", ago(1), "Security", nil),          // state not listed: open
		wi(5, "Bug", "New", "Sev-A", ago(1), "Security", nil),              // unknown severity: default
		wi(6, "Bug", "Closed", "2 - High", ago(10), "Security", nil),       // completed without a closed date
		wi(7, "Widget", "Open", "3 - Medium", ago(2), "Security", nil),     // type without states
		wi(8, "Bug", "Closed", "3 - Medium", ago(5), "Security", map[string]any{ // closed before created: ignored
			azdo.FieldClosedDate: ago(6).Format(time.RFC3339Nano)}),
		wi(9, "Bug", "Closed", "3 - Medium", ago(5), "Security", map[string]any{azdo.FieldClosedDate: ago(2).Format(time.RFC3339Nano)}),
		wi(10, "Bug", "Active", "1 - Critical", ago(100), "SecurityReview; Other", nil), // not a whole-tag match
		wi(11, "Bug", "Active", "1 - Critical", ago(100), " security ;Other", nil),      // whole tag, any case
	}
	f := &Facts{Queried: []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, Items: items, States: map[TypeKey]map[string]string{typeKey("P", "Bug"): bugStates()}}
	r := Judge(baseConfig(), f, now)
	out := outputs(r)
	assert.Equal(t, "4", out[OutOpenCritical], "#1, #2, #3, #11")
	assert.Equal(t, "1", out[OutOpenHigh], "#5 by default")
	assert.Equal(t, "1", out[OutOpenMedium], "#7: a type without states counts as open")
	assert.Equal(t, "1", out[OutOpenLow], "#4: an unlisted state counts as open")
	assert.Equal(t, "2", out[OutOverdue], "#3 and #11")
	assert.Equal(t, "3", out[OutMTTR], "#9 only: 3 days")
	assert.Equal(t, "100", out[OutOldestOpen])
	overdue := byRule(r, RuleOverdue)
	require.Len(t, overdue, 2)
	assert.Equal(t, "workitem/3", overdue[0].Location.Logical)
	require.Len(t, r.Notes, 3)
	assert.Contains(t, r.Notes[0], `#5 (Sev-A)`)
	assert.Contains(t, r.Notes[0], "judged as 2 - High (defaultSeverity)")
	assert.Contains(t, r.Notes[1], `#4 (state "Limbo" of type "Bug")`)
	assert.Contains(t, r.Notes[1], `#7 (type "Widget" has no states)`)
	assert.Contains(t, r.Notes[2], "#6")
}

func TestJudgeNothingMatches(t *testing.T) {
	r := Judge(baseConfig(), &Facts{Queried: []int{}, States: map[TypeKey]map[string]string{}}, time.Now())
	assert.Empty(t, r.Findings)
	assert.Equal(t, map[string]string{"openCritical": "0", "openHigh": "0", "openMedium": "0", "openLow": "0", "overdue": "0", "meanTimeToResolveDays": "0", "oldestOpenAgeDays": "0"}, outputs(r))
	assert.Empty(t, r.Notes)
}

func TestFormatMeanAndClip(t *testing.T) {
	assert.Equal(t, "0", formatMean(0, 0))
	assert.Equal(t, "15", formatMean(45, 3))
	assert.Equal(t, "12.5", formatMean(25, 2))
	assert.Equal(t, "0.3", formatMean(1, 3))
	assert.Equal(t, "abc", clip("abc", 3))
	assert.Equal(t, "ab…", clip("abcd", 3))
	assert.Equal(t, "ää…", clip("äääää", 3), "cut on a rune boundary")
}

func TestUnder(t *testing.T) {
	assert.True(t, under(`P\A`, `P\A`))
	assert.True(t, under(`p\a\b`, `P\A`))
	assert.True(t, under(`P\A\`, `P\A`))
	assert.False(t, under(`P\AB`, `P\A`))
	assert.False(t, under(`P`, `P\A`))
}
