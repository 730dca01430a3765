package reviews_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/azdo/azdosim"
	"github.com/stagegate/stagegate/pkg/finding"
)

func TestPolicySettings(t *testing.T) {
	off := false
	tests := []struct {
		name      string
		policies  []*azdosim.Policy
		inputs    map[string]string
		want      []string
		compliant bool
		// wantIn maps a rule to a text its message must contain (the web UI label).
		wantIn map[string]string
	}{
		{name: "compliant", policies: []*azdosim.Policy{compliant(1, nil)}, want: []string{}, compliant: true},
		{name: "too few reviewers", policies: []*azdosim.Policy{compliant(1, map[string]any{"minimumApproverCount": 1})},
			want: []string{"PR002"}, wantIn: map[string]string{"PR002": `"Minimum number of reviewers" is 1 in branch policy 1; at least 2 is required`}},
		{name: "minimumApprovers input raised", policies: []*azdosim.Policy{compliant(1, nil)}, inputs: map[string]string{"minimumApprovers": "3"},
			want: []string{"PR002"}, wantIn: map[string]string{"PR002": "at least 3 is required"}},
		{name: "requestors approve own changes", policies: []*azdosim.Policy{compliant(1, map[string]any{"creatorVoteCounts": true})},
			want: []string{"PR003"}, wantIn: map[string]string{"PR003": "Allow requestors to approve their own changes"}},
		{name: "completion despite rejections", policies: []*azdosim.Policy{compliant(1, map[string]any{"allowDownvotes": true})},
			want: []string{"PR004"}, wantIn: map[string]string{"PR004": "Allow completion even if some reviewers vote to wait or reject"}},
		{name: "votes survive pushes", policies: []*azdosim.Policy{compliant(1, map[string]any{"resetOnSourcePush": off})},
			want: []string{"PR005"}, wantIn: map[string]string{"PR005": "Reset all approval votes (does not reset votes to reject or wait)"}},
		{name: "reset all code reviewer votes suffices", policies: []*azdosim.Policy{compliant(1, map[string]any{"resetOnSourcePush": off, "resetRejectionsOnSourcePush": true})},
			want: []string{}, compliant: true},
		{name: "approval on last iteration suffices", policies: []*azdosim.Policy{compliant(1, map[string]any{"resetOnSourcePush": off, "requireVoteOnLastIteration": true})},
			want: []string{}, compliant: true},
		{name: "approval on every iteration suffices", policies: []*azdosim.Policy{compliant(1, map[string]any{"resetOnSourcePush": off, "requireVoteOnEachIteration": true})},
			want: []string{}, compliant: true},
		{name: "last pusher may approve is a warning", policies: []*azdosim.Policy{compliant(1, map[string]any{"blockLastPusherVote": off})},
			want: []string{"PR006"}, compliant: true, wantIn: map[string]string{"PR006": "Prohibit the most recent pusher from approving their own changes"}},
		{name: "every shortfall its own finding", policies: []*azdosim.Policy{compliant(1, map[string]any{"minimumApproverCount": 1, "creatorVoteCounts": true, "allowDownvotes": true, "resetOnSourcePush": off, "blockLastPusherVote": off})},
			want: []string{"PR002", "PR003", "PR004", "PR005", "PR006"}},
		{name: "no policy", want: []string{"PR001"}},
		{name: "disabled", policies: []*azdosim.Policy{func() *azdosim.Policy { p := compliant(1, nil); p.IsEnabled = false; return p }()},
			want: []string{"PR001"}, wantIn: map[string]string{"PR001": "policy 1 is disabled"}},
		{name: "optional", policies: []*azdosim.Policy{func() *azdosim.Policy { p := compliant(1, nil); p.IsBlocking = false; return p }()},
			want: []string{"PR001"}, wantIn: map[string]string{"PR001": "policy 1 is optional (not blocking)"}},
		{name: "deleted", policies: []*azdosim.Policy{func() *azdosim.Policy { p := compliant(1, nil); p.IsDeleted = true; return p }()},
			want: []string{"PR001"}, wantIn: map[string]string{"PR001": "policy 1 is deleted"}},
		{name: "other policy types do not count", policies: []*azdosim.Policy{{ID: 1, Type: azdosim.PolicyTypeRequiredReviewers, IsEnabled: true, IsBlocking: true,
			Settings: map[string]any{"minimumApproverCount": 2.0, "requiredReviewerIds": []any{}, "scope": []any{map[string]any{"repositoryId": repoID, "refName": mainRef, "matchKind": "Exact"}}}}},
			want: []string{"PR001"}},
		{name: "strongest compliant policy is judged", policies: []*azdosim.Policy{
			compliant(1, map[string]any{"minimumApproverCount": 1, "creatorVoteCounts": true}),
			compliant(2, map[string]any{"blockLastPusherVote": off}),
			compliant(3, map[string]any{"minimumApproverCount": 3}),
		}, want: []string{}, compliant: true},
		{name: "settings of several policies do not add up", policies: []*azdosim.Policy{
			compliant(1, map[string]any{"minimumApproverCount": 1}),
			compliant(2, map[string]any{"creatorVoteCounts": true, "allowDownvotes": true}),
		}, want: []string{"PR002"}},
		{name: "a compliant policy wins over a disabled stronger one", policies: []*azdosim.Policy{
			func() *azdosim.Policy {
				p := compliant(1, map[string]any{"minimumApproverCount": 4})
				p.IsEnabled = false
				return p
			}(),
			compliant(2, nil),
		}, want: []string{}, compliant: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld()
			w.proj.AddPolicies(tt.policies...)
			h := start(t, w.sc, azdosim.Options{})
			inputs := noChange()
			for k, v := range tt.inputs {
				inputs[k] = v
			}
			r := h.mustEvaluate(inputs, nil)
			assert.Equal(t, tt.want, rules(r))
			assert.Equal(t, map[bool]string{true: "true", false: "false"}[tt.compliant], output(r, "policyCompliant"))
			for rule, text := range tt.wantIn {
				assert.Contains(t, findingOf(t, r, rule).Message, text)
			}
			for _, f := range r.Findings {
				assert.Equal(t, "Branch policy", f.Check)
				assert.NotEmpty(t, f.Fingerprint)
				if f.Rule == "PR006" {
					assert.Equal(t, finding.Warning, f.Severity)
				} else {
					assert.Equal(t, finding.Error, f.Severity)
				}
			}
			// locations + one page of policies: nothing else for a policy-only run.
			assert.Equal(t, 2, h.sim.Count(""), "requests")
		})
	}
}

