package azdo

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/stagegate/stagegate/pkg/retry"
)

// maxResponseBytes bounds a buffered response body. The largest legitimate
// answer (20,000 WIQL ids, or 200 work items with every field) is a few MiB.
const maxResponseBytes = 64 << 20

// callState follows one Client method call through the transport, so that
// errors can be mapped with what the transport saw (the client library loses
// the status of non-JSON error bodies).
type callState struct {
	op string

	mu         sync.Mutex
	lastStatus int
	attempts   int // attempts of the latest HTTP request in this call
}

func (c *callState) record(status, attempt int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lastStatus = status
	c.attempts = attempt
}

func (c *callState) snapshot() (status, attempts int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastStatus, c.attempts
}

type callKey struct{}

func withCall(ctx context.Context, op string) (context.Context, *callState) {
	cs := &callState{op: op}
	return context.WithValue(ctx, callKey{}, cs), cs
}

func callFrom(ctx context.Context) *callState {
	cs, _ := ctx.Value(callKey{}).(*callState)
	return cs
}

// transport authenticates, retries and counts requests. One transport
// belongs to one Client.
type transport struct {
	base           http.RoundTripper
	cred           Credential
	host           string // the organization host: the only host that gets the token
	warn           func(string)
	sleep          func(context.Context, time.Duration) error
	now            func() time.Time
	maxAttempts    int
	attemptTimeout time.Duration
	maxWait        time.Duration
	baseBackoff    time.Duration
	maxBackoff     time.Duration
	secrets        *redactor

	mu          sync.Mutex
	counts      map[string]int
	retries     int
	slowDown    time.Duration // waited before the next request when the rate limit runs low
	warnedLimit bool
}

// callName names a REST call from its URL path, the way the simulator names
// its routes: "wiql", "workItemsBatch", "pullRequestQuery", ...
func callName(method, path string) string {
	low := strings.ToLower(path)
	i := strings.Index(low, "/_apis")
	if i < 0 {
		return "other"
	}
	rest := strings.Trim(low[i+len("/_apis"):], "/")
	parts := strings.Split(rest, "/")
	n := len(parts)
	switch {
	case rest == "" && method == http.MethodOptions:
		return "locations"
	case parts[0] == "resourceareas":
		return "resourceAreas"
	case n == 2 && parts[0] == "wit" && parts[1] == "wiql":
		return "wiql"
	case n == 3 && parts[0] == "wit" && parts[1] == "wiql":
		return "wiqlById"
	case n >= 2 && parts[0] == "wit" && parts[1] == "queries":
		return "queries"
	case n == 2 && parts[0] == "wit" && parts[1] == "workitemsbatch":
		return "workItemsBatch"
	case n == 4 && parts[0] == "wit" && parts[1] == "workitemtypes" && parts[3] == "states":
		return "workItemTypeStates"
	case n == 4 && parts[0] == "build" && parts[1] == "builds" && parts[3] == "workitems":
		return "buildWorkItems"
	case n >= 3 && parts[0] == "git" && parts[1] == "repositories":
		switch {
		case n == 3:
			return "repository"
		case n == 4 && parts[3] == "pullrequestquery":
			return "pullRequestQuery"
		case n == 5 && parts[3] == "pullrequests":
			return "pullRequest"
		case n == 6 && parts[3] == "pullrequests" && parts[5] == "reviewers":
			return "pullRequestReviewers"
		}
	case n == 3 && parts[0] == "git" && parts[1] == "policy" && parts[2] == "configurations":
		return "policyConfigurations"
	}
	return "other"
}

// queryPOSTs are the POST calls that only read data, so retrying them is safe.
var queryPOSTs = map[string]bool{"wiql": true, "workItemsBatch": true, "pullRequestQuery": true}

func retryable(method, name string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	case http.MethodPost:
		return queryPOSTs[name]
	}
	return false
}

func (t *transport) count(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.counts[name]++
}

