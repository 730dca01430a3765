package azdo_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/azdo"
	"github.com/stagegate/stagegate/pkg/azdo/azdosim"
)

const securityWIQL = "SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = @project AND [System.Tags] CONTAINS 'Security' ORDER BY [System.Id]"

func asError(t *testing.T, err error) *azdo.Error {
	t.Helper()
	require.Error(t, err)
	var e *azdo.Error
	require.True(t, errors.As(err, &e), "want *azdo.Error, got %T: %v", err, err)
	return e
}

func TestThrottledThenSuccess(t *testing.T) {
	e := setup(t, demoScenario(t), azdosim.Options{}, azdo.Options{})
	inject(t, e.sim, azdosim.Fault{Route: azdosim.RouteWIQL, Kind: azdosim.FaultThrottle, RetryAfter: "3", Times: 2})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ids, err := e.client.QueryWIQL(ctx, "Payments", securityWIQL)
	require.NoError(t, err)
	assert.Equal(t, []int{1, 2, 3, 4, 5, 6, 9, 10, 11, 12, 14, 15, 16}, ids)
	assert.Equal(t, []time.Duration{3 * time.Second, 3 * time.Second}, e.rec.Waits(), "Retry-After honoured")
	warnings := e.rec.Warnings()
	require.Len(t, warnings, 2)
	assert.Contains(t, warnings[0], "QueryWIQL (POST wiql)")
	assert.Contains(t, warnings[0], "429 Too Many Requests")
	assert.Contains(t, warnings[0], "retrying in 3s (attempt 2 of 4)")
	assert.Contains(t, warnings[1], "attempt 3 of 4")
	stats := e.client.Requests()
	assert.Equal(t, 3, stats.ByCall["wiql"])
	assert.Equal(t, 1, stats.ByCall["locations"])
	assert.Equal(t, 2, stats.Retries)
	assert.Equal(t, 4, stats.Total)
	assert.Equal(t, 3, e.sim.Count(azdosim.RouteWIQL), "the transport's count matches the server's")
}

func TestRetryDelaySources(t *testing.T) {
	tests := []struct {
		name  string
		fault azdosim.Fault
		want  time.Duration
	}{
		{"Retry-After seconds", azdosim.Fault{Kind: azdosim.FaultThrottle, RetryAfter: "12"}, 12 * time.Second},
		{"Retry-After HTTP date", azdosim.Fault{Kind: azdosim.FaultThrottle, RetryAfter: testNow.Add(42 * time.Second).Format(http.TimeFormat)}, 42 * time.Second},
		{"Retry-After date in the past", azdosim.Fault{Kind: azdosim.FaultThrottle, RetryAfter: testNow.Add(-time.Hour).Format(http.TimeFormat)}, 0},
		{"503 with Retry-After", azdosim.Fault{Kind: azdosim.FaultStatus, Status: 503, RetryAfter: "4"}, 4 * time.Second},
		{"X-RateLimit-Delay without Retry-After", azdosim.Fault{Kind: azdosim.FaultStatus, Status: 429, Headers: map[string]string{"X-RateLimit-Delay": "2.5"}}, 2500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t, demoScenario(t), azdosim.Options{}, azdo.Options{})
			tt.fault.Route, tt.fault.Times = azdosim.RouteWorkItemTypeStates, 1
			inject(t, e.sim, tt.fault)
			states, err := e.client.GetWorkItemTypeStates(context.Background(), "Payments", "Bug")
			require.NoError(t, err)
			assert.Len(t, states, 7)
			assert.Equal(t, []time.Duration{tt.want}, e.rec.Waits())
		})
	}
}

func TestBackoffForServerErrors(t *testing.T) {
	e := setup(t, demoScenario(t), azdosim.Options{}, azdo.Options{BaseBackoff: time.Second, MaxBackoff: 3 * time.Second})
	inject(t, e.sim, azdosim.Fault{Route: azdosim.RouteRepository, Kind: azdosim.FaultStatus, Status: 502, Times: 3})
	_, err := e.client.GetRepository(context.Background(), "Payments", "payments-api")
	require.NoError(t, err)
	waits := e.rec.Waits()
	require.Len(t, waits, 3)
	// base*2^(n-1), capped at MaxBackoff, jittered into its upper half.
	for i, lim := range []time.Duration{time.Second, 2 * time.Second, 3 * time.Second} {
		assert.GreaterOrEqual(t, waits[i], lim/2, "wait %d", i)
		assert.LessOrEqual(t, waits[i], lim, "wait %d", i)
	}
}

