package azdosim

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var fixedNow = time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)

func fixedClock() time.Time { return fixedNow }

// wiqlScenario is a small organization whose answers are easy to check by
// hand: see the expectations in TestWIQLEvaluation.
func wiqlScenario() *Scenario {
	sc := NewScenario("org")
	a := sc.Project("Alpha")
	a.AddWorkItems(
		&WorkItem{ID: 1, Type: "Bug", Title: "It's broken", State: "Active", Tags: []string{"Security", "Web"}, Severity: "1 - Critical", AreaPath: `Alpha\Web`, CreatedDaysAgo: Days(10), Fields: map[string]any{"Microsoft.VSTS.Common.Priority": 1.0}},
		&WorkItem{ID: 2, Type: "Bug", Title: "Login slow", State: "New", Tags: []string{"SecurityReview"}, Severity: "2 - High", AreaPath: `Alpha\Web\Frontend`, CreatedDaysAgo: Days(1), Fields: map[string]any{"Microsoft.VSTS.Common.Priority": 2.0}},
		&WorkItem{ID: 3, Type: "Task", Title: "Rotate keys", State: "Closed", AreaPath: "Alpha", CreatedDaysAgo: Days(100), ClosedDaysAgo: Days(5), Fields: map[string]any{"Microsoft.VSTS.Common.Priority": 3.0}},
		&WorkItem{ID: 4, Type: "Bug", Title: "Token in logs", State: "Active", Tags: []string{"security"}, AreaPath: `Alpha\Api`, CreatedDaysAgo: Days(0)},
		&WorkItem{ID: 5, Type: "User Story", Title: "Payment flow", State: "Removed", Tags: []string{"Compliance", "Security"}, AreaPath: `Alpha\Webshop`, CreatedDaysAgo: Days(30)},
	)
	sc.Project("Beta").AddWorkItems(&WorkItem{ID: 6, Type: "Bug", Title: "Beta bug", State: "Active", Tags: []string{"Security"}, CreatedDaysAgo: Days(3)})
	return sc
}

func newTestServer(t testing.TB, sc *Scenario) *Server {
	t.Helper()
	s, err := New(sc, Options{Now: fixedClock})
	require.NoError(t, err)
	return s
}

func (s *Server) evalWIQL(src, project string, precise bool) ([]int, error) {
	q, err := parseWIQL(src)
	if err != nil {
		return nil, err
	}
	env := evalEnv{project: project, now: s.now(), precise: precise}
	bq, err := bindQuery(q, s.fields, env)
	if err != nil {
		return nil, err
	}
	var ids []int
	for _, it := range bq.run(s.sorted, env) {
		ids = append(ids, it.id)
	}
	return ids, nil
}