func TestPolicyJudgedIsNamedInCheckAndTable(t *testing.T) {
	w := newWorld()
	disabled := compliant(3, nil)
	disabled.IsEnabled, disabled.IsBlocking = false, false
	w.proj.AddPolicies(compliant(1, map[string]any{"minimumApproverCount": 1}), disabled, compliant(7, nil))
	h := start(t, w.sc, azdosim.Options{})
	r := h.mustEvaluate(noChange(), nil)
	assert.Empty(t, r.Findings)
	require.Len(t, r.Checks, 2)
	assert.Contains(t, r.Checks[1].Detail, "Judged: policy 7")
	require.Len(t, r.Tables, 1)
	table := r.Tables[0]
	assert.Equal(t, []string{"Policy", "Scope", "Setting", "Value"}, table.Header)
	var sawJudged, sawCount, sawDisabled bool
	for _, row := range table.Rows {
		if row[0] == "3" && row[2] == "Status" {
			assert.Equal(t, "disabled, optional", row[3])
			sawDisabled = true
		}
		if row[0] == "7" && row[2] == "Status" {
			assert.Contains(t, row[3], "judged: compliant")
			sawJudged = true
		}
		if row[0] == "1" && row[2] == "Minimum number of reviewers" {
			assert.Equal(t, "1", row[3])
			assert.Equal(t, "repository payments-api, refs/heads/main (Exact)", row[1])
			sawCount = true
		}
	}
	assert.True(t, sawJudged && sawCount && sawDisabled, "table rows: %v", table.Rows)
}

