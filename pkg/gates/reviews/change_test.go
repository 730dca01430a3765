package reviews_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/azdo/azdosim"
	"github.com/stagegate/stagegate/pkg/finding"
)

func TestVotes(t *testing.T) {
	tests := []struct {
		name      string
		reviewers []azdosim.Reviewer
		inputs    map[string]string
		want      []string
		approvers string
		wantIn    map[string]string
	}{
		{name: "two approvals", reviewers: []azdosim.Reviewer{rv("bob", 10), rv("carol", 10)}, want: []string{}, approvers: "2"},
		{name: "author's own vote never counts", reviewers: []azdosim.Reviewer{rv("alice", 10), rv("bob", 10)}, want: []string{"PR011"}, approvers: "1",
			wantIn: map[string]string{"PR011": "Alice Developer (the author)"}},
		{name: "a group's vote never counts", reviewers: []azdosim.Reviewer{rv("team", 10), rv("bob", 10)}, want: []string{"PR011"}, approvers: "1",
			wantIn: map[string]string{"PR011": "Payments Team (a group"}},
		{name: "member rolled up into a group counts once", reviewers: []azdosim.Reviewer{rv("bob", 10, "team"), rv("team", 10), rv("carol", 10)}, want: []string{}, approvers: "2"},
		{name: "roll-up alone is one person", reviewers: []azdosim.Reviewer{rv("bob", 10, "team"), rv("team", 10)}, want: []string{"PR011"}, approvers: "1",
			wantIn: map[string]string{"PR011": "approved by 1 distinct person other than its author (Bob Reviewer); 2 required"}},
		{name: "approved with suggestions counts by default", reviewers: []azdosim.Reviewer{rv("bob", 5), rv("carol", 10)}, want: []string{}, approvers: "2"},
		{name: "approved with suggestions not counted when turned off", reviewers: []azdosim.Reviewer{rv("bob", 5), rv("carol", 10)},
			inputs: map[string]string{"countApprovedWithSuggestions": "false"}, want: []string{"PR011"}, approvers: "1",
			wantIn: map[string]string{"PR011": "countApprovedWithSuggestions is false"}},
		{name: "waiting for author is not a rejection", reviewers: []azdosim.Reviewer{rv("bob", -5), rv("carol", 10), rv("erin", 10)}, want: []string{}, approvers: "2"},
		{name: "waiting for author is not an approval", reviewers: []azdosim.Reviewer{rv("bob", -5), rv("carol", 10)}, want: []string{"PR011"}, approvers: "1"},
		{name: "rejection left standing", reviewers: []azdosim.Reviewer{rv("bob", 10), rv("carol", 10), rv("erin", -10)}, want: []string{"PR012"}, approvers: "2",
			wantIn: map[string]string{"PR012": "Erin Security voted Rejected (-10)"}},
		{name: "rejection rolled up into a group is reported once", reviewers: []azdosim.Reviewer{rv("bob", 10), rv("carol", 10), rv("erin", -10, "team"), rv("team", -10)},
			want: []string{"PR012"}, approvers: "2", wantIn: map[string]string{"PR012": "completed with a rejection left standing: Erin Security voted"}},
		{name: "no reviewers", want: []string{"PR011"}, approvers: "0", wantIn: map[string]string{"PR011": "approved by 0 distinct people"}},
		{name: "minimumApprovers 1", reviewers: []azdosim.Reviewer{rv("bob", 10)}, inputs: map[string]string{"minimumApprovers": "1"}, want: []string{}, approvers: "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld()
			w.completedPR(21, mergeSHA, tt.reviewers...)
			h := start(t, w.sc, azdosim.Options{})
			inputs := noPolicy()
			for k, v := range tt.inputs {
				inputs[k] = v
			}
			r := h.mustEvaluate(inputs, nil)
			assert.Equal(t, tt.want, rules(r))
			assert.Equal(t, tt.approvers, output(r, "approvers"))
			assert.Equal(t, "21", output(r, "pullRequestId"))
			for rule, text := range tt.wantIn {
				assert.Contains(t, findingOf(t, r, rule).Message, text)
			}
			for _, f := range r.Findings {
				assert.Contains(t, f.URL, "/pullrequest/21")
				assert.Equal(t, "Pull request", f.Check)
			}
			// locations, pull request query, pull request.
			assert.Equal(t, 3, h.sim.Count(""), "requests")
		})
	}
}

