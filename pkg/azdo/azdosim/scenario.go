package azdosim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/google/uuid"
)

// Scenario is a small Azure DevOps organization: the JSON form of a simulator
// seed. Dates are relative ("createdDaysAgo") so that demos never go stale:
// they are resolved against the simulator's clock when the Server is built.
type Scenario struct {
	// Organization is the first path segment of the organization URL
	// (https://dev.azure.com/{organization}).
	Organization string `json:"organization"`
	// Description is free text for people reading the scenario file.
	Description string `json:"description,omitempty"`
	// Tokens are the accepted credentials, as Bearer tokens or as the password
	// of Basic authentication (a PAT). An empty list disables authentication.
	Tokens []string `json:"tokens,omitempty"`
	// Identities are referenced by their key from pull requests and policies.
	Identities map[string]Identity `json:"identities,omitempty"`
	Projects   []*Project          `json:"projects"`
}

// Identity is a user or a group (IsContainer).
type Identity struct {
	ID          string `json:"id,omitempty"`
	DisplayName string `json:"displayName"`
	UniqueName  string `json:"uniqueName,omitempty"`
	IsContainer bool   `json:"isContainer,omitempty"`
}

// Project holds everything the simulator serves below {org}/{project}.
type Project struct {
	Name          string          `json:"name"`
	ID            string          `json:"id,omitempty"`
	WorkItemTypes []*WorkItemType `json:"workItemTypes,omitempty"`
	WorkItems     []*WorkItem     `json:"workItems,omitempty"`
	Queries       []*SavedQuery   `json:"queries,omitempty"`
	Builds        []*Build        `json:"builds,omitempty"`
	Repositories  []*Repository   `json:"repositories,omitempty"`
	Policies      []*Policy       `json:"policies,omitempty"`
}

// WorkItemType lists the states of one type with their categories, as the
// work item type states API returns them (custom state names are allowed).
type WorkItemType struct {
	Name   string  `json:"name"`
	States []State `json:"states"`
}

// State is one work item state. Category is one of Proposed, InProgress,
// Resolved, Completed, Removed.
type State struct {
	Name     string `json:"name"`
	Category string `json:"category"`
	Color    string `json:"color,omitempty"`
}

// WorkItem is a work item seed. The convenience fields fill the matching
// System.* / Microsoft.VSTS.* fields; Fields carries anything else and wins
// over the convenience fields when both are set.
type WorkItem struct {
	ID       int      `json:"id"`
	Rev      int      `json:"rev,omitempty"`
	Type     string   `json:"type"`
	Title    string   `json:"title,omitempty"`
	State    string   `json:"state,omitempty"`
	Tags     []string `json:"tags,omitempty"`
	Severity string   `json:"severity,omitempty"`
	AreaPath string   `json:"areaPath,omitempty"`
	// Relative dates in days before the simulator's clock (fractions allowed).
	CreatedDaysAgo *float64       `json:"createdDaysAgo,omitempty"`
	ChangedDaysAgo *float64       `json:"changedDaysAgo,omitempty"`
	ClosedDaysAgo  *float64       `json:"closedDaysAgo,omitempty"`
	Fields         map[string]any `json:"fields,omitempty"`
}

// SavedQuery is a query stored under Shared Queries or My Queries.
type SavedQuery struct {
	ID   string `json:"id,omitempty"`
	Path string `json:"path"`
	// QueryType is flat, tree or oneHop. Only flat queries are evaluated; the
	// others answer with their type and no relations.
	QueryType string `json:"queryType,omitempty"`
	WIQL      string `json:"wiql"`
}

// Build is a pipeline run with the work items linked to it.
type Build struct {
	ID            int    `json:"id"`
	BuildNumber   string `json:"buildNumber,omitempty"`
	Repository    string `json:"repository,omitempty"`
	SourceBranch  string `json:"sourceBranch,omitempty"`
	SourceVersion string `json:"sourceVersion,omitempty"`
	WorkItemIDs   []int  `json:"workItemIds,omitempty"`
	Description   string `json:"description,omitempty"`
}

