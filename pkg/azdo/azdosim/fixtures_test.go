package azdosim_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/microsoft/azure-devops-go-api/azuredevops/v7"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/git"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/policy"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/workitemtracking"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/azdo/azdosim"
)

// fixtureDir finds the official REST examples (shared with the other
// packages of the project, outside the module). STAGEGATE_ADO_FIXTURES
// overrides the location.
func fixtureDir(t *testing.T) string {
	t.Helper()
	for _, dir := range []string{os.Getenv("STAGEGATE_ADO_FIXTURES"), "../../../../shared/fixtures/ado-rest", "/work/shared/fixtures/ado-rest"} {
		if dir == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, "README.md")); err == nil {
			return dir
		}
	}
	t.Fatal("the Azure DevOps REST fixtures were not found: set STAGEGATE_ADO_FIXTURES to the ado-rest fixtures directory")
	return ""
}

type fixture struct {
	Parameters map[string]json.RawMessage `json:"parameters"`
	Responses  map[string]struct {
		Body json.RawMessage `json:"body"`
	} `json:"responses"`
}

func loadFixture(t *testing.T, name string) fixture {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixtureDir(t), name))
	require.NoError(t, err)
	var f fixture
	require.NoError(t, json.Unmarshal(data, &f), name)
	require.NotEmpty(t, f.Responses["200"].Body, name)
	return f
}

// collection decodes a {"count":N,"value":[...]} body into []T.
func collection[T any](t *testing.T, body []byte) []T {
	t.Helper()
	var c struct {
		Count *int `json:"count"`
		Value []T  `json:"value"`
	}
	require.NoError(t, json.Unmarshal(body, &c), string(body))
	require.NotNil(t, c.Count, "a collection has a count")
	require.Equal(t, *c.Count, len(c.Value), "count matches value")
	return c.Value
}

func decode[T any](t *testing.T, body []byte) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(body, &v), string(body))
	return v
}

var timeType = reflect.TypeOf(azuredevops.Time{})

