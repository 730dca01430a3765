// Package azdosim is an in-memory Azure DevOps Services simulator: an
// http.Handler that answers the REST calls stagegate makes, with the
// response shapes of the real service, for tests (through httptest) and for
// `stagegate demo`.
//
// Mount it at the root of a server; the organization URL is then
// {server URL}/{organization}. It serves location discovery, WIQL (really
// evaluated), work items, work item type states, build work item refs, pull
// request queries, pull requests and reviewers, repositories and git policy
// configurations with scope resolution. Faults can be injected per route and
// every request is logged, so tests can count round trips.
//
// The azure-devops-go-api client caches locations in a package-global map
// keyed by URL and never invalidates it: give each test its own
// httptest.Server.
package azdosim

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options tune a Server.
type Options struct {
	// Now is the simulator's clock: relative scenario dates and @Today are
	// resolved against it. Default time.Now.
	Now func() time.Time
	// PolicyPageSize is the most policy configurations returned per page
	// before x-ms-continuationtoken is set. Default 100.
	PolicyPageSize int
}

// Server is the simulator. It is safe for concurrent use.
type Server struct {
	org        string
	tokens     map[string]bool
	identities map[string]Identity
	projects   []*simProject
	items      map[int]*simItem
	sorted     []*simItem // by id: the scan order of WIQL
	fields     *fieldRegistry
	now        func() time.Time
	pageSize   int

	mu       sync.Mutex
	faults   []*faultState
	requests []Request
}

type simProject struct {
	p        *Project
	types    map[string]*WorkItemType
	queries  []*SavedQuery
	builds   map[int]*Build
	repos    []*simRepo
	policies []*Policy // by id
	created  time.Time
}

type simRepo struct {
	r       *Repository
	project *simProject
	prs     map[int]*PullRequest
}

type simItem struct {
	id      int
	rev     int
	project *simProject
	fields  map[string]any
	tagList []string             // lower-cased, trimmed
	dates   map[string]time.Time // parsed date fields, for WIQL
}

func (it *simItem) tags() []string { return it.tagList }

// New builds a simulator for the scenario. The scenario is validated and
// must not be changed afterwards.
func New(sc *Scenario, opts Options) (*Server, error) {
	if sc == nil {
		return nil, fmt.Errorf("azdosim: nil scenario")
	}
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	pageSize := opts.PolicyPageSize
	if pageSize <= 0 {
		pageSize = 100
	}
	s := &Server{
		org:        sc.Organization,
		tokens:     map[string]bool{},
		identities: sc.Identities,
		items:      map[int]*simItem{},
		now:        now,
		pageSize:   pageSize,
	}
	for _, t := range sc.Tokens {
		s.tokens[t] = true
	}
	base := now().UTC()
	for _, p := range sc.Projects {
		sp := &simProject{p: p, types: map[string]*WorkItemType{}, builds: map[int]*Build{}, queries: p.Queries, created: base.AddDate(-1, 0, 0)}
		for _, t := range p.WorkItemTypes {
			sp.types[strings.ToLower(t.Name)] = t
		}
		for _, b := range p.Builds {
			sp.builds[b.ID] = b
		}
		for _, r := range p.Repositories {
			sr := &simRepo{r: r, project: sp, prs: map[int]*PullRequest{}}
			for _, pr := range r.PullRequests {
				sr.prs[pr.ID] = pr
			}
			sp.repos = append(sp.repos, sr)
		}
		sp.policies = append([]*Policy(nil), p.Policies...)
		sort.Slice(sp.policies, func(i, j int) bool { return sp.policies[i].ID < sp.policies[j].ID })
		for _, w := range p.WorkItems {
			it := newSimItem(w, sp, base)
			s.items[it.id] = it
			s.sorted = append(s.sorted, it)
		}
		s.projects = append(s.projects, sp)
	}
	sort.Slice(s.sorted, func(i, j int) bool { return s.sorted[i].id < s.sorted[j].id })
	s.fields = newFieldRegistry(s.sorted)
	for _, it := range s.sorted {
		it.dates = map[string]time.Time{}
		for ref, v := range it.fields {
			str, isStr := v.(string)
			if def, ok := s.fields.byKey[strings.ToLower(ref)]; ok && def.kind == kDate && isStr {
				if t, err := time.Parse(time.RFC3339Nano, str); err == nil {
					it.dates[def.ref] = t
				}
			}
		}
	}
	return s, nil
}

