package azdosim

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadDemoScenario(t *testing.T) {
	sc, err := LoadScenario("testdata/demo.json")
	require.NoError(t, err)
	assert.Equal(t, "contoso", sc.Organization)
	require.Len(t, sc.Projects, 2)
	pay := sc.Projects[0]
	assert.Equal(t, "Payments", pay.Name)

	// The demo must carry what the gates' demos rely on.
	severities := map[string]bool{}
	var securityReviewOnly, closed, removed int
	for _, w := range pay.WorkItems {
		hasSecurity, hasReview := false, false
		for _, tag := range w.Tags {
			hasSecurity = hasSecurity || strings.EqualFold(tag, "Security")
			hasReview = hasReview || tag == "SecurityReview"
		}
		if hasSecurity && w.Severity != "" {
			severities[w.Severity] = true
		}
		if hasReview && !hasSecurity {
			securityReviewOnly++
		}
		switch w.State {
		case "Closed":
			closed++
		case "Removed":
			removed++
		}
	}
	assert.Len(t, severities, 4, "security bugs of every severity")
	assert.Positive(t, securityReviewOnly, "items tagged SecurityReview only")
	assert.GreaterOrEqual(t, closed, 2, "closed items for MTTR")
	assert.Positive(t, removed, "a removed item")
	require.NotEmpty(t, pay.Queries)
	assert.Equal(t, "flat", pay.Queries[2].QueryType, "queryType defaults to flat")
	assert.NotEmpty(t, pay.Queries[2].ID, "a stable id is derived")
}

func TestParseScenarioErrors(t *testing.T) {
	base := func(projects string) string {
		return `{"organization": "o", "identities": {"a": {"displayName": "A"}, "g": {"displayName": "G", "isContainer": true}}, "projects": [` + projects + `]}`
	}
	bug := `"workItemTypes": [{"name": "Bug", "states": [{"name": "New", "category": "Proposed"}]}]`
	tests := []struct {
		name, json, want string
	}{
		{"syntax error names the line", "{\n\"organization\": \"o\",\n\"projects\": [}\n", "line 3"},
		{"wrong type names the line", "{\n\"organization\": 5}", "line 2"},
		{"unknown field", `{"organization": "o", "projets": []}`, "unknown field"},
		{"trailing data", `{"organization": "o", "projects": [{"name": "P"}]} {}`, "after the JSON object"},
		{"no organization", `{"projects": [{"name": "P"}]}`, "organization is required"},
		{"organization with a slash", `{"organization": "a/b", "projects": [{"name": "P"}]}`, "single URL path segment"},
		{"no projects", `{"organization": "o"}`, "at least one project"},
		{"duplicate project", base(`{"name": "P"}, {"name": "p"}`), "defined twice"},
		{"bad category", base(`{"name": "P", "workItemTypes": [{"name": "Bug", "states": [{"name": "New", "category": "Open"}]}]}`), `category "Open"`},
		{"unknown type", base(`{"name": "P", ` + bug + `, "workItems": [{"id": 1, "type": "Epic"}]}`), `type "Epic"`},
		{"unknown state", base(`{"name": "P", ` + bug + `, "workItems": [{"id": 1, "type": "Bug", "state": "Done"}]}`), `state "Done"`},
		{"duplicate work item across projects", base(`{"name": "P", ` + bug + `, "workItems": [{"id": 1, "type": "Bug"}]}, {"name": "Q", ` + bug + `, "workItems": [{"id": 1, "type": "Bug"}]}`), "ids are unique per organization"},
		{"bad query", base(`{"name": "P", "queries": [{"path": "Shared Queries/x", "wiql": "SELECT FROM"}]}`), `query "Shared Queries/x"`},
		{"bad query type", base(`{"name": "P", "queries": [{"path": "x", "queryType": "graph", "wiql": ""}]}`), "queryType"},
		{"bad repository id", base(`{"name": "P", "repositories": [{"name": "r", "id": "nope"}]}`), "not a GUID"},
		{"unknown author", base(`{"name": "P", "repositories": [{"name": "r", "pullRequests": [{"id": 1, "title": "t", "status": "active", "createdBy": "zed", "sourceRefName": "refs/heads/a", "targetRefName": "refs/heads/main"}]}]}`), `createdBy "zed"`},
		{"bad vote", base(`{"name": "P", "repositories": [{"name": "r", "pullRequests": [{"id": 1, "title": "t", "status": "active", "createdBy": "a", "sourceRefName": "refs/heads/a", "targetRefName": "refs/heads/main", "reviewers": [{"identity": "a", "vote": 7}]}]}]}`), "vote 7"},
		{"votedFor a person", base(`{"name": "P", "repositories": [{"name": "r", "pullRequests": [{"id": 1, "title": "t", "status": "active", "createdBy": "a", "sourceRefName": "refs/heads/a", "targetRefName": "refs/heads/main", "reviewers": [{"identity": "a", "vote": 10, "votedFor": ["a"]}]}]}]}`), "not a group"},
		{"short ref", base(`{"name": "P", "repositories": [{"name": "r", "pullRequests": [{"id": 1, "title": "t", "status": "completed", "createdBy": "a", "sourceRefName": "a", "targetRefName": "main"}]}]}`), "full ref names"},
		{"bad status", base(`{"name": "P", "repositories": [{"name": "r", "pullRequests": [{"id": 1, "title": "t", "status": "merged", "createdBy": "a", "sourceRefName": "refs/heads/a", "targetRefName": "refs/heads/main"}]}]}`), `status "merged"`},
		{"build links an unknown item", base(`{"name": "P", "builds": [{"id": 1, "workItemIds": [9]}]}`), "work item 9"},
		{"build names an unknown repo", base(`{"name": "P", "builds": [{"id": 1, "repository": "nope"}]}`), `repository "nope"`},
		{"policy type not a GUID", base(`{"name": "P", "policies": [{"id": 1, "type": "minreviewers", "isEnabled": true, "isBlocking": true, "settings": {}}]}`), "not a GUID"},
		{"policy scope match kind", base(`{"name": "P", "policies": [{"id": 1, "type": "fa4e907d-c16b-4a4c-9dfa-4906e5d171dd", "isEnabled": true, "isBlocking": true, "settings": {"scope": [{"refName": "refs/heads/main", "matchKind": "Glob"}]}}]}`), `matchKind "Glob"`},
		{"policy scope repository", base(`{"name": "P", "policies": [{"id": 1, "type": "fa4e907d-c16b-4a4c-9dfa-4906e5d171dd", "isEnabled": true, "isBlocking": true, "settings": {"scope": [{"repositoryId": 5}]}}]}`), "repositoryId must be"},
		{"duplicate policy", base(`{"name": "P", "policies": [{"id": 1, "type": "fa4e907d-c16b-4a4c-9dfa-4906e5d171dd", "settings": {}}, {"id": 1, "type": "fa4e907d-c16b-4a4c-9dfa-4906e5d171dd", "settings": {}}]}`), "defined twice"},
		{"identity without name", `{"organization": "o", "identities": {"x": {}}, "projects": [{"name": "P"}]}`, "displayName is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseScenario([]byte(tt.json))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestLoadScenarioNamesTheFile(t *testing.T) {
	path := t.TempDir() + "/broken.json"
	require.NoError(t, os.WriteFile(path, []byte("{\n  \"organization\": \"o\",\n  oops\n}"), 0o600))
	_, err := LoadScenario(path)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "broken.json")
	assert.Contains(t, err.Error(), "line 3")

	_, err = LoadScenario(t.TempDir() + "/missing.json")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "missing.json")
}

