package reviews

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/stagegate/stagegate/pkg/azdo"
	"github.com/stagegate/stagegate/pkg/finding"
)

// Web UI labels of the minimum-reviewers policy settings (Branch policies page), so that a
// finding names the checkbox to change.
const (
	labelMinimum      = "Minimum number of reviewers"
	labelCreatorVote  = "Allow requestors to approve their own changes"
	labelDownvotes    = "Allow completion even if some reviewers vote to wait or reject"
	labelPushed       = "When new changes are pushed"
	labelEachIter     = "Require at least one approval on every iteration"
	labelLastIter     = "Require at least one approval on the last iteration"
	labelResetApprove = "Reset all approval votes (does not reset votes to reject or wait)"
	labelResetAll     = "Reset all code reviewer votes"
	labelLastPusher   = "Prohibit the most recent pusher from approving their own changes"
	labelPolicyToggle = "Require a minimum number of reviewers"
)

// applyState is whether a returned policy really applies to the branch, re-checked here so that
// a server (or proxy) that answers too broadly cannot make an unrelated policy count.
type applyState int

const (
	outOfScope applyState = iota
	applies
	pending // applies only through a DefaultBranch scope, and the default branch is not known yet
)

type shortfall struct {
	rule     string
	severity finding.Severity
	msg      string
}

type policyView struct {
	p     azdo.PolicyConfiguration
	state applyState
	scope string // the scope entries that can match the branch, described
	short []shortfall
}

func (v *policyView) usable() bool { return v.p.IsEnabled && v.p.IsBlocking && !v.p.IsDeleted }

func (v *policyView) counts() (errs, warns int) {
	for _, s := range v.short {
		if s.severity == finding.Error {
			errs++
		} else {
			warns++
		}
	}
	return errs, warns
}

// stronger orders candidate policies: fewest violations, then fewest warnings, then the most
// reviewers required, then the lowest id (for a stable choice).
func stronger(a, b *policyView) bool {
	ae, aw := a.counts()
	be, bw := b.counts()
	if ae != be {
		return ae < be
	}
	if aw != bw {
		return aw < bw
	}
	if a.p.Settings.MinimumApproverCount != b.p.Settings.MinimumApproverCount {
		return a.p.Settings.MinimumApproverCount > b.p.Settings.MinimumApproverCount
	}
	return a.p.ID < b.p.ID
}

func (r *run) checkPolicy(ctx context.Context) error {
	s := r.s
	pols, err := r.rd.GetPolicyConfigurations(ctx, s.Project, r.repoID, s.Branch, azdo.PolicyTypeMinimumReviewers)
	if err != nil {
		return fmt.Errorf("read the branch policies of %s: %w", s.Branch, err)
	}
	var views []*policyView
	for _, p := range pols {
		if !strings.EqualFold(p.TypeID, azdo.PolicyTypeMinimumReviewers) {
			continue // another type: the service did not filter by policyType
		}
		views = append(views, &policyView{p: p})
	}
	r.classify(views)
	best := judge(views)
	if (best == nil || hasErrors(best)) && r.hasPending(views) && !r.repoRead {
		// Only a DefaultBranch-scoped policy could still decide compliance: read the default branch.
		if err := r.readRepository(ctx); err != nil {
			return err
		}
		r.classify(views)
		best = judge(views)
	}
	r.reportPolicies(views, best)
	return nil
}

func (r *run) classify(views []*policyView) {
	for _, v := range views {
		v.state, v.scope = r.applies(v.p)
		v.short = shortfalls(v.p, r.s.MinApprovers)
	}
}

func (r *run) hasPending(views []*policyView) bool {
	for _, v := range views {
		if v.state == pending && v.usable() {
			return true
		}
	}
	return false
}

func hasErrors(v *policyView) bool {
	e, _ := v.counts()
	return e > 0
}

// judge picks the policy to report on. Azure DevOps enforces every applicable policy on its
// own, so their settings do not add up: one policy must meet every requirement by itself.
func judge(views []*policyView) *policyView {
	var best *policyView
	for _, v := range views {
		if v.state != applies || !v.usable() {
			continue
		}
		if best == nil || stronger(v, best) {
			best = v
		}
	}
	return best
}

