package azdosim_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/build"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/git"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/workitemtracking"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/azdo/azdosim"
)

const demoToken = "stagegate-demo-token"

var testNow = time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)

// start serves a simulator on a new httptest server: the client library's
// location cache is keyed by URL, so every test needs its own.
func start(t *testing.T, sc *azdosim.Scenario, opts azdosim.Options) (*azdosim.Server, string) {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return testNow }
	}
	sim, err := azdosim.New(sc, opts)
	require.NoError(t, err)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return sim, sim.OrgURL(srv.URL)
}

func demo(t *testing.T) *azdosim.Scenario {
	t.Helper()
	sc, err := azdosim.LoadScenario("testdata/demo.json")
	require.NoError(t, err)
	return sc
}

func ptr[T any](v T) *T { return &v }

type clients struct {
	wit   workitemtracking.Client
	git   git.Client
	build build.Client
}

// newClients builds the library's typed clients the way its documentation
// does, so discovery (OPTIONS + ResourceAreas) runs too.
func newClients(t *testing.T, orgURL string) clients {
	t.Helper()
	ctx := context.Background()
	conn := azuredevops.NewPatConnection(orgURL, demoToken)
	w, err := workitemtracking.NewClient(ctx, conn)
	require.NoError(t, err)
	g, err := git.NewClient(ctx, conn)
	require.NoError(t, err)
	b, err := build.NewClient(ctx, conn)
	require.NoError(t, err)
	return clients{w, g, b}
}

func TestRealClientWorkItemCalls(t *testing.T) {
	sim, orgURL := start(t, demo(t), azdosim.Options{})
	c := newClients(t, orgURL)
	ctx := context.Background()
	project := "Payments"

	q := "SELECT [System.Id], [System.Title] FROM WorkItems WHERE [System.TeamProject] = @project AND [System.Tags] CONTAINS 'Security' AND [System.State] IN ('New', 'Triaged', 'Active', 'Fix in Review') ORDER BY [System.Id]"
	res, err := c.wit.QueryByWiql(ctx, workitemtracking.QueryByWiqlArgs{Project: &project, Wiql: &workitemtracking.Wiql{Query: &q}})
	require.NoError(t, err)
	assert.Equal(t, []int{1, 2, 3, 4, 5, 6, 14, 16}, refIDs(*res.WorkItems))
	assert.Equal(t, workitemtracking.QueryTypeValues.Flat, *res.QueryType)
	require.Len(t, *res.Columns, 2)
	assert.Equal(t, "Title", *(*res.Columns)[1].Name)

	saved, err := c.wit.QueryById(ctx, workitemtracking.QueryByIdArgs{Project: &project, Id: ptr(uuid.MustParse("4d7c0d1e-5a2b-4c3d-9e8f-0a1b2c3d4e5f"))})
	require.NoError(t, err)
	assert.ElementsMatch(t, []int{1, 2, 3, 4, 5, 6, 14, 16}, refIDs(*saved.WorkItems))
	assert.Equal(t, []int{6, 1, 2, 3, 14, 16, 4, 5}, refIDs(*saved.WorkItems), "ordered by severity (none first), then id")

	tree, err := c.wit.QueryById(ctx, workitemtracking.QueryByIdArgs{Project: &project, Id: ptr(uuid.MustParse("5e8d1e2f-6b3c-4d4e-8f90-1b2c3d4e5f60"))})
	require.NoError(t, err)
	assert.Equal(t, workitemtracking.QueryTypeValues.Tree, *tree.QueryType)
	assert.Nil(t, tree.WorkItems)

	item, err := c.wit.GetQuery(ctx, workitemtracking.GetQueryArgs{Project: &project, Query: ptr("Shared Queries/Security/Open security bugs"), Expand: &workitemtracking.QueryExpandValues.Wiql})
	require.NoError(t, err)
	assert.Equal(t, "4d7c0d1e-5a2b-4c3d-9e8f-0a1b2c3d4e5f", item.Id.String())
	assert.Equal(t, workitemtracking.QueryTypeValues.Flat, *item.QueryType)
	assert.Contains(t, *item.Wiql, "CONTAINS 'Security'")

	folder, err := c.wit.GetQuery(ctx, workitemtracking.GetQueryArgs{Project: &project, Query: ptr("Shared Queries/Security"), Depth: ptr(1)})
	require.NoError(t, err)
	assert.True(t, *folder.IsFolder)
	assert.Len(t, *folder.Children, 3)

	items, err := c.wit.GetWorkItemsBatch(ctx, workitemtracking.GetWorkItemsBatchArgs{Project: &project, WorkItemGetRequest: &workitemtracking.WorkItemBatchGetRequest{
		Ids: &[]int{16, 999, 1}, Fields: &[]string{"System.Title", "System.Tags", "Microsoft.VSTS.Common.Severity", "System.CreatedDate"}, ErrorPolicy: &workitemtracking.WorkItemErrorPolicyValues.Omit,
	}})
	require.NoError(t, err)
	require.Len(t, *items, 3)
	assert.Equal(t, 16, *(*items)[0].Id, "order of the request")
	assert.Nil(t, (*items)[1].Id, "omitted ids come back as null")
	fields := *(*items)[2].Fields
	assert.Equal(t, "SQL injection in payment search", fields["System.Title"])
	assert.Equal(t, "Security; OWASP-A03", fields["System.Tags"])
	assert.Equal(t, "2025-06-03T12:00:00Z", fields["System.CreatedDate"], "12 days before the simulator's clock")
	assert.NotContains(t, fields, "System.State", "only the requested fields")

	states, err := c.wit.GetWorkItemTypeStates(ctx, workitemtracking.GetWorkItemTypeStatesArgs{Project: &project, Type: ptr("bug")})
	require.NoError(t, err)
	var names []string
	for _, s := range *states {
		names = append(names, *s.Name+"="+*s.Category)
	}
	assert.Contains(t, names, "Fix in Review=InProgress")
	assert.Contains(t, names, "Removed=Removed")

	refs, err := c.build.GetBuildWorkItemsRefs(ctx, build.GetBuildWorkItemsRefsArgs{Project: &project, BuildId: ptr(501), Top: ptr(1000)})
	require.NoError(t, err)
	var ids []string
	for _, r := range *refs {
		ids = append(ids, *r.Id)
	}
	assert.Equal(t, []string{"1", "7", "14"}, ids)

	assert.Equal(t, 1, sim.Count(azdosim.RouteLocations), "one discovery for the URL")
}