func TestOutageFailsClosed(t *testing.T) {
	for _, status := range []int{500, 502, 503, 504, 429} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			e := setup(t, demoScenario(t), azdosim.Options{}, azdo.Options{})
			inject(t, e.sim, azdosim.Fault{Route: azdosim.RouteWIQL, Kind: azdosim.FaultStatus, Status: status})
			_, err := e.client.QueryWIQL(context.Background(), "Payments", securityWIQL)
			ae := asError(t, err)
			assert.Equal(t, status, ae.Status)
			assert.Equal(t, 4, ae.Attempts)
			assert.Contains(t, err.Error(), "gave up after 4 attempts")
			assert.Contains(t, err.Error(), "QueryWIQL: ")
			if status == 429 {
				assert.ErrorIs(t, err, azdo.ErrThrottled)
				assert.Contains(t, err.Error(), "rate limit")
			} else {
				assert.ErrorIs(t, err, azdo.ErrUnavailable)
				assert.Contains(t, err.Error(), "status.dev.azure.com")
			}
			assert.Len(t, e.rec.Waits(), 3, "at least three retries")
			assert.Equal(t, 4, e.sim.Count(azdosim.RouteWIQL))
		})
	}
}

func TestRetriesStopAtTheDeadline(t *testing.T) {
	e := setup(t, demoScenario(t), azdosim.Options{}, azdo.Options{})
	inject(t, e.sim, azdosim.Fault{Route: azdosim.RouteWIQL, Kind: azdosim.FaultThrottle, RetryAfter: "60"})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := e.client.QueryWIQL(ctx, "Payments", securityWIQL)
	ae := asError(t, err)
	assert.Equal(t, azdo.KindThrottled, ae.Kind)
	assert.Equal(t, 429, ae.Status)
	assert.Equal(t, 1, ae.Attempts)
	assert.Contains(t, err.Error(), "a retry would wait 1m0s but the deadline comes first")
	assert.Empty(t, e.rec.Waits(), "never sleeps past the deadline")
}

func TestRetryAfterLongerThanMaxWait(t *testing.T) {
	e := setup(t, demoScenario(t), azdosim.Options{}, azdo.Options{MaxWait: 30 * time.Second})
	inject(t, e.sim, azdosim.Fault{Route: azdosim.RouteWIQL, Kind: azdosim.FaultStatus, Status: 503, RetryAfter: "3600"})
	_, err := e.client.QueryWIQL(context.Background(), "Payments", securityWIQL)
	ae := asError(t, err)
	assert.Equal(t, azdo.KindUnavailable, ae.Kind)
	assert.Contains(t, err.Error(), "longer than the longest wait allowed")
	assert.Empty(t, e.rec.Waits())
}

func TestConnectionResets(t *testing.T) {
	// Without keep-alives every attempt is a new connection: net/http
	// silently retries a GET whose reused connection breaks, which would
	// hide the transport's own retries.
	noReuse := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	e := setup(t, demoScenario(t), azdosim.Options{}, azdo.Options{HTTPClient: noReuse})
	inject(t, e.sim, azdosim.Fault{Route: azdosim.RouteRepository, Kind: azdosim.FaultReset, Times: 1})
	r, err := e.client.GetRepository(context.Background(), "Payments", "payments-api")
	require.NoError(t, err)
	assert.Equal(t, "payments-api", r.Name)
	require.Len(t, e.rec.Warnings(), 1)
	assert.Contains(t, e.rec.Warnings()[0], "returned a connection reset")

	e2 := setup(t, demoScenario(t), azdosim.Options{}, azdo.Options{HTTPClient: noReuse})
	inject(t, e2.sim, azdosim.Fault{Route: azdosim.RouteRepository, Kind: azdosim.FaultReset})
	_, err = e2.client.GetRepository(context.Background(), "Payments", "payments-api")
	ae := asError(t, err)
	assert.Equal(t, azdo.KindNetwork, ae.Kind)
	assert.Equal(t, 4, ae.Attempts)
	assert.Contains(t, err.Error(), "could not reach Azure DevOps")
	assert.Contains(t, err.Error(), "gave up after 4 attempts")
	assert.Equal(t, 4, e2.sim.Count(azdosim.RouteRepository))
}

func TestTruncatedJSON(t *testing.T) {
	e := setup(t, demoScenario(t), azdosim.Options{}, azdo.Options{})
	inject(t, e.sim, azdosim.Fault{Route: azdosim.RouteWorkItemsBatch, Kind: azdosim.FaultTruncate, Times: 1})
	items, err := e.client.GetWorkItems(context.Background(), "Payments", []int{1, 2}, nil)
	require.NoError(t, err, "a truncated body is retried")
	assert.Len(t, items, 2)

	e2 := setup(t, demoScenario(t), azdosim.Options{}, azdo.Options{})
	inject(t, e2.sim, azdosim.Fault{Route: azdosim.RouteWorkItemsBatch, Kind: azdosim.FaultTruncate})
	_, err = e2.client.GetWorkItems(context.Background(), "Payments", []int{1, 2}, nil)
	ae := asError(t, err)
	assert.Equal(t, azdo.KindBadResponse, ae.Kind)
	assert.Equal(t, 200, ae.Status)
	assert.Contains(t, err.Error(), "cannot be read")
	assert.Contains(t, err.Error(), "gave up after 4 attempts")
}

