package azdo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/microsoft/azure-devops-go-api/azuredevops/v7"
)

// Kind classifies an Error so that callers can react without parsing text.
type Kind int

// Error kinds.
const (
	KindUnknown      Kind = iota
	KindUnauthorized      // 401: token missing, expired or refused
	KindForbidden         // 403: the identity lacks a permission
	KindNotFound          // 404: project, repository, query ... not found or not visible
	KindBadRequest        // other 4xx: the service rejected the request (WIQL error, ...)
	KindThrottled         // 429 after retries
	KindUnavailable       // 5xx after retries
	KindNetwork           // no HTTP answer (reset, refused, DNS) after retries
	KindTimeout           // the context deadline passed
	KindCanceled          // the context was canceled
	KindBadResponse       // an answer that cannot be read (truncated JSON, HTML)
	KindResultLimit       // the 20,000 WIQL result cap
	KindUnsupported       // a query type or server the client cannot use
	KindCredential        // the credential could not produce a token
)

// Sentinels for errors.Is(err, azdo.ErrNotFound) and friends.
var (
	ErrUnauthorized = errors.New("azure devops: unauthorized")
	ErrForbidden    = errors.New("azure devops: forbidden")
	ErrNotFound     = errors.New("azure devops: not found")
	ErrBadRequest   = errors.New("azure devops: bad request")
	ErrThrottled    = errors.New("azure devops: throttled")
	ErrUnavailable  = errors.New("azure devops: unavailable")
	ErrNetwork      = errors.New("azure devops: network error")
	ErrTimeout      = errors.New("azure devops: deadline exceeded")
	ErrBadResponse  = errors.New("azure devops: unreadable response")
	ErrResultLimit  = errors.New("azure devops: result limit reached")
	ErrUnsupported  = errors.New("azure devops: unsupported")
)

var kindSentinels = map[Kind]error{
	KindUnauthorized: ErrUnauthorized,
	KindForbidden:    ErrForbidden,
	KindNotFound:     ErrNotFound,
	KindBadRequest:   ErrBadRequest,
	KindThrottled:    ErrThrottled,
	KindUnavailable:  ErrUnavailable,
	KindNetwork:      ErrNetwork,
	KindTimeout:      ErrTimeout,
	KindBadResponse:  ErrBadResponse,
	KindResultLimit:  ErrResultLimit,
	KindUnsupported:  ErrUnsupported,
	KindCredential:   ErrNoCredential,
}

// Error is a failed Azure DevOps call, worded for a pipeline author: what
// failed, the HTTP status, and what to do about it. It never contains the
// token.
type Error struct {
	Op       string // the Client method, e.g. "QueryWIQL"
	Kind     Kind
	Status   int // HTTP status; 0 when there was no HTTP answer
	Attempts int // attempts of the failing request (retries included)
	// Target is what the call addressed, e.g. `repository "payments-api" in project "Payments"`.
	Target string
	// Permission is, for 403, the permission the identity needs.
	Permission string
	// ServiceMessage is the service's own message (redacted), if any.
	ServiceMessage string

	msg string
	err error
}

func (e *Error) Error() string { return e.Op + ": " + e.msg }

// Unwrap returns the underlying error (the client library's or the
// transport's), for errors.Is(err, context.DeadlineExceeded) and the like.
func (e *Error) Unwrap() error { return e.err }

// Is matches the Err* sentinels by kind.
func (e *Error) Is(target error) bool {
	s, ok := kindSentinels[e.Kind]
	return ok && s == target
}

// permission is what a call needs, for 403 messages.
type permission struct {
	need     string // the permission, as the web UI names it
	patScope string // the PAT scope
}

var (
	permWorkItems = permission{`"View work items in this node" on the area path`, "Work Items (Read)"}
	permQuery     = permission{`"Read" on the saved query and "View work items in this node"`, "Work Items (Read)"}
	permBuild     = permission{`"View builds" on the pipeline`, "Build (Read)"}
	permCode      = permission{`"Read" on the repository (Code)`, "Code (Read)"}
	permPolicy    = permission{`"Read" on the repository (Code), which is what reading branch policies needs`, "Code (Read)"}
)

// scope describes what a call addresses.
type scope struct {
	project string
	what    string // e.g. `pull request 42 in repository "payments-api"`
	perm    permission
}

func (s scope) target() string {
	switch {
	case s.what != "" && s.project != "":
		return s.what + " in project " + quote(s.project)
	case s.what != "":
		return s.what
	case s.project != "":
		return "project " + quote(s.project)
	}
	return "the organization"
}

func quote(s string) string { return `"` + s + `"` }

