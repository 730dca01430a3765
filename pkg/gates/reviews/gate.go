// Package reviews implements the ProductionReviewGate task: it proves that the production branch
// requires independent reviews (a minimum-reviewers branch policy with no self-approval, no
// completion over rejections, and votes reset on push) and that the deployed commit really came
// through a completed pull request approved by enough people other than its author, with no
// rejection left standing and no policy bypass.
//
// Requests per run, common case (the repository given by id): one OPTIONS for location discovery,
// the policy configurations of the branch (one per page), one pull request query, and the pull
// request itself (its reviewers included): four. A repository given by name costs one more
// (GetRepository); so does a policy that applies only through a DefaultBranch scope, when no
// other policy already complies, because the default branch must be read to confirm the scope.
package reviews

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/stagegate/stagegate/pkg/azdo"
	"github.com/stagegate/stagegate/pkg/finding"
	"github.com/stagegate/stagegate/pkg/gaterun"
	"github.com/stagegate/stagegate/pkg/task"
)

// Rule ids. The task contract names none; these are stagegate's and stay stable.
const (
	RuleNoPolicy          = "PR001"
	RuleTooFewReviewers   = "PR002"
	RuleCreatorVoteCounts = "PR003"
	RuleAllowDownvotes    = "PR004"
	RuleNoResetOnPush     = "PR005"
	RuleLastPusherVote    = "PR006"
	RuleDirectPush        = "PR010"
	RuleTooFewApprovals   = "PR011"
	RuleRejection         = "PR012"
	RuleBypass            = "PR013"
	RuleNotProduction     = "PR020"
)

// Check names, as shown in the log groups and the summary.
const (
	checkBranch = "Production branch"
	checkPolicy = "Branch policy"
	checkChange = "Pull request"
)

// Output variable names (task.json outputVariables).
const (
	outPullRequestID   = "pullRequestId"
	outApprovers       = "approvers"
	outPolicyCompliant = "policyCompliant"
)

const policiesPath = "Project settings > Repositories > (repository) > Policies > Branch policies > (branch)"

// Rules describes every rule of the gate.
func Rules() []finding.Rule {
	return []finding.Rule{
		{ID: RuleNoPolicy, Name: "NoMinimumReviewersPolicy", Severity: finding.Error,
			Description: "No enabled, blocking minimum-reviewers branch policy applies to the production branch.",
			Help:        "Turn on \"Require a minimum number of reviewers\" for the branch (" + policiesPath + "), or for every repository of the project under Project settings > Repositories > Policies."},
		{ID: RuleTooFewReviewers, Name: "MinimumReviewersTooLow", Severity: finding.Error,
			Description: "The branch policy requires fewer reviewers than minimumApprovers.",
			Help:        "Raise \"Minimum number of reviewers\" in the branch policy to at least minimumApprovers."},
		{ID: RuleCreatorVoteCounts, Name: "RequestorsCanApproveOwnChanges", Severity: finding.Error,
			Description: "The branch policy lets the author of a pull request approve their own changes.",
			Help:        "Clear \"Allow requestors to approve their own changes\" in the branch policy."},
		{ID: RuleAllowDownvotes, Name: "CompletionDespiteRejection", Severity: finding.Error,
			Description: "The branch policy allows completion even when reviewers vote to wait or reject.",
			Help:        "Clear \"Allow completion even if some reviewers vote to wait or reject\" in the branch policy."},
		{ID: RuleNoResetOnPush, Name: "VotesSurviveNewPushes", Severity: finding.Error,
			Description: "Approvals survive new pushes: votes are not reset and no approval is required on the last iteration.",
			Help:        "Under \"When new changes are pushed\" select \"Reset all approval votes (does not reset votes to reject or wait)\", \"Reset all code reviewer votes\" or \"Require at least one approval on the last iteration\"."},
		{ID: RuleLastPusherVote, Name: "LastPusherCanApprove", Severity: finding.Warning,
			Description: "The most recent pusher may approve their own changes.",
			Help:        "Select \"Prohibit the most recent pusher from approving their own changes\" in the branch policy."},
		{ID: RuleDirectPush, Name: "DirectPush", Severity: finding.Error,
			Description: "The deployed commit did not reach the branch through a completed pull request (a direct push).",
			Help:        "Deploy only commits merged by a completed pull request; protect the branch with a minimum-reviewers policy so that direct pushes are refused."},
		{ID: RuleTooFewApprovals, Name: "TooFewApprovals", Severity: finding.Error,
			Description: "The pull request was approved by fewer distinct people (other than its author) than minimumApprovers.",
			Help:        "Have the change reviewed and approved by enough people other than its author before it is deployed."},
		{ID: RuleRejection, Name: "RejectionLeftStanding", Severity: finding.Error,
			Description: "A reviewer's rejection (-10) was still standing when the pull request completed.",
			Help:        "Resolve the rejection with the reviewer before completing; forbid completion over rejections in the branch policy."},
		{ID: RuleBypass, Name: "PolicyBypass", Severity: finding.Error,
			Description: "The pull request was completed by overriding the branch policies (policy bypass).",
			Help:        "Review the bypass; restrict the \"Bypass policies when completing pull requests\" permission to a break-glass group."},
		{ID: RuleNotProduction, Name: "NotProductionBranch", Severity: finding.Error,
			Description: "The deployed branch matches none of the production branch patterns (onNonProductionBranch=fail).",
			Help:        "Deploy from a production branch, or add the branch to productionBranches."},
	}
}

