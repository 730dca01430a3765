package azdosim

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// findRepo resolves a repository by id or name, inside the project when the
// route has one and across the organization otherwise (by id only, as the
// service requires a project for names).
func (s *Server) findRepo(w http.ResponseWriter, project, idOrName string) (*simRepo, bool) {
	p, ok := s.project(w, project, false)
	if !ok {
		return nil, false
	}
	projects := s.projects
	if p != nil {
		projects = []*simProject{p}
	}
	for _, sp := range projects {
		for _, r := range sp.repos {
			if strings.EqualFold(r.r.ID, idOrName) || p != nil && strings.EqualFold(r.r.Name, idOrName) {
				return r, true
			}
		}
	}
	writeError(w, http.StatusNotFound, "GitRepositoryNotFoundException", fmt.Sprintf("TF401019: The Git repository with name or identifier %s does not exist or you do not have permissions for the operation you are attempting.", idOrName))
	return nil, false
}

func (s *Server) repoJSON(base string, r *simRepo) map[string]any {
	p := r.project.p
	webURL := base + "/" + url.PathEscape(p.Name) + "/_git/" + url.PathEscape(r.r.Name)
	return map[string]any{
		"id":              r.r.ID,
		"name":            r.r.Name,
		"url":             base + "/" + p.ID + "/_apis/git/repositories/" + r.r.ID,
		"project":         map[string]any{"id": p.ID, "name": p.Name, "url": base + "/_apis/projects/" + p.ID, "state": "wellFormed", "revision": 1, "visibility": "private"},
		"defaultBranch":   r.r.DefaultBranch,
		"size":            1024,
		"remoteUrl":       webURL,
		"sshUrl":          "git@ssh.dev.azure.com:v3/" + s.org + "/" + url.PathEscape(p.Name) + "/" + url.PathEscape(r.r.Name),
		"webUrl":          webURL,
		"isDisabled":      false,
		"isInMaintenance": false,
	}
}

func (s *Server) handleRepository(w http.ResponseWriter, r *http.Request, m routeMatch) {
	repo, ok := s.findRepo(w, m.project, m.args[0])
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, s.repoJSON(s.baseURL(r), repo))
}

func commitID(base string, repo *simRepo, sha string) map[string]any {
	return map[string]any{"commitId": sha, "url": base + "/" + repo.project.p.ID + "/_apis/git/repositories/" + repo.r.ID + "/commits/" + sha}
}