// wrap turns any error from the client library or the transport into an
// *Error. The status comes from the library's WrappedError, or from what the
// transport saw when the body was not JSON (the library then returns a bare
// *json.SyntaxError and loses the status).
func (c *Client) wrap(cs *callState, sc scope, err error) error {
	if err == nil {
		return nil
	}
	var already *Error
	if errors.As(err, &already) {
		return err
	}
	status, attempts := cs.snapshot()
	e := &Error{Op: cs.op, Attempts: attempts, Target: sc.target(), err: err}

	var (
		ce  *credentialError
		we  *waitError
		xe  *exhaustedError
		wv  azuredevops.WrappedError
		wp  *azuredevops.WrappedError
		syn *json.SyntaxError
		ute *json.UnmarshalTypeError
		le  *azuredevops.LocationIdNotRegisteredError
		lv  azuredevops.LocationIdNotRegisteredError
		ue  *url.Error
	)
	switch {
	case errors.As(err, &ce):
		e.Kind = KindCredential
		e.msg = c.secrets.redact(fmt.Sprintf("could not get a token from %s: %v", ce.source, ce.err))
	case errors.As(err, &we):
		e.Status, e.Attempts = we.status, we.attempts
		e.Kind = kindForStatus(we.status)
		if we.status == 0 {
			e.Kind = KindNetwork
		}
		e.msg = fmt.Sprintf("%s; a retry would wait %s but %s (%s left), so the call gave up after %s. %s",
			c.describeStatus(we.status), we.wait.Round(1e6), we.why, we.limit.Round(1e6), plural(we.attempts, "attempt"), retryAdvice(we.status))
	// Checked before the deadline: when every attempt ran out of its own time limit the error
	// wraps context.DeadlineExceeded too, but raising the task's timeout would not help.
	case errors.As(err, &xe):
		e.Kind, e.Attempts = KindNetwork, xe.attempts
		e.msg = fmt.Sprintf("could not reach Azure DevOps at %s: %s; gave up after %s. Check the agent's network access to the organization", c.orgURL, describeNetError(xe.err, c.tr.attemptTimeout), plural(xe.attempts, "attempt"))
	case errors.Is(err, context.DeadlineExceeded):
		e.Kind = KindTimeout
		e.msg = fmt.Sprintf("no answer from Azure DevOps at %s for %s before the deadline (after %s): the service is slow or unreachable; re-run the stage or raise the task's timeout", c.orgURL, e.Target, plural(max(attempts, 1), "attempt"))
	case errors.Is(err, context.Canceled):
		e.Kind = KindCanceled
		e.msg = "canceled before Azure DevOps answered"
	case errors.As(err, &wv):
		c.fromStatus(e, sc, statusOf(wv.StatusCode, status), msgOf(wv.Message))
	case errors.As(err, &wp) && wp != nil:
		c.fromStatus(e, sc, statusOf(wp.StatusCode, status), msgOf(wp.Message))
	case errors.As(err, &syn), errors.As(err, &ute), errors.Is(err, io.ErrUnexpectedEOF):
		if status >= 300 || status == 0 && attempts == 0 {
			c.fromStatus(e, sc, status, "")
			e.msg += " (the answer was not JSON: an HTML error page from the service or a proxy)"
			break
		}
		e.Kind, e.Status = KindBadResponse, status
		e.msg = fmt.Sprintf("Azure DevOps answered %d %s for %s with a body that cannot be read (%v): truncated or not JSON; re-run the stage", status, http.StatusText(status), e.Target, err)
		if attempts > 1 {
			e.msg += fmt.Sprintf(" (gave up after %s)", plural(attempts, "attempt"))
		}
	case errors.As(err, &le), errors.As(err, &lv):
		e.Kind = KindUnsupported
		e.msg = fmt.Sprintf("the server at %s does not offer the REST API this call needs (%v); stagegate needs Azure DevOps Services or Azure DevOps Server 2022 or later", c.orgURL, err)
	case errors.As(err, &ue):
		e.Kind = KindNetwork
		e.msg = fmt.Sprintf("could not reach Azure DevOps at %s: %s. Check the agent's network access to the organization", c.orgURL, describeNetError(ue.Err, c.tr.attemptTimeout))
	default:
		e.msg = c.secrets.redact(fmt.Sprintf("unexpected error from the Azure DevOps client for %s: %v", e.Target, err))
	}
	e.msg = c.secrets.redact(e.msg)
	return e
}

// relabel names the method the caller called when a helper call failed.
func relabel(err error, op string) error {
	var e *Error
	if errors.As(err, &e) {
		c := *e
		c.Op = op
		return &c
	}
	return err
}

func statusOf(p *int, fallback int) int {
	if p != nil && *p != 0 {
		return *p
	}
	return fallback
}

func msgOf(p *string) string {
	if p == nil {
		return ""
	}
	m := strings.TrimSpace(*p)
	if strings.HasPrefix(m, "Request returned status: ") || strings.HasPrefix(m, "REST call returned status code") {
		return "" // the library's own placeholder for an empty body
	}
	return m
}