func refIDs(refs []workitemtracking.WorkItemReference) []int {
	out := []int{}
	for _, r := range refs {
		out = append(out, *r.Id)
	}
	return out
}

func TestRealClientGitCalls(t *testing.T) {
	_, orgURL := start(t, demo(t), azdosim.Options{})
	c := newClients(t, orgURL)
	ctx := context.Background()
	project, repo := "Payments", "payments-api"

	for _, tc := range []struct {
		commit    string
		mergeHits []int
		commitHit []int
	}{
		{"a1b2c3d4e5f60718293a4b5c6d7e8f9012345678", []int{12}, nil},
		{"1a2b3c4d5e6f708192a3b4c5d6e7f80912a3b4c5", nil, []int{12}},
		{"e5f6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e", nil, nil},
		{"0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c", nil, nil}, // only in an abandoned PR
	} {
		items := []string{tc.commit}
		q, err := c.git.GetPullRequestQuery(ctx, git.GetPullRequestQueryArgs{Project: &project, RepositoryId: &repo, Queries: &git.GitPullRequestQuery{Queries: &[]git.GitPullRequestQueryInput{
			{Type: &git.GitPullRequestQueryTypeValues.LastMergeCommit, Items: &items},
			{Type: &git.GitPullRequestQueryTypeValues.Commit, Items: &items},
		}}})
		require.NoError(t, err)
		require.Len(t, *q.Results, 2)
		assert.Equal(t, tc.mergeHits, prIDs((*q.Results)[0][tc.commit]), tc.commit)
		assert.Equal(t, tc.commitHit, prIDs((*q.Results)[1][tc.commit]), tc.commit)
	}

	pr, err := c.git.GetPullRequest(ctx, git.GetPullRequestArgs{Project: &project, RepositoryId: &repo, PullRequestId: ptr(13)})
	require.NoError(t, err)
	assert.Equal(t, git.PullRequestStatusValues.Completed, *pr.Status)
	assert.True(t, *pr.CompletionOptions.BypassPolicy)
	assert.Contains(t, *pr.CompletionOptions.BypassReason, "INC-4711")
	assert.Equal(t, "Dave Oncall", *pr.ClosedBy.DisplayName)
	assert.Equal(t, "b2c3d4e5f60718293a4b5c6d7e8f901234567890", *pr.LastMergeCommit.CommitId)

	reviewers, err := c.git.GetPullRequestReviewers(ctx, git.GetPullRequestReviewersArgs{Project: &project, RepositoryId: ptr("3411EBC1-D5AA-464F-9615-0B527BC66719"), PullRequestId: ptr(12)})
	require.NoError(t, err)
	require.Len(t, *reviewers, 4)
	bob := (*reviewers)[0]
	assert.Equal(t, 10, *bob.Vote)
	require.Len(t, *bob.VotedFor, 1)
	assert.Equal(t, "0b6a1c1e-00f0-4c1e-9a11-0000000000f0", *(*bob.VotedFor)[0].Id)
	assert.True(t, *(*reviewers)[2].IsContainer, "the team is a group")
	assert.Nil(t, (*reviewers)[1].IsContainer, "people carry no isContainer")

	r, err := c.git.GetRepository(ctx, git.GetRepositoryArgs{Project: &project, RepositoryId: &repo})
	require.NoError(t, err)
	assert.Equal(t, "refs/heads/main", *r.DefaultBranch)
	assert.Equal(t, "3411ebc1-d5aa-464f-9615-0b527bc66719", r.Id.String())
	assert.True(t, strings.HasSuffix(*r.WebUrl, "/contoso/Payments/_git/payments-api"), *r.WebUrl)

	_, err = c.git.GetPullRequest(ctx, git.GetPullRequestArgs{Project: &project, RepositoryId: &repo, PullRequestId: ptr(99)})
	var we azuredevops.WrappedError
	require.ErrorAs(t, err, &we)
	assert.Equal(t, 404, *we.StatusCode)
	assert.Contains(t, *we.Message, "TF401180")
}