// prJSON renders a pull request. full adds what only the single-PR endpoint
// returns (completionOptions, closedBy, _links); list-shaped results (the
// pull request query) leave them out so callers fetch the PR itself.
func (s *Server) prJSON(base string, repo *simRepo, pr *PullRequest, full bool) map[string]any {
	now := s.now().UTC()
	prURL := base + "/" + repo.project.p.ID + "/_apis/git/repositories/" + repo.r.ID + "/pullRequests/" + strconv.Itoa(pr.ID)
	created := now.AddDate(0, 0, -7)
	if pr.CreatedDaysAgo != nil {
		created = daysAgo(now, *pr.CreatedDaysAgo)
	}
	out := map[string]any{
		"repository": map[string]any{
			"id":        repo.r.ID,
			"name":      repo.r.Name,
			"url":       base + "/" + repo.project.p.ID + "/_apis/git/repositories/" + repo.r.ID,
			"project":   map[string]any{"id": repo.project.p.ID, "name": repo.project.p.Name, "url": base + "/_apis/projects/" + repo.project.p.ID, "state": "wellFormed", "revision": 1, "visibility": "private"},
			"remoteUrl": base + "/" + url.PathEscape(repo.project.p.Name) + "/_git/" + url.PathEscape(repo.r.Name),
		},
		"pullRequestId":      pr.ID,
		"codeReviewId":       pr.ID,
		"status":             pr.Status,
		"createdBy":          s.identityRef(base, pr.CreatedBy),
		"creationDate":       formatTime(created),
		"title":              pr.Title,
		"description":        pr.Description,
		"sourceRefName":      pr.SourceRefName,
		"targetRefName":      pr.TargetRefName,
		"mergeStatus":        "succeeded",
		"isDraft":            false,
		"mergeId":            stableID("merge", repo.r.ID+"/"+strconv.Itoa(pr.ID)),
		"reviewers":          s.reviewersJSON(base, prURL, pr),
		"url":                prURL,
		"supportsIterations": true,
	}
	source := fakeSHA(repo.r.ID + "/source/" + strconv.Itoa(pr.ID))
	if len(pr.Commits) > 0 {
		source = pr.Commits[len(pr.Commits)-1]
	}
	out["lastMergeSourceCommit"] = commitID(base, repo, source)
	target := fakeSHA(repo.r.ID + "/target/" + strconv.Itoa(pr.ID))
	out["lastMergeTargetCommit"] = commitID(base, repo, target)
	if pr.LastMergeCommit != "" {
		c := commitID(base, repo, pr.LastMergeCommit)
		if full {
			author := s.identities[pr.CreatedBy]
			who := map[string]any{"name": author.DisplayName, "email": author.UniqueName, "date": formatTime(created)}
			c["author"] = who
			c["committer"] = who
			c["comment"] = fmt.Sprintf("Merged PR %d: %s", pr.ID, pr.Title)
		}
		out["lastMergeCommit"] = c
	}
	if pr.Status != "active" {
		closed := now.AddDate(0, 0, -1)
		if pr.ClosedDaysAgo != nil {
			closed = daysAgo(now, *pr.ClosedDaysAgo)
		}
		out["closedDate"] = formatTime(closed)
	}
	if full {
		if pr.ClosedBy != "" {
			out["closedBy"] = s.identityRef(base, pr.ClosedBy)
		}
		if pr.CompletionOptions != nil {
			co := map[string]any{"bypassPolicy": pr.CompletionOptions.BypassPolicy}
			if pr.CompletionOptions.BypassReason != "" {
				co["bypassReason"] = pr.CompletionOptions.BypassReason
			}
			if pr.CompletionOptions.MergeStrategy != "" {
				co["mergeStrategy"] = pr.CompletionOptions.MergeStrategy
			}
			out["completionOptions"] = co
		}
		out["artifactId"] = "vstfs:///Git/PullRequestId/" + repo.project.p.ID + "%2f" + repo.r.ID + "%2f" + strconv.Itoa(pr.ID)
		repoURL := base + "/" + repo.project.p.ID + "/_apis/git/repositories/" + repo.r.ID
		id := s.identities[pr.CreatedBy]
		out["_links"] = map[string]any{
			"self":         map[string]any{"href": prURL},
			"repository":   map[string]any{"href": repoURL},
			"workItems":    map[string]any{"href": prURL + "/workitems"},
			"sourceBranch": map[string]any{"href": repoURL + "/refs"},
			"targetBranch": map[string]any{"href": repoURL + "/refs"},
			"sourceCommit": map[string]any{"href": repoURL + "/commits/" + source},
			"targetCommit": map[string]any{"href": repoURL + "/commits/" + target},
			"createdBy":    map[string]any{"href": base + "/_apis/Identities/" + id.ID},
			"iterations":   map[string]any{"href": prURL + "/iterations"},
		}
	}
	return out
}

func (s *Server) reviewersJSON(base, prURL string, pr *PullRequest) []map[string]any {
	out := make([]map[string]any, 0, len(pr.Reviewers))
	for _, rv := range pr.Reviewers {
		id := s.identities[rv.Identity]
		e := s.identityRef(base, rv.Identity)
		e["reviewerUrl"] = prURL + "/reviewers/" + id.ID
		e["vote"] = rv.Vote
		e["hasDeclined"] = false
		e["isFlagged"] = false
		if rv.IsRequired {
			e["isRequired"] = true
		}
		if len(rv.VotedFor) > 0 {
			var vf []map[string]any
			for _, g := range rv.VotedFor {
				gid := s.identities[g]
				ge := s.identityRef(base, g)
				ge["reviewerUrl"] = prURL + "/reviewers/" + gid.ID
				ge["vote"] = rv.Vote
				vf = append(vf, ge)
			}
			e["votedFor"] = vf
		}
		out = append(out, e)
	}
	return out
}