func kindForStatus(status int) Kind {
	switch {
	case status == http.StatusUnauthorized:
		return KindUnauthorized
	case status == http.StatusForbidden:
		return KindForbidden
	case status == http.StatusNotFound:
		return KindNotFound
	case status == http.StatusTooManyRequests:
		return KindThrottled
	case status >= 500:
		return KindUnavailable
	case status >= 400:
		return KindBadRequest
	case status >= 300:
		return KindBadResponse
	}
	return KindUnknown
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func (c *Client) describeStatus(status int) string {
	if status == 0 {
		return "Azure DevOps could not be reached"
	}
	return fmt.Sprintf("Azure DevOps answered %d %s", status, http.StatusText(status))
}

func retryAdvice(status int) string {
	if status == http.StatusTooManyRequests {
		return "The identity used up its Azure DevOps rate limit (200 TSTU per 5 minutes): run fewer pipelines at once or try again later"
	}
	return "Check https://status.dev.azure.com and re-run the stage"
}

// fromStatus words an HTTP error status.
func (c *Client) fromStatus(e *Error, sc scope, status int, serviceMsg string) {
	e.Status = status
	e.Kind = kindForStatus(status)
	e.ServiceMessage = c.secrets.redact(serviceMsg)
	src := c.cred.Source()
	switch {
	case status == http.StatusUnauthorized:
		e.msg = fmt.Sprintf("Azure DevOps refused the credential (401 Unauthorized): %s is missing, expired or not valid for %s. %s", src, c.orgURL, c.authHint())
	case status == http.StatusForbidden:
		e.Permission = sc.perm.need
		e.msg = fmt.Sprintf("access denied (403 Forbidden) to %s: the identity behind %s needs %s. %s", e.Target, src, orDefault(sc.perm.need, "read access"), c.forbiddenHint(sc))
	case status == http.StatusNotFound:
		e.msg = fmt.Sprintf("%s was not found (404 Not Found), or the identity behind %s cannot see it: check the name and the identity's access", e.Target, src)
	case status == http.StatusTooManyRequests:
		e.msg = fmt.Sprintf("Azure DevOps kept throttling the requests (429 Too Many Requests); gave up after %s. %s", plural(max(e.Attempts, 1), "attempt"), retryAdvice(status))
	case status >= 500:
		e.msg = fmt.Sprintf("Azure DevOps answered %d %s; gave up after %s. %s", status, http.StatusText(status), plural(max(e.Attempts, 1), "attempt"), retryAdvice(status))
	case status == 0:
		e.Kind = KindBadResponse
		e.msg = "Azure DevOps gave an answer that cannot be read"
	case status >= 300 && status < 400:
		e.msg = fmt.Sprintf("Azure DevOps redirected the request for %s (%d %s) instead of answering: check the organization URL %s", e.Target, status, http.StatusText(status), c.orgURL)
	default:
		if strings.Contains(serviceMsg, "VS402337") {
			e.Kind = KindResultLimit
			e.msg = fmt.Sprintf("the query matches more than %d work items, the service's limit, so its result would be incomplete: narrow it (area path, work item types, tags)", wiqlResultCap)
			break
		}
		e.msg = fmt.Sprintf("Azure DevOps rejected the request for %s (%d %s)", e.Target, status, http.StatusText(status))
	}
	if e.ServiceMessage != "" {
		e.msg = strings.TrimRight(e.msg, ".") + ". Service message: " + e.ServiceMessage
	}
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func (c *Client) authHint() string {
	switch {
	case isJobToken(c.cred):
		return "The job token is only valid while its job runs: run the task inside the pipeline job, and re-run the stage."
	case c.cred.Source() == SourcePAT:
		return "Create a new personal access token with the Work Items (Read), Code (Read) and Build (Read) scopes and set AZURE_DEVOPS_EXT_PAT."
	}
	return "Sign in again (az login) or check that the identity was added to the organization."
}

func (c *Client) forbiddenHint(sc scope) string {
	switch {
	case isJobToken(c.cred):
		project := sc.project
		if project == "" {
			project = "<project>"
		}
		return fmt.Sprintf(`Grant it to %s (or to "Project Collection Build Service (%s)" when the pipeline's job authorization scope is the whole collection). If the data lives in another project, turn off the pipeline setting "Limit job authorization scope to current project" (Project settings > Pipelines > Settings).`,
			quote(project+" Build Service ("+c.orgName+")"), c.orgName)
	case c.cred.Source() == SourcePAT:
		return fmt.Sprintf("Give the token's owner that permission and make sure the personal access token has the %s scope.", orDefault(sc.perm.patScope, "needed"))
	}
	return "Give the signed-in identity that permission."
}