// Repository is an Azure Repos Git repository.
type Repository struct {
	ID            string         `json:"id,omitempty"`
	Name          string         `json:"name"`
	DefaultBranch string         `json:"defaultBranch,omitempty"`
	PullRequests  []*PullRequest `json:"pullRequests,omitempty"`
	// Commits documents pushes for readers of the scenario (a direct push has
	// no pull request); the simulator does not serve a commits API.
	Commits []Commit `json:"commits,omitempty"`
	// Trees holds the repository's files at commits: commit id -> path
	// relative to the repository root ("infra/main.bicep") -> content. The
	// git items API serves them as a zip archive (see handlers_items.go).
	Trees map[string]map[string]string `json:"trees,omitempty"`
}

// Commit is documentation of a commit in a scenario.
type Commit struct {
	ID          string `json:"id"`
	Branch      string `json:"branch,omitempty"`
	Description string `json:"description,omitempty"`
}

// PullRequest is a pull request seed. Identities are keys of
// Scenario.Identities.
type PullRequest struct {
	ID                int                `json:"id"`
	Title             string             `json:"title"`
	Description       string             `json:"description,omitempty"`
	Status            string             `json:"status"` // active, completed, abandoned
	CreatedBy         string             `json:"createdBy"`
	ClosedBy          string             `json:"closedBy,omitempty"`
	CreatedDaysAgo    *float64           `json:"createdDaysAgo,omitempty"`
	ClosedDaysAgo     *float64           `json:"closedDaysAgo,omitempty"`
	SourceRefName     string             `json:"sourceRefName"`
	TargetRefName     string             `json:"targetRefName"`
	LastMergeCommit   string             `json:"lastMergeCommit,omitempty"`
	Commits           []string           `json:"commits,omitempty"`
	CompletionOptions *CompletionOptions `json:"completionOptions,omitempty"`
	Reviewers         []Reviewer         `json:"reviewers,omitempty"`
}

// CompletionOptions records how a pull request was completed.
type CompletionOptions struct {
	BypassPolicy  bool   `json:"bypassPolicy,omitempty"`
	BypassReason  string `json:"bypassReason,omitempty"`
	MergeStrategy string `json:"mergeStrategy,omitempty"`
}

// Reviewer is a vote on a pull request. VotedFor lists identity keys of the
// groups this person's vote rolls up into.
type Reviewer struct {
	Identity   string   `json:"identity"`
	Vote       int      `json:"vote"`
	IsRequired bool     `json:"isRequired,omitempty"`
	VotedFor   []string `json:"votedFor,omitempty"`
}

// Policy is a branch policy configuration. Settings are served verbatim, so
// any policy type can be seeded; scope entries drive the scope resolution of
// the configurations API.
type Policy struct {
	ID         int            `json:"id"`
	Type       string         `json:"type"`
	TypeName   string         `json:"typeName,omitempty"`
	IsEnabled  bool           `json:"isEnabled"`
	IsBlocking bool           `json:"isBlocking"`
	IsDeleted  bool           `json:"isDeleted,omitempty"`
	CreatedBy  string         `json:"createdBy,omitempty"`
	Settings   map[string]any `json:"settings"`
}

// Well-known policy type ids.
const (
	PolicyTypeMinimumReviewers  = "fa4e907d-c16b-4a4c-9dfa-4906e5d171dd"
	PolicyTypeRequiredReviewers = "fd2167ab-b0be-447a-8ec8-39368250530e"
	PolicyTypeBuild             = "0609b952-1397-4640-95ec-e00a01b2c241"
)

var policyTypeNames = map[string]string{
	PolicyTypeMinimumReviewers:  "Minimum number of reviewers",
	PolicyTypeRequiredReviewers: "Required reviewers",
	PolicyTypeBuild:             "Build",
}

// LoadScenario reads and validates a scenario file.
func LoadScenario(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("azdosim: read scenario: %w", err)
	}
	sc, err := ParseScenario(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return sc, nil
}

