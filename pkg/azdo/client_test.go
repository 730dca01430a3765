package azdo_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/azdo"
	"github.com/stagegate/stagegate/pkg/azdo/azdosim"
)

func TestQueryWIQL(t *testing.T) {
	e := setup(t, demoScenario(t), azdosim.Options{}, azdo.Options{})
	ctx := context.Background()

	open := "SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = @project AND [System.Tags] CONTAINS " + azdo.QuoteWIQL("Security") +
		" AND [System.State] NOT IN " + azdo.WIQLList([]string{"Resolved", "Closed", "Removed"}) + " ORDER BY [System.Id]"
	ids, err := e.client.QueryWIQL(ctx, "Payments", open)
	require.NoError(t, err)
	assert.Equal(t, []int{1, 2, 3, 4, 5, 6, 14, 16}, ids, "SecurityReview-only items and the other project stay out")

	// An input that tries to break out of its literal finds nothing.
	hostile := "SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = @project AND [System.Tags] CONTAINS " + azdo.QuoteWIQL("Security' OR [System.Id] > '0")
	ids, err = e.client.QueryWIQL(ctx, "Payments", hostile)
	require.NoError(t, err)
	assert.Empty(t, ids)

	area := "SELECT [System.Id] FROM WorkItems WHERE [System.AreaPath] UNDER " + azdo.QuoteWIQL(`Payments\Checkout`) + " AND [System.Title] CONTAINS " + azdo.QuoteWIQL("Merchant's")
	ids, err = e.client.QueryWIQL(ctx, "Payments", area)
	require.NoError(t, err)
	assert.Equal(t, []int{16}, ids)

	assert.Equal(t, 3, e.client.Requests().ByCall["wiql"])
}

func TestQuoteWIQL(t *testing.T) {
	assert.Equal(t, "'it''s'", azdo.QuoteWIQL("it's"))
	assert.Equal(t, "''", azdo.QuoteWIQL(""))
	assert.Equal(t, "('a', 'b''c')", azdo.WIQLList([]string{"a", "b'c"}))
}

func TestQueryWIQLResultCap(t *testing.T) {
	for _, n := range []int{20000, 20001} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			sc := azdosim.NewScenario("big")
			p := sc.Project("P")
			for i := 1; i <= n; i++ {
				p.AddWorkItems(&azdosim.WorkItem{ID: i, Type: "Task"})
			}
			e := setup(t, sc, azdosim.Options{}, azdo.Options{})
			_, err := e.client.QueryWIQL(context.Background(), "P", "SELECT [System.Id] FROM WorkItems")
			ae := asError(t, err)
			assert.Equal(t, azdo.KindResultLimit, ae.Kind)
			assert.ErrorIs(t, err, azdo.ErrResultLimit)
			assert.Contains(t, err.Error(), "20000")
			assert.Contains(t, err.Error(), "narrow")
		})
	}
}

func TestSavedQueries(t *testing.T) {
	ctx := context.Background()
	e := setup(t, demoScenario(t), azdosim.Options{}, azdo.Options{})

	byID, err := e.client.QueryByID(ctx, "Payments", "4d7c0d1e-5a2b-4c3d-9e8f-0a1b2c3d4e5f")
	require.NoError(t, err)
	assert.Equal(t, []int{6, 1, 2, 3, 14, 16, 4, 5}, byID)
	assert.Equal(t, 1, e.client.Requests().ByCall["wiqlById"])
	assert.Zero(t, e.client.Requests().ByCall["queries"], "an id needs no lookup")

	byPath, err := e.client.QueryByID(ctx, "Payments", "Shared Queries/Security/Open security bugs")
	require.NoError(t, err)
	assert.Equal(t, byID, byPath)
	assert.Equal(t, 1, e.client.Requests().ByCall["queries"], "a path is resolved first")

	q, err := e.client.GetQuery(ctx, "Payments", "Shared Queries/Security/Open security bugs")
	require.NoError(t, err)
	assert.Equal(t, azdo.Query{ID: "4d7c0d1e-5a2b-4c3d-9e8f-0a1b2c3d4e5f", Path: "Shared Queries/Security/Open security bugs", Name: "Open security bugs", QueryType: "flat", WIQL: q.WIQL}, q)
	assert.Contains(t, q.WIQL, "FROM WorkItems")

	for _, tree := range []string{"5e8d1e2f-6b3c-4d4e-8f90-1b2c3d4e5f60", "Shared Queries/Security/Security work breakdown"} {
		_, err := e.client.QueryByID(ctx, "Payments", tree)
		ae := asError(t, err)
		assert.Equal(t, azdo.KindUnsupported, ae.Kind, tree)
		assert.Contains(t, err.Error(), "is a tree query; only flat queries")
	}
	_, err = e.client.QueryByID(ctx, "Payments", "Shared Queries/Security")
	assert.ErrorContains(t, err, "is a folder")

	closed, err := e.client.QueryByID(ctx, "Payments", "Shared Queries/Security/Closed last quarter")
	require.NoError(t, err)
	assert.Equal(t, []int{9, 10, 12}, closed, "closed within 90 days of the simulator's clock")
}