func (s *Server) findPR(w http.ResponseWriter, m routeMatch) (*simRepo, *PullRequest, bool) {
	repo, ok := s.findRepo(w, m.project, m.args[0])
	if !ok {
		return nil, nil, false
	}
	id, err := strconv.Atoi(m.args[1])
	pr, found := repo.prs[id]
	if err != nil || !found {
		writeError(w, http.StatusNotFound, "GitPullRequestNotFoundException", "TF401180: The requested pull request was not found.")
		return nil, nil, false
	}
	return repo, pr, true
}

func (s *Server) handlePullRequest(w http.ResponseWriter, r *http.Request, m routeMatch) {
	repo, pr, ok := s.findPR(w, m)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, s.prJSON(s.baseURL(r), repo, pr, true))
}

func (s *Server) handleReviewers(w http.ResponseWriter, r *http.Request, m routeMatch) {
	repo, pr, ok := s.findPR(w, m)
	if !ok {
		return
	}
	base := s.baseURL(r)
	prURL := base + "/" + repo.project.p.ID + "/_apis/git/repositories/" + repo.r.ID + "/pullRequests/" + strconv.Itoa(pr.ID)
	rv := s.reviewersJSON(base, prURL, pr)
	writeJSON(w, http.StatusOK, map[string]any{"count": len(rv), "value": rv})
}

