package azdo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/git"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/webapi"
)

// Well-known policy type ids.
const (
	PolicyTypeMinimumReviewers  = "fa4e907d-c16b-4a4c-9dfa-4906e5d171dd"
	PolicyTypeRequiredReviewers = "fd2167ab-b0be-447a-8ec8-39368250530e"
	PolicyTypeBuild             = "0609b952-1397-4640-95ec-e00a01b2c241"
)

// Reviewer votes.
const (
	VoteApproved                = 10
	VoteApprovedWithSuggestions = 5
	VoteNone                    = 0
	VoteWaitingForAuthor        = -5
	VoteRejected                = -10
)

// How a pull request matched a commit in QueryPullRequestsByCommit.
const (
	MatchedLastMergeCommit = "lastMergeCommit" // the PR's merge commit is the commit
	MatchedCommit          = "commit"          // the PR merged the commit
)

// Identity is a user or group reference.
type Identity struct {
	ID          string
	DisplayName string
	UniqueName  string
	IsContainer bool
}

// Reviewer is a vote on a pull request. VotedFor lists the ids of the groups
// this person's vote was rolled up into.
type Reviewer struct {
	ID          string
	DisplayName string
	UniqueName  string
	Vote        int
	IsContainer bool
	IsRequired  bool
	HasDeclined bool
	VotedFor    []string
}

// CompletionOptions records how a pull request was completed.
type CompletionOptions struct {
	BypassPolicy bool
	BypassReason string
}

// PullRequest is what the review gate needs of a pull request.
type PullRequest struct {
	ID                int
	Title             string
	Status            string // active, completed, abandoned
	CreatedBy         Identity
	ClosedBy          Identity // zero when not closed or not returned
	CreationDate      time.Time
	ClosedDate        time.Time
	SourceRef         string
	TargetRef         string
	LastMergeCommit   string
	CompletionOptions CompletionOptions
	Reviewers         []Reviewer
	RepositoryID      string
	RepositoryName    string
	ProjectName       string
	// WebURL is the pull request page: {org}/{project}/_git/{repo}/pullrequest/{id}.
	WebURL string
	// MatchedBy is set by QueryPullRequestsByCommit: MatchedLastMergeCommit
	// or MatchedCommit.
	MatchedBy string
	// Partial is true for QueryPullRequestsByCommit results: the query may
	// not return completionOptions or closedBy; read the pull request with
	// GetPullRequest before judging a bypass.
	Partial bool
}

// Repository is an Azure Repos Git repository.
type Repository struct {
	ID            string
	Name          string
	DefaultBranch string
	WebURL        string
	RemoteURL     string
	ProjectName   string
}

func repoScope(project, repo string, perm permission) scope {
	return scope{project: project, what: "repository " + quote(repo), perm: perm}
}

func identity(r *webapi.IdentityRef) Identity {
	if r == nil {
		return Identity{}
	}
	return Identity{ID: deref(r.Id), DisplayName: deref(r.DisplayName), UniqueName: deref(r.UniqueName), IsContainer: deref(r.IsContainer)}
}

func reviewer(r git.IdentityRefWithVote) Reviewer {
	out := Reviewer{
		ID:          deref(r.Id),
		DisplayName: deref(r.DisplayName),
		UniqueName:  deref(r.UniqueName),
		Vote:        deref(r.Vote),
		IsContainer: deref(r.IsContainer),
		IsRequired:  deref(r.IsRequired),
		HasDeclined: deref(r.HasDeclined),
	}
	for _, g := range deref(r.VotedFor) {
		if g.Id != nil {
			out.VotedFor = append(out.VotedFor, *g.Id)
		}
	}
	return out
}