// ParseScenario decodes and validates a scenario. Unknown JSON fields are
// rejected so that typos do not silently drop data.
func ParseScenario(data []byte) (*Scenario, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var sc Scenario
	if err := dec.Decode(&sc); err != nil {
		return nil, jsonPositionError(data, err)
	}
	if dec.More() {
		return nil, errors.New("scenario: unexpected data after the JSON object")
	}
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	return &sc, nil
}

// jsonPositionError names the line and column of a JSON decoding error.
func jsonPositionError(data []byte, err error) error {
	var offset int64 = -1
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		offset = syn.Offset
	case errors.As(err, &typ):
		offset = typ.Offset
	}
	if offset < 0 {
		return fmt.Errorf("scenario: invalid JSON: %w", err)
	}
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	line := 1 + bytes.Count(data[:offset], []byte("\n"))
	col := int(offset) - bytes.LastIndexByte(data[:offset], '\n')
	return fmt.Errorf("scenario: line %d, column %d: invalid JSON: %w", line, col, err)
}

// Validate checks references between the parts of the scenario and fills
// defaults (ids). It is called by ParseScenario and by New.
func (sc *Scenario) Validate() error {
	if strings.TrimSpace(sc.Organization) == "" {
		return errors.New("scenario: organization is required")
	}
	if strings.ContainsAny(sc.Organization, "/ ") {
		return fmt.Errorf("scenario: organization %q must be a single URL path segment", sc.Organization)
	}
	if len(sc.Projects) == 0 {
		return errors.New("scenario: at least one project is required")
	}
	for key, id := range sc.Identities {
		if id.DisplayName == "" {
			return fmt.Errorf("scenario: identity %q: displayName is required", key)
		}
		if id.ID == "" {
			id.ID = stableID("identity", key)
		} else if _, err := uuid.Parse(id.ID); err != nil {
			return fmt.Errorf("scenario: identity %q: id %q is not a GUID", key, id.ID)
		}
		sc.Identities[key] = id
	}
	projectNames := map[string]bool{}
	workItemIDs := map[int]string{}
	for i, p := range sc.Projects {
		if p == nil || strings.TrimSpace(p.Name) == "" {
			return fmt.Errorf("scenario: projects[%d]: name is required", i)
		}
		if projectNames[strings.ToLower(p.Name)] {
			return fmt.Errorf("scenario: project %q is defined twice", p.Name)
		}
		projectNames[strings.ToLower(p.Name)] = true
		if err := sc.validateProject(p, workItemIDs); err != nil {
			return fmt.Errorf("scenario: project %q: %w", p.Name, err)
		}
	}
	return nil
}

var stateCategories = map[string]bool{"Proposed": true, "InProgress": true, "Resolved": true, "Completed": true, "Removed": true}