// nonEmpty lists the JSON paths of the non-empty fields of a decoded value
// (union over slice elements; map keys for free-form objects).
func nonEmpty(v any) []string {
	set := map[string]bool{}
	var walk func(v reflect.Value, path string)
	walk = func(v reflect.Value, path string) {
		switch v.Kind() {
		case reflect.Pointer, reflect.Interface:
			if v.IsNil() {
				return
			}
			if path != "" {
				set[path] = true
			}
			walk(v.Elem(), path)
		case reflect.Struct:
			if v.Type() == timeType {
				return
			}
			for i := 0; i < v.NumField(); i++ {
				f := v.Type().Field(i)
				name := strings.Split(f.Tag.Get("json"), ",")[0]
				if name == "" || name == "-" {
					name = f.Name
				}
				walk(v.Field(i), strings.TrimPrefix(path+"."+name, "."))
			}
		case reflect.Slice:
			if v.Len() == 0 {
				return
			}
			if path != "" {
				set[path] = true
			}
			for i := 0; i < v.Len(); i++ {
				walk(v.Index(i), path+"[]")
			}
		case reflect.Map:
			if v.Len() == 0 {
				return
			}
			set[path] = true
			for _, k := range v.MapKeys() {
				walk(v.MapIndex(k), path+"."+k.String())
			}
		default:
			if path != "" {
				set[path] = true
			}
		}
	}
	walk(reflect.ValueOf(v), "")
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// assertCovers checks that every non-empty field of the official example is
// non-empty in the simulator's answer too, except the documented gaps.
func assertCovers(t *testing.T, fixtureVal, simVal any, gaps ...string) {
	t.Helper()
	have := map[string]bool{}
	for _, p := range nonEmpty(simVal) {
		have[p] = true
	}
	var missing []string
outer:
	for _, p := range nonEmpty(fixtureVal) {
		for _, g := range gaps {
			if p == g || strings.HasPrefix(p, g+".") || strings.HasPrefix(p, g+"[]") {
				continue outer
			}
		}
		if !have[p] {
			missing = append(missing, p)
		}
	}
	assert.Empty(t, missing, "fields of the official example that the simulator leaves empty")
}

// fabrikam is a scenario built from the official examples' own data, so that
// the simulator can be asked the examples' requests.
func fabrikam(t *testing.T) *azdosim.Scenario {
	t.Helper()
	items := collection[map[string]any](t, loadFixture(t, "wit__workItems__GET__wit_WorkItems_ids-_ids_.json").Responses["200"].Body)
	sc := azdosim.NewScenario("fabrikam")
	sc.AddIdentity("normal", "Normal Paulk", false).AddIdentity("team", `[2016_10_31]\2016_10_31 Team`, true)
	p := sc.Project("Fabrikam-Fiber-Git")
	p.WorkItemTypes = append(p.WorkItemTypes,
		&azdosim.WorkItemType{Name: "Product Backlog Item", States: []azdosim.State{{Name: "New", Category: "Proposed"}, {Name: "Done", Category: "Completed"}}})
	for _, wt := range p.WorkItemTypes {
		if wt.Name == "Task" {
			wt.States = append([]azdosim.State{{Name: "To Do", Category: "Proposed"}}, wt.States...)
		}
	}
	for _, it := range items {
		fields := it["fields"].(map[string]any)
		p.AddWorkItems(&azdosim.WorkItem{ID: int(it["id"].(float64)), Rev: int(it["rev"].(float64)), Type: fields["System.WorkItemType"].(string), Fields: fields})
	}
	bug := &azdosim.WorkItemType{Name: "Bug"}
	for _, s := range collection[workitemtracking.WorkItemStateColor](t, loadFixture(t, "wit__workItemTypeStates__GET__workitem_type_states.json").Responses["200"].Body) {
		bug.States = append(bug.States, azdosim.State{Name: *s.Name, Category: *s.Category, Color: *s.Color})
	}
	for i, wt := range p.WorkItemTypes {
		if wt.Name == "Bug" {
			p.WorkItemTypes[i] = bug
		}
	}
	repo := p.AddRepository(&azdosim.Repository{ID: "3411ebc1-d5aa-464f-9615-0b527bc66719", Name: "2016_10_31", DefaultBranch: "refs/heads/master"})
	repo.PullRequests = append(repo.PullRequests, &azdosim.PullRequest{
		ID: 22, Title: "A new feature", Description: "Adding a new feature", Status: "active", CreatedBy: "normal",
		SourceRefName: "refs/heads/npaulk/my_work", TargetRefName: "refs/heads/new_feature",
		LastMergeCommit: "39f52d24533cc712fc845ed9fd1b6c06b3942588", Commits: []string{"b60280bc6e62e2f880f1b63c1e24987664d3bda3"},
		Reviewers: []azdosim.Reviewer{{Identity: "normal", Vote: 0}, {Identity: "team", Vote: 0}},
	})
	for _, pc := range collection[map[string]any](t, loadFixture(t, "policy__configurations__GET__policy_configurations.json").Responses["200"].Body) {
		typ := pc["type"].(map[string]any)
		p.AddPolicies(&azdosim.Policy{ID: int(pc["id"].(float64)), Type: typ["id"].(string), TypeName: typ["displayName"].(string),
			IsEnabled: pc["isEnabled"].(bool), IsBlocking: pc["isBlocking"].(bool), CreatedBy: "normal", Settings: pc["settings"].(map[string]any)})
	}
	return sc
}

func TestFixturesWorkItems(t *testing.T) {
	_, orgURL := start(t, fabrikam(t), azdosim.Options{})

	t.Run("workItemsBatch with fields answers the example's response", func(t *testing.T) {
		f := loadFixture(t, "wit__workItemsBatch__POST__wit_WorkItemsBatch_ids-_ids__fields-_columns_.json")
		want := collection[workitemtracking.WorkItem](t, f.Responses["200"].Body)
		resp, body := do(t, "POST", orgURL+"/Fabrikam-Fiber-Git/_apis/wit/workitemsbatch", string(f.Parameters["body"]), nil)
		require.Equal(t, 200, resp.StatusCode, string(body))
		got := collection[workitemtracking.WorkItem](t, body)
		assertCovers(t, want, got)
		require.Len(t, got, len(want))
		for i := range want {
			assert.Equal(t, *want[i].Id, *got[i].Id)
			assert.Equal(t, *want[i].Rev, *got[i].Rev)
			assert.Equal(t, *want[i].Fields, *got[i].Fields, "the example's fields and values")
		}
	})

	t.Run("workItemsBatch without fields returns every field like GET workitems", func(t *testing.T) {
		want := collection[workitemtracking.WorkItem](t, loadFixture(t, "wit__workItems__GET__wit_WorkItems_ids-_ids_.json").Responses["200"].Body)
		resp, body := do(t, "POST", orgURL+"/_apis/wit/workitemsbatch", `{"ids":[297,299,300]}`, nil)
		require.Equal(t, 200, resp.StatusCode, string(body))
		got := collection[workitemtracking.WorkItem](t, body)
		assertCovers(t, want, got)
		for i := range want {
			assert.Equal(t, *want[i].Fields, *got[i].Fields)
		}
	})

	t.Run("wiql runs the example's query", func(t *testing.T) {
		f := loadFixture(t, "wit__wiql__GET__wit_get_id_workitems.json")
		want := decode[workitemtracking.WorkItemQueryResult](t, f.Responses["200"].Body)
		resp, body := do(t, "POST", orgURL+"/Fabrikam-Fiber-Git/_apis/wit/wiql", string(f.Parameters["body"]), nil)
		require.Equal(t, 200, resp.StatusCode, string(body))
		got := decode[workitemtracking.WorkItemQueryResult](t, body)
		assertCovers(t, want, got)
		assert.Equal(t, []int{300, 299}, refIDs(*got.WorkItems), "Tasks not Closed/Removed, by priority then created date desc")
		assert.Equal(t, *want.Columns, *withHost(got.Columns, "https://dev.azure.com/fabrikam"), "columns with the service's names")
		assert.Equal(t, len(*want.SortColumns), len(*got.SortColumns))
		assert.Equal(t, *(*want.SortColumns)[1].Descending, *(*got.SortColumns)[1].Descending)
	})

	t.Run("work item type states", func(t *testing.T) {
		f := loadFixture(t, "wit__workItemTypeStates__GET__workitem_type_states.json")
		want := collection[workitemtracking.WorkItemStateColor](t, f.Responses["200"].Body)
		resp, body := do(t, "GET", orgURL+"/Fabrikam-Fiber-Git/_apis/wit/workitemtypes/Bug/states", "", nil)
		require.Equal(t, 200, resp.StatusCode, string(body))
		got := collection[workitemtracking.WorkItemStateColor](t, body)
		assertCovers(t, want, got)
		assert.Equal(t, want, got)
	})
}

// withHost rewrites the simulator's field URLs to the example's host.
func withHost(cols *[]workitemtracking.WorkItemFieldReference, host string) *[]workitemtracking.WorkItemFieldReference {
	out := make([]workitemtracking.WorkItemFieldReference, len(*cols))
	for i, c := range *cols {
		u := host + (*c.Url)[strings.Index(*c.Url, "/_apis/"):]
		out[i] = workitemtracking.WorkItemFieldReference{Name: c.Name, ReferenceName: c.ReferenceName, Url: &u}
	}
	return &out
}

func TestFixturesGit(t *testing.T) {
	_, orgURL := start(t, fabrikam(t), azdosim.Options{})
	prPath := orgURL + "/Fabrikam-Fiber-Git/_apis/git/repositories/3411ebc1-d5aa-464f-9615-0b527bc66719/pullRequests/22"

	t.Run("pull request", func(t *testing.T) {
		want := decode[git.GitPullRequest](t, loadFixture(t, "git__pullRequests__GET__git_repositories__repositoryId__pullRequests__pullRequestId_.json").Responses["200"].Body)
		resp, body := do(t, "GET", prPath, "", nil)
		require.Equal(t, 200, resp.StatusCode, string(body))
		got := decode[git.GitPullRequest](t, body)
		// The scenario's projects carry no description.
		assertCovers(t, want, got, "repository.project.description")
		assert.Equal(t, *want.LastMergeCommit.CommitId, *got.LastMergeCommit.CommitId)
		assert.Equal(t, *want.Title, *got.Title)
	})

	t.Run("pull request query answers list-shaped pull requests", func(t *testing.T) {
		want := collection[git.GitPullRequest](t, loadFixture(t, "git__pullRequests__GET__git_repositories__repositoryId__pullRequests.json").Responses["200"].Body)
		resp, body := do(t, "POST", orgURL+"/Fabrikam-Fiber-Git/_apis/git/repositories/2016_10_31/pullRequestQuery",
			`{"queries":[{"type":"lastMergeCommit","items":["39f52d24533cc712fc845ed9fd1b6c06b3942588"]}]}`, nil)
		require.Equal(t, 200, resp.StatusCode, string(body))
		got := decode[git.GitPullRequestQuery](t, body)
		prs := (*got.Results)[0]["39f52d24533cc712fc845ed9fd1b6c06b3942588"]
		require.Len(t, prs, 1)
		assertCovers(t, want, prs)
	})

	t.Run("reviewers", func(t *testing.T) {
		want := collection[git.IdentityRefWithVote](t, loadFixture(t, "git__pullRequestReviewers__GET__git_repositories__repositoryId__pullRequests__pullRequestId__reviewers.json").Responses["200"].Body)
		resp, body := do(t, "GET", prPath+"/reviewers", "", nil)
		require.Equal(t, 200, resp.StatusCode, string(body))
		got := collection[git.IdentityRefWithVote](t, body)
		assertCovers(t, want, got)
		assert.Equal(t, *want[0].Vote, *got[0].Vote)
		assert.Equal(t, *want[0].DisplayName, *got[0].DisplayName)
	})
}

func TestFixturesPolicies(t *testing.T) {
	_, orgURL := start(t, fabrikam(t), azdosim.Options{})
	want := collection[policy.PolicyConfiguration](t, loadFixture(t, "policy__configurations__GET__policy_configurations.json").Responses["200"].Body)
	resp, body := do(t, "GET", orgURL+"/Fabrikam-Fiber-Git/_apis/git/policy/configurations", "", nil)
	require.Equal(t, 200, resp.StatusCode, string(body))
	got := collection[policy.PolicyConfiguration](t, body)
	assertCovers(t, want, got)
	require.Len(t, got, len(want))
	for i := range want {
		assert.Equal(t, want[i].Settings, got[i].Settings, "settings are served verbatim")
		assert.Equal(t, *want[i].Type.Id, *got[i].Type.Id)
	}

	single := decode[policy.PolicyConfiguration](t, loadFixture(t, "policy__configurations__GET__policy_configurations__configurationId_.json").Responses["200"].Body)
	assertCovers(t, single, got[0])

	// The example's policy 17 applies project-wide to master and to the
	// releases/ prefix, and to adventureworks in one repository only.
	for ref, ids := range map[string][]int{"refs/heads/master": {17, 18}, "refs/heads/releases/1.0": {17}, "refs/heads/features/x": {19}, "refs/heads/adventureworks": nil} {
		resp, body := do(t, "GET", orgURL+"/Fabrikam-Fiber-Git/_apis/git/policy/configurations?repositoryId=3411ebc1-d5aa-464f-9615-0b527bc66719&refName="+ref, "", nil)
		require.Equal(t, 200, resp.StatusCode, string(body))
		var gotIDs []int
		for _, p := range collection[policy.PolicyConfiguration](t, body) {
			gotIDs = append(gotIDs, *p.Id)
		}
		assert.Equal(t, ids, gotIDs, ref)
	}
}