func TestGetWorkItems(t *testing.T) {
	sc := azdosim.NewScenario("org", demoToken)
	p := sc.Project("P")
	for i := 1; i <= 450; i++ {
		p.AddWorkItems(&azdosim.WorkItem{ID: i, Type: "Bug", Title: fmt.Sprintf("bug %d", i), Tags: []string{"Security", " Web "}, Severity: "2 - High", CreatedDaysAgo: azdosim.Days(10), ClosedDaysAgo: azdosim.Days(2), State: "Closed", AreaPath: `P\Team`})
	}
	e := setup(t, sc, azdosim.Options{}, azdo.Options{})
	ids := []int{450, 3, 1000}
	for i := 1; i <= 449; i++ {
		ids = append(ids, i)
	}
	items, err := e.client.GetWorkItems(context.Background(), "P", ids, []string{azdo.FieldTitle, azdo.FieldTags, azdo.FieldSeverity, azdo.FieldCreatedDate, azdo.FieldClosedDate, azdo.FieldWorkItemType, azdo.FieldState, azdo.FieldAreaPath})
	require.NoError(t, err)
	require.Len(t, items, 451)
	assert.Equal(t, 450, items[0].ID, "the order of the ids")
	assert.Equal(t, 3, items[1].ID)
	assert.Equal(t, 1, items[2].ID, "the missing id is skipped")
	assert.Equal(t, 3, e.client.Requests().ByCall["workItemsBatch"], "ceil(452/200) batches")
	require.Len(t, e.rec.Warnings(), 1)
	assert.Contains(t, e.rec.Warnings()[0], "1 work item(s) could not be read")
	assert.Contains(t, e.rec.Warnings()[0], "1000")

	w := items[1]
	assert.Equal(t, "bug 3", w.Title())
	assert.Equal(t, "Bug", w.Type())
	assert.Equal(t, "Closed", w.State())
	assert.Equal(t, "2 - High", w.Severity())
	assert.Equal(t, `P\Team`, w.AreaPath())
	assert.Equal(t, []string{"Security", "Web"}, w.Tags())
	assert.True(t, w.HasTag("security"))
	assert.False(t, w.HasTag("Sec"))
	assert.Equal(t, testNow.AddDate(0, 0, -10), w.CreatedDate())
	assert.Equal(t, testNow.AddDate(0, 0, -2), w.ClosedDate())
	assert.Equal(t, e.orgURL+"/P/_workitems/edit/3", w.URL)
	assert.Equal(t, 1, w.Rev)
}

func TestWorkItemGetters(t *testing.T) {
	w := azdo.WorkItem{Fields: map[string]any{
		azdo.FieldTags:       " A ;; b; ",
		azdo.FieldPriority:   2.0,
		azdo.FieldAssignedTo: map[string]any{"displayName": "Ann", "uniqueName": "ann@x"},
		azdo.FieldClosedDate: "not a date",
		"Custom.When":        "2024-01-02T03:04:05.678",
	}}
	assert.Equal(t, []string{"A", "b"}, w.Tags())
	assert.Equal(t, "2", w.String(azdo.FieldPriority))
	assert.Equal(t, "Ann", w.String(azdo.FieldAssignedTo))
	assert.Equal(t, "", w.Severity())
	assert.True(t, w.ClosedDate().IsZero())
	when, ok := w.Time("Custom.When")
	assert.True(t, ok)
	assert.Equal(t, time.Date(2024, 1, 2, 3, 4, 5, 678e6, time.UTC), when)
	assert.Nil(t, azdo.WorkItem{}.Tags())
}