// NewFromFile loads a scenario file and builds a simulator for it.
func NewFromFile(path string, opts Options) (*Server, error) {
	sc, err := LoadScenario(path)
	if err != nil {
		return nil, err
	}
	return New(sc, opts)
}

func daysAgo(base time.Time, d float64) time.Time {
	return base.Add(-time.Duration(d * 24 * float64(time.Hour))).Truncate(time.Millisecond)
}

func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.999Z07:00") }

func newSimItem(w *WorkItem, sp *simProject, base time.Time) *simItem {
	f := map[string]any{}
	set := func(k string, v any) {
		if v != nil && v != "" {
			f[k] = v
		}
	}
	set("System.WorkItemType", w.Type)
	set("System.Title", w.Title)
	set("System.State", w.State)
	if len(w.Tags) > 0 {
		f["System.Tags"] = strings.Join(w.Tags, "; ")
	}
	set("Microsoft.VSTS.Common.Severity", w.Severity)
	set("System.AreaPath", w.AreaPath)
	if w.CreatedDaysAgo != nil {
		f["System.CreatedDate"] = formatTime(daysAgo(base, *w.CreatedDaysAgo))
	}
	if w.ChangedDaysAgo != nil {
		f["System.ChangedDate"] = formatTime(daysAgo(base, *w.ChangedDaysAgo))
	}
	if w.ClosedDaysAgo != nil {
		f["Microsoft.VSTS.Common.ClosedDate"] = formatTime(daysAgo(base, *w.ClosedDaysAgo))
	}
	for k, v := range w.Fields {
		f[k] = v
	}
	t := sp.types[strings.ToLower(fmt.Sprint(f["System.WorkItemType"]))]
	if t != nil {
		f["System.WorkItemType"] = t.Name // canonical case
		if _, ok := f["System.State"]; !ok {
			f["System.State"] = t.States[0].Name
		}
	}
	rev := w.Rev
	if rev <= 0 {
		rev = 1
	}
	f["System.Id"] = float64(w.ID)
	f["System.Rev"] = float64(rev)
	f["System.TeamProject"] = sp.p.Name
	if _, ok := f["System.AreaPath"]; !ok {
		f["System.AreaPath"] = sp.p.Name
	}
	if _, ok := f["System.IterationPath"]; !ok {
		f["System.IterationPath"] = sp.p.Name
	}
	if _, ok := f["System.CreatedDate"]; !ok {
		f["System.CreatedDate"] = formatTime(daysAgo(base, 30))
	}
	if _, ok := f["System.ChangedDate"]; !ok {
		changed := f["System.CreatedDate"]
		if c, ok := f["Microsoft.VSTS.Common.ClosedDate"]; ok {
			changed = c
		}
		f["System.ChangedDate"] = changed
	}
	it := &simItem{id: w.ID, rev: rev, project: sp, fields: f}
	if tags, ok := f["System.Tags"].(string); ok {
		for _, t := range strings.Split(tags, ";") {
			if t = strings.ToLower(strings.TrimSpace(t)); t != "" {
				it.tagList = append(it.tagList, t)
			}
		}
	}
	return it
}

// Request is one logged request.
type Request struct {
	Method string
	Path   string
	Query  string
	Route  string // route name, e.g. "wiql"; "" when the path is unknown
	Status int    // 0 when the connection was reset
	Fault  FaultKind
}

// Requests returns a copy of the request log.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Count returns how many logged requests hit the route ("" counts all).
func (s *Server) Count(route string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.requests {
		if route == "" || r.Route == route {
			n++
		}
	}
	return n
}

// ResetRequests clears the request log.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

// Organization returns the organization name: the first path segment.
func (s *Server) Organization() string { return s.org }

// OrgURL returns the organization URL for a server URL (an
// httptest.Server's URL, say).
func (s *Server) OrgURL(serverURL string) string {
	return strings.TrimRight(serverURL, "/") + "/" + s.org
}