func TestChangeEvidence(t *testing.T) {
	approved := []azdosim.Reviewer{rv("bob", 10), rv("carol", 10)}
	tests := []struct {
		name   string
		setup  func(w *world)
		commit string
		want   []string
		prID   string
		wantIn map[string]string
	}{
		{name: "merge commit of a completed pull request", setup: func(w *world) { w.completedPR(21, mergeSHA, approved...) }, commit: mergeSHA, want: []string{}, prID: "21"},
		{name: "direct push", setup: func(w *world) { w.completedPR(21, mergeSHA, approved...) }, commit: pushedSHA, want: []string{"PR010"}, prID: "",
			wantIn: map[string]string{"PR010": "Commit " + pushedSHA + " reached refs/heads/main without a completed pull request"}},
		{name: "active pull request does not count", setup: func(w *world) {
			pr := w.completedPR(21, mergeSHA, approved...)
			pr.Status = "active"
		}, commit: mergeSHA, want: []string{"PR010"}, prID: "", wantIn: map[string]string{"PR010": "pull request 21 (active, into refs/heads/main)"}},
		{name: "abandoned pull request does not count", setup: func(w *world) {
			pr := w.completedPR(21, mergeSHA, approved...)
			pr.Status = "abandoned"
		}, commit: mergeSHA, want: []string{"PR010"}, prID: ""},
		{name: "pull request into another branch does not count", setup: func(w *world) {
			pr := w.completedPR(21, mergeSHA, approved...)
			pr.TargetRefName = "refs/heads/develop"
		}, commit: mergeSHA, want: []string{"PR010"}, prID: "", wantIn: map[string]string{"PR010": "(completed, into refs/heads/develop)"}},
		{name: "found by commit when not the merge commit", setup: func(w *world) {
			pr := w.completedPR(21, otherSHA, approved...)
			pr.Commits = []string{mergeSHA}
		}, commit: mergeSHA, want: []string{}, prID: "21"},
		{name: "merge commit match preferred", setup: func(w *world) {
			pr := w.completedPR(20, otherSHA, rv("bob", 10))
			pr.Commits = []string{mergeSHA}
			pr.CompletionOptions.BypassPolicy = true
			w.completedPR(21, mergeSHA, approved...)
		}, commit: mergeSHA, want: []string{}, prID: "21"},
		{name: "bypass with reason", setup: func(w *world) {
			pr := w.completedPR(21, mergeSHA, approved...)
			pr.ClosedBy = "dave"
			pr.CompletionOptions = &azdosim.CompletionOptions{BypassPolicy: true, BypassReason: "Incident INC-4711; on-call lead said OK"}
		}, commit: mergeSHA, want: []string{"PR013"}, prID: "21",
			wantIn: map[string]string{"PR013": `completed by Dave Oncall with "Override branch policies and enable merge" (policy bypass); reason: "Incident INC-4711; on-call lead said OK"`}},
		{name: "bypass without reason", setup: func(w *world) {
			pr := w.completedPR(21, mergeSHA, approved...)
			pr.CompletionOptions = &azdosim.CompletionOptions{BypassPolicy: true}
		}, commit: mergeSHA, want: []string{"PR013"}, prID: "21", wantIn: map[string]string{"PR013": "no reason was given"}},
		{name: "bypass, one approval and a rejection", setup: func(w *world) {
			pr := w.completedPR(21, mergeSHA, rv("bob", 10), rv("erin", -10))
			pr.CompletionOptions = &azdosim.CompletionOptions{BypassPolicy: true, BypassReason: "hotfix"}
		}, commit: mergeSHA, want: []string{"PR011", "PR012", "PR013"}, prID: "21"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld()
			tt.setup(w)
			h := start(t, w.sc, azdosim.Options{})
			r := h.mustEvaluate(noPolicy(), map[string]string{"BUILD_SOURCEVERSION": tt.commit})
			assert.Equal(t, tt.want, rules(r))
			assert.Equal(t, tt.prID, output(r, "pullRequestId"))
			for rule, text := range tt.wantIn {
				assert.Contains(t, findingOf(t, r, rule).Message, text)
			}
			assert.Equal(t, 1, h.sim.Count(azdosim.RoutePullRequestQuery), "one pull request query")
			if tt.prID == "" {
				assert.Equal(t, "0", output(r, "approvers"))
				assert.Zero(t, h.sim.Count(azdosim.RoutePullRequest))
			}
		})
	}
}