func TestStatesAndBuilds(t *testing.T) {
	e := setup(t, demoScenario(t), azdosim.Options{}, azdo.Options{})
	ctx := context.Background()
	states, err := e.client.GetWorkItemTypeStates(ctx, "Payments", "Bug")
	require.NoError(t, err)
	assert.Equal(t, []azdo.State{
		{"New", "Proposed"}, {"Triaged", "Proposed"}, {"Active", "InProgress"}, {"Fix in Review", "InProgress"},
		{"Resolved", "Resolved"}, {"Closed", "Completed"}, {"Removed", "Removed"},
	}, states)

	ids, err := e.client.GetBuildWorkItemIDs(ctx, "Payments", 501)
	require.NoError(t, err)
	assert.Equal(t, []int{1, 7, 14}, ids)
	ids, err = e.client.GetBuildWorkItemIDs(ctx, "Payments", 503)
	require.NoError(t, err)
	assert.Empty(t, ids)
	log := e.sim.Requests()
	assert.Contains(t, log[len(log)-1].Query, "%24top=10000", "a high $top")
}

func TestPullRequestsByCommit(t *testing.T) {
	e := setup(t, demoScenario(t), azdosim.Options{}, azdo.Options{})
	ctx := context.Background()
	tests := []struct {
		commit  string
		want    []int
		matched []string
	}{
		{"a1b2c3d4e5f60718293a4b5c6d7e8f9012345678", []int{12}, []string{azdo.MatchedLastMergeCommit}},
		{"A1B2C3D4E5F60718293A4B5C6D7E8F9012345678", []int{12}, []string{azdo.MatchedLastMergeCommit}},
		{"2b3c4d5e6f708192a3b4c5d6e7f80912a3b4c5d6", []int{12}, []string{azdo.MatchedCommit}},
		{"b2c3d4e5f60718293a4b5c6d7e8f901234567890", []int{13}, []string{azdo.MatchedLastMergeCommit}},
		{"e5f6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e", nil, nil}, // a direct push
	}
	for _, tt := range tests {
		before := e.client.Requests().ByCall["pullRequestQuery"]
		prs, err := e.client.QueryPullRequestsByCommit(ctx, "Payments", "payments-api", tt.commit)
		require.NoError(t, err)
		var ids []int
		var matched []string
		for _, pr := range prs {
			ids, matched = append(ids, pr.ID), append(matched, pr.MatchedBy)
			assert.True(t, pr.Partial)
		}
		assert.Equal(t, tt.want, ids, tt.commit)
		assert.Equal(t, tt.matched, matched, tt.commit)
		assert.Equal(t, before+1, e.client.Requests().ByCall["pullRequestQuery"], "one request")
	}
}

func TestPullRequestsByCommitOrder(t *testing.T) {
	sc := azdosim.NewScenario("org", demoToken).AddIdentity("a", "Ann", false)
	repo := sc.Project("P").AddRepository(&azdosim.Repository{Name: "r"})
	const sha = "1111111111111111111111111111111111111111"
	pr := func(id int, merge string, commits ...string) *azdosim.PullRequest {
		return &azdosim.PullRequest{ID: id, Title: "t", Status: "completed", CreatedBy: "a", SourceRefName: "refs/heads/x", TargetRefName: "refs/heads/main", LastMergeCommit: merge, Commits: commits}
	}
	repo.PullRequests = []*azdosim.PullRequest{pr(1, "2222222222222222222222222222222222222222", sha), pr(2, sha), pr(3, sha, sha)}
	e := setup(t, sc, azdosim.Options{}, azdo.Options{})
	prs, err := e.client.QueryPullRequestsByCommit(context.Background(), "P", "r", sha)
	require.NoError(t, err)
	var got []string
	for _, p := range prs {
		got = append(got, fmt.Sprintf("%d:%s", p.ID, p.MatchedBy))
	}
	assert.Equal(t, []string{"2:lastMergeCommit", "3:lastMergeCommit", "1:commit"}, got, "merge commit first, each PR once")
}