func TestHTMLBodyKeepsTheStatus(t *testing.T) {
	tests := []struct {
		status   int
		kind     azdo.Kind
		attempts int
	}{
		{503, azdo.KindUnavailable, 4},
		{403, azdo.KindForbidden, 1},
		{404, azdo.KindNotFound, 1},
		{401, azdo.KindUnauthorized, 1},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			e := setup(t, demoScenario(t), azdosim.Options{}, azdo.Options{})
			inject(t, e.sim, azdosim.Fault{Route: azdosim.RoutePullRequest, Kind: azdosim.FaultHTML, Status: tt.status})
			_, err := e.client.GetPullRequest(context.Background(), "Payments", "payments-api", 12)
			ae := asError(t, err)
			assert.Equal(t, tt.status, ae.Status)
			assert.Equal(t, tt.kind, ae.Kind)
			assert.Equal(t, tt.attempts, ae.Attempts)
			assert.Contains(t, err.Error(), "not JSON")
		})
	}
}

func TestEmptyErrorBody(t *testing.T) {
	e := setup(t, demoScenario(t), azdosim.Options{}, azdo.Options{})
	inject(t, e.sim, azdosim.Fault{Route: azdosim.RoutePullRequest, Kind: azdosim.FaultEmpty, Status: 404})
	_, err := e.client.GetPullRequest(context.Background(), "Payments", "payments-api", 12)
	ae := asError(t, err)
	assert.Equal(t, 404, ae.Status)
	assert.ErrorIs(t, err, azdo.ErrNotFound)
	assert.Empty(t, ae.ServiceMessage, "the library's placeholder is not a service message")
	assert.Contains(t, err.Error(), `pull request 12 in repository "payments-api" in project "Payments" was not found`)
}

func TestAttemptTimeout(t *testing.T) {
	// Generous against a loaded machine: only the injected latency may
	// exceed the attempt timeout.
	e := setup(t, demoScenario(t), azdosim.Options{}, azdo.Options{AttemptTimeout: 300 * time.Millisecond})
	inject(t, e.sim, azdosim.Fault{Route: azdosim.RouteWorkItemTypeStates, Kind: azdosim.FaultLatency, Latency: 10 * time.Second, Times: 1})
	states, err := e.client.GetWorkItemTypeStates(context.Background(), "Payments", "Task")
	require.NoError(t, err)
	assert.Len(t, states, 4)
	require.NotEmpty(t, e.rec.Warnings())
	assert.Contains(t, e.rec.Warnings()[0], "GetWorkItemTypeStates (GET workItemTypeStates) returned no answer within 300ms")
	assert.GreaterOrEqual(t, e.sim.Count(azdosim.RouteWorkItemTypeStates), 2)
}

