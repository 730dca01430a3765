// Package azdo is stagegate's access to Azure DevOps: credentials (job
// token, PAT; Microsoft Entra in subpackage entra), a retrying and counting
// transport, errors a pipeline author can act on, and narrow read methods
// shaped for the gates, on top of github.com/microsoft/azure-devops-go-api.
//
// Requests per call (after the first call of a process, which also pays one
// OPTIONS {org}/_apis for location discovery):
//
//	QueryWIQL                 1
//	QueryByID                 1 (a GUID) or 2 (a path: GetQuery first)
//	GetQuery                  1
//	GetWorkItems              ceil(len(ids)/200)
//	GetWorkItemTypeStates     1
//	GetBuildWorkItemIDs       1
//	QueryPullRequestsByCommit 1
//	GetPullRequest            1
//	GetPullRequestReviewers   1
//	GetRepository             1
//	GetPolicyConfigurations   1 per page (+1 GetRepository when given a name)
//
// Retries add requests; Client.Requests counts every round trip.
//
// The client library caches resource locations in a package-global map
// keyed by the organization URL and never invalidates it. A process talks to
// one organization, so that is harmless in production; tests must use a new
// server URL per test.
package azdo

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/microsoft/azure-devops-go-api/azuredevops/v7"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/build"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/git"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/workitemtracking"

	"github.com/stagegate/stagegate/pkg/retry"
)

// Options configure a Client. OrgURL and Credential are required.
type Options struct {
	// OrgURL is the organization (collection) URL, e.g.
	// https://dev.azure.com/contoso/ (SYSTEM_COLLECTIONURI).
	OrgURL     string
	Credential Credential
	// Warn receives one line per retry and when the rate limit runs low;
	// the gates print it as a pipeline warning. Optional.
	Warn func(msg string)
	// Sleep waits between attempts; tests inject a fake. Default: a timer
	// that stops when ctx ends.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock for Retry-After dates. Default time.Now.
	Now func() time.Time
	// MaxAttempts per request, the first included. Default 4 (3 retries).
	MaxAttempts int
	// AttemptTimeout bounds each attempt. Default 30s. The overall bound is
	// ctx's deadline: the transport never sleeps past it.
	AttemptTimeout time.Duration
	// MaxWait is the longest single wait the transport accepts from
	// Retry-After. Default 5 minutes.
	MaxWait time.Duration
	// BaseBackoff and MaxBackoff shape the exponential backoff for 5xx and
	// network errors. Defaults 1s and 30s.
	BaseBackoff, MaxBackoff time.Duration
	// HTTPClient provides the base transport (proxies, TLS). Optional; its
	// Timeout is ignored in favour of AttemptTimeout.
	HTTPClient *http.Client
	// UserAgent is appended to the client library's user agent.
	UserAgent string
}

// Client reads Azure DevOps for the gates. It is safe for concurrent use.
type Client struct {
	orgURL  string
	orgName string
	cred    Credential
	tr      *transport
	secrets *redactor
	warn    func(string)
	wit     *workitemtracking.ClientImpl
	git     *git.ClientImpl
	build   *build.ClientImpl
}

// WorkItemReader is what SecurityWorkItemGate needs.
type WorkItemReader interface {
	QueryWIQL(ctx context.Context, project, wiql string) ([]int, error)
	QueryByID(ctx context.Context, project, queryIDOrPath string) ([]int, error)
	GetQuery(ctx context.Context, project, idOrPath string) (Query, error)
	GetWorkItems(ctx context.Context, project string, ids []int, fields []string) ([]WorkItem, error)
	GetWorkItemTypeStates(ctx context.Context, project, typeName string) ([]State, error)
}

// BuildReader reads the work items linked to a run.
type BuildReader interface {
	GetBuildWorkItemIDs(ctx context.Context, project string, buildID int) ([]int, error)
}

// PullRequestReader is what ProductionReviewGate needs for change checks.
type PullRequestReader interface {
	QueryPullRequestsByCommit(ctx context.Context, project, repo, commit string) ([]PullRequest, error)
	GetPullRequest(ctx context.Context, project, repo string, id int) (PullRequest, error)
	GetPullRequestReviewers(ctx context.Context, project, repo string, id int) ([]Reviewer, error)
	GetRepository(ctx context.Context, project, repo string) (Repository, error)
}

// PolicyReader is what ProductionReviewGate needs for policy checks.
type PolicyReader interface {
	GetPolicyConfigurations(ctx context.Context, project, repoID, refName, policyType string) ([]PolicyConfiguration, error)
}

var (
	_ WorkItemReader    = (*Client)(nil)
	_ BuildReader       = (*Client)(nil)
	_ PullRequestReader = (*Client)(nil)
	_ PolicyReader      = (*Client)(nil)
)