// Reader is what the gate reads from Azure DevOps; *azdo.Client implements it.
type Reader interface {
	azdo.PolicyReader
	azdo.PullRequestReader
}

// Connect opens the connection to Azure DevOps for one run.
type Connect func(ctx context.Context, rt *gaterun.Runtime) (Reader, error)

// ConnectFromEnv connects with the agent's job token (or AZURE_DEVOPS_EXT_PAT locally) to
// SYSTEM_COLLECTIONURI; retries are reported through rt.Warn.
func ConnectFromEnv(ctx context.Context, rt *gaterun.Runtime) (Reader, error) {
	orgURL, cred, err := azdo.FromAgentEnv(rt.Env)
	if err != nil {
		return nil, err
	}
	c, err := azdo.New(ctx, azdo.Options{OrgURL: orgURL, Credential: cred, Warn: rt.Warn, UserAgent: "ProductionReviewGate"})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Gate returns the gate definition for gaterun, connecting from the environment.
func Gate() gaterun.Gate { return GateWith(ConnectFromEnv) }

// GateWith returns the gate with an injected connection (tests, the demo, the server).
func GateWith(connect Connect) gaterun.Gate {
	return gaterun.Gate{
		Task:  "ProductionReviewGate",
		Title: "Production review gate",
		// Command is the CLI verb: stagegate reviews.
		Command: "reviews",
		Evaluate: func(ctx context.Context, rt *gaterun.Runtime) (*finding.Report, error) {
			return evaluate(ctx, rt, connect)
		},
	}
}

// run carries one evaluation.
type run struct {
	s      settings
	rt     *gaterun.Runtime
	rd     Reader
	report *finding.Report

	repoID        string // lower-case GUID
	repoLabel     string // name when known, else the input
	defaultBranch string // "" until read
	repoRead      bool

	policyCompliant bool
	prID            int
	approvals       int
}

func evaluate(ctx context.Context, rt *gaterun.Runtime, connect Connect) (*finding.Report, error) {
	if err := checkProvider(rt); err != nil {
		return nil, err
	}
	s, err := readSettings(rt)
	if err != nil {
		return nil, err
	}
	r := &run{s: s, rt: rt, report: &finding.Report{Gate: "ProductionReviewGate", Title: "Production review gate", Rules: Rules()}}
	r.repoLabel = s.Repository
	if id := task.Variable(rt.Env, "Build.Repository.ID"); id != "" && strings.EqualFold(id, s.Repository) {
		if name := task.Variable(rt.Env, "Build.Repository.Name"); name != "" {
			r.repoLabel = name
		}
	}
	if u, err := uuid.Parse(s.Repository); err == nil {
		r.repoID = u.String()
	}

	p, production := productionMatch(s.Patterns, s.Branch)
	if !production {
		return r.nonProduction(), nil
	}
	r.report.Checks = append(r.report.Checks, finding.Check{Name: checkBranch,
		Detail: fmt.Sprintf("%s is a production branch (pattern %s)", s.Branch, p.Text)})

	if r.rd, err = connect(ctx, rt); err != nil {
		return nil, fmt.Errorf("connect to Azure DevOps: %w", err)
	}
	if r.repoID == "" {
		// A name: resolve it once, so that policy scopes (which name repositories by id) can be
		// checked here, and the default branch is known.
		if err := r.readRepository(ctx); err != nil {
			return nil, err
		}
	}
	if s.CheckPolicy {
		if err := r.checkPolicy(ctx); err != nil {
			return nil, err
		}
	} else {
		r.report.Notes = append(r.report.Notes, "checkPolicy is false: the branch policies were not verified (policyCompliant is false).")
	}
	if s.CheckChange {
		if err := r.checkChange(ctx); err != nil {
			return nil, err
		}
	} else {
		r.report.Notes = append(r.report.Notes, "checkChange is false: the pull request that brought the commit was not verified.")
	}
	r.outputs()
	if st, ok := r.rd.(interface{ Requests() azdo.Stats }); ok {
		n := st.Requests()
		rt.Debug(fmt.Sprintf("Azure DevOps requests: %d (%d retries) %v", n.Total, n.Retries, n.ByCall))
	}
	return r.report, nil
}

// checkProvider fails closed for a pipeline whose own repository is not Azure Repos Git: branch
// policies and pull requests of GitHub, Bitbucket or TFVC cannot be read here.
func checkProvider(rt *gaterun.Runtime) error {
	provider := task.Variable(rt.Env, "Build.Repository.Provider")
	if provider == "" || strings.EqualFold(provider, "TfsGit") {
		return nil
	}
	repo := rt.Inputs.Raw(inRepository)
	id := task.Variable(rt.Env, "Build.Repository.ID")
	name := task.Variable(rt.Env, "Build.Repository.Name")
	// An explicit repository other than the pipeline's own is an Azure Repos repository by
	// contract; the provider variable describes the pipeline's repository only.
	if repo != "" && !strings.EqualFold(repo, id) && !strings.EqualFold(repo, name) {
		return nil
	}
	return fmt.Errorf("the pipeline's repository is hosted by %q (BUILD_REPOSITORY_PROVIDER), not Azure Repos Git (TfsGit): "+
		"ProductionReviewGate reads Azure Repos branch policies and pull requests and cannot evaluate %s repositories; "+
		"use the host's own branch protection for them, or set the input %q to an Azure Repos Git repository", provider, provider, inRepository)
}

func (r *run) readRepository(ctx context.Context) error {
	repo, err := r.rd.GetRepository(ctx, r.s.Project, r.s.Repository)
	if err != nil {
		return fmt.Errorf("read repository %q: %w", r.s.Repository, err)
	}
	u, perr := uuid.Parse(repo.ID)
	if perr != nil {
		return fmt.Errorf("read repository %q: Azure DevOps returned the id %q, which is not a GUID", r.s.Repository, repo.ID)
	}
	r.repoID, r.repoRead, r.defaultBranch = u.String(), true, repo.DefaultBranch
	if repo.Name != "" {
		r.repoLabel = repo.Name
	}
	return nil
}

func (r *run) nonProduction() *finding.Report {
	s := r.s
	what := fmt.Sprintf("%s is not a production branch: it matches none of the patterns in productionBranches (%s)", s.Branch, describePatterns(s.Patterns))
	r.report.Checks = append(r.report.Checks, finding.Check{Name: checkBranch, Detail: what})
	if s.FailOnNonProduction {
		r.report.Findings = append(r.report.Findings, finding.Finding{
			Rule: RuleNotProduction, Severity: finding.Error, Check: checkBranch,
			Message:     what + "; onNonProductionBranch is fail.",
			Location:    finding.Location{Logical: r.logical()},
			Fingerprint: finding.Fingerprint(RuleNotProduction, r.repoKey(), strings.ToLower(s.Branch)),
		})
	} else {
		r.report.Notes = append(r.report.Notes, what+"; nothing is gated (onNonProductionBranch is pass).")
	}
	r.outputs()
	return r.report
}

func (r *run) outputs() {
	pr := ""
	if r.prID > 0 {
		pr = fmt.Sprint(r.prID)
	}
	r.report.Outputs = []finding.Output{
		{Name: outPullRequestID, Value: pr, Label: "Pull request that brought the commit"},
		{Name: outApprovers, Value: fmt.Sprint(r.approvals), Label: "Approvers (distinct people other than the author)"},
		{Name: outPolicyCompliant, Value: fmt.Sprint(r.policyCompliant), Label: "Branch policy compliant"},
	}
}

// repoKey identifies the repository in fingerprints: its id when known, else the input.
func (r *run) repoKey() string {
	if r.repoID != "" {
		return r.repoID
	}
	return strings.ToLower(r.s.Repository)
}

func (r *run) logical() string { return r.repoLabel + ":" + r.s.Branch }

func (r *run) add(f finding.Finding) { r.report.Findings = append(r.report.Findings, f) }