func TestWIQLEvaluation(t *testing.T) {
	s := newTestServer(t, wiqlScenario())
	tests := []struct {
		name    string
		where   string
		project string
		precise bool
		want    []int
	}{
		{"tags contain a whole tag", "[System.Tags] CONTAINS 'Security'", "", false, []int{1, 4, 5, 6}},
		{"tags are case-insensitive", "[System.Tags] CONTAINS 'SECURITY'", "", false, []int{1, 4, 5, 6}},
		{"tags do not match a longer tag", "[System.Tags] CONTAINS 'Secur'", "", false, nil},
		{"tags not contains", "[System.Tags] NOT CONTAINS 'Security'", "", false, []int{2, 3}},
		{"@project scopes", "[System.TeamProject] = @project AND [System.Tags] CONTAINS 'Security'", "Alpha", false, []int{1, 4, 5}},
		{"under is by path segment", `[System.AreaPath] UNDER 'Alpha\Web'`, "", false, []int{1, 2}},
		{"not under", `[System.AreaPath] NOT UNDER 'Alpha\Web'`, "", false, []int{3, 4, 5, 6}},
		{"in", "[System.State] IN ('Active', 'New')", "", false, []int{1, 2, 4, 6}},
		{"not in with friendly name", "[State] NOT IN ('Closed', 'Removed')", "", false, []int{1, 2, 4, 6}},
		{"escaped quote", "[System.Title] = 'It''s broken'", "", false, []int{1}},
		{"double-quoted string", `[System.Title] = "Login slow"`, "", false, []int{2}},
		{"string contains is a substring", "[System.Title] CONTAINS 'pay'", "", false, []int{5}},
		{"contains words", "[System.Title] CONTAINS WORDS 'token'", "", false, []int{4}},
		{"contains words needs whole words", "[System.Title] CONTAINS WORDS 'tok'", "", false, nil},
		{"empty means missing", "[Microsoft.VSTS.Common.Severity] = ''", "", false, []int{3, 4, 5, 6}},
		{"not empty", "[Severity] <> ''", "", false, []int{1, 2}},
		{"not equal includes missing", "[Severity] <> '1 - Critical'", "", false, []int{2, 3, 4, 5, 6}},
		{"numbers", "[Microsoft.VSTS.Common.Priority] >= 2", "", false, []int{2, 3}},
		{"quoted number", "[Priority] < '2'", "", false, []int{1}},
		{"today minus", "[System.CreatedDate] >= @Today - 7", "", false, []int{2, 4, 6}},
		{"today minus, other side", "[System.CreatedDate] < @Today - 7", "", false, []int{1, 3, 5}},
		{"today is a whole day", "[System.CreatedDate] = @Today", "", false, []int{4}},
		{"today plus", "[System.CreatedDate] < @Today + 1", "", false, []int{1, 2, 3, 4, 5, 6}},
		{"date literal", "[Microsoft.VSTS.Common.ClosedDate] >= '2025-06-01'", "", false, []int{3}},
		{"US date literal", "[Microsoft.VSTS.Common.ClosedDate] = '6/10/2025'", "", false, []int{3}},
		{"time precision", "[System.CreatedDate] > '2025-06-15T11:00:00Z'", "", true, []int{4}},
		{"id", "[System.Id] > 3", "", false, []int{4, 5, 6}},
		{"id by friendly name", "[ID] = 2", "", false, []int{2}},
		{"not with parentheses", "NOT ([System.State] = 'Active' OR [System.State] = 'New')", "", false, []int{3, 5}},
		{"and binds tighter than or", "[System.WorkItemType] = 'Bug' AND [System.Tags] CONTAINS 'Security' OR [System.Id] = 3", "", false, []int{1, 3, 4, 6}},
		{"field against field", "[System.ChangedDate] > [System.CreatedDate]", "", false, []int{3}},
		{"bare field names", "System.State = 'New'", "", false, []int{2}},
		{"quoted input cannot escape", "[System.Tags] CONTAINS " + "'Security'' OR [System.Id] > ''0'", "", false, nil},
		{"work item type", "[Work Item Type] = 'user story'", "", false, []int{5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.evalWIQL("SELECT [System.Id] FROM WorkItems WHERE "+tt.where, tt.project, tt.precise)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestWIQLOrderBy(t *testing.T) {
	s := newTestServer(t, wiqlScenario())
	tests := []struct {
		query string
		want  []int
	}{
		{"SELECT [System.Id] FROM WorkItems WHERE [System.WorkItemType] = 'Bug' ORDER BY [System.CreatedDate] DESC", []int{4, 2, 6, 1}},
		{"SELECT [System.Id] FROM WorkItems ORDER BY [Severity], [System.Id] DESC", []int{6, 5, 4, 3, 1, 2}},
		{"SELECT [System.Id] FROM WorkItems WHERE [Priority] <> '' ORDER BY [Priority] DESC", []int{3, 2, 1}},
		{"select [System.Id] from workitems where [System.State] = 'Active' order by [System.Title] asc", []int{6, 1, 4}},
	}
	for _, tt := range tests {
		got, err := s.evalWIQL(tt.query, "", false)
		require.NoError(t, err, tt.query)
		assert.Equal(t, tt.want, got, tt.query)
	}
}

func TestWIQLErrors(t *testing.T) {
	s := newTestServer(t, wiqlScenario())
	tests := []struct {
		name, query, project string
		want                 string
	}{
		{"unknown field", "SELECT [System.Id] FROM WorkItems WHERE [Custom.Nope] = 1", "", "TF51005"},
		{"unknown column", "SELECT [Nope] FROM WorkItems", "", "TF51005"},
		{"equals on tags", "SELECT [System.Id] FROM WorkItems WHERE [System.Tags] = 'x'", "", "TF51010"},
		{"ordering a path", "SELECT [System.Id] FROM WorkItems WHERE [System.AreaPath] > 'x'", "", "TF51010"},
		{"under on a string", "SELECT [System.Id] FROM WorkItems WHERE [System.Title] UNDER 'x'", "", "TF51010"},
		{"contains on a number", "SELECT [System.Id] FROM WorkItems WHERE [System.Id] CONTAINS '1'", "", "TF51010"},
		{"unsupported macro", "SELECT [System.Id] FROM WorkItems WHERE [System.AssignedTo] = @Me", "", "not simulated"},
		{"today on text", "SELECT [System.Id] FROM WorkItems WHERE [System.Title] = @Today", "", "date fields"},
		{"time without precision", "SELECT [System.Id] FROM WorkItems WHERE [System.CreatedDate] > '2025-01-01T10:00:00Z'", "", "VS402349"},
		{"not a number", "SELECT [System.Id] FROM WorkItems WHERE [Priority] = 'abc'", "", "not a number"},
		{"not a date", "SELECT [System.Id] FROM WorkItems WHERE [System.CreatedDate] = 'yesterday'", "", "not a valid date"},
		{"missing from", "SELECT [System.Id] WHERE [System.Id] = 1", "", "expected FROM"},
		{"not a select", "DELETE FROM WorkItems", "", "expected SELECT"},
		{"unclosed string", "SELECT [System.Id] FROM WorkItems WHERE [System.Title] = 'abc", "", "not closed"},
		{"unclosed paren", "SELECT [System.Id] FROM WorkItems WHERE ([System.Id] = 1", "", "expected ')'"},
		{"unclosed field", "SELECT [System.Id FROM WorkItems", "", "missing ']'"},
		{"dangling and", "SELECT [System.Id] FROM WorkItems WHERE [System.Id] = 1 AND", "", "expected a field name"},
		{"trailing garbage", "SELECT [System.Id] FROM WorkItems WHERE [System.Id] = 1 1", "", "unexpected"},
		{"link query", "SELECT [System.Id] FROM WorkItemLinks", "", "WorkItemLinks"},
		{"asof", "SELECT [System.Id] FROM WorkItems ASOF '2025-01-01'", "", "ASOF"},
		{"ever", "SELECT [System.Id] FROM WorkItems WHERE [System.State] EVER 'Active'", "", "EVER"},
		{"in group", "SELECT [System.Id] FROM WorkItems WHERE [System.AssignedTo] IN GROUP 'x'", "", "IN GROUP"},
		{"project without context", "SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = @project", "", "TF51011"},
		{"empty with less than", "SELECT [System.Id] FROM WorkItems WHERE [System.Title] < ''", "", "empty value"},
		{"fractional today", "SELECT [System.Id] FROM WorkItems WHERE [System.CreatedDate] > @Today - 1.5", "", "whole number"},
		{"empty", "   ", "", "empty"},
		{"too long", "SELECT [System.Id] FROM WorkItems WHERE [System.Title] = '" + strings.Repeat("a", maxWIQLLength) + "'", "", "32000"},
		{"bad character", "SELECT [System.Id] FROM WorkItems WHERE [System.Id] ! 1", "", "unexpected character"},
		{"deep nesting", "SELECT [System.Id] FROM WorkItems WHERE " + strings.Repeat("(", maxNesting+1) + "[System.Id] = 1" + strings.Repeat(")", maxNesting+1), "", "nested too deeply"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.evalWIQL(tt.query, tt.project, false)
			require.Error(t, err)
			var we *wiqlError
			require.True(t, errors.As(err, &we), "a query error must be a wiqlError (400), got %T", err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func FuzzParseWIQL(f *testing.F) {
	sc, err := LoadScenario("testdata/demo.json")
	require.NoError(f, err)
	for _, p := range sc.Projects {
		for _, q := range p.Queries {
			f.Add(q.WIQL)
		}
	}
	for _, seed := range []string{
		"SELECT [System.Id] FROM WorkItems WHERE [System.Tags] CONTAINS 'a''b' AND NOT ([System.Id] IN (1, 2) OR [System.CreatedDate] >= @Today - 3) ORDER BY [System.Id] DESC",
		"SELECT [System.Id] FROM WorkItems WHERE [System.ChangedDate] > [System.CreatedDate]",
		`SELECT System.Id FROM WorkItems WHERE [System.AreaPath] UNDER 'A\B' AND [Severity] = ''`,
		"SELECT [System.Id] FROM WorkItems WHERE [Priority] = -1",
	} {
		f.Add(seed)
	}
	s := newTestServer(f, wiqlScenario())
	f.Fuzz(func(t *testing.T, src string) {
		q, err := parseWIQL(src)
		if err != nil {
			var we *wiqlError
			if !errors.As(err, &we) {
				t.Fatalf("parse error is not a wiqlError: %T %v", err, err)
			}
			return
		}
		for _, precise := range []bool{false, true} {
			env := evalEnv{project: "Alpha", now: fixedNow, precise: precise}
			bq, err := bindQuery(q, s.fields, env)
			if err != nil {
				continue
			}
			_ = bq.run(s.sorted, env)
		}
	})
}