func TestContextDeadline(t *testing.T) {
	e := setup(t, demoScenario(t), azdosim.Options{}, azdo.Options{AttemptTimeout: time.Minute})
	inject(t, e.sim, azdosim.Fault{Route: azdosim.RouteWorkItemTypeStates, Kind: azdosim.FaultLatency, Latency: 5 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := e.client.GetWorkItemTypeStates(ctx, "Payments", "Task")
	ae := asError(t, err)
	assert.Equal(t, azdo.KindTimeout, ae.Kind)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorIs(t, err, azdo.ErrTimeout)
	assert.Contains(t, err.Error(), "before the deadline")
}

func TestRateLimitRunningLowSlowsDown(t *testing.T) {
	e := setup(t, demoScenario(t), azdosim.Options{}, azdo.Options{})
	inject(t, e.sim, azdosim.Fault{Route: azdosim.RouteWIQL, Kind: azdosim.FaultHeaders, Times: 1,
		Headers: map[string]string{"X-RateLimit-Limit": "200", "X-RateLimit-Remaining": "12", "X-RateLimit-Resource": "Core"}})
	_, err := e.client.QueryWIQL(context.Background(), "Payments", securityWIQL)
	require.NoError(t, err)
	assert.Empty(t, e.rec.Waits())
	_, err = e.client.GetWorkItems(context.Background(), "Payments", []int{1}, nil)
	require.NoError(t, err)
	assert.Equal(t, []time.Duration{time.Second}, e.rec.Waits(), "the next request waits a little")
	_, err = e.client.GetWorkItems(context.Background(), "Payments", []int{1}, nil)
	require.NoError(t, err)
	assert.Len(t, e.rec.Waits(), 1, "only while the budget is low")
	require.Len(t, e.rec.Warnings(), 1)
	assert.Contains(t, e.rec.Warnings()[0], "12 of 200 remaining")
}

// countingCredential proves the header is asked for per attempt (so a
// refreshing credential works across retries).
type countingCredential struct{ n atomic.Int32 }

func (c *countingCredential) Authorization(context.Context) (string, error) {
	c.n.Add(1)
	return "Bearer " + demoToken, nil
}
func (c *countingCredential) Source() string { return "a test credential" }

func TestCredentialAskedPerAttempt(t *testing.T) {
	cred := &countingCredential{}
	e := setup(t, demoScenario(t), azdosim.Options{}, azdo.Options{Credential: cred})
	inject(t, e.sim, azdosim.Fault{Route: azdosim.RouteWIQL, Kind: azdosim.FaultThrottle, Times: 1})
	_, err := e.client.QueryWIQL(context.Background(), "Payments", securityWIQL)
	require.NoError(t, err)
	assert.Equal(t, int32(3), cred.n.Load(), "OPTIONS + two attempts")
}

type failingCredential struct{}

func (failingCredential) Authorization(context.Context) (string, error) {
	return "", errors.New("az login has expired")
}
func (failingCredential) Source() string { return "the Microsoft Entra token" }

func TestCredentialFailure(t *testing.T) {
	e := setup(t, demoScenario(t), azdosim.Options{}, azdo.Options{Credential: failingCredential{}})
	_, err := e.client.QueryWIQL(context.Background(), "Payments", securityWIQL)
	ae := asError(t, err)
	assert.Equal(t, azdo.KindCredential, ae.Kind)
	assert.Contains(t, err.Error(), "could not get a token from the Microsoft Entra token: az login has expired")
	assert.Equal(t, 0, e.sim.Count(""), "nothing was sent")
}

// A POST that is not a query is never retried; a redirect is never followed
// and the token never goes to another host.
func TestPOSTAndRedirects(t *testing.T) {
	var otherAuth atomic.Value
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherAuth.Store(r.Header.Get("Authorization"))
		w.WriteHeader(200)
	}))
	t.Cleanup(other.Close)
	var posts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost:
			posts.Add(1)
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			http.Redirect(w, r, other.URL+"/signin", http.StatusFound)
		}
	}))
	t.Cleanup(srv.Close)
	rec := &recorder{}
	c, err := azdo.New(context.Background(), azdo.Options{OrgURL: srv.URL + "/org", Credential: azdo.JobToken("secret-token"), Sleep: rec.sleep, Warn: rec.warn})
	require.NoError(t, err)
	hc := &http.Client{Transport: azdo.TransportForTest(c)}

	resp, err := hc.Post(srv.URL+"/org/_apis/git/repositories/r/pushes", "application/json", strings.NewReader("{}"))
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, 503, resp.StatusCode)
	assert.Equal(t, int32(1), posts.Load(), "a push is not retried")

	resp, err = hc.Post(srv.URL+"/org/_apis/wit/wiql", "application/json", strings.NewReader("{}"))
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, int32(5), posts.Load(), "a query is retried")

	_, err = c.GetRepository(context.Background(), "P", "r")
	ae := asError(t, err)
	assert.Contains(t, err.Error(), "redirected")
	assert.Equal(t, 302, ae.Status)
	assert.Nil(t, otherAuth.Load(), "the redirect was not followed")

	resp, err = hc.Get(other.URL + "/x")
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, "", otherAuth.Load(), "no token for another host")
}

func TestServerUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/org"
	srv.Close() // nothing listens there any more
	rec := &recorder{}
	c, err := azdo.New(context.Background(), azdo.Options{OrgURL: url, Credential: azdo.PAT("some-pat-value"), Sleep: rec.sleep, Warn: rec.warn})
	require.NoError(t, err)
	_, err = c.QueryByID(context.Background(), "P", "Shared Queries/x")
	ae := asError(t, err)
	assert.Equal(t, "QueryByID", ae.Op, "named after the method called")
	assert.Equal(t, azdo.KindNetwork, ae.Kind)
	assert.ErrorIs(t, err, azdo.ErrNetwork)
	assert.Contains(t, err.Error(), "could not reach Azure DevOps at "+url)
	assert.Contains(t, err.Error(), "refused")
	assert.Len(t, rec.Waits(), 3)
}