// RoundTrip implements http.RoundTripper.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	name := callName(req.Method, req.URL.Path)
	label := req.Method + " " + name
	cs := callFrom(ctx)
	if cs != nil {
		label = cs.op + " (" + label + ")"
	}
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("read request body: %w", err)
		}
		body = b
	}
	if d := t.takeSlowDown(); d > 0 {
		if err := t.sleep(ctx, d); err != nil {
			return nil, err
		}
	}
	canRetry := retryable(req.Method, name)
	for attempt := 1; ; attempt++ {
		resp, err := t.attempt(ctx, req, body, name)
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		if cs != nil {
			cs.record(status, attempt)
		}
		var wait time.Duration
		var reason string
		if err == nil {
			if status >= 200 && status < 300 {
				t.observeRateLimit(resp)
			}
			transient := status == http.StatusTooManyRequests || status >= 500 && status <= 504 && status != http.StatusNotImplemented
			if !transient && status >= 200 && status < 300 && isJSON(resp) && !jsonComplete(resp) {
				transient, reason = true, fmt.Sprintf("%d with an incomplete JSON body", status)
			}
			if !transient || !canRetry || attempt >= t.maxAttempts {
				return resp, nil
			}
			if reason == "" {
				reason = strconv.Itoa(status) + " " + http.StatusText(status)
			}
			wait = t.retryDelay(resp, attempt)
		} else {
			if ctx.Err() != nil || !canRetry || !transientNetError(err) {
				return nil, err
			}
			if attempt >= t.maxAttempts {
				return nil, &exhaustedError{attempts: attempt, err: err}
			}
			reason = describeNetError(err, t.attemptTimeout)
			wait = retry.Backoff(attempt, t.baseBackoff, t.maxBackoff)
		}
		if wait > t.maxWait {
			return nil, &waitError{status: status, wait: wait, limit: t.maxWait, attempts: attempt, why: "it is longer than the longest wait allowed"}
		}
		if dl, ok := ctx.Deadline(); ok {
			if left := time.Until(dl); left < wait {
				return nil, &waitError{status: status, wait: wait, limit: left, attempts: attempt, why: "the deadline comes first"}
			}
		}
		t.mu.Lock()
		t.retries++
		t.mu.Unlock()
		if t.warn != nil {
			t.warn(t.secrets.redact(fmt.Sprintf("Azure DevOps call %s returned %s; retrying in %s (attempt %d of %d)", label, reason, wait.Round(time.Millisecond), attempt+1, t.maxAttempts)))
		}
		if err := t.sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// attempt sends one request with its own timeout and returns the response
// with its body fully read, so that a broken body counts as a failed attempt.
func (t *transport) attempt(ctx context.Context, req *http.Request, body []byte, name string) (*http.Response, error) {
	actx, cancel := ctx, context.CancelFunc(func() {})
	if t.attemptTimeout > 0 {
		actx, cancel = context.WithTimeout(ctx, t.attemptTimeout)
	}
	defer cancel()
	areq := req.Clone(actx)
	if body != nil {
		areq.Body = io.NopCloser(bytes.NewReader(body))
		areq.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		areq.ContentLength = int64(len(body))
	}
	areq.Header.Del("Authorization")
	if strings.EqualFold(areq.URL.Host, t.host) {
		auth, err := t.cred.Authorization(ctx)
		if err != nil {
			return nil, &credentialError{source: t.cred.Source(), err: err}
		}
		t.secrets.add(auth)
		areq.Header.Set("Authorization", auth)
	}
	t.count(name)
	resp, err := t.base.RoundTrip(areq)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	_ = resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read response body: %w", err)
	}
	if len(data) > maxResponseBytes {
		return nil, fmt.Errorf("response body larger than %d bytes", maxResponseBytes)
	}
	resp.Body = io.NopCloser(bytes.NewReader(data))
	resp.ContentLength = int64(len(data))
	return resp, nil
}

func isJSON(resp *http.Response) bool {
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}

// jsonComplete reports whether a buffered JSON body parses; a truncated body
// on a read call is worth another attempt.
func jsonComplete(resp *http.Response) bool {
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return false
	}
	resp.Body = io.NopCloser(bytes.NewReader(data))
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	return len(bytes.TrimSpace(data)) == 0 || json.Valid(data)
}

// retryDelay honours Retry-After (seconds or an HTTP date) and
// X-RateLimit-Delay on 429 and 503, and backs off exponentially otherwise.
func (t *transport) retryDelay(resp *http.Response, attempt int) time.Duration {
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		if d, ok := retry.After(resp.Header.Get("Retry-After"), t.now()); ok {
			return d
		}
		if d, ok := retry.Seconds(resp.Header.Get("X-RateLimit-Delay")); ok {
			return d
		}
	}
	return retry.Backoff(attempt, t.baseBackoff, t.maxBackoff)
}