// route names, as used in the request log and by faults.
const (
	RouteLocations            = "locations"
	RouteResourceAreas        = "resourceAreas"
	RouteWIQL                 = "wiql"
	RouteWIQLByID             = "wiqlById"
	RouteQueries              = "queries"
	RouteWorkItemsBatch       = "workItemsBatch"
	RouteWorkItemTypeStates   = "workItemTypeStates"
	RouteBuildWorkItems       = "buildWorkItems"
	RoutePullRequestQuery     = "pullRequestQuery"
	RoutePullRequest          = "pullRequest"
	RoutePullRequestReviewers = "pullRequestReviewers"
	RouteRepository           = "repository"
	RoutePolicyConfigurations = "policyConfigurations"
)

type routeMatch struct {
	name    string
	method  string
	project string   // "" when the route has no project segment
	args    []string // route values, unescaped
}

// match resolves a request path. Routing is case-insensitive because the Go
// client lower-cases the organization URL.
func (s *Server) match(r *http.Request) (routeMatch, int, string) {
	segs, err := splitPath(r.URL.EscapedPath())
	if err != nil {
		return routeMatch{}, http.StatusBadRequest, err.Error()
	}
	if len(segs) == 0 || !strings.EqualFold(segs[0], s.org) {
		return routeMatch{}, http.StatusNotFound, fmt.Sprintf("VS800075: The organization in %q does not exist; this simulator serves %q.", r.URL.Path, s.org)
	}
	apis := -1
	for i, sg := range segs {
		if strings.EqualFold(sg, "_apis") {
			apis = i
			break
		}
	}
	if apis < 0 || apis > 3 {
		return routeMatch{}, http.StatusNotFound, fmt.Sprintf("azdosim does not serve %s", r.URL.Path)
	}
	m := routeMatch{}
	if apis >= 2 {
		m.project = segs[1] // segs[2], when present, is a team: ignored
	}
	api := segs[apis+1:]
	low := make([]string, len(api))
	for i, a := range api {
		low[i] = strings.ToLower(a)
	}
	is := func(parts ...string) bool {
		if len(parts) != len(low) {
			return false
		}
		for i, p := range parts {
			if p != "*" && p != low[i] {
				return false
			}
		}
		return true
	}
	switch {
	case is():
		m.name, m.method = RouteLocations, http.MethodOptions
	case is("resourceareas"), is("resourceareas", "*"):
		m.name, m.method = RouteResourceAreas, http.MethodGet
	case is("wit", "wiql"):
		m.name, m.method = RouteWIQL, http.MethodPost
	case is("wit", "wiql", "*"):
		m.name, m.method, m.args = RouteWIQLByID, http.MethodGet, api[2:]
	case len(low) >= 3 && low[0] == "wit" && low[1] == "queries":
		m.name, m.method, m.args = RouteQueries, http.MethodGet, []string{strings.Join(api[2:], "/")}
	case is("wit", "workitemsbatch"):
		m.name, m.method = RouteWorkItemsBatch, http.MethodPost
	case is("wit", "workitemtypes", "*", "states"):
		m.name, m.method, m.args = RouteWorkItemTypeStates, http.MethodGet, api[2:3]
	case is("build", "builds", "*", "workitems"):
		m.name, m.method, m.args = RouteBuildWorkItems, http.MethodGet, api[2:3]
	case is("git", "repositories", "*", "pullrequestquery"):
		m.name, m.method, m.args = RoutePullRequestQuery, http.MethodPost, api[2:3]
	case is("git", "repositories", "*", "pullrequests", "*"):
		m.name, m.method, m.args = RoutePullRequest, http.MethodGet, []string{api[2], api[4]}
	case is("git", "repositories", "*", "pullrequests", "*", "reviewers"):
		m.name, m.method, m.args = RoutePullRequestReviewers, http.MethodGet, []string{api[2], api[4]}
	case is("git", "repositories", "*"):
		m.name, m.method, m.args = RouteRepository, http.MethodGet, api[2:3]
	case is("git", "repositories", "*", "items"):
		m.name, m.method, m.args = RouteItems, http.MethodGet, api[2:3]
	case is("git", "policy", "configurations"):
		m.name, m.method = RoutePolicyConfigurations, http.MethodGet
	default:
		return routeMatch{}, http.StatusNotFound, fmt.Sprintf("azdosim does not simulate %s %s", r.Method, r.URL.Path)
	}
	if r.Method != m.method {
		return m, http.StatusMethodNotAllowed, fmt.Sprintf("The requested resource does not support http method '%s'.", r.Method)
	}
	return m, 0, ""
}