func TestGetPullRequest(t *testing.T) {
	e := setup(t, demoScenario(t), azdosim.Options{}, azdo.Options{})
	ctx := context.Background()
	pr, err := e.client.GetPullRequest(ctx, "Payments", "payments-api", 13)
	require.NoError(t, err)
	assert.Equal(t, "completed", pr.Status)
	assert.Equal(t, azdo.CompletionOptions{BypassPolicy: true, BypassReason: "Production incident INC-4711; approved by the on-call lead"}, pr.CompletionOptions)
	assert.Equal(t, "Dave Oncall", pr.ClosedBy.DisplayName)
	assert.Equal(t, "b2c3d4e5f60718293a4b5c6d7e8f901234567890", pr.LastMergeCommit)
	assert.Equal(t, "refs/heads/main", pr.TargetRef)
	assert.Equal(t, e.orgURL+"/Payments/_git/payments-api/pullrequest/13", pr.WebURL)
	assert.Equal(t, "3411ebc1-d5aa-464f-9615-0b527bc66719", pr.RepositoryID)
	assert.Equal(t, testNow.AddDate(0, 0, -2), pr.ClosedDate)
	assert.False(t, pr.Partial)

	pr, err = e.client.GetPullRequest(ctx, "Payments", "payments-api", 12)
	require.NoError(t, err)
	assert.False(t, pr.CompletionOptions.BypassPolicy)
	assert.Equal(t, "0b6a1c1e-0001-4c1e-9a11-000000000001", pr.CreatedBy.ID)
	require.Len(t, pr.Reviewers, 4)
	assert.Equal(t, azdo.Reviewer{ID: "0b6a1c1e-0002-4c1e-9a11-000000000002", DisplayName: "Bob Reviewer", UniqueName: "bob@contoso.com", Vote: azdo.VoteApproved,
		VotedFor: []string{"0b6a1c1e-00f0-4c1e-9a11-0000000000f0"}}, pr.Reviewers[0])
	assert.True(t, pr.Reviewers[2].IsContainer)
	assert.True(t, pr.Reviewers[2].IsRequired)

	reviewers, err := e.client.GetPullRequestReviewers(ctx, "Payments", "payments-api", 15)
	require.NoError(t, err)
	var votes []int
	for _, r := range reviewers {
		votes = append(votes, r.Vote)
	}
	assert.Equal(t, []int{azdo.VoteApproved, azdo.VoteApprovedWithSuggestions, azdo.VoteRejected}, votes)
}

func TestGetRepository(t *testing.T) {
	e := setup(t, demoScenario(t), azdosim.Options{}, azdo.Options{})
	r, err := e.client.GetRepository(context.Background(), "Payments", "legacy-service")
	require.NoError(t, err)
	assert.Equal(t, azdo.Repository{ID: "49c1d4d0-be28-4f20-9e0a-4ecfafc39257", Name: "legacy-service", DefaultBranch: "refs/heads/master",
		WebURL: e.orgURL + "/Payments/_git/legacy-service", RemoteURL: e.orgURL + "/Payments/_git/legacy-service", ProjectName: "Payments"}, r)
}

func TestGetPolicyConfigurations(t *testing.T) {
	ctx := context.Background()
	e := setup(t, demoScenario(t), azdosim.Options{PolicyPageSize: 1}, azdo.Options{})

	pols, err := e.client.GetPolicyConfigurations(ctx, "Payments", "3411ebc1-d5aa-464f-9615-0b527bc66719", "refs/heads/main", "")
	require.NoError(t, err)
	var ids []int
	for _, p := range pols {
		ids = append(ids, p.ID)
	}
	assert.Equal(t, []int{1, 2, 5}, ids)
	assert.Equal(t, 3, e.client.Requests().ByCall["policyConfigurations"], "one request per page")

	minRev := pols[0]
	assert.Equal(t, azdo.PolicyTypeMinimumReviewers, minRev.TypeID)
	assert.Equal(t, "Minimum number of reviewers", minRev.TypeName)
	assert.True(t, minRev.IsEnabled && minRev.IsBlocking && !minRev.IsDeleted)
	s := minRev.Settings
	assert.Equal(t, 2, s.MinimumApproverCount)
	assert.False(t, s.CreatorVoteCounts)
	assert.False(t, s.AllowDownvotes)
	assert.True(t, s.ResetOnSourcePush)
	assert.True(t, s.RequireVoteOnLastIteration)
	assert.True(t, s.BlockLastPusherVote)
	require.Len(t, s.Scope, 1)
	assert.Equal(t, "3411ebc1-d5aa-464f-9615-0b527bc66719", *s.Scope[0].RepositoryID)
	assert.Equal(t, azdo.PolicyScope{RepositoryID: s.Scope[0].RepositoryID, RefName: "refs/heads/main", MatchKind: "Exact"}, s.Scope[0])
	assert.Equal(t, 7, pols[1].Settings.BuildDefinitionID)
	assert.Equal(t, "payments-api CI", pols[1].Settings.Raw["displayName"])
	assert.Equal(t, []string{"0b6a1c1e-0005-4c1e-9a11-000000000005"}, pols[2].Settings.RequiredReviewerIDs)
	assert.Nil(t, pols[2].Settings.Scope[0].RepositoryID, "project-wide")

	// A repository name costs one extra call; a policy type filters.
	before := e.client.Requests()
	pols, err = e.client.GetPolicyConfigurations(ctx, "Payments", "legacy-service", "refs/heads/master", azdo.PolicyTypeMinimumReviewers)
	require.NoError(t, err)
	ids = nil
	for _, p := range pols {
		ids = append(ids, p.ID)
	}
	assert.Equal(t, []int{4, 6}, ids)
	assert.True(t, pols[1].IsDeleted)
	after := e.client.Requests()
	assert.Equal(t, 1, after.ByCall["repository"]-before.ByCall["repository"])
}