func (c *Client) pullRequest(pr git.GitPullRequest, project, repo string) PullRequest {
	out := PullRequest{
		ID:        deref(pr.PullRequestId),
		Title:     deref(pr.Title),
		Status:    string(deref(pr.Status)),
		CreatedBy: identity(pr.CreatedBy),
		ClosedBy:  identity(pr.ClosedBy),
		SourceRef: deref(pr.SourceRefName),
		TargetRef: deref(pr.TargetRefName),
	}
	if pr.CreationDate != nil {
		out.CreationDate = pr.CreationDate.Time
	}
	if pr.ClosedDate != nil {
		out.ClosedDate = pr.ClosedDate.Time
	}
	if pr.LastMergeCommit != nil {
		out.LastMergeCommit = deref(pr.LastMergeCommit.CommitId)
	}
	if co := pr.CompletionOptions; co != nil {
		out.CompletionOptions = CompletionOptions{BypassPolicy: deref(co.BypassPolicy), BypassReason: deref(co.BypassReason)}
	}
	for _, r := range deref(pr.Reviewers) {
		out.Reviewers = append(out.Reviewers, reviewer(r))
	}
	out.RepositoryName, out.ProjectName = repo, project
	if r := pr.Repository; r != nil {
		if r.Id != nil {
			out.RepositoryID = r.Id.String()
		}
		if r.Name != nil {
			out.RepositoryName = *r.Name
		}
		if r.Project != nil && r.Project.Name != nil {
			out.ProjectName = *r.Project.Name
		}
	}
	out.WebURL = c.orgURL + "/" + url.PathEscape(out.ProjectName) + "/_git/" + url.PathEscape(out.RepositoryName) + "/pullrequest/" + strconv.Itoa(out.ID)
	return out
}

// QueryPullRequestsByCommit finds the pull requests that brought commit into
// a branch, with one pullRequestQuery call holding two queries: by merge
// commit (the commit is a PR's merge commit) and by commit (the PR merged
// it). Merge-commit matches come first; a PR is listed once. No result means
// the commit was not brought in by a pull request (a direct push).
func (c *Client) QueryPullRequestsByCommit(ctx context.Context, project, repo, commit string) ([]PullRequest, error) {
	ctx, cs := c.begin(ctx, "QueryPullRequestsByCommit")
	sc := repoScope(project, repo, permCode)
	commit = strings.TrimSpace(commit)
	if repo == "" || commit == "" {
		return nil, c.argError(cs.op, "a repository and a commit are required")
	}
	mergeType, commitType := git.GitPullRequestQueryTypeValues.LastMergeCommit, git.GitPullRequestQueryTypeValues.Commit
	items := []string{commit}
	query := git.GitPullRequestQuery{Queries: &[]git.GitPullRequestQueryInput{
		{Type: &mergeType, Items: &items},
		{Type: &commitType, Items: &items},
	}}
	args := git.GetPullRequestQueryArgs{Queries: &query, RepositoryId: &repo}
	if project != "" {
		args.Project = &project
	}
	res, err := c.git.GetPullRequestQuery(ctx, args)
	if err != nil {
		return nil, c.wrap(cs, sc, err)
	}
	var out []PullRequest
	seen := map[int]bool{}
	for i, results := range deref(res.Results) {
		matched := MatchedLastMergeCommit
		if i == 1 {
			matched = MatchedCommit
		}
		for sha, prs := range results {
			if !strings.EqualFold(sha, commit) {
				continue
			}
			for _, pr := range prs {
				p := c.pullRequest(pr, project, repo)
				if seen[p.ID] {
					continue
				}
				seen[p.ID] = true
				p.MatchedBy, p.Partial = matched, true
				out = append(out, p)
			}
		}
	}
	return out, nil
}

// GetPullRequest reads one pull request with its reviewers and completion
// options.
func (c *Client) GetPullRequest(ctx context.Context, project, repo string, id int) (PullRequest, error) {
	ctx, cs := c.begin(ctx, "GetPullRequest")
	sc := scope{project: project, what: fmt.Sprintf("pull request %d in repository %s", id, quote(repo)), perm: permCode}
	if repo == "" || id <= 0 {
		return PullRequest{}, c.argError(cs.op, "a repository and a positive pull request id are required")
	}
	args := git.GetPullRequestArgs{RepositoryId: &repo, PullRequestId: &id}
	if project != "" {
		args.Project = &project
	}
	pr, err := c.git.GetPullRequest(ctx, args)
	if err != nil {
		return PullRequest{}, c.wrap(cs, sc, err)
	}
	return c.pullRequest(deref(pr), project, repo), nil
}

