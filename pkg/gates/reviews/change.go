package reviews

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/stagegate/stagegate/pkg/azdo"
	"github.com/stagegate/stagegate/pkg/finding"
)

func (r *run) checkChange(ctx context.Context) error {
	s := r.s
	prs, err := r.rd.QueryPullRequestsByCommit(ctx, s.Project, r.repoID, s.Commit)
	if err != nil {
		return fmt.Errorf("find the pull request that brought commit %s: %w", s.Commit, err)
	}
	candidates, ignored := pickCandidates(prs, s.Branch)
	if len(candidates) == 0 {
		r.directPush(ignored, "")
		return nil
	}
	chosen := candidates[0]
	// The query's results may lack completionOptions and closedBy: read the pull request itself.
	full, err := r.rd.GetPullRequest(ctx, s.Project, r.repoID, chosen.ID)
	if err != nil {
		return fmt.Errorf("read pull request %d: %w", chosen.ID, err)
	}
	if !strings.EqualFold(full.Status, "completed") || !strings.EqualFold(full.TargetRef, s.Branch) {
		r.directPush(ignored, fmt.Sprintf("pull request %d was listed as completed into %s, but reads as %s into %s", full.ID, s.Branch, full.Status, full.TargetRef))
		return nil
	}
	full.MatchedBy = chosen.MatchedBy
	r.judgeChange(full, len(candidates)-1)
	return nil
}