func TestPolicyScopes(t *testing.T) {
	tests := []struct {
		name     string
		policy   *azdosim.Policy
		branch   string
		want     []string
		requests int
	}{
		{name: "repository exact", policy: compliant(1, nil), branch: mainRef, want: []string{}, requests: 2},
		{name: "repository exact, other branch", policy: compliant(1, nil), branch: "refs/heads/master", want: []string{"PR001"}, requests: 2},
		{name: "other repository exact", policy: azdosim.MinimumReviewersPolicy(1, otherRepoID, mainRef, "Exact", 2, map[string]any{"blockLastPusherVote": true}), branch: mainRef, want: []string{"PR001"}, requests: 2},
		{name: "project-wide exact", policy: azdosim.MinimumReviewersPolicy(1, "", mainRef, "Exact", 2, map[string]any{"blockLastPusherVote": true}), branch: mainRef, want: []string{}, requests: 2},
		{name: "project-wide prefix", policy: azdosim.MinimumReviewersPolicy(1, "", "refs/heads/release/", "Prefix", 2, map[string]any{"blockLastPusherVote": true}), branch: "refs/heads/release/2025.06", want: []string{}, requests: 2},
		{name: "project-wide prefix, other folder", policy: azdosim.MinimumReviewersPolicy(1, "", "refs/heads/release/", "Prefix", 2, map[string]any{"blockLastPusherVote": true}), branch: mainRef, want: []string{"PR001"}, requests: 2},
		{name: "project-wide default branch", policy: defaultBranchPolicy(nil), branch: mainRef, want: []string{}, requests: 3},
		{name: "project-wide default branch, not the default", policy: defaultBranchPolicy(nil), branch: "refs/heads/release/1", want: []string{"PR001"}, requests: 2},
		{name: "repository default branch", policy: defaultBranchPolicy(ptr(repoID)), branch: mainRef, want: []string{}, requests: 3},
		{name: "other repository's default branch", policy: defaultBranchPolicy(ptr(otherRepoID)), branch: mainRef, want: []string{"PR001"}, requests: 2},
		{name: "repository-wide, every branch", policy: scoped(1, map[string]any{"repositoryId": repoID}), branch: "refs/heads/master", want: []string{}, requests: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld()
			w.proj.AddPolicies(tt.policy)
			h := start(t, w.sc, azdosim.Options{})
			r := h.mustEvaluate(noChange(), map[string]string{"BUILD_SOURCEBRANCH": tt.branch})
			assert.Equal(t, tt.want, rules(r))
			assert.Equal(t, tt.requests, h.sim.Count(""), "requests")
		})
	}
}

func ptr(s string) *string { return &s }

// defaultBranchPolicy is a compliant policy scoped to the default branch of repo (nil: of every
// repository), with refName null as the service stores it.
func defaultBranchPolicy(repo *string) *azdosim.Policy {
	var id any
	if repo != nil {
		id = *repo
	}
	return scoped(1, map[string]any{"repositoryId": id, "refName": nil, "matchKind": "DefaultBranch"})
}

func scoped(id int, scope map[string]any) *azdosim.Policy {
	p := compliant(id, nil)
	p.Settings["scope"] = []any{scope}
	return p
}

// A server that ignores refName and repositoryId returns every policy of the project; the gate's
// own scope check must keep policies of other repositories and branches from counting.
func TestPolicyScopeRecheckedClientSide(t *testing.T) {
	w := newWorld()
	w.proj.AddPolicies(
		azdosim.MinimumReviewersPolicy(1, otherRepoID, mainRef, "Exact", 2, map[string]any{"blockLastPusherVote": true}),
		azdosim.MinimumReviewersPolicy(2, repoID, "refs/heads/develop", "Exact", 2, map[string]any{"blockLastPusherVote": true}),
		azdosim.MinimumReviewersPolicy(3, "", "refs/heads/release/", "Prefix", 2, map[string]any{"blockLastPusherVote": true}),
		azdosim.MinimumReviewersPolicy(4, repoID, mainRef, "Exact", 1, map[string]any{"blockLastPusherVote": true}),
	)
	sim, err := azdosim.New(w.sc, azdosim.Options{})
	require.NoError(t, err)
	widen := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		q.Del("refName")
		q.Del("repositoryId")
		r.URL.RawQuery = q.Encode()
		sim.ServeHTTP(rw, r)
	})
	h := serve(t, sim, widen)
	r := h.mustEvaluate(noChange(), nil)
	assert.Equal(t, []string{"PR002"}, rules(r), "only policy 4 applies to main of payments-api")
	assert.Equal(t, "false", output(r, "policyCompliant"))
	var ignored []string
	for _, n := range r.Notes {
		if strings.Contains(n, "it was ignored") {
			ignored = append(ignored, n)
		}
	}
	require.Len(t, ignored, 3, "each ignored policy is named: %v", r.Notes)
	assert.Contains(t, ignored[0], "policy 1 for refs/heads/main, but none of its scopes (repository 49c1d4d0-be28-4f20-9e0a-4ecfafc39257, refs/heads/main (Exact))")
}

func TestPolicyPaging(t *testing.T) {
	w := newWorld()
	for id := 1; id <= 6; id++ {
		w.proj.AddPolicies(compliant(id, map[string]any{"minimumApproverCount": 1}))
	}
	w.proj.AddPolicies(compliant(9, nil)) // the only compliant one, on the last page
	h := start(t, w.sc, azdosim.Options{PolicyPageSize: 2})
	r := h.mustEvaluate(noChange(), nil)
	assert.Empty(t, r.Findings)
	assert.Equal(t, "true", output(r, "policyCompliant"))
	assert.Equal(t, 4, h.sim.Count(azdosim.RoutePolicyConfigurations), "7 policies at 2 per page")
	assert.Contains(t, r.Checks[1].Detail, "Judged: policy 9")
}