func prIDs(prs []git.GitPullRequest) []int {
	var out []int
	for _, p := range prs {
		out = append(out, *p.PullRequestId)
	}
	return out
}

func TestPolicyScopeResolution(t *testing.T) {
	_, orgURL := start(t, demo(t), azdosim.Options{})
	c := newClients(t, orgURL)
	payments := uuid.MustParse("3411ebc1-d5aa-464f-9615-0b527bc66719")
	legacy := uuid.MustParse("49c1d4d0-be28-4f20-9e0a-4ecfafc39257")
	tests := []struct {
		name       string
		repo       *uuid.UUID
		ref        string
		policyType string
		want       []int
	}{
		{"repository-specific and project-wide on main", &payments, "refs/heads/main", "", []int{1, 2, 5}},
		{"filtered by type", &payments, "refs/heads/main", azdosim.PolicyTypeMinimumReviewers, []int{1}},
		{"prefix scope, project-wide", &payments, "refs/heads/release/2025.06", "", []int{3}},
		{"prefix needs the prefix", &payments, "refs/heads/releases/x", "", nil},
		{"exact is exact", &payments, "refs/heads/main2", "", nil},
		{"default branch of the repository", &legacy, "refs/heads/master", azdosim.PolicyTypeMinimumReviewers, []int{4, 6}},
		{"default branch only", &legacy, "refs/heads/develop", "", nil},
		{"other repository's policy does not apply", &legacy, "refs/heads/main", "", []int{5}},
		{"no filter lists everything", nil, "", "", []int{1, 2, 3, 4, 5, 6}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := git.GetPolicyConfigurationsArgs{Project: ptr("Payments"), RepositoryId: tt.repo}
			if tt.ref != "" {
				args.RefName = &tt.ref
			}
			if tt.policyType != "" {
				args.PolicyType = ptr(uuid.MustParse(tt.policyType))
			}
			res, err := c.git.GetPolicyConfigurations(context.Background(), args)
			require.NoError(t, err)
			var got []int
			for _, p := range *res.PolicyConfigurations {
				got = append(got, *p.Id)
			}
			assert.Equal(t, tt.want, got)
			assert.Empty(t, *res.ContinuationToken)
		})
	}
}