// GetPullRequestReviewers reads the reviewers of a pull request.
func (c *Client) GetPullRequestReviewers(ctx context.Context, project, repo string, id int) ([]Reviewer, error) {
	ctx, cs := c.begin(ctx, "GetPullRequestReviewers")
	sc := scope{project: project, what: fmt.Sprintf("pull request %d in repository %s", id, quote(repo)), perm: permCode}
	if repo == "" || id <= 0 {
		return nil, c.argError(cs.op, "a repository and a positive pull request id are required")
	}
	args := git.GetPullRequestReviewersArgs{RepositoryId: &repo, PullRequestId: &id}
	if project != "" {
		args.Project = &project
	}
	res, err := c.git.GetPullRequestReviewers(ctx, args)
	if err != nil {
		return nil, c.wrap(cs, sc, err)
	}
	var out []Reviewer
	for _, r := range deref(res) {
		out = append(out, reviewer(r))
	}
	return out, nil
}

// GetRepository reads a repository by name or id.
func (c *Client) GetRepository(ctx context.Context, project, repo string) (Repository, error) {
	ctx, cs := c.begin(ctx, "GetRepository")
	sc := repoScope(project, repo, permCode)
	if repo == "" {
		return Repository{}, c.argError(cs.op, "a repository name or id is required")
	}
	args := git.GetRepositoryArgs{RepositoryId: &repo}
	if project != "" {
		args.Project = &project
	}
	r, err := c.git.GetRepository(ctx, args)
	if err != nil {
		return Repository{}, c.wrap(cs, sc, err)
	}
	out := Repository{Name: deref(r.Name), DefaultBranch: deref(r.DefaultBranch), WebURL: deref(r.WebUrl), RemoteURL: deref(r.RemoteUrl)}
	if r.Id != nil {
		out.ID = r.Id.String()
	}
	if r.Project != nil {
		out.ProjectName = deref(r.Project.Name)
	}
	return out, nil
}

// PolicyScope is one entry of a policy's settings.scope. A nil RepositoryID
// means every repository of the project.
type PolicyScope struct {
	RepositoryID *string `json:"repositoryId"`
	RefName      string  `json:"refName"`
	MatchKind    string  `json:"matchKind"` // Exact, Prefix, DefaultBranch
}

// PolicySettings are the settings of the policy types the gates read
// (minimum reviewers, required reviewers, build); Raw keeps all of them.
type PolicySettings struct {
	MinimumApproverCount        int            `json:"minimumApproverCount"`
	CreatorVoteCounts           bool           `json:"creatorVoteCounts"`
	AllowDownvotes              bool           `json:"allowDownvotes"`
	ResetOnSourcePush           bool           `json:"resetOnSourcePush"`
	ResetRejectionsOnSourcePush bool           `json:"resetRejectionsOnSourcePush"`
	RequireVoteOnLastIteration  bool           `json:"requireVoteOnLastIteration"`
	RequireVoteOnEachIteration  bool           `json:"requireVoteOnEachIteration"`
	BlockLastPusherVote         bool           `json:"blockLastPusherVote"`
	RequiredReviewerIDs         []string       `json:"requiredReviewerIds"`
	FilenamePatterns            []string       `json:"filenamePatterns"`
	BuildDefinitionID           int            `json:"buildDefinitionId"`
	Scope                       []PolicyScope  `json:"scope"`
	Raw                         map[string]any `json:"-"`
}

// PolicyConfiguration is a branch policy.
type PolicyConfiguration struct {
	ID         int
	TypeID     string
	TypeName   string
	IsEnabled  bool
	IsBlocking bool
	IsDeleted  bool
	Settings   PolicySettings
}