func (sc *Scenario) validateProject(p *Project, workItemIDs map[int]string) error {
	if p.ID == "" {
		p.ID = stableID("project", sc.Organization+"/"+p.Name)
	} else if _, err := uuid.Parse(p.ID); err != nil {
		return fmt.Errorf("id %q is not a GUID", p.ID)
	}
	types := map[string]*WorkItemType{}
	for i, t := range p.WorkItemTypes {
		if t == nil || t.Name == "" {
			return fmt.Errorf("workItemTypes[%d]: name is required", i)
		}
		if len(t.States) == 0 {
			return fmt.Errorf("work item type %q: at least one state is required", t.Name)
		}
		for _, s := range t.States {
			if !stateCategories[s.Category] {
				return fmt.Errorf("work item type %q: state %q: category %q is not one of Proposed, InProgress, Resolved, Completed, Removed", t.Name, s.Name, s.Category)
			}
		}
		types[strings.ToLower(t.Name)] = t
	}
	for i, w := range p.WorkItems {
		if w == nil || w.ID <= 0 {
			return fmt.Errorf("workItems[%d]: a positive id is required", i)
		}
		if other, dup := workItemIDs[w.ID]; dup {
			return fmt.Errorf("work item %d is defined twice (also in project %q): ids are unique per organization", w.ID, other)
		}
		workItemIDs[w.ID] = p.Name
		typ := w.Type
		if typ == "" {
			if s, ok := w.Fields["System.WorkItemType"].(string); ok {
				typ = s
			}
		}
		t, ok := types[strings.ToLower(typ)]
		if !ok {
			return fmt.Errorf("work item %d: type %q is not in workItemTypes", w.ID, typ)
		}
		state := w.State
		if s, ok := w.Fields["System.State"].(string); ok {
			state = s
		}
		if state != "" && !hasState(t, state) {
			return fmt.Errorf("work item %d: state %q is not a state of type %q", w.ID, state, t.Name)
		}
	}
	for i, q := range p.Queries {
		if q == nil || q.Path == "" {
			return fmt.Errorf("queries[%d]: path is required", i)
		}
		if q.ID == "" {
			q.ID = stableID("query", p.Name+"/"+q.Path)
		} else if _, err := uuid.Parse(q.ID); err != nil {
			return fmt.Errorf("query %q: id %q is not a GUID", q.Path, q.ID)
		}
		switch q.QueryType {
		case "":
			q.QueryType = "flat"
		case "flat", "tree", "oneHop":
		default:
			return fmt.Errorf("query %q: queryType %q is not flat, tree or oneHop", q.Path, q.QueryType)
		}
		if q.QueryType == "flat" {
			if _, err := parseWIQL(q.WIQL); err != nil {
				return fmt.Errorf("query %q: %w", q.Path, err)
			}
		}
	}
	repos := map[string]*Repository{}
	for i, r := range p.Repositories {
		if r == nil || r.Name == "" {
			return fmt.Errorf("repositories[%d]: name is required", i)
		}
		if r.ID == "" {
			r.ID = stableID("repository", p.Name+"/"+r.Name)
		} else if _, err := uuid.Parse(r.ID); err != nil {
			return fmt.Errorf("repository %q: id %q is not a GUID", r.Name, r.ID)
		}
		if r.DefaultBranch == "" {
			r.DefaultBranch = "refs/heads/main"
		}
		repos[strings.ToLower(r.Name)] = r
		prIDs := map[int]bool{}
		for j, pr := range r.PullRequests {
			if pr == nil || pr.ID <= 0 {
				return fmt.Errorf("repository %q: pullRequests[%d]: a positive id is required", r.Name, j)
			}
			if prIDs[pr.ID] {
				return fmt.Errorf("repository %q: pull request %d is defined twice", r.Name, pr.ID)
			}
			prIDs[pr.ID] = true
			if err := sc.validatePullRequest(pr); err != nil {
				return fmt.Errorf("repository %q: pull request %d: %w", r.Name, pr.ID, err)
			}
		}
	}
	for _, b := range p.Builds {
		if b == nil || b.ID <= 0 {
			return errors.New("builds: a positive id is required")
		}
		for _, id := range b.WorkItemIDs {
			if _, ok := workItemIDs[id]; !ok && !p.hasWorkItem(id) {
				return fmt.Errorf("build %d: linked work item %d is not defined (define work items before builds)", b.ID, id)
			}
		}
		if b.Repository != "" {
			if _, ok := repos[strings.ToLower(b.Repository)]; !ok {
				return fmt.Errorf("build %d: repository %q is not defined in this project", b.ID, b.Repository)
			}
		}
	}
	policyIDs := map[int]bool{}
	for i, pol := range p.Policies {
		if pol == nil || pol.ID <= 0 {
			return fmt.Errorf("policies[%d]: a positive id is required", i)
		}
		if policyIDs[pol.ID] {
			return fmt.Errorf("policy %d is defined twice", pol.ID)
		}
		policyIDs[pol.ID] = true
		if _, err := uuid.Parse(pol.Type); err != nil {
			return fmt.Errorf("policy %d: type %q is not a GUID", pol.ID, pol.Type)
		}
		if pol.TypeName == "" {
			pol.TypeName = policyTypeNames[strings.ToLower(pol.Type)]
		}
		if pol.CreatedBy != "" {
			if _, ok := sc.Identities[pol.CreatedBy]; !ok {
				return fmt.Errorf("policy %d: createdBy %q is not in identities", pol.ID, pol.CreatedBy)
			}
		}
		if _, err := policyScopes(pol); err != nil {
			return fmt.Errorf("policy %d: %w", pol.ID, err)
		}
	}
	return nil
}