func splitPath(escaped string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(escaped, "/") {
		if p == "" {
			continue
		}
		u, err := url.PathUnescape(p)
		if err != nil {
			return nil, fmt.Errorf("invalid path segment %q: %w", p, err)
		}
		out = append(out, u)
	}
	return out, nil
}

// statusRecorder logs the request when its status is written: before the
// body goes out, so that a client never sees an answer the log lacks.
type statusRecorder struct {
	http.ResponseWriter
	status   int
	onStatus func(int)
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
		w.onStatus(code)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m, status, msg := s.match(r)
	entry := Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Route: m.name}
	logged := false
	logEntry := func(status int) {
		if logged {
			return
		}
		logged = true
		entry.Status = status
		s.mu.Lock()
		s.requests = append(s.requests, entry)
		s.mu.Unlock()
	}
	rec := &statusRecorder{ResponseWriter: w, onStatus: logEntry}
	defer func() { logEntry(rec.status) }()
	if f := s.takeFault(r, m.name); f != nil {
		entry.Fault = f.Kind
		if f.Kind == FaultReset {
			// Log before the client sees the reset, so a test that counts
			// requests right after the failure sees this one.
			logEntry(0)
		}
		if done := s.applyFault(rec, r, f, func(w http.ResponseWriter) { s.serve(w, r, m, status, msg) }); done {
			return
		}
	}
	s.serve(rec, r, m, status, msg)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, m routeMatch, status int, msg string) {
	if ok, why := s.authorized(r); !ok {
		w.Header().Set("WWW-Authenticate", `Bearer authorization_uri=https://login.microsoftonline.com/common, Basic realm="https://dev.azure.com/", TFS-Federated`)
		w.Header().Set("X-TFS-ProcessId", "00000000-0000-0000-0000-000000000000")
		writeError(w, http.StatusUnauthorized, "UnauthorizedRequestException", why)
		return
	}
	if status != 0 {
		writeError(w, status, "RouteNotFoundException", msg)
		return
	}
	if m.name != RouteLocations {
		if err := checkAPIVersion(r); err != nil {
			writeError(w, http.StatusBadRequest, err.typeKey, err.msg)
			return
		}
	}
	switch m.name {
	case RouteLocations:
		writeJSON(w, http.StatusOK, map[string]any{"count": len(locations), "value": locations})
	case RouteResourceAreas:
		writeJSON(w, http.StatusOK, map[string]any{"count": 0, "value": []any{}})
	case RouteWIQL:
		s.handleWIQL(w, r, m)
	case RouteWIQLByID:
		s.handleWIQLByID(w, r, m)
	case RouteQueries:
		s.handleQueries(w, r, m)
	case RouteWorkItemsBatch:
		s.handleWorkItemsBatch(w, r, m)
	case RouteWorkItemTypeStates:
		s.handleStates(w, r, m)
	case RouteBuildWorkItems:
		s.handleBuildWorkItems(w, r, m)
	case RoutePullRequestQuery:
		s.handlePullRequestQuery(w, r, m)
	case RoutePullRequest:
		s.handlePullRequest(w, r, m)
	case RoutePullRequestReviewers:
		s.handleReviewers(w, r, m)
	case RouteRepository:
		s.handleRepository(w, r, m)
	case RoutePolicyConfigurations:
		s.handlePolicies(w, r, m)
	case RouteItems:
		s.handleItems(w, r, m)
	}
}