func TestPolicyPaging(t *testing.T) {
	sim, orgURL := start(t, demo(t), azdosim.Options{PolicyPageSize: 2})
	c := newClients(t, orgURL)
	args := git.GetPolicyConfigurationsArgs{Project: ptr("Payments")}
	var got []int
	pages := 0
	for {
		res, err := c.git.GetPolicyConfigurations(context.Background(), args)
		require.NoError(t, err)
		pages++
		assert.LessOrEqual(t, len(*res.PolicyConfigurations), 2)
		for _, p := range *res.PolicyConfigurations {
			got = append(got, *p.Id)
		}
		if *res.ContinuationToken == "" {
			break
		}
		args.ContinuationToken = res.ContinuationToken
		require.Less(t, pages, 10)
	}
	assert.Equal(t, []int{1, 2, 3, 4, 5, 6}, got)
	assert.Equal(t, 3, pages)
	assert.Equal(t, 3, sim.Count(azdosim.RoutePolicyConfigurations))
}

// do sends a raw request with the job token and the api-version header.
func do(t *testing.T, method, url, body string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+demoToken)
	req.Header.Set("Accept", "application/json;api-version=7.1-preview.2")
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, data
}

type serviceError struct {
	ID        string  `json:"$id"`
	Inner     *string `json:"innerException"`
	Message   string  `json:"message"`
	TypeName  string  `json:"typeName"`
	TypeKey   string  `json:"typeKey"`
	ErrorCode *int    `json:"errorCode"`
	EventID   *int    `json:"eventId"`
}

func decodeServiceError(t *testing.T, data []byte) serviceError {
	t.Helper()
	var e serviceError
	require.NoError(t, json.Unmarshal(data, &e), string(data))
	require.NotEmpty(t, e.Message)
	require.NotEmpty(t, e.TypeKey)
	require.NotEmpty(t, e.TypeName)
	require.NotNil(t, e.ErrorCode)
	require.NotNil(t, e.EventID)
	return e
}