func (p *Project) hasWorkItem(id int) bool {
	for _, w := range p.WorkItems {
		if w != nil && w.ID == id {
			return true
		}
	}
	return false
}

func (sc *Scenario) validatePullRequest(pr *PullRequest) error {
	switch pr.Status {
	case "active", "completed", "abandoned":
	default:
		return fmt.Errorf("status %q is not active, completed or abandoned", pr.Status)
	}
	if _, ok := sc.Identities[pr.CreatedBy]; !ok {
		return fmt.Errorf("createdBy %q is not in identities", pr.CreatedBy)
	}
	if pr.ClosedBy != "" {
		if _, ok := sc.Identities[pr.ClosedBy]; !ok {
			return fmt.Errorf("closedBy %q is not in identities", pr.ClosedBy)
		}
	}
	if !strings.HasPrefix(pr.SourceRefName, "refs/") || !strings.HasPrefix(pr.TargetRefName, "refs/") {
		return errors.New("sourceRefName and targetRefName must be full ref names (refs/heads/...)")
	}
	for _, rv := range pr.Reviewers {
		if _, ok := sc.Identities[rv.Identity]; !ok {
			return fmt.Errorf("reviewer %q is not in identities", rv.Identity)
		}
		switch rv.Vote {
		case -10, -5, 0, 5, 10:
		default:
			return fmt.Errorf("reviewer %q: vote %d is not one of -10, -5, 0, 5, 10", rv.Identity, rv.Vote)
		}
		for _, g := range rv.VotedFor {
			gid, ok := sc.Identities[g]
			if !ok {
				return fmt.Errorf("reviewer %q: votedFor %q is not in identities", rv.Identity, g)
			}
			if !gid.IsContainer {
				return fmt.Errorf("reviewer %q: votedFor %q is not a group (isContainer)", rv.Identity, g)
			}
		}
	}
	return nil
}

func hasState(t *WorkItemType, name string) bool {
	for _, s := range t.States {
		if strings.EqualFold(s.Name, name) {
			return true
		}
	}
	return false
}

// policyScope is one decoded settings.scope entry.
type policyScope struct {
	RepositoryID *string
	RefName      string
	MatchKind    string
}

func policyScopes(pol *Policy) ([]policyScope, error) {
	raw, ok := pol.Settings["scope"]
	if !ok {
		return nil, nil
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, errors.New("settings.scope must be a list")
	}
	out := make([]policyScope, 0, len(list))
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("settings.scope[%d] must be an object", i)
		}
		var s policyScope
		switch v := m["repositoryId"].(type) {
		case nil:
		case string:
			if _, err := uuid.Parse(v); err != nil {
				return nil, fmt.Errorf("settings.scope[%d].repositoryId %q is not a GUID", i, v)
			}
			s.RepositoryID = &v
		default:
			return nil, fmt.Errorf("settings.scope[%d].repositoryId must be a string or null", i)
		}
		if v, ok := m["refName"].(string); ok {
			s.RefName = v
		}
		s.MatchKind, _ = m["matchKind"].(string)
		switch strings.ToLower(s.MatchKind) {
		case "exact", "prefix", "defaultbranch":
		case "":
			if s.RefName != "" {
				return nil, fmt.Errorf("settings.scope[%d].matchKind is required with a refName", i)
			}
		default:
			return nil, fmt.Errorf("settings.scope[%d].matchKind %q is not Exact, Prefix or DefaultBranch", i, s.MatchKind)
		}
		out = append(out, s)
	}
	return out, nil
}

// stableID derives a GUID from a name so that scenarios without explicit ids
// produce the same ids on every run.
func stableID(kind, name string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("azdosim:"+kind+":"+strings.ToLower(name))).String()
}