// pickCandidates keeps completed pull requests into branch: merge-commit matches first (the
// commit is the PR's merge), then the earliest completed pull request that contained the commit.
func pickCandidates(prs []azdo.PullRequest, branch string) (candidates []azdo.PullRequest, ignored []string) {
	for _, pr := range prs {
		if strings.EqualFold(pr.Status, "completed") && strings.EqualFold(pr.TargetRef, branch) {
			candidates = append(candidates, pr)
			continue
		}
		ignored = append(ignored, fmt.Sprintf("pull request %d (%s, into %s)", pr.ID, orNone(pr.Status), orNone(pr.TargetRef)))
	}
	sort.SliceStable(candidates, func(i, j int) bool {
		a, b := candidates[i], candidates[j]
		am, bm := a.MatchedBy == azdo.MatchedLastMergeCommit, b.MatchedBy == azdo.MatchedLastMergeCommit
		if am != bm {
			return am
		}
		if !a.ClosedDate.Equal(b.ClosedDate) && !a.ClosedDate.IsZero() && !b.ClosedDate.IsZero() {
			return a.ClosedDate.Before(b.ClosedDate)
		}
		return false
	})
	return candidates, ignored
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func (r *run) directPush(ignored []string, extra string) {
	s := r.s
	msg := fmt.Sprintf("Commit %s reached %s without a completed pull request into %s: it was pushed directly (or merged outside a pull request), so nobody reviewed it.", s.Commit, s.Branch, s.Branch)
	if extra != "" {
		msg += " " + extra + "."
	}
	if len(ignored) > 0 {
		msg += " Pull requests found for this commit that do not count: " + strings.Join(ignored, "; ") + "."
	}
	r.report.Checks = append(r.report.Checks, finding.Check{Name: checkChange,
		Detail: fmt.Sprintf("Commit %s on %s: no completed pull request into the branch.", s.Commit, s.Branch)})
	r.add(finding.Finding{Rule: RuleDirectPush, Severity: finding.Error, Check: checkChange, Message: msg,
		Location: finding.Location{Logical: r.logical() + "@" + s.Commit},
		// The commit is part of the identity: accepting one emergency push in a baseline must not
		// accept every later direct push.
		Fingerprint: finding.Fingerprint(RuleDirectPush, r.repoKey(), strings.ToLower(s.Branch), s.Commit)})
}

// vote describes one reviewer's vote and whether it counts as an approval.
type vote struct {
	rv      azdo.Reviewer
	counted bool
	why     string // why it does not count, or how it rolled up
}

// tally counts approvals by distinct people: never the author, never a group itself (a group's
// vote is the roll-up of its members' votes, who are counted in person), each person once; 10
// counts, 5 counts when countSuggestions is true.
func tally(pr azdo.PullRequest, countSuggestions bool) (votes []vote, approvers []azdo.Reviewer, rejections []azdo.Reviewer) {
	groups := map[string]string{}
	for _, rv := range pr.Reviewers {
		if rv.IsContainer {
			groups[strings.ToLower(rv.ID)] = rv.DisplayName
		}
	}
	rolledUp := map[string]bool{} // groups whose rejection is a member's rejection
	for _, rv := range pr.Reviewers {
		if !rv.IsContainer && rv.Vote == azdo.VoteRejected {
			for _, g := range rv.VotedFor {
				rolledUp[strings.ToLower(g)] = true
			}
		}
	}
	seen := map[string]bool{}
	for _, rv := range pr.Reviewers {
		v := vote{rv: rv}
		key := personKey(rv.ID, rv.UniqueName, rv.DisplayName)
		switch {
		case rv.IsContainer:
			v.why = "a group: its members' votes count in person"
		case samePerson(rv.ID, rv.UniqueName, pr.CreatedBy):
			v.why = "the author"
		case seen[key]:
			v.why = "listed twice: counted once"
		case rv.Vote == azdo.VoteApproved, rv.Vote == azdo.VoteApprovedWithSuggestions && countSuggestions:
			v.counted = true
			seen[key] = true
			approvers = append(approvers, rv)
			if len(rv.VotedFor) > 0 {
				var names []string
				for _, g := range rv.VotedFor {
					names = append(names, orDefault(groups[strings.ToLower(g)], g))
				}
				v.why = "also stands for " + strings.Join(names, ", ")
			}
		case rv.Vote == azdo.VoteApprovedWithSuggestions:
			v.why = "approved with suggestions: countApprovedWithSuggestions is false"
		default:
			v.why = "not an approval"
		}
		if rv.Vote == azdo.VoteRejected && !(rv.IsContainer && rolledUp[strings.ToLower(rv.ID)]) {
			rejections = append(rejections, rv)
		}
		votes = append(votes, v)
	}
	return votes, approvers, rejections
}

func personKey(id, unique, display string) string {
	switch {
	case id != "":
		return "id:" + strings.ToLower(id)
	case unique != "":
		return "u:" + strings.ToLower(unique)
	}
	return "d:" + strings.ToLower(display)
}

func samePerson(id, unique string, who azdo.Identity) bool {
	if id != "" && who.ID != "" {
		return strings.EqualFold(id, who.ID)
	}
	return unique != "" && strings.EqualFold(unique, who.UniqueName)
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func voteLabel(v int) string {
	switch v {
	case azdo.VoteApproved:
		return "Approved (10)"
	case azdo.VoteApprovedWithSuggestions:
		return "Approved with suggestions (5)"
	case azdo.VoteNone:
		return "No vote (0)"
	case azdo.VoteWaitingForAuthor:
		return "Waiting for author (-5)"
	case azdo.VoteRejected:
		return "Rejected (-10)"
	}
	return strconv.Itoa(v)
}

func names(rs []azdo.Reviewer) string {
	out := make([]string, len(rs))
	for i, rv := range rs {
		out[i] = orDefault(rv.DisplayName, orDefault(rv.UniqueName, rv.ID))
	}
	return strings.Join(out, ", ")
}

func (r *run) judgeChange(pr azdo.PullRequest, others int) {
	s := r.s
	votes, approvers, rejections := tally(pr, s.CountSuggestions)
	r.prID, r.approvals = pr.ID, len(approvers)
	title := fmt.Sprintf("pull request %d (%s)", pr.ID, pr.Title)
	detail := fmt.Sprintf("Commit %s reached %s through %s, completed %s; approvals by distinct people other than the author: %d of %d required.",
		s.Commit, s.Branch, title, matchedHow(pr.MatchedBy), len(approvers), s.MinApprovers)
	if others > 0 {
		detail += fmt.Sprintf(" %d other completed pull request(s) into the branch also contain the commit; the first to bring it is judged.", others)
	}
	r.report.Checks = append(r.report.Checks, finding.Check{Name: checkChange, Detail: detail})
	logical := fmt.Sprintf("%s/pullrequest/%d", r.repoLabel, pr.ID)
	add := func(rule, msg string) {
		r.add(finding.Finding{Rule: rule, Severity: finding.Error, Check: checkChange, Message: msg, URL: pr.WebURL,
			Location:    finding.Location{Logical: logical},
			Fingerprint: finding.Fingerprint(rule, r.repoKey(), strings.ToLower(s.Branch), strconv.Itoa(pr.ID))})
	}
	if len(approvers) < s.MinApprovers {
		msg := fmt.Sprintf("Pull request %d was approved by %d distinct %s other than its author", pr.ID, len(approvers), plural(len(approvers), "person", "people"))
		if len(approvers) > 0 {
			msg += " (" + names(approvers) + ")"
		}
		msg += fmt.Sprintf("; %d required (minimumApprovers).", s.MinApprovers)
		var not []string
		for _, v := range votes {
			if !v.counted && v.rv.Vote > 0 {
				not = append(not, fmt.Sprintf("%s (%s)", orDefault(v.rv.DisplayName, v.rv.ID), v.why))
			}
		}
		if len(not) > 0 {
			msg += " Approvals that do not count: " + strings.Join(not, "; ") + "."
		}
		add(RuleTooFewApprovals, msg)
	}
	if len(rejections) > 0 {
		add(RuleRejection, fmt.Sprintf("Pull request %d was completed with a rejection left standing: %s voted Rejected (-10).", pr.ID, names(rejections)))
	}
	if pr.CompletionOptions.BypassPolicy {
		by := orDefault(pr.ClosedBy.DisplayName, "someone")
		reason := "no reason was given"
		if strings.TrimSpace(pr.CompletionOptions.BypassReason) != "" {
			reason = fmt.Sprintf("reason: %q", pr.CompletionOptions.BypassReason)
		}
		add(RuleBypass, fmt.Sprintf("Pull request %d was completed by %s with \"Override branch policies and enable merge\" (policy bypass); %s.", pr.ID, by, reason))
	}
	r.report.Tables = append(r.report.Tables, prTable(pr), reviewerTable(votes))
}

func matchedHow(m string) string {
	if m == azdo.MatchedLastMergeCommit {
		return "with this commit as its merge commit"
	}
	return "containing this commit"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func prTable(pr azdo.PullRequest) finding.Table {
	bypass := "no"
	if pr.CompletionOptions.BypassPolicy {
		bypass = "yes: " + orDefault(pr.CompletionOptions.BypassReason, "(no reason given)")
	}
	rows := [][]string{
		{"Pull request", fmt.Sprintf("%d: %s", pr.ID, pr.Title)},
		{"Link", pr.WebURL},
		{"Status", pr.Status},
		{"Branches", pr.SourceRef + " into " + pr.TargetRef},
		{"Author", identityText(pr.CreatedBy)},
		{"Completed by", identityText(pr.ClosedBy)},
		{"Found by", map[bool]string{true: "merge commit", false: "commit"}[pr.MatchedBy == azdo.MatchedLastMergeCommit]},
		{"Policy bypass", bypass},
	}
	if !pr.ClosedDate.IsZero() {
		rows = append(rows, []string{"Completed", pr.ClosedDate.UTC().Format("2006-01-02 15:04 UTC")})
	}
	return finding.Table{Title: "Pull request", Header: []string{"Field", "Value"}, Rows: rows}
}

func identityText(id azdo.Identity) string {
	switch {
	case id.DisplayName != "" && id.UniqueName != "":
		return id.DisplayName + " (" + id.UniqueName + ")"
	case id.DisplayName != "":
		return id.DisplayName
	}
	return orDefault(id.UniqueName, "(unknown)")
}

func reviewerTable(votes []vote) finding.Table {
	t := finding.Table{Title: "Reviewers", Header: []string{"Reviewer", "Unique name", "Vote", "Counted as approval"}}
	for _, v := range votes {
		counted := "no: " + v.why
		if v.counted {
			counted = "yes"
			if v.why != "" {
				counted += " (" + v.why + ")"
			}
		}
		t.Rows = append(t.Rows, []string{orDefault(v.rv.DisplayName, v.rv.ID), v.rv.UniqueName, voteLabel(v.rv.Vote), counted})
	}
	if len(votes) == 0 {
		t.Rows = append(t.Rows, []string{"(no reviewers)", "", "", ""})
	}
	return t
}