// authorized accepts "Bearer <token>" and "Basic base64(user:<token>)" for
// the scenario's tokens. The messages follow the service's TF400813.
func (s *Server) authorized(r *http.Request) (bool, string) {
	if len(s.tokens) == 0 {
		return true, ""
	}
	h := r.Header.Get("Authorization")
	if h == "" {
		return false, "TF400813: Resource not available for anonymous access. Client authentication required."
	}
	scheme, cred, _ := strings.Cut(h, " ")
	var token string
	switch strings.ToLower(scheme) {
	case "bearer":
		token = strings.TrimSpace(cred)
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
		if err == nil {
			_, token, _ = strings.Cut(string(raw), ":")
		}
	}
	if token != "" && s.tokens[token] {
		return true, ""
	}
	return false, "TF400813: The user is not authorized to access this resource."
}

type versionError struct{ typeKey, msg string }

var apiVersionRe = regexp.MustCompile(`(?i)api-version\s*=\s*([0-9]+)\.([0-9]+)(-preview(\.[0-9]+)?)?`)

// checkAPIVersion requires an api-version (Accept header or query string)
// no newer than 7.1, as the service does.
func checkAPIVersion(r *http.Request) *versionError {
	v := r.URL.Query().Get("api-version")
	if v != "" {
		v = "api-version=" + v
	} else {
		v = r.Header.Get("Accept")
	}
	m := apiVersionRe.FindStringSubmatch(v)
	if m == nil {
		return &versionError{"VssVersionNotSpecifiedException", fmt.Sprintf(`No api-version was supplied for the "%s" request. The version must be supplied either as part of the Accept header (e.g. "application/json; api-version=1.0") or as a query parameter (e.g. "?api-version=1.0").`, r.Method)}
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	if major > 7 || major == 7 && minor > 1 {
		return &versionError{"VssVersionOutOfRangeException", fmt.Sprintf("The requested REST API version of %s.%s is out of range for this server. The latest REST API version this server supports is 7.1.", m[1], m[2])}
	}
	return nil
}

// serviceError is the JSON error body of the service.
type serviceError struct {
	ID             string  `json:"$id"`
	InnerException *string `json:"innerException"`
	Message        string  `json:"message"`
	TypeName       string  `json:"typeName"`
	TypeKey        string  `json:"typeKey"`
	ErrorCode      int     `json:"errorCode"`
	EventID        int     `json:"eventId"`
}

func writeError(w http.ResponseWriter, status int, typeKey, msg string) {
	writeJSON(w, status, serviceError{
		ID:       "1",
		Message:  msg,
		TypeName: "Microsoft.VisualStudio.Services.WebApi." + typeKey + ", Microsoft.VisualStudio.Services.WebApi",
		TypeKey:  typeKey,
		EventID:  3000,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "azdosim: encode response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8; api-version=7.1")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-TFS-Session", "00000000-0000-0000-0000-000000000000")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (s *Server) baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/" + s.org
}

func (s *Server) project(w http.ResponseWriter, name string, required bool) (*simProject, bool) {
	if name == "" {
		if required {
			writeError(w, http.StatusNotFound, "ProjectDoesNotExistWithNameException", "TF200016: A project name or id is required for this call.")
			return nil, false
		}
		return nil, true
	}
	for _, p := range s.projects {
		if strings.EqualFold(p.p.Name, name) || strings.EqualFold(p.p.ID, name) {
			return p, true
		}
	}
	writeError(w, http.StatusNotFound, "ProjectDoesNotExistWithNameException", fmt.Sprintf("TF200016: The following project does not exist: %s. Verify that the name of the project is correct and that the project exists on the specified Azure DevOps Server.", name))
	return nil, false
}

func (s *Server) identityRef(base, key string) map[string]any {
	id := s.identities[key]
	out := map[string]any{
		"id":          id.ID,
		"displayName": id.DisplayName,
		"uniqueName":  id.UniqueName,
		"url":         base + "/_apis/Identities/" + id.ID,
		"imageUrl":    base + "/_api/_common/identityImage?id=" + id.ID,
		"descriptor":  descriptor(id),
	}
	if id.IsContainer {
		out["isContainer"] = true
	}
	return out
}

func descriptor(id Identity) string {
	prefix := "aad."
	if id.IsContainer {
		prefix = "vssgp."
	}
	return prefix + base64.RawStdEncoding.EncodeToString([]byte(id.ID))
}