// observeRateLimit slows the next request a little when the identity has
// used more than 90% of its budget, so a gate does not walk into a 429.
func (t *transport) observeRateLimit(resp *http.Response) {
	limit, err1 := strconv.ParseFloat(resp.Header.Get("X-RateLimit-Limit"), 64)
	remaining, err2 := strconv.ParseFloat(resp.Header.Get("X-RateLimit-Remaining"), 64)
	if err1 != nil || err2 != nil || limit <= 0 || remaining >= limit/10 {
		return
	}
	delay := time.Second
	if d, ok := retry.Seconds(resp.Header.Get("X-RateLimit-Delay")); ok && d > delay {
		delay = min(d, 10*time.Second)
	}
	t.mu.Lock()
	t.slowDown = delay
	first := !t.warnedLimit
	t.warnedLimit = true
	t.mu.Unlock()
	if first && t.warn != nil {
		t.warn(fmt.Sprintf("Azure DevOps rate limit nearly used (%s of %s remaining for resource %q): slowing down by %s per request",
			resp.Header.Get("X-RateLimit-Remaining"), resp.Header.Get("X-RateLimit-Limit"), resp.Header.Get("X-RateLimit-Resource"), delay))
	}
}

func (t *transport) takeSlowDown() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	d := t.slowDown
	t.slowDown = 0
	return d
}

// transientNetError: resets, EOFs, refused connections and attempt
// timeouts are worth another attempt.
func transientNetError(err error) bool {
	var ce *credentialError
	if errors.As(err, &ce) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "connection reset") || strings.Contains(msg, "read response body")
}

func describeNetError(err error, attemptTimeout time.Duration) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("no answer within %s", attemptTimeout)
	case errors.Is(err, syscall.ECONNRESET) || strings.Contains(err.Error(), "connection reset"):
		return "a connection reset"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "a refused connection"
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return "a connection closed before the answer was complete"
	}
	return "a network error"
}

// exhaustedError: a network failure on the last allowed attempt.
type exhaustedError struct {
	attempts int
	err      error
}

func (e *exhaustedError) Error() string {
	return fmt.Sprintf("gave up after %d attempts: %v", e.attempts, e.err)
}
func (e *exhaustedError) Unwrap() error { return e.err }

// waitError: the service asked for a wait the transport may not take.
type waitError struct {
	status   int
	wait     time.Duration
	limit    time.Duration
	attempts int
	why      string
}

func (e *waitError) Error() string {
	return fmt.Sprintf("a retry would wait %s but %s (%s left)", e.wait.Round(time.Millisecond), e.why, e.limit.Round(time.Millisecond))
}

// credentialError: the credential could not produce a header.
type credentialError struct {
	source string
	err    error
}

func (e *credentialError) Error() string {
	return "could not get a token from " + e.source + ": " + e.err.Error()
}
func (e *credentialError) Unwrap() error { return e.err }

// redactor replaces every token the transport has sent with "***", as a
// second line of defence: messages are built not to include tokens at all.
type redactor struct {
	mu      sync.Mutex
	secrets map[string]bool
	ordered []string
}

func newRedactor() *redactor { return &redactor{secrets: map[string]bool{}} }

// minSecretLen keeps short strings out of the redactor: replacing them would
// mangle ordinary words, and no real token is that short.
const minSecretLen = 8

func (r *redactor) add(header string) {
	cands := []string{header}
	token := ""
	scheme, cred, ok := strings.Cut(header, " ")
	if ok {
		cands = append(cands, cred)
		token = cred
		if strings.EqualFold(scheme, "basic") {
			if raw, err := base64.StdEncoding.DecodeString(cred); err == nil {
				cands = append(cands, string(raw))
				if _, pw, ok := strings.Cut(string(raw), ":"); ok {
					token = pw
				}
			}
		}
	}
	if token != "" {
		// The token in the other encodings a server might echo.
		cands = append(cands, token, base64.StdEncoding.EncodeToString([]byte(":"+token)), base64.StdEncoding.EncodeToString([]byte(token)))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	changed := false
	for _, c := range cands {
		if len(c) >= minSecretLen && !r.secrets[c] {
			r.secrets[c] = true
			changed = true
		}
	}
	if changed {
		r.ordered = r.ordered[:0]
		for s := range r.secrets {
			r.ordered = append(r.ordered, s)
		}
		// Longest first, so a header is replaced before the token inside it.
		sort.Slice(r.ordered, func(i, j int) bool { return len(r.ordered[i]) > len(r.ordered[j]) })
	}
}

func (r *redactor) redact(s string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, sec := range r.ordered {
		s = strings.ReplaceAll(s, sec, "***")
	}
	return s
}