// Fingerprints stay put across runs and differ per pull request and per direct-pushed commit.
func TestFingerprints(t *testing.T) {
	w := newWorld()
	w.completedPR(21, mergeSHA, rv("bob", 10))
	w.completedPR(22, otherSHA, rv("bob", 10))
	w.proj.AddPolicies(compliant(1, map[string]any{"minimumApproverCount": 1}))
	h := start(t, w.sc, azdosim.Options{})
	fp := func(commit, rule string) string {
		r := h.mustEvaluate(nil, map[string]string{"BUILD_SOURCEVERSION": commit})
		return findingOf(t, r, rule).Fingerprint
	}
	assert.Equal(t, fp(mergeSHA, "PR011"), fp(mergeSHA, "PR011"))
	assert.NotEqual(t, fp(mergeSHA, "PR011"), fp(otherSHA, "PR011"), "per pull request")
	assert.Equal(t, fp(mergeSHA, "PR002"), fp(otherSHA, "PR002"), "policy findings are per repository and branch")
	assert.NotEqual(t, fp(pushedSHA, "PR010"), fp("f"+pushedSHA[1:], "PR010"), "per direct-pushed commit")
}

func TestSummaryTables(t *testing.T) {
	w := newWorld()
	w.completedPR(21, mergeSHA, rv("bob", 10, "team"), rv("team", 10), rv("carol", 5), rv("alice", 10), rv("erin", -5))
	w.proj.AddPolicies(compliant(1, nil))
	h := start(t, w.sc, azdosim.Options{})
	r := h.mustEvaluate(nil, nil)
	assert.Empty(t, r.Findings)
	require.Len(t, r.Tables, 3)
	titles := []string{r.Tables[0].Title, r.Tables[1].Title, r.Tables[2].Title}
	assert.Equal(t, []string{"Branch policies: Require a minimum number of reviewers", "Pull request", "Reviewers"}, titles)
	prRows := map[string]string{}
	for _, row := range r.Tables[1].Rows {
		prRows[row[0]] = row[1]
	}
	assert.Equal(t, h.url+"/Payments/_git/payments-api/pullrequest/21", prRows["Link"])
	assert.Equal(t, "refs/heads/feature/x into refs/heads/main", prRows["Branches"])
	assert.Equal(t, "no", prRows["Policy bypass"])
	votes := map[string][]string{}
	for _, row := range r.Tables[2].Rows {
		votes[row[0]] = row[1:]
	}
	assert.Equal(t, []string{"bob.reviewer@example.com", "Approved (10)", "yes (also stands for Payments Team)"}, votes["Bob Reviewer"])
	assert.Equal(t, "no: a group: its members' votes count in person", votes["Payments Team"][2])
	assert.Equal(t, "Approved with suggestions (5)", votes["Carol Architect"][1])
	assert.Equal(t, "no: the author", votes["Alice Developer"][2])
	assert.Equal(t, "Waiting for author (-5)", votes["Erin Security"][1])
	assert.Equal(t, "2", output(r, "approvers"))
	assert.Equal(t, []string{"Production branch", "Branch policy", "Pull request"}, []string{r.Checks[0].Name, r.Checks[1].Name, r.Checks[2].Name})
	assert.Len(t, r.Rules, 11)
	for _, f := range r.Findings {
		assert.NotEqual(t, finding.Note, f.Severity)
	}
}