// maxPolicyPages bounds paging, in case a service keeps returning tokens.
const maxPolicyPages = 1000

// GetPolicyConfigurations lists the branch policies that apply to refName in
// a repository (repository-specific and project-wide scopes, as the service
// resolves them), following x-ms-continuationtoken across pages. repo may be
// an id or a name (a name costs one GetRepository call); refName ""
// means every ref; policyType "" means every type.
func (c *Client) GetPolicyConfigurations(ctx context.Context, project, repo, refName, policyType string) ([]PolicyConfiguration, error) {
	repoID, err := uuid.Parse(repo)
	if err != nil && repo != "" {
		r, gerr := c.GetRepository(ctx, project, repo)
		if gerr != nil {
			return nil, relabel(gerr, "GetPolicyConfigurations")
		}
		repoID, err = uuid.Parse(r.ID)
		if err != nil {
			return nil, &Error{Op: "GetPolicyConfigurations", Kind: KindBadResponse, msg: fmt.Sprintf("repository %q has an invalid id %q", repo, r.ID)}
		}
	}
	ctx, cs := c.begin(ctx, "GetPolicyConfigurations")
	sc := scope{project: project, what: "branch policies of " + orDefault(refName, "every branch") + " in repository " + quote(orDefault(repo, "(any)")), perm: permPolicy}
	if project == "" {
		return nil, c.argError(cs.op, "a project is required")
	}
	args := git.GetPolicyConfigurationsArgs{Project: &project}
	if repo != "" {
		args.RepositoryId = &repoID
	}
	if refName != "" {
		args.RefName = &refName
	}
	if policyType != "" {
		pt, err := uuid.Parse(policyType)
		if err != nil {
			return nil, c.argError(cs.op, fmt.Sprintf("the policy type %q is not a GUID", policyType))
		}
		args.PolicyType = &pt
	}
	var out []PolicyConfiguration
	seen := map[string]bool{}
	for page := 0; ; page++ {
		if page >= maxPolicyPages {
			return nil, &Error{Op: cs.op, Kind: KindBadResponse, Target: sc.target(), msg: fmt.Sprintf("more than %d pages of policies: giving up", maxPolicyPages)}
		}
		res, err := c.git.GetPolicyConfigurations(ctx, args)
		if err != nil {
			return nil, c.wrap(cs, sc, err)
		}
		for _, p := range deref(res.PolicyConfigurations) {
			pc := PolicyConfiguration{
				ID:         deref(p.Id),
				IsEnabled:  deref(p.IsEnabled),
				IsBlocking: deref(p.IsBlocking),
				IsDeleted:  deref(p.IsDeleted),
			}
			if p.Type != nil {
				pc.TypeName = deref(p.Type.DisplayName)
				if p.Type.Id != nil {
					pc.TypeID = p.Type.Id.String()
				}
			}
			if p.Settings != nil {
				s, err := decodeSettings(p.Settings)
				if err != nil {
					return nil, &Error{Op: cs.op, Kind: KindBadResponse, Target: sc.target(), msg: fmt.Sprintf("policy %d has settings that cannot be read: %v", pc.ID, err), err: err}
				}
				pc.Settings = s
			}
			out = append(out, pc)
		}
		token := deref(res.ContinuationToken)
		if token == "" {
			return out, nil
		}
		if seen[token] {
			return nil, &Error{Op: cs.op, Kind: KindBadResponse, Target: sc.target(), msg: fmt.Sprintf("the service returned the continuation token %q twice", token)}
		}
		seen[token] = true
		args.ContinuationToken = &token
	}
}

func decodeSettings(v any) (PolicySettings, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return PolicySettings{}, err
	}
	var s PolicySettings
	if err := json.Unmarshal(data, &s); err != nil {
		return PolicySettings{}, err
	}
	if err := json.Unmarshal(data, &s.Raw); err != nil {
		return PolicySettings{}, err
	}
	return s, nil
}