// applies re-checks a policy's scope against the repository and branch.
func (r *run) applies(p azdo.PolicyConfiguration) (applyState, string) {
	if len(p.Settings.Scope) == 0 {
		return applies, "every repository, every branch (no scope)"
	}
	state := outOfScope
	var desc []string
	for _, sc := range p.Settings.Scope {
		if sc.RepositoryID != nil && !strings.EqualFold(*sc.RepositoryID, r.repoID) {
			continue
		}
		st := outOfScope
		ref := strings.TrimSuffix(sc.RefName, "*")
		switch strings.ToLower(sc.MatchKind) {
		case "exact":
			if strings.EqualFold(sc.RefName, r.s.Branch) {
				st = applies
			}
		case "prefix":
			if len(r.s.Branch) >= len(ref) && strings.EqualFold(r.s.Branch[:len(ref)], ref) {
				st = applies
			}
		case "defaultbranch":
			switch {
			case r.repoRead && strings.EqualFold(r.defaultBranch, r.s.Branch):
				st = applies
			case !r.repoRead:
				st = pending
			}
		case "":
			if sc.RefName == "" {
				st = applies // repository-wide: every branch
			}
		}
		if st == outOfScope {
			continue
		}
		desc = append(desc, r.describeScope(sc))
		if st == applies || state == outOfScope {
			state = st
		}
	}
	if state == outOfScope {
		all := make([]string, 0, len(p.Settings.Scope))
		for _, sc := range p.Settings.Scope {
			all = append(all, r.describeScope(sc))
		}
		return outOfScope, strings.Join(all, "; ")
	}
	return state, strings.Join(desc, "; ")
}

func (r *run) describeScope(sc azdo.PolicyScope) string {
	repo := "every repository"
	if sc.RepositoryID != nil {
		repo = "repository " + *sc.RepositoryID
		if strings.EqualFold(*sc.RepositoryID, r.repoID) {
			repo = "repository " + r.repoLabel
		}
	}
	switch strings.ToLower(sc.MatchKind) {
	case "exact":
		return fmt.Sprintf("%s, %s (Exact)", repo, sc.RefName)
	case "prefix":
		return fmt.Sprintf("%s, %s* (Prefix)", repo, strings.TrimSuffix(sc.RefName, "*"))
	case "defaultbranch":
		if r.repoRead {
			return fmt.Sprintf("%s, default branch %s (DefaultBranch)", repo, r.defaultBranch)
		}
		return fmt.Sprintf("%s, default branch (DefaultBranch)", repo)
	case "":
		if sc.RefName == "" {
			return repo + ", every branch"
		}
	}
	return fmt.Sprintf("%s, %s (%s)", repo, sc.RefName, sc.MatchKind)
}

func shortfalls(p azdo.PolicyConfiguration, minimum int) []shortfall {
	st := p.Settings
	var out []shortfall
	if st.MinimumApproverCount < minimum {
		out = append(out, shortfall{RuleTooFewReviewers, finding.Error,
			fmt.Sprintf("%q is %d in branch policy %d; at least %d is required (minimumApprovers).", labelMinimum, st.MinimumApproverCount, p.ID, minimum)})
	}
	if st.CreatorVoteCounts {
		out = append(out, shortfall{RuleCreatorVoteCounts, finding.Error,
			fmt.Sprintf("%q is selected in branch policy %d, so an author's own approval counts; clear it.", labelCreatorVote, p.ID)})
	}
	if st.AllowDownvotes {
		out = append(out, shortfall{RuleAllowDownvotes, finding.Error,
			fmt.Sprintf("%q is selected in branch policy %d, so a pull request can complete over a rejection; clear it.", labelDownvotes, p.ID)})
	}
	// Requiring an approval on every iteration also requires one on the last: it is accepted too.
	if !st.ResetOnSourcePush && !st.ResetRejectionsOnSourcePush && !st.RequireVoteOnLastIteration && !st.RequireVoteOnEachIteration {
		out = append(out, shortfall{RuleNoResetOnPush, finding.Error,
			fmt.Sprintf("%q: none of %q, %q or %q is selected in branch policy %d, so approvals given before a later push still count; select one.",
				labelPushed, labelResetApprove, labelResetAll, labelLastIter, p.ID)})
	}
	if !st.BlockLastPusherVote {
		out = append(out, shortfall{RuleLastPusherVote, finding.Warning,
			fmt.Sprintf("%q is not selected in branch policy %d, so whoever pushed last can approve their own changes; select it.", labelLastPusher, p.ID)})
	}
	return out
}