func TestAuthentication(t *testing.T) {
	_, orgURL := start(t, demo(t), azdosim.Options{})
	url := orgURL + "/Payments/_apis/wit/workitemtypes/Bug/states"
	basic := func(user, pw string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))
	}
	tests := []struct {
		name, auth string
		status     int
		message    string
	}{
		{"bearer", "Bearer " + demoToken, 200, ""},
		{"pat with empty user", basic("", demoToken), 200, ""},
		{"pat with any user", basic("me", demoToken), 200, ""},
		{"missing", "", 401, "anonymous access"},
		{"wrong bearer", "Bearer nope", 401, "not authorized"},
		{"wrong pat", basic("", "nope"), 401, "not authorized"},
		{"garbage", "Basic !!!", 401, "not authorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, "GET", url, "", map[string]string{"Authorization": tt.auth})
			require.Equal(t, tt.status, resp.StatusCode, string(body))
			if tt.status == 401 {
				e := decodeServiceError(t, body)
				assert.Contains(t, e.Message, "TF400813")
				assert.Contains(t, e.Message, tt.message)
				assert.Equal(t, "UnauthorizedRequestException", e.TypeKey)
				assert.NotEmpty(t, resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

func TestServiceErrors(t *testing.T) {
	sc := demo(t)
	_, orgURL := start(t, sc, azdosim.Options{})
	ids := make([]string, 201)
	for i := range ids {
		ids[i] = fmt.Sprint(i + 1)
	}
	tests := []struct {
		name, method, path, body string
		header                   map[string]string
		status                   int
		want                     string
	}{
		{"batch over 200 ids", "POST", "/Payments/_apis/wit/workitemsbatch", `{"ids":[` + strings.Join(ids, ",") + `]}`, nil, 400, "VS403474"},
		{"batch without ids", "POST", "/Payments/_apis/wit/workitemsbatch", `{"ids":[]}`, nil, 400, "ids"},
		{"batch unknown field", "POST", "/_apis/wit/workitemsbatch", `{"ids":[1],"fields":["Nope.Field"]}`, nil, 400, "TF51535"},
		{"batch missing item fails without omit", "POST", "/_apis/wit/workitemsbatch", `{"ids":[1, 999]}`, nil, 404, "TF401232"},
		{"wiql syntax", "POST", "/Payments/_apis/wit/wiql", `{"query":"SELECT"}`, nil, 400, "TF51006"},
		{"wiql without a body", "POST", "/Payments/_apis/wit/wiql", `{}`, nil, 400, "wiql"},
		{"wiql not json", "POST", "/Payments/_apis/wit/wiql", `{"query":`, nil, 400, "not valid JSON"},
		{"wiql too long", "POST", "/Payments/_apis/wit/wiql", `{"query":"SELECT [System.Id] FROM WorkItems WHERE [System.Title] = '` + strings.Repeat("x", 32000) + `'"}`, nil, 400, "32000"},
		{"unknown project", "GET", "/Nope/_apis/wit/workitemtypes/Bug/states", "", nil, 404, "TF200016"},
		{"unknown type", "GET", "/Payments/_apis/wit/workitemtypes/Epic/states", "", nil, 404, "Epic"},
		{"unknown build", "GET", "/Payments/_apis/build/builds/9/workitems", "", nil, 404, "build 9"},
		{"unknown repository", "GET", "/Payments/_apis/git/repositories/nope", "", nil, 404, "TF401019"},
		{"repository name needs a project", "GET", "/_apis/git/repositories/payments-api", "", nil, 404, "TF401019"},
		{"unknown query", "GET", "/Payments/_apis/wit/queries/Shared%20Queries%2FNope", "", nil, 404, "TF401243"},
		{"query id not a guid", "GET", "/Payments/_apis/wit/wiql/nope", "", nil, 400, "GUID"},
		{"pr query type", "POST", "/Payments/_apis/git/repositories/payments-api/pullRequestQuery", `{"queries":[{"type":"notSet","items":["a"]}]}`, nil, 400, "notSet"},
		{"policy repository not a guid", "GET", "/Payments/_apis/git/policy/configurations?repositoryId=payments-api", "", nil, 400, "GUID"},
		{"no api-version", "GET", "/Payments/_apis/wit/workitemtypes/Bug/states", "", map[string]string{"Accept": "application/json"}, 400, "No api-version"},
		{"api-version too new", "GET", "/Payments/_apis/wit/workitemtypes/Bug/states", "", map[string]string{"Accept": "application/json;api-version=8.0"}, 400, "out of range"},
		{"api-version in the query", "GET", "/Payments/_apis/wit/workitemtypes/Bug/states?api-version=7.1", "", map[string]string{"Accept": "application/json"}, 200, ""},
		{"case-insensitive routing", "GET", "/PAYMENTS/_APIS/WIT/WORKITEMTYPES/bug/STATES", "", nil, 200, ""},
		{"wrong method", "GET", "/Payments/_apis/wit/wiql", "", nil, 405, "does not support"},
		{"unknown route", "GET", "/Payments/_apis/wit/fields", "", nil, 404, "does not simulate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, tt.method, orgURL+tt.path, tt.body, tt.header)
			require.Equal(t, tt.status, resp.StatusCode, string(body))
			if tt.status >= 400 {
				e := decodeServiceError(t, body)
				assert.Contains(t, e.Message, tt.want)
			}
		})
	}

	resp, body := do(t, "GET", strings.Replace(orgURL, "/contoso", "/fabrikam", 1)+"/_apis", "", nil)
	assert.Equal(t, 404, resp.StatusCode, "another organization: %s", body)
}

func TestWIQLResultLimit(t *testing.T) {
	sc := azdosim.NewScenario("big")
	p := sc.Project("P")
	for i := 1; i <= 20001; i++ {
		p.AddWorkItems(&azdosim.WorkItem{ID: i, Type: "Task"})
	}
	_, orgURL := start(t, sc, azdosim.Options{})
	body := `{"query":"SELECT [System.Id] FROM WorkItems"}`
	resp, data := do(t, "POST", orgURL+"/P/_apis/wit/wiql", body, nil)
	require.Equal(t, 400, resp.StatusCode)
	assert.Contains(t, decodeServiceError(t, data).Message, "VS402337")

	resp, data = do(t, "POST", orgURL+"/P/_apis/wit/wiql?$top=5", body, nil)
	require.Equal(t, 200, resp.StatusCode)
	var res struct{ WorkItems []struct{ ID int } }
	require.NoError(t, json.Unmarshal(data, &res))
	assert.Len(t, res.WorkItems, 5, "$top truncates instead")

	resp, data = do(t, "POST", orgURL+"/P/_apis/wit/wiql", `{"query":"SELECT [System.Id] FROM WorkItems WHERE [System.Id] <= 20000"}`, nil)
	require.Equal(t, 200, resp.StatusCode)
	require.NoError(t, json.Unmarshal(data, &res))
	assert.Len(t, res.WorkItems, 20000, "exactly the cap is allowed")
}

func TestFaults(t *testing.T) {
	statesPath := "/Payments/_apis/wit/workitemtypes/Bug/states"
	tests := []struct {
		name  string
		fault azdosim.Fault
		check func(t *testing.T, resp *http.Response, body []byte)
	}{
		{"throttle", azdosim.Fault{Route: azdosim.RouteWorkItemTypeStates, Kind: azdosim.FaultThrottle, RetryAfter: "7"}, func(t *testing.T, resp *http.Response, body []byte) {
			assert.Equal(t, 429, resp.StatusCode)
			assert.Equal(t, "7", resp.Header.Get("Retry-After"))
			assert.Equal(t, "Core", resp.Header.Get("X-RateLimit-Resource"))
			assert.NotEmpty(t, resp.Header.Get("X-RateLimit-Delay"))
			assert.NotEmpty(t, resp.Header.Get("X-RateLimit-Reset"))
			assert.Contains(t, decodeServiceError(t, body).Message, "blocked")
		}},
		{"status 503 by path", azdosim.Fault{Path: `/workitemtypes/.*/states$`, Kind: azdosim.FaultStatus, Status: 503, RetryAfter: "2"}, func(t *testing.T, resp *http.Response, body []byte) {
			assert.Equal(t, 503, resp.StatusCode)
			assert.Equal(t, "2", resp.Header.Get("Retry-After"))
			decodeServiceError(t, body)
		}},
		{"forbidden", azdosim.Fault{Route: azdosim.RouteWorkItemTypeStates, Kind: azdosim.FaultStatus, Status: 403, Message: "TF50309: no access"}, func(t *testing.T, resp *http.Response, body []byte) {
			assert.Equal(t, 403, resp.StatusCode)
			assert.Equal(t, "TF50309: no access", decodeServiceError(t, body).Message)
		}},
		{"empty body", azdosim.Fault{Route: azdosim.RouteWorkItemTypeStates, Kind: azdosim.FaultEmpty, Status: 404}, func(t *testing.T, resp *http.Response, body []byte) {
			assert.Equal(t, 404, resp.StatusCode)
			assert.Empty(t, body)
		}},
		{"html", azdosim.Fault{Route: azdosim.RouteWorkItemTypeStates, Kind: azdosim.FaultHTML, Status: 502}, func(t *testing.T, resp *http.Response, body []byte) {
			assert.Equal(t, 502, resp.StatusCode)
			assert.Contains(t, resp.Header.Get("Content-Type"), "text/html")
			assert.True(t, strings.HasPrefix(string(body), "<!DOCTYPE html>"))
		}},
		{"truncate", azdosim.Fault{Route: azdosim.RouteWorkItemTypeStates, Kind: azdosim.FaultTruncate}, func(t *testing.T, resp *http.Response, body []byte) {
			assert.Equal(t, 200, resp.StatusCode)
			assert.False(t, json.Valid(body))
			assert.True(t, strings.HasPrefix(string(body), `{"count":7`))
		}},
		{"headers", azdosim.Fault{Route: azdosim.RouteWorkItemTypeStates, Kind: azdosim.FaultHeaders, Headers: map[string]string{"X-RateLimit-Remaining": "3"}}, func(t *testing.T, resp *http.Response, body []byte) {
			assert.Equal(t, 200, resp.StatusCode)
			assert.Equal(t, "3", resp.Header.Get("X-RateLimit-Remaining"))
			assert.True(t, json.Valid(body))
		}},
		{"latency", azdosim.Fault{Route: azdosim.RouteWorkItemTypeStates, Kind: azdosim.FaultLatency, Latency: 20 * time.Millisecond}, func(t *testing.T, resp *http.Response, body []byte) {
			assert.Equal(t, 200, resp.StatusCode)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, orgURL := start(t, demo(t), azdosim.Options{})
			tt.fault.Times = 1
			require.NoError(t, sim.Inject(tt.fault))
			resp, body := do(t, "GET", orgURL+statesPath, "", nil)
			tt.check(t, resp, body)
			resp, _ = do(t, "GET", orgURL+statesPath, "", nil)
			assert.Equal(t, 200, resp.StatusCode, "Times: 1 affects one request")
			log := sim.Requests()
			require.Len(t, log, 2)
			assert.Equal(t, tt.fault.Kind, log[0].Fault)
			assert.Equal(t, resp.StatusCode, log[1].Status)
		})
	}
}

func TestFaultResetSkipAndValidation(t *testing.T) {
	sim, orgURL := start(t, demo(t), azdosim.Options{})
	require.NoError(t, sim.Inject(azdosim.Fault{Route: azdosim.RouteRepository, Method: "GET", Kind: azdosim.FaultReset, Skip: 1, Times: 1}))
	url := orgURL + "/Payments/_apis/git/repositories/payments-api"
	resp, _ := do(t, "GET", url, "", nil)
	assert.Equal(t, 200, resp.StatusCode, "Skip lets the first request through")

	req, err := http.NewRequest("GET", url, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+demoToken)
	req.Header.Set("Accept", "application/json;api-version=7.1")
	_, err = (&http.Client{Transport: &http.Transport{}}).Do(req)
	require.Error(t, err, "the connection is reset")

	resp, _ = do(t, "GET", url, "", nil)
	assert.Equal(t, 200, resp.StatusCode)
	log := sim.Requests()
	require.Len(t, log, 3)
	assert.Equal(t, azdosim.FaultReset, log[1].Fault)
	assert.Equal(t, 0, log[1].Status)

	sim.ClearFaults()
	sim.ResetRequests()
	assert.Equal(t, 0, sim.Count(""))

	for _, bad := range []azdosim.Fault{
		{Kind: azdosim.FaultStatus, Status: 200},
		{Kind: azdosim.FaultLatency},
		{Kind: "explode"},
		{Kind: azdosim.FaultReset, Path: "("},
	} {
		assert.Error(t, sim.Inject(bad), "%+v", bad)
	}
}

func TestConcurrentUse(t *testing.T) {
	sim, orgURL := start(t, demo(t), azdosim.Options{})
	require.NoError(t, sim.Inject(azdosim.Fault{Route: azdosim.RouteWIQL, Kind: azdosim.FaultThrottle, Times: 5}))
	var wg sync.WaitGroup
	statuses := make(chan int, 40)
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", orgURL+"/Payments/_apis/wit/wiql", strings.NewReader(`{"query":"SELECT [System.Id] FROM WorkItems WHERE [System.Tags] CONTAINS 'Security'"}`))
			req.Header.Set("Authorization", "Bearer "+demoToken)
			req.Header.Set("Accept", "application/json;api-version=7.1")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				statuses <- -1
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(statuses)
	counts := map[int]int{}
	for s := range statuses {
		counts[s]++
	}
	assert.Equal(t, map[int]int{200: 35, 429: 5}, counts)
	assert.Equal(t, 40, sim.Count(azdosim.RouteWIQL))
}