func (s *Server) handlePullRequestQuery(w http.ResponseWriter, r *http.Request, m routeMatch) {
	repo, ok := s.findRepo(w, m.project, m.args[0])
	if !ok {
		return
	}
	var body struct {
		Queries []struct {
			Type  string   `json:"type"`
			Items []string `json:"items"`
		} `json:"queries"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if len(body.Queries) == 0 {
		writeError(w, http.StatusBadRequest, "InvalidArgumentValueException", "The pull request query must contain at least one query.")
		return
	}
	base := s.baseURL(r)
	results := make([]map[string][]map[string]any, 0, len(body.Queries))
	queries := make([]map[string]any, 0, len(body.Queries))
	for _, q := range body.Queries {
		typ := strings.ToLower(q.Type)
		if typ != "lastmergecommit" && typ != "commit" {
			writeError(w, http.StatusBadRequest, "InvalidArgumentValueException", fmt.Sprintf("The pull request query type '%s' is not supported; use lastMergeCommit or commit.", q.Type))
			return
		}
		if len(q.Items) == 0 {
			writeError(w, http.StatusBadRequest, "InvalidArgumentValueException", "A pull request query needs at least one commit id in items.")
			return
		}
		res := map[string][]map[string]any{}
		for _, sha := range q.Items {
			var prs []map[string]any
			for _, pr := range repo.r.PullRequests { // scenario order
				if typ == "lastmergecommit" && strings.EqualFold(pr.LastMergeCommit, sha) ||
					typ == "commit" && pr.Status == "completed" && containsFold(pr.Commits, sha) {
					prs = append(prs, s.prJSON(base, repo, pr, false))
				}
			}
			if len(prs) > 0 {
				res[sha] = prs
			}
		}
		results = append(results, res)
		queries = append(queries, map[string]any{"type": q.Type, "items": q.Items})
	}
	writeJSON(w, http.StatusOK, map[string]any{"queries": queries, "results": results})
}

// fakeSHA derives a stable commit id for commits a scenario does not name.
func fakeSHA(seed string) string {
	sum := sha1.Sum([]byte(seed))
	return hex.EncodeToString(sum[:])
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// handlePolicies serves git/policy/configurations with the service's scope
// resolution: a configuration applies when one of its scope entries matches
// the repository (its own id, or null for every repository of the project)
// and the ref (Exact, Prefix, or DefaultBranch of that repository).
func (s *Server) handlePolicies(w http.ResponseWriter, r *http.Request, m routeMatch) {
	p, ok := s.project(w, m.project, true)
	if !ok {
		return
	}
	q := r.URL.Query()
	repoID := q.Get("repositoryId")
	if repoID != "" {
		if _, err := uuid.Parse(repoID); err != nil {
			writeError(w, http.StatusBadRequest, "InvalidArgumentValueException", fmt.Sprintf("The value %q of repositoryId is not a GUID.", repoID))
			return
		}
	}
	refName := q.Get("refName")
	policyType := q.Get("policyType")
	if policyType != "" {
		if _, err := uuid.Parse(policyType); err != nil {
			writeError(w, http.StatusBadRequest, "InvalidArgumentValueException", fmt.Sprintf("The value %q of policyType is not a GUID.", policyType))
			return
		}
	}
	pageSize := s.pageSize
	if t := q.Get("$top"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n <= 0 {
			writeError(w, http.StatusBadRequest, "InvalidArgumentValueException", fmt.Sprintf("The value %q of $top is not a positive integer.", t))
			return
		}
		pageSize = min(pageSize, n)
	}
	start := 0
	if c := q.Get("continuationToken"); c != "" {
		n, err := strconv.Atoi(c)
		if err != nil {
			writeError(w, http.StatusBadRequest, "InvalidArgumentValueException", fmt.Sprintf("The continuation token %q is not valid.", c))
			return
		}
		start = n
	}
	var matched []*Policy
	for _, pol := range p.policies {
		if pol.ID < start {
			continue
		}
		if policyType != "" && !strings.EqualFold(pol.Type, policyType) {
			continue
		}
		if repoID == "" && refName == "" || s.policyApplies(p, pol, repoID, refName) {
			matched = append(matched, pol)
		}
	}
	if len(matched) > pageSize {
		w.Header().Set("x-ms-continuationtoken", strconv.Itoa(matched[pageSize].ID))
		matched = matched[:pageSize]
	}
	base := s.baseURL(r)
	out := make([]map[string]any, 0, len(matched))
	for _, pol := range matched {
		out = append(out, s.policyJSON(base, p, pol))
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": len(out), "value": out})
}

func (s *Server) policyApplies(p *simProject, pol *Policy, repoID, refName string) bool {
	scopes, _ := policyScopes(pol) // validated when the scenario was loaded
	for _, sc := range scopes {
		if sc.RepositoryID != nil && repoID != "" && !strings.EqualFold(*sc.RepositoryID, repoID) {
			continue
		}
		if refName == "" {
			return true
		}
		switch strings.ToLower(sc.MatchKind) {
		case "exact":
			if strings.EqualFold(sc.RefName, refName) {
				return true
			}
		case "prefix":
			if strings.HasPrefix(strings.ToLower(refName), strings.ToLower(sc.RefName)) {
				return true
			}
		case "defaultbranch":
			target := repoID
			if sc.RepositoryID != nil {
				target = *sc.RepositoryID
			}
			for _, r := range p.repos {
				if strings.EqualFold(r.r.ID, target) && strings.EqualFold(r.r.DefaultBranch, refName) {
					return true
				}
			}
		case "":
			return true // repository-wide: every ref
		}
	}
	return false
}

func (s *Server) policyJSON(base string, p *simProject, pol *Policy) map[string]any {
	typeURL := base + "/" + p.p.ID + "/_apis/policy/types/" + pol.Type
	selfURL := base + "/" + p.p.ID + "/_apis/policy/configurations/" + strconv.Itoa(pol.ID)
	out := map[string]any{
		"createdDate": formatTime(p.created.Add(time.Duration(pol.ID) * time.Minute)),
		"isEnabled":   pol.IsEnabled,
		"isBlocking":  pol.IsBlocking,
		"isDeleted":   pol.IsDeleted,
		"settings":    pol.Settings,
		"_links": map[string]any{
			"self": map[string]any{"href": selfURL},
			"type": map[string]any{"href": typeURL},
		},
		"revision": 1,
		"id":       pol.ID,
		"url":      selfURL,
		"type":     map[string]any{"id": pol.Type, "url": typeURL, "displayName": pol.TypeName},
	}
	if pol.CreatedBy != "" {
		out["createdBy"] = s.identityRef(base, pol.CreatedBy)
	}
	return out
}