func (r *run) reportPolicies(views []*policyView, best *policyView) {
	s := r.s
	sort.SliceStable(views, func(i, j int) bool { return views[i].p.ID < views[j].p.ID })
	var relevant []*policyView
	for _, v := range views {
		if v.state == outOfScope {
			r.report.Notes = append(r.report.Notes, fmt.Sprintf("Azure DevOps returned minimum-reviewers policy %d for %s, but none of its scopes (%s) matches that branch: it was ignored.", v.p.ID, s.Branch, v.scope))
			continue
		}
		relevant = append(relevant, v)
	}
	where := fmt.Sprintf("%s in repository %s", s.Branch, r.repoLabel)
	detail := fmt.Sprintf("Minimum-reviewers policies that apply to %s (repository and project-wide scopes): %d.", where, len(relevant))
	if best != nil {
		detail += fmt.Sprintf(" Judged: policy %d (%s).", best.p.ID, best.scope)
		if len(relevant) > 1 {
			detail += " Each policy is enforced on its own, so one of them must meet every requirement: the strongest is judged."
		}
	}
	r.report.Checks = append(r.report.Checks, finding.Check{Name: checkPolicy, Detail: detail})

	if best == nil {
		msg := fmt.Sprintf("No enabled, blocking minimum-reviewers policy (%q) applies to %s.", labelPolicyToggle, where)
		var why []string
		for _, v := range relevant {
			switch {
			case v.p.IsDeleted:
				why = append(why, fmt.Sprintf("policy %d is deleted", v.p.ID))
			case !v.p.IsEnabled:
				why = append(why, fmt.Sprintf("policy %d is disabled", v.p.ID))
			case !v.p.IsBlocking:
				why = append(why, fmt.Sprintf("policy %d is optional (not blocking)", v.p.ID))
			case v.state == pending:
				why = append(why, fmt.Sprintf("policy %d applies only to the default branch", v.p.ID))
			}
		}
		if len(why) > 0 {
			msg += " Found: " + strings.Join(why, "; ") + "."
		}
		msg += fmt.Sprintf(" Turn on %q with at least %d reviewers.", labelPolicyToggle, s.MinApprovers)
		r.add(finding.Finding{Rule: RuleNoPolicy, Severity: finding.Error, Check: checkPolicy, Message: msg,
			Location:    finding.Location{Logical: r.logical()},
			Fingerprint: finding.Fingerprint(RuleNoPolicy, r.repoKey(), strings.ToLower(s.Branch))})
	} else {
		for _, sf := range best.short {
			r.add(finding.Finding{Rule: sf.rule, Severity: sf.severity, Check: checkPolicy, Message: sf.msg,
				Location:    finding.Location{Logical: fmt.Sprintf("%s/policy/%d", r.logical(), best.p.ID)},
				Fingerprint: finding.Fingerprint(sf.rule, r.repoKey(), strings.ToLower(s.Branch))})
		}
		r.policyCompliant = !hasErrors(best)
	}
	if len(relevant) > 0 {
		r.report.Tables = append(r.report.Tables, policyTable(relevant, best))
	}
}

func onOff(b bool) string {
	if b {
		return "selected"
	}
	return "not selected"
}

func policyTable(views []*policyView, best *policyView) finding.Table {
	t := finding.Table{Title: "Branch policies: " + labelPolicyToggle, Header: []string{"Policy", "Scope", "Setting", "Value"}}
	for _, v := range views {
		id := fmt.Sprintf("%d", v.p.ID)
		status := []string{map[bool]string{true: "enabled", false: "disabled"}[v.p.IsEnabled],
			map[bool]string{true: "blocking", false: "optional"}[v.p.IsBlocking]}
		if v.p.IsDeleted {
			status = append(status, "deleted")
		}
		switch {
		case v == best && !hasErrors(v):
			status = append(status, "judged: compliant")
		case v == best:
			status = append(status, "judged: not compliant")
		case v.state == pending:
			status = append(status, "default-branch scope not confirmed (not needed)")
		}
		st := v.p.Settings
		rows := [][]string{
			{"Status", strings.Join(status, ", ")},
			{labelMinimum, fmt.Sprintf("%d", st.MinimumApproverCount)},
			{labelCreatorVote, onOff(st.CreatorVoteCounts)},
			{labelLastPusher, onOff(st.BlockLastPusherVote)},
			{labelDownvotes, onOff(st.AllowDownvotes)},
			{labelPushed + ": " + labelEachIter, onOff(st.RequireVoteOnEachIteration)},
			{labelPushed + ": " + labelLastIter, onOff(st.RequireVoteOnLastIteration)},
			{labelPushed + ": " + labelResetApprove, onOff(st.ResetOnSourcePush)},
			{labelPushed + ": " + labelResetAll, onOff(st.ResetRejectionsOnSourcePush)},
		}
		for _, row := range rows {
			t.Rows = append(t.Rows, []string{id, v.scope, row[0], row[1]})
		}
	}
	return t
}