func TestBuilderScenario(t *testing.T) {
	sc := NewScenario("org", "tok").AddIdentity("a", "Ann", false).AddIdentity("team", "Team", true)
	p := sc.Project("P")
	repo := p.AddRepository(&Repository{Name: "r"})
	repo.PullRequests = append(repo.PullRequests, &PullRequest{ID: 1, Title: "t", Status: "completed", CreatedBy: "a", SourceRefName: "refs/heads/x", TargetRefName: "refs/heads/main",
		Reviewers: []Reviewer{{Identity: "a", Vote: 10, VotedFor: []string{"team"}}}})
	p.AddPolicies(MinimumReviewersPolicy(1, "", "refs/heads/main", "Exact", 2, nil))
	p.AddWorkItems(&WorkItem{ID: 1, Type: "Bug"})
	p.AddBuilds(&Build{ID: 1, WorkItemIDs: []int{1}, Repository: "r"})
	p.AddQueries(&SavedQuery{Path: "Shared Queries/All", WIQL: "SELECT [System.Id] FROM WorkItems"})
	require.Same(t, p, sc.Project("p"), "Project finds an existing project case-insensitively")
	s, err := New(sc, Options{Now: fixedClock})
	require.NoError(t, err)
	assert.Equal(t, "org", s.Organization())
	assert.Equal(t, "refs/heads/main", repo.DefaultBranch, "default branch defaults to main")
	assert.Equal(t, stableID("repository", "P/r"), repo.ID, "ids are stable")
	it := s.items[1]
	assert.Equal(t, "New", it.fields["System.State"], "state defaults to the type's first state")
	assert.Equal(t, "P", it.fields["System.AreaPath"])
}

func FuzzParseScenario(f *testing.F) {
	data, err := os.ReadFile("testdata/demo.json")
	require.NoError(f, err)
	f.Add(data)
	f.Add([]byte(`{"organization": "o", "projects": [{"name": "P"}]}`))
	f.Add([]byte(`{"organization": "o", "projects": [{"name": "P", "policies": [{"id": 1, "type": "fa4e907d-c16b-4a4c-9dfa-4906e5d171dd", "settings": {"scope": [{"repositoryId": null, "refName": "refs/heads/main", "matchKind": "Exact"}]}}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		sc, err := ParseScenario(data)
		if err != nil {
			return
		}
		if _, err := New(sc, Options{Now: fixedClock}); err != nil {
			t.Fatalf("a validated scenario must build a server: %v", err)
		}
	})
}

func TestDemoIsTheTestdataFile(t *testing.T) {
	a, err := Demo()
	require.NoError(t, err)
	b, err := LoadScenario("testdata/demo.json")
	require.NoError(t, err)
	assert.Equal(t, b, a)
	a.Projects[0].Name = "changed"
	c, err := Demo()
	require.NoError(t, err)
	assert.Equal(t, "Payments", c.Projects[0].Name, "every call returns a fresh copy")
}