func TestNew(t *testing.T) {
	ctx := context.Background()
	_, err := azdo.New(ctx, azdo.Options{OrgURL: "https://dev.azure.com/contoso"})
	assert.ErrorIs(t, err, azdo.ErrNoCredential)
	for _, bad := range []string{"", "dev.azure.com/contoso", "ftp://dev.azure.com/x", "https://user:hunter22secret@dev.azure.com/contoso"} {
		_, err := azdo.New(ctx, azdo.Options{OrgURL: bad, Credential: azdo.PAT("x")})
		require.Error(t, err, bad)
		assert.NotContains(t, err.Error(), "hunter22secret")
	}
	for orgURL, want := range map[string]string{
		"https://dev.azure.com/contoso/":                     "https://dev.azure.com/contoso",
		"https://contoso.visualstudio.com":                   "https://contoso.visualstudio.com",
		"https://tfs.example.com/tfs/DefaultCollection/?x=1": "https://tfs.example.com/tfs/DefaultCollection",
	} {
		c, err := azdo.New(ctx, azdo.Options{OrgURL: orgURL, Credential: azdo.PAT("x")})
		require.NoError(t, err, orgURL)
		assert.Equal(t, want, c.OrgURL())
	}
}

func TestBuildServiceIdentityName(t *testing.T) {
	for url, identity := range map[string]string{
		"https://contoso.visualstudio.com/":             `"Payments Build Service (contoso)"`,
		"https://tfs.example.com/tfs/DefaultCollection": `"Payments Build Service (DefaultCollection)"`,
	} {
		e := setup(t, demoScenario(t), azdosim.Options{}, azdo.Options{})
		inject(t, e.sim, azdosim.Fault{Kind: azdosim.FaultStatus, Status: 403, Route: azdosim.RouteWorkItemTypeStates})
		c, err := azdo.New(context.Background(), azdo.Options{OrgURL: url, Credential: azdo.JobToken(demoToken), HTTPClient: rewriteTo(url, e.orgURL)})
		require.NoError(t, err)
		_, err = c.GetWorkItemTypeStates(context.Background(), "Payments", "Bug")
		assert.ErrorContains(t, err, identity, url)
	}
}

// rewriteTo sends requests for one organization URL to another (the
// simulator), below the client's transport.
func rewriteTo(from, to string) *http.Client {
	return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		target := strings.TrimRight(to, "/") + strings.TrimPrefix(r.URL.String(), strings.TrimRight(from, "/"))
		u, err := url.Parse(target)
		if err != nil {
			return nil, err
		}
		r = r.Clone(r.Context())
		r.URL, r.Host = u, u.Host
		return http.DefaultTransport.RoundTrip(r)
	})}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestConcurrentCalls(t *testing.T) {
	e := setup(t, demoScenario(t), azdosim.Options{}, azdo.Options{})
	inject(t, e.sim, azdosim.Fault{Route: azdosim.RouteWorkItemsBatch, Kind: azdosim.FaultThrottle, Times: 3})
	ctx := context.Background()
	errs := make(chan error, 40)
	for i := 0; i < 10; i++ {
		go func() { _, err := e.client.GetWorkItems(ctx, "Payments", []int{1, 2, 3}, nil); errs <- err }()
		go func() { _, err := e.client.GetPullRequest(ctx, "Payments", "payments-api", 12); errs <- err }()
		go func() { _, err := e.client.QueryWIQL(ctx, "Payments", securityWIQL); errs <- err }()
		go func() {
			_, err := e.client.GetPolicyConfigurations(ctx, "Payments", "payments-api", "refs/heads/main", "")
			errs <- err
		}()
	}
	for i := 0; i < 40; i++ {
		assert.NoError(t, <-errs)
	}
	stats := e.client.Requests()
	assert.Equal(t, 3, stats.Retries)
	assert.Equal(t, e.sim.Count(""), stats.Total, "every round trip counted once")
}