// NewScenario starts a scenario for tests: an organization with one accepted
// token (none: authentication disabled).
func NewScenario(org string, tokens ...string) *Scenario {
	return &Scenario{Organization: org, Tokens: tokens, Identities: map[string]Identity{}}
}

// AgileTypes returns Bug, Task and User Story with the Agile process states.
func AgileTypes() []*WorkItemType {
	bug := []State{{"New", "Proposed", "b2b2b2"}, {"Active", "InProgress", "007acc"}, {"Resolved", "Resolved", "ff9d00"}, {"Closed", "Completed", "339933"}, {"Removed", "Removed", "ffffff"}}
	task := []State{{"New", "Proposed", "b2b2b2"}, {"Active", "InProgress", "007acc"}, {"Closed", "Completed", "339933"}, {"Removed", "Removed", "ffffff"}}
	return []*WorkItemType{{Name: "Bug", States: bug}, {Name: "Task", States: task}, {Name: "User Story", States: append([]State(nil), bug...)}}
}

// Project returns the project with that name, adding it (with the Agile work
// item types) when it does not exist yet.
func (sc *Scenario) Project(name string) *Project {
	for _, p := range sc.Projects {
		if strings.EqualFold(p.Name, name) {
			return p
		}
	}
	p := &Project{Name: name, WorkItemTypes: AgileTypes()}
	sc.Projects = append(sc.Projects, p)
	return p
}

// AddIdentity registers a user (or a group when container is true) under key.
func (sc *Scenario) AddIdentity(key, displayName string, container bool) *Scenario {
	if sc.Identities == nil {
		sc.Identities = map[string]Identity{}
	}
	unique := strings.ToLower(strings.ReplaceAll(displayName, " ", ".")) + "@example.com"
	if container {
		unique = "[" + sc.Organization + "]\\" + displayName
	}
	sc.Identities[key] = Identity{DisplayName: displayName, UniqueName: unique, IsContainer: container}
	return sc
}

// AddWorkItems appends work items to the project.
func (p *Project) AddWorkItems(items ...*WorkItem) *Project {
	p.WorkItems = append(p.WorkItems, items...)
	return p
}

// AddRepository appends a repository and returns it for adding pull requests.
func (p *Project) AddRepository(r *Repository) *Repository {
	p.Repositories = append(p.Repositories, r)
	return r
}

// AddPolicies appends policy configurations.
func (p *Project) AddPolicies(pols ...*Policy) *Project {
	p.Policies = append(p.Policies, pols...)
	return p
}

// AddBuilds appends builds.
func (p *Project) AddBuilds(builds ...*Build) *Project {
	p.Builds = append(p.Builds, builds...)
	return p
}

// AddQueries appends saved queries.
func (p *Project) AddQueries(qs ...*SavedQuery) *Project {
	p.Queries = append(p.Queries, qs...)
	return p
}

// Days is a helper for the relative date fields: Days(3) means three days ago.
func Days(n float64) *float64 { return &n }

// MinimumReviewersPolicy builds a minimum-reviewers policy scoped to one ref
// of one repository (repoID "" means every repository of the project).
func MinimumReviewersPolicy(id int, repoID, refName, matchKind string, minApprovers int, settings map[string]any) *Policy {
	var repo any
	if repoID != "" {
		repo = repoID
	}
	s := map[string]any{
		"minimumApproverCount":        float64(minApprovers),
		"creatorVoteCounts":           false,
		"allowDownvotes":              false,
		"resetOnSourcePush":           true,
		"resetRejectionsOnSourcePush": false,
		"requireVoteOnLastIteration":  false,
		"requireVoteOnEachIteration":  false,
		"blockLastPusherVote":         false,
		"scope":                       []any{map[string]any{"repositoryId": repo, "refName": refName, "matchKind": matchKind}},
	}
	for k, v := range settings {
		s[k] = v
	}
	return &Policy{ID: id, Type: PolicyTypeMinimumReviewers, IsEnabled: true, IsBlocking: true, Settings: s}
}

// sortedKeys returns map keys in order, for deterministic output.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