// New builds a Client. It makes no request: the first call does location
// discovery.
func New(_ context.Context, opts Options) (*Client, error) {
	if opts.Credential == nil {
		return nil, errors.Join(ErrNoCredential, errors.New("azdo: Options.Credential is required"))
	}
	orgURL, orgName, host, err := parseOrgURL(opts.OrgURL)
	if err != nil {
		return nil, err
	}
	o := opts
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 4
	}
	if o.AttemptTimeout <= 0 {
		o.AttemptTimeout = 30 * time.Second
	}
	if o.MaxWait <= 0 {
		o.MaxWait = 5 * time.Minute
	}
	if o.BaseBackoff <= 0 {
		o.BaseBackoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.Sleep == nil {
		o.Sleep = retry.Sleep
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	var base http.RoundTripper = http.DefaultTransport
	if o.HTTPClient != nil && o.HTTPClient.Transport != nil {
		base = o.HTTPClient.Transport
	}
	secrets := newRedactor()
	tr := &transport{
		base:           base,
		cred:           o.Credential,
		host:           host,
		warn:           o.Warn,
		sleep:          o.Sleep,
		now:            o.Now,
		maxAttempts:    o.MaxAttempts,
		attemptTimeout: o.AttemptTimeout,
		maxWait:        o.MaxWait,
		baseBackoff:    o.BaseBackoff,
		maxBackoff:     o.MaxBackoff,
		secrets:        secrets,
		counts:         map[string]int{},
	}
	hc := &http.Client{
		Transport: tr,
		// The REST API does not redirect; a redirect means a wrong URL or a
		// sign-in page, and following it could carry the token elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if o.HTTPClient != nil {
		hc.Jar = o.HTTPClient.Jar
	}
	// An anonymous connection: the transport sets Authorization per
	// request, so the token never sits in the connection or in its errors.
	conn := azuredevops.NewAnonymousConnection(orgURL)
	conn.UserAgent = strings.TrimSpace("stagegate " + o.UserAgent)
	lib := azuredevops.NewClientWithOptions(conn, orgURL, azuredevops.WithHTTPClient(hc))
	return &Client{
		orgURL:  orgURL,
		orgName: orgName,
		cred:    o.Credential,
		tr:      tr,
		secrets: secrets,
		warn:    o.Warn,
		// The typed clients are built directly on our client: their own
		// constructors would look up resource areas through a plain
		// http.Client without our transport. wit, git and build live at the
		// organization URL on Azure DevOps Services and Server.
		wit:   &workitemtracking.ClientImpl{Client: *lib},
		git:   &git.ClientImpl{Client: *lib},
		build: &build.ClientImpl{Client: *lib},
	}, nil
}

func parseOrgURL(raw string) (orgURL, orgName, host string, err error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", "", "", errors.New("azdo: the organization URL is empty (expected https://dev.azure.com/<organization>)")
	}
	u, perr := url.Parse(raw)
	if perr != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", "", "", fmt.Errorf("azdo: %q is not an organization URL (expected https://dev.azure.com/<organization>)", redactURL(raw))
	}
	if u.User != nil {
		return "", "", "", fmt.Errorf("azdo: the organization URL %q must not contain credentials; use a Credential", redactURL(raw))
	}
	u.RawQuery, u.Fragment = "", ""
	path := strings.Trim(u.Path, "/")
	switch {
	case path != "":
		orgName = path[strings.LastIndexByte(path, '/')+1:]
	case strings.HasSuffix(strings.ToLower(u.Hostname()), ".visualstudio.com"):
		orgName = strings.SplitN(u.Hostname(), ".", 2)[0]
	default:
		orgName = u.Hostname()
	}
	return strings.TrimRight(u.String(), "/"), orgName, u.Host, nil
}

// redactURL drops user info from a URL for messages.
func redactURL(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		u.User = url.User("***")
		return u.String()
	}
	if i := strings.Index(raw, "@"); i >= 0 {
		if j := strings.Index(raw, "://"); j >= 0 && j < i {
			return raw[:j+3] + "***" + raw[i:]
		}
	}
	return raw
}

// OrgURL returns the organization URL without a trailing slash.
func (c *Client) OrgURL() string { return c.orgURL }

// Stats counts HTTP round trips, retries included.
type Stats struct {
	Total   int
	Retries int
	// ByCall counts per REST call, named like the simulator's routes:
	// locations, wiql, wiqlById, queries, workItemsBatch,
	// workItemTypeStates, buildWorkItems, pullRequestQuery, pullRequest,
	// pullRequestReviewers, repository, policyConfigurations.
	ByCall map[string]int
}

// Requests returns the round trips made so far.
func (c *Client) Requests() Stats {
	c.tr.mu.Lock()
	defer c.tr.mu.Unlock()
	s := Stats{Retries: c.tr.retries, ByCall: make(map[string]int, len(c.tr.counts))}
	for k, v := range c.tr.counts {
		s.ByCall[k] = v
		s.Total += v
	}
	return s
}

// Redact replaces any token this client has sent with "***": for callers
// that print text which might echo a request.
func (c *Client) Redact(s string) string { return c.secrets.redact(s) }

func (c *Client) begin(ctx context.Context, op string) (context.Context, *callState) {
	return withCall(ctx, op)
}

// argError reports a bad argument as an *Error without a request.
func (c *Client) argError(op, msg string) error {
	return &Error{Op: op, Kind: KindBadRequest, msg: msg}
}

// QuoteWIQL quotes s as a WIQL string literal ('it”s'), so that inputs never
// become WIQL syntax.
func QuoteWIQL(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// WIQLList quotes values as a WIQL IN list: ('a', 'b').
func WIQLList(values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = QuoteWIQL(v)
	}
	return "(" + strings.Join(q, ", ") + ")"
}
