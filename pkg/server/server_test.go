package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/finding"
	"github.com/stagegate/stagegate/pkg/gaterun"
)

func TestSyncVerdicts(t *testing.T) {
	tests := []struct {
		name        string
		evaluate    func(ctx context.Context, rt *gaterun.Runtime) (*finding.Report, error)
		environment string
		wantStatus  string
		wantOutcome string
		wantFinds   int
		wantError   string
	}{
		{name: "passed", evaluate: func(context.Context, *gaterun.Runtime) (*finding.Report, error) { return report(), nil },
			environment: "production", wantStatus: "passed", wantOutcome: "passed"},
		{name: "violation in enforce", evaluate: func(context.Context, *gaterun.Runtime) (*finding.Report, error) {
			return report(violation("work item 7 is open")), nil
		}, environment: "production", wantStatus: "failed", wantOutcome: "failed", wantFinds: 1},
		{name: "violation in audit passes with the finding", evaluate: func(context.Context, *gaterun.Runtime) (*finding.Report, error) {
			return report(violation("work item 7 is open")), nil
		}, environment: "staging", wantStatus: "passed", wantOutcome: "warned", wantFinds: 1},
		{name: "gate cannot evaluate", evaluate: func(context.Context, *gaterun.Runtime) (*finding.Report, error) {
			return nil, errors.New("read work items: Azure DevOps answered 503")
		}, environment: "production", wantStatus: "failed", wantOutcome: "failed", wantError: "503"},
		{name: "gate panics", evaluate: func(context.Context, *gaterun.Runtime) (*finding.Report, error) {
			panic("boom")
		}, environment: "staging", wantStatus: "failed", wantOutcome: "failed", wantError: "internal error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{gates: gatesOf(fakeGate{task: "SecurityWorkItemGate", evaluate: tc.evaluate}),
				opts: func(o *Options) { o.Identity = staticCred("server-identity-token") }})
			a := h.do(call{gate: "workitems", body: map[string]any{"environment": tc.environment, "organization": h.org + "/", "project": "Payments"}})
			require.Equal(t, http.StatusOK, a.status, string(a.body))
			assert.Equal(t, tc.wantStatus, a.json["status"])
			assert.Equal(t, tc.wantOutcome, a.json["outcome"])
			assert.Len(t, a.json["findings"], tc.wantFinds)
			assert.Equal(t, tc.environment, a.json["environment"])
			assert.Equal(t, a.header.Get("X-Request-Id"), a.json["requestId"])
			if tc.wantError != "" {
				assert.Contains(t, a.json["error"], tc.wantError)
				assert.Contains(t, a.json["summary"], "could not evaluate")
				assert.Equal(t, float64(1), h.srv.metrics.counter(mEvaluations, "workitems", "sync", "error"))
			} else {
				assert.Nil(t, a.json["error"])
				assert.Equal(t, float64(1), h.srv.metrics.counter(mEvaluations, "workitems", "sync", tc.wantOutcome))
			}
			assert.Empty(t, h.plan.all(), "synchronous mode posts nothing to the plan")
		})
	}
}

// staticCred is a server identity for tests.
type staticCred string

func (s staticCred) Authorization(context.Context) (string, error) { return "Bearer " + string(s), nil }
func (staticCred) Source() string                                  { return "the test identity" }

func TestCallbackCompletesOnceWithFeed(t *testing.T) {
	for _, tc := range []struct {
		name     string
		gate     fakeGate
		env      string
		want     string
		wantLine string
	}{
		{name: "passed", gate: passGate(), env: "production", want: "succeeded", wantLine: "fake gate looked at 3 work items"},
		{name: "violation", gate: fakeGate{task: "SecurityWorkItemGate", evaluate: func(ctx context.Context, rt *gaterun.Runtime) (*finding.Report, error) {
			rt.Warn("one item is overdue")
			return report(violation("work item 9 is past its SLA")), nil
		}}, env: "production", want: "failed", wantLine: "##[warning]one item is overdue"},
		{name: "error", gate: fakeGate{task: "SecurityWorkItemGate", evaluate: func(ctx context.Context, rt *gaterun.Runtime) (*finding.Report, error) {
			return nil, errors.New("WIQL: Azure DevOps answered 401")
		}}, env: "staging", want: "failed", wantLine: "##[error]Fake gate could not evaluate: WIQL: Azure DevOps answered 401"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{gates: gatesOf(tc.gate)})
			id := newTaskID()
			start := time.Now()
			a := h.do(call{gate: "workitems", completion: "callback", headers: h.callbackHeaders(id), body: map[string]any{"environment": tc.env}})
			require.Equal(t, http.StatusAccepted, a.status, string(a.body))
			assert.Less(t, time.Since(start), 3*time.Second, "acknowledged within the check's 3 seconds")
			assert.Equal(t, "accepted", a.json["status"])
			h.plan.waitEvents(t, 1)
			require.NoError(t, h.srv.Shutdown(context.Background()))
			ev := h.plan.events()
			require.Len(t, ev, 1, "exactly one TaskCompleted")
			e := ev[0]
			assert.Equal(t, taskCompleted{Name: "TaskCompleted", TaskID: id, JobID: "66666666-7777-8888-9999-000000000000", Result: tc.want}, e.Event)
			assert.Equal(t, "/contoso/6ce954b1-ce1f-45d1-b94d-e6bf2464ba2c/_apis/distributedtask/hubs/Checks/plans/11111111-2222-3333-4444-555555555555/events", e.Path)
			assert.Equal(t, "api-version=2.0-preview.1", e.Query)
			assert.Equal(t, testToken, e.Token, "Basic auth, empty user, the check's token")
			lines := h.plan.lines()
			assert.Contains(t, lines, tc.wantLine)
			for _, r := range h.plan.all() {
				if r.Kind == "feed" {
					assert.Equal(t, "/contoso/6ce954b1-ce1f-45d1-b94d-e6bf2464ba2c/_apis/distributedtask/hubs/Checks/plans/11111111-2222-3333-4444-555555555555/timelines/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee/records/66666666-7777-8888-9999-000000000000/feed", r.Path)
					assert.Equal(t, "api-version=4.1", r.Query)
				}
			}
			// The verdict line of the text rendering is in the log, after the gate's own lines.
			joined := strings.Join(lines, "\n")
			assert.Contains(t, joined, "Fake gate")
			// The TaskCompleted event comes after every feed post.
			all := h.plan.all()
			assert.Equal(t, "event", all[len(all)-1].Kind)
		})
	}
}

func TestDuplicateCallbackStartsNoSecondEvaluation(t *testing.T) {
	started := make(chan struct{}, 4)
	release := make(chan struct{})
	var builds atomic.Int32
	g := blockingGate(started, release)
	spec := g.spec()
	build := spec.Build
	spec.Build = func(c *Connection) gaterun.Gate { builds.Add(1); return build(c) }
	h := newHarness(t, harnessOptions{gates: map[string]GateSpec{GateWorkItems: spec}})
	id := newTaskID()
	first := h.do(call{gate: "workitems", completion: "callback", headers: h.callbackHeaders(id), body: `{"environment":"production"}`})
	require.Equal(t, http.StatusAccepted, first.status)
	<-started
	for i := 0; i < 3; i++ {
		dup := h.do(call{gate: "workitems", completion: "callback", headers: h.callbackHeaders(id), body: `{"environment":"production"}`})
		require.Equal(t, http.StatusAccepted, dup.status)
		assert.Equal(t, true, dup.json["duplicate"])
	}
	// Another task instance of the same plan is a different evaluation.
	other := h.do(call{gate: "workitems", completion: "callback", headers: h.callbackHeaders(newTaskID()), body: `{"environment":"production"}`})
	require.Equal(t, http.StatusAccepted, other.status)
	assert.Nil(t, other.json["duplicate"])
	<-started
	close(release)
	h.plan.waitEvents(t, 2)
	require.NoError(t, h.srv.Shutdown(context.Background()))
	assert.Len(t, h.plan.events(), 2)
	assert.Equal(t, int32(2), builds.Load())
	assert.Equal(t, float64(3), h.srv.metrics.counter(mDuplicates))
	// Once finished, the same task instance may be evaluated again (a check re-evaluation).
}

func TestOrganizationAllowList(t *testing.T) {
	var attacker atomic.Int32
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { attacker.Add(1) }))
	defer evil.Close()
	h := newHarness(t, harnessOptions{gates: gatesOf(passGate()), opts: func(o *Options) { o.Identity = staticCred("server-identity-token") }})
	tests := []struct {
		name       string
		completion string
		planURL    string
		org        string
		want       int
	}{
		{name: "PlanUrl elsewhere", completion: "callback", planURL: evil.URL + "/contoso/", want: http.StatusForbidden},
		{name: "PlanUrl with a longer organization name", completion: "callback", planURL: h.org + "-evil/", want: http.StatusForbidden},
		{name: "PlanUrl with credentials", completion: "callback", planURL: strings.Replace(h.org, "http://", "http://user:pw@", 1), want: http.StatusForbidden},
		{name: "body organization elsewhere", completion: "sync", org: "https://dev.azure.com/fabrikam", want: http.StatusForbidden},
		{name: "body organization by unknown name", completion: "sync", org: "fabrikam", want: http.StatusForbidden},
		{name: "PlanUrl and body disagree", completion: "callback", planURL: h.org + "/", org: "https://dev.azure.com/fabrikam", want: http.StatusForbidden},
		{name: "body organization by name", completion: "sync", org: "contoso", want: http.StatusOK},
		{name: "body organization URL in another case", completion: "sync", org: "HTTP://" + strings.ToUpper(strings.TrimPrefix(h.org, "http://")), want: http.StatusOK},
		{name: "no organization at all", completion: "sync", want: http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var headers map[string]string
			if tc.completion == "callback" {
				headers = h.callbackHeaders(newTaskID())
				headers[HeaderPlanURL] = tc.planURL
			}
			body := map[string]any{"environment": "production"}
			if tc.org != "" {
				body["organization"] = tc.org
			}
			a := h.do(call{gate: "workitems", completion: tc.completion, headers: headers, body: body})
			assert.Equal(t, tc.want, a.status, string(a.body))
			if tc.want != http.StatusOK {
				assert.Equal(t, "failed", a.json["status"])
			}
		})
	}
	require.NoError(t, h.srv.Shutdown(context.Background()))
	assert.Zero(t, attacker.Load(), "nothing was ever sent to an address off the allow-list")
	assert.Empty(t, h.plan.all())
	assert.Equal(t, float64(6), h.srv.metrics.counter(mRejected, "forbidden_organization"))
}

func TestAuthentication(t *testing.T) {
	h := newHarness(t, harnessOptions{gates: gatesOf(passGate()), opts: func(o *Options) { o.Identity = staticCred("server-identity-token") }})
	body := map[string]any{"environment": "production", "organization": "contoso"}
	tests := []struct {
		name string
		auth func(*http.Request)
		env  string
		want int
	}{
		{name: "basic", auth: basicAuth(testUser, testPassword), want: http.StatusOK},
		{name: "bearer", auth: func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+testBearer) }, want: http.StatusOK},
		{name: "none", auth: func(*http.Request) {}, want: http.StatusUnauthorized},
		{name: "wrong password", auth: basicAuth(testUser, testPassword+"x"), want: http.StatusUnauthorized},
		{name: "wrong user", auth: basicAuth("admin", testPassword), want: http.StatusUnauthorized},
		{name: "bearer secret as a password", auth: basicAuth(testUser, testBearer), want: http.StatusUnauthorized},
		{name: "password as a bearer token", auth: func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+testPassword) }, want: http.StatusUnauthorized},
		{name: "garbage", auth: func(r *http.Request) { r.Header.Set("Authorization", "Basic !!!") }, want: http.StatusUnauthorized},
		{name: "caller limited to production", auth: basicAuth("prod", testProdOnly), want: http.StatusOK},
		{name: "caller limited to production asks for staging", auth: basicAuth("prod", testProdOnly), env: "staging", want: http.StatusForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := body
			if tc.env != "" {
				b = map[string]any{"environment": tc.env, "organization": "contoso"}
			}
			a := h.do(call{gate: "workitems", body: b, auth: tc.auth})
			assert.Equal(t, tc.want, a.status, string(a.body))
			if tc.want == http.StatusUnauthorized {
				assert.Contains(t, a.header.Get("WWW-Authenticate"), "Basic")
			}
		})
	}
}

func TestRequestLimitsAndValidation(t *testing.T) {
	h := newHarness(t, harnessOptions{gates: gatesOf(passGate()), opts: func(o *Options) { o.Identity = staticCred("server-identity-token") }})
	big := `{"environment":"production","organization":"contoso","inputs":{"tags":"` + strings.Repeat("x", 70<<10) + `"}}`
	tests := []struct {
		name   string
		gate   string
		query  string
		body   any
		want   int
		reason string
	}{
		{name: "oversize body", gate: "workitems", body: big, want: http.StatusRequestEntityTooLarge, reason: "larger than 65536 bytes"},
		{name: "unknown gate", gate: "nope", body: `{}`, want: http.StatusNotFound, reason: "unknown gate"},
		{name: "unknown field", gate: "workitems", body: `{"environment":"production","organization":"contoso","nope":1}`, want: http.StatusBadRequest, reason: "unknown field"},
		{name: "unknown input", gate: "workitems", body: `{"environment":"production","organization":"contoso","inputs":{"maxHgih":"0"}}`, want: http.StatusBadRequest, reason: "has no input \"maxHgih\""},
		{name: "nested input", gate: "workitems", body: `{"environment":"production","organization":"contoso","inputs":{"tags":["a"]}}`, want: http.StatusBadRequest, reason: "expected a string, number or boolean"},
		{name: "bad mode", gate: "workitems", body: `{"environment":"production","organization":"contoso","inputs":{"mode":"lenient"}}`, want: http.StatusBadRequest, reason: "expected enforce or audit"},
		{name: "unknown environment", gate: "workitems", body: `{"environment":"prod","organization":"contoso"}`, want: http.StatusBadRequest, reason: "not configured"},
		{name: "no environment", gate: "workitems", body: `{"organization":"contoso"}`, want: http.StatusBadRequest, reason: "names no environment"},
		{name: "bad completion", gate: "workitems", query: "?completion=later", body: `{}`, want: http.StatusBadRequest, reason: "expected sync or callback"},
		{name: "callback without headers", gate: "workitems", query: "?completion=callback", body: `{"environment":"production"}`, want: http.StatusBadRequest, reason: "needs the headers"},
		{name: "trailing data", gate: "workitems", body: `{"environment":"production"} {}`, want: http.StatusBadRequest, reason: "after the JSON object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gate := tc.gate + tc.query
			a := h.do(call{gate: gate, body: tc.body})
			assert.Equal(t, tc.want, a.status, string(a.body))
			assert.Equal(t, "failed", a.json["status"])
			assert.Contains(t, a.json["error"], tc.reason)
		})
	}
}

func TestCallbackHeaderValidation(t *testing.T) {
	h := newHarness(t, harnessOptions{gates: gatesOf(passGate())})
	for name, mutate := range map[string]func(map[string]string){
		"plan id is a path":    func(m map[string]string) { m[HeaderPlanID] = "../../x" },
		"project id not guid":  func(m map[string]string) { m[HeaderProjectID] = "Payments" },
		"unknown hub":          func(m map[string]string) { m[HeaderHubName] = "Evil/../x" },
		"empty auth token":     func(m map[string]string) { m[HeaderAuthToken] = "" },
		"timeline id too long": func(m map[string]string) { m[HeaderTimelineID] += "0" },
	} {
		t.Run(name, func(t *testing.T) {
			hd := h.callbackHeaders(newTaskID())
			mutate(hd)
			a := h.do(call{gate: "workitems", completion: "callback", headers: hd, body: `{"environment":"production"}`})
			assert.Equal(t, http.StatusBadRequest, a.status, string(a.body))
		})
	}
	require.NoError(t, h.srv.Shutdown(context.Background()))
	assert.Empty(t, h.plan.all())
}

func TestSaturationAnswers429(t *testing.T) {
	started := make(chan struct{}, 8)
	release := make(chan struct{})
	h := newHarness(t, harnessOptions{gates: gatesOf(blockingGate(started, release)),
		config: func(c *Config) { c.Limits.MaxConcurrent = 2 },
		opts:   func(o *Options) { o.Identity = staticCred("server-identity-token") }})
	for i := 0; i < 2; i++ {
		a := h.do(call{gate: "workitems", completion: "callback", headers: h.callbackHeaders(newTaskID()), body: `{"environment":"production"}`})
		require.Equal(t, http.StatusAccepted, a.status)
		<-started
	}
	cb := h.do(call{gate: "workitems", completion: "callback", headers: h.callbackHeaders(newTaskID()), body: `{"environment":"production"}`})
	assert.Equal(t, http.StatusTooManyRequests, cb.status)
	assert.Equal(t, "2", cb.header.Get("Retry-After"))
	sync := h.do(call{gate: "workitems", body: `{"environment":"production","organization":"contoso"}`})
	assert.Equal(t, http.StatusTooManyRequests, sync.status)
	assert.Equal(t, float64(2), h.srv.metrics.counter(mRejected, "saturated"))
	close(release)
	h.plan.waitEvents(t, 2)
	// Slots are free again once the evaluations have wound down (just after their TaskCompleted).
	h.waitIdle()
	a := h.do(call{gate: "workitems", completion: "callback", headers: h.callbackHeaders(newTaskID()), body: `{"environment":"production"}`})
	require.Equal(t, http.StatusAccepted, a.status)
	h.plan.waitEvents(t, 3)
	require.NoError(t, h.srv.Shutdown(context.Background()))
	assert.Len(t, h.plan.events(), 3, "a refused request never completes anything")
}

func TestShutdown(t *testing.T) {
	t.Run("grace over: running evaluations report failed", func(t *testing.T) {
		started := make(chan struct{}, 2)
		h := newHarness(t, harnessOptions{gates: gatesOf(blockingGate(started, nil))})
		id := newTaskID()
		a := h.do(call{gate: "workitems", completion: "callback", headers: h.callbackHeaders(id), body: `{"environment":"production"}`})
		require.Equal(t, http.StatusAccepted, a.status)
		<-started
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		require.NoError(t, h.srv.Shutdown(ctx))
		ev := h.plan.events()
		require.Len(t, ev, 1, "the stopped evaluation completed exactly once")
		assert.Equal(t, resultFailed, ev[0].Event.Result)
		assert.Equal(t, id, ev[0].Event.TaskID)
		assert.Contains(t, strings.Join(h.plan.lines(), "\n"), "shutting down")
		// Draining: no new evaluations, not ready.
		b := h.do(call{gate: "workitems", completion: "callback", headers: h.callbackHeaders(newTaskID()), body: `{"environment":"production"}`})
		assert.Equal(t, http.StatusServiceUnavailable, b.status)
		assert.NotEmpty(t, b.header.Get("Retry-After"))
		resp, err := h.front.Client().Get(h.front.URL + "/readyz")
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
		assert.Len(t, h.plan.events(), 1)
	})
	t.Run("within grace: evaluations finish normally", func(t *testing.T) {
		started := make(chan struct{}, 2)
		release := make(chan struct{})
		h := newHarness(t, harnessOptions{gates: gatesOf(blockingGate(started, release)), opts: func(o *Options) { o.Identity = staticCred("server-identity-token") }})
		a := h.do(call{gate: "workitems", completion: "callback", headers: h.callbackHeaders(newTaskID()), body: `{"environment":"production"}`})
		require.Equal(t, http.StatusAccepted, a.status)
		<-started
		// A synchronous request in flight finishes too.
		var wg sync.WaitGroup
		var syncAnswer answer
		wg.Add(1)
		go func() {
			defer wg.Done()
			syncAnswer = h.do(call{gate: "workitems", body: `{"environment":"production","organization":"contoso"}`})
		}()
		<-started
		done := make(chan error, 1)
		go func() { done <- h.srv.Shutdown(context.Background()) }()
		time.Sleep(50 * time.Millisecond)
		close(release)
		require.NoError(t, <-done)
		wg.Wait()
		assert.Equal(t, http.StatusOK, syncAnswer.status)
		assert.Equal(t, "passed", syncAnswer.json["status"])
		ev := h.plan.events()
		require.Len(t, ev, 1)
		assert.Equal(t, resultSucceeded, ev[0].Event.Result)
	})
	t.Run("synchronous request stopped at shutdown answers failed", func(t *testing.T) {
		started := make(chan struct{}, 1)
		h := newHarness(t, harnessOptions{gates: gatesOf(blockingGate(started, nil)), opts: func(o *Options) { o.Identity = staticCred("server-identity-token") }})
		res := make(chan answer, 1)
		go func() {
			res <- h.do(call{gate: "workitems", body: `{"environment":"production","organization":"contoso"}`})
		}()
		<-started
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		require.NoError(t, h.srv.Shutdown(ctx))
		a := <-res
		assert.Equal(t, http.StatusOK, a.status)
		assert.Equal(t, "failed", a.json["status"])
		assert.Contains(t, a.json["error"], "shutting down")
	})
}

func TestCallbackTimeoutAndPanicCompleteOnce(t *testing.T) {
	t.Run("timeout", func(t *testing.T) {
		h := newHarness(t, harnessOptions{gates: gatesOf(blockingGate(nil, nil)), config: func(c *Config) { c.Limits.CallbackTimeout = 100 * time.Millisecond }})
		a := h.do(call{gate: "workitems", completion: "callback", headers: h.callbackHeaders(newTaskID()), body: `{"environment":"production"}`})
		require.Equal(t, http.StatusAccepted, a.status)
		ev := h.plan.waitEvents(t, 1)
		assert.Equal(t, resultFailed, ev[0].Event.Result)
		assert.Contains(t, strings.Join(h.plan.lines(), "\n"), "deadline exceeded")
	})
	t.Run("panic outside the gate, synchronous", func(t *testing.T) {
		spec := GateSpec{Build: func(*Connection) gaterun.Gate { panic("broken build") }}
		h := newHarness(t, harnessOptions{gates: map[string]GateSpec{GateWorkItems: spec}, opts: func(o *Options) { o.Identity = staticCred("server-identity-token") }})
		a := h.do(call{gate: "workitems", body: `{"environment":"production","organization":"contoso"}`})
		assert.Equal(t, http.StatusInternalServerError, a.status)
		assert.Equal(t, "failed", a.json["status"])
		assert.Equal(t, float64(1), h.srv.metrics.counter(mEvaluations, "workitems", "sync", "error"))
		// The slot was released: the next request is evaluated (and fails the same way).
		a = h.do(call{gate: "workitems", body: `{"environment":"production","organization":"contoso"}`})
		assert.Equal(t, http.StatusInternalServerError, a.status)
		require.NoError(t, h.srv.Shutdown(context.Background()))
	})
	t.Run("panic outside the gate", func(t *testing.T) {
		spec := GateSpec{Build: func(*Connection) gaterun.Gate { panic("broken build") }}
		h := newHarness(t, harnessOptions{gates: map[string]GateSpec{GateWorkItems: spec}})
		a := h.do(call{gate: "workitems", completion: "callback", headers: h.callbackHeaders(newTaskID()), body: `{"environment":"production"}`})
		require.Equal(t, http.StatusAccepted, a.status)
		ev := h.plan.waitEvents(t, 1)
		require.NoError(t, h.srv.Shutdown(context.Background()))
		assert.Len(t, h.plan.events(), 1)
		assert.Equal(t, resultFailed, ev[0].Event.Result)
		assert.Contains(t, strings.Join(h.plan.lines(), "\n"), "internal error")
		assert.Contains(t, h.logs.String(), "broken build")
	})
}

func TestPlanPostsRetry(t *testing.T) {
	h := newHarness(t, harnessOptions{gates: gatesOf(passGate())})
	h.plan.failEvents = 2
	h.plan.failFeeds = 1
	a := h.do(call{gate: "workitems", completion: "callback", headers: h.callbackHeaders(newTaskID()), body: `{"environment":"production"}`})
	require.Equal(t, http.StatusAccepted, a.status)
	h.plan.waitEvents(t, 1)
	require.NoError(t, h.srv.Shutdown(context.Background()))
	assert.Len(t, h.plan.events(), 1)
	attempts := 0
	for _, r := range h.plan.all() {
		if r.Kind == "event" {
			attempts++
		}
	}
	assert.Equal(t, 3, attempts)
	assert.Equal(t, float64(3), h.srv.metrics.counter(mUpstreamRetries, "plan"), "two event retries and one feed retry")
	assert.Contains(t, h.plan.lines(), "fake gate looked at 3 work items", "the retried feed batch arrived")
}

func TestPolicyPrecedence(t *testing.T) {
	seen := make(chan *gaterun.Runtime, 1)
	g := fakeGate{task: "SecurityWorkItemGate", seen: seen, evaluate: func(ctx context.Context, rt *gaterun.Runtime) (*finding.Report, error) {
		return report(violation("open item")), nil
	}}
	h := newHarness(t, harnessOptions{gates: gatesOf(g), extra: "defaults:\n  workitems:\n    tags: Security\n    maxLow: 5\n",
		opts: func(o *Options) { o.Identity = staticCred("server-identity-token") }})
	a := h.do(call{gate: "workitems", body: map[string]any{
		"environment": "Production", "organization": "contoso", "project": "Payments", "buildId": 42,
		"inputs": map[string]any{"mode": "audit", "maxHigh": 10, "maxLow": "7", "areaPath": "Payments\\Web", "MAXMEDIUM": 3},
	}})
	require.Equal(t, http.StatusOK, a.status, string(a.body))
	rt := <-seen
	assert.Equal(t, "enforce", rt.Inputs.Raw("mode"), "the caller cannot downgrade enforce")
	assert.Equal(t, "0", rt.Inputs.Raw("maxHigh"), "the environment policy wins")
	assert.Equal(t, "5", rt.Inputs.Raw("maxLow"), "the defaults win over the request too")
	assert.Equal(t, "Security", rt.Inputs.Raw("tags"))
	assert.Equal(t, `Payments\Web`, rt.Inputs.Raw("areaPath"), "the request fills what the policy leaves open")
	assert.Equal(t, "3", rt.Inputs.Raw("maxMedium"), "input names match ignoring case")
	assert.Equal(t, "Payments", rt.Inputs.Raw("project"), "defaults expand from the run context")
	v, _ := rt.Env("BUILD_BUILDID")
	assert.Equal(t, "42", v)
	assert.Equal(t, "failed", a.json["status"], "enforced")
	notes := fmt.Sprint(a.json["notes"])
	assert.Contains(t, notes, `mode="audit" from the request was ignored`)
	assert.Contains(t, notes, `maxHigh="10" from the request was replaced`)
	assert.Contains(t, notes, `maxLow="7" from the request was replaced`)
}

func TestSyncIdentity(t *testing.T) {
	var got atomic.Value
	g := fakeGate{task: "SecurityWorkItemGate", evaluate: func(ctx context.Context, rt *gaterun.Runtime) (*finding.Report, error) { return report(), nil }}
	spec := g.spec()
	build := spec.Build
	spec.Build = func(c *Connection) gaterun.Gate {
		auth, _ := c.Credential.Authorization(context.Background())
		got.Store(auth)
		return build(c)
	}
	t.Run("server identity wins over a request token", func(t *testing.T) {
		h := newHarness(t, harnessOptions{gates: map[string]GateSpec{GateWorkItems: spec}, opts: func(o *Options) { o.Identity = staticCred("server-identity-token") }})
		a := h.do(call{gate: "workitems", headers: map[string]string{HeaderAuthToken: testToken}, body: `{"environment":"production","organization":"contoso"}`})
		require.Equal(t, http.StatusOK, a.status, string(a.body))
		assert.Equal(t, "Bearer server-identity-token", got.Load())
	})
	t.Run("no identity: the request's AuthToken", func(t *testing.T) {
		h := newHarness(t, harnessOptions{gates: map[string]GateSpec{GateWorkItems: spec}})
		a := h.do(call{gate: "workitems", headers: map[string]string{HeaderAuthToken: testToken}, body: `{"environment":"production","organization":"contoso"}`})
		require.Equal(t, http.StatusOK, a.status, string(a.body))
		assert.Equal(t, "Bearer "+testToken, got.Load())
	})
	t.Run("no identity and no token", func(t *testing.T) {
		h := newHarness(t, harnessOptions{gates: map[string]GateSpec{GateWorkItems: spec}})
		a := h.do(call{gate: "workitems", body: `{"environment":"production","organization":"contoso"}`})
		assert.Equal(t, http.StatusBadRequest, a.status)
		assert.Contains(t, a.json["error"], "no identity")
	})
	t.Run("callback uses the check's token even with a server identity", func(t *testing.T) {
		h := newHarness(t, harnessOptions{gates: map[string]GateSpec{GateWorkItems: spec}, opts: func(o *Options) { o.Identity = staticCred("server-identity-token") }})
		a := h.do(call{gate: "workitems", completion: "callback", headers: h.callbackHeaders(newTaskID()), body: `{"environment":"production"}`})
		require.Equal(t, http.StatusAccepted, a.status)
		h.plan.waitEvents(t, 1)
		assert.Equal(t, "Bearer "+testToken, got.Load())
	})
}

// The check's token, the caller's password and the server's PAT never appear in responses,
// feed lines, logs or metrics, even when a gate echoes them.
func TestCanaryTokenNeverLeaks(t *testing.T) {
	const canary = "CANARY-token-7f3a9c1e5b2d4f60"
	const patCanary = "CANARY-pat-0a1b2c3d4e5f6a7b8c9d"
	spec := GateSpec{Build: func(c *Connection) gaterun.Gate {
		return gaterun.Gate{Task: "SecurityWorkItemGate", Command: "fake", Title: "Fake gate", Evaluate: func(ctx context.Context, rt *gaterun.Runtime) (*finding.Report, error) {
			auth, _ := c.Credential.Authorization(ctx)
			rt.Info("echo: " + auth)
			rt.Warn("echo token: " + strings.TrimPrefix(strings.TrimPrefix(auth, "Bearer "), "Basic "))
			return report(violation("found " + auth)), nil
		}}
	}}
	h := newHarness(t, harnessOptions{gates: map[string]GateSpec{GateWorkItems: spec},
		extra: "identity:\n  type: pat\n  patEnv: SG_PAT\n", env: map[string]string{"SG_PAT": patCanary}})
	srv, front := h.srv, h.front

	cbHeaders := h.callbackHeaders(newTaskID())
	cbHeaders[HeaderAuthToken] = canary
	answers := []answer{
		doCall(t, front.Client(), front.URL, call{gate: "workitems", completion: "callback", headers: cbHeaders, body: `{"environment":"production"}`}),
		doCall(t, front.Client(), front.URL, call{gate: "workitems", body: `{"environment":"production","organization":"contoso"}`}),
		doCall(t, front.Client(), front.URL, call{gate: "workitems", body: `{"environment":"production","organization":"contoso"}`, auth: basicAuth(testUser, testPassword+"-wrong")}),
	}
	h.plan.waitEvents(t, 1)
	require.NoError(t, srv.Shutdown(context.Background()))
	var metrics strings.Builder
	require.NoError(t, srv.metrics.write(&metrics))
	for _, secret := range []string{canary, patCanary, testPassword} {
		for i, a := range answers {
			assert.NotContains(t, string(a.body), secret, "answer %d", i)
		}
		assert.NotContains(t, strings.Join(h.plan.lines(), "\n"), secret)
		assert.NotContains(t, h.logs.String(), secret)
		assert.NotContains(t, metrics.String(), secret)
	}
	assert.Contains(t, strings.Join(h.plan.lines(), "\n"), "echo: Bearer ***", "the echo was redacted, not dropped")
	assert.Equal(t, http.StatusOK, answers[1].status)
	assert.Contains(t, string(answers[1].body), "found Basic ***", "the PAT travels as Basic auth, redacted in that encoding too")
}

func TestOperationsEndpoints(t *testing.T) {
	h := newHarness(t, harnessOptions{gates: gatesOf(passGate()), opts: func(o *Options) { o.Identity = staticCred("server-identity-token") }})
	a := h.do(call{gate: "workitems", body: `{"environment":"production","organization":"contoso"}`})
	require.Equal(t, http.StatusOK, a.status)
	get := func(p string) (int, string, string) {
		resp, err := h.front.Client().Get(h.front.URL + p)
		require.NoError(t, err)
		defer resp.Body.Close()
		var b strings.Builder
		_, _ = fmt.Fprint(&b, readAll(t, resp))
		return resp.StatusCode, resp.Header.Get("Content-Type"), b.String()
	}
	code, _, body := get("/healthz")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `"status":"ok"`)
	code, _, _ = get("/readyz")
	assert.Equal(t, http.StatusOK, code)
	code, ctype, body := get("/metrics")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "text/plain; version=0.0.4; charset=utf-8", ctype)
	for _, want := range []string{
		"# TYPE stagegate_evaluations_total counter",
		`stagegate_evaluations_total{gate="workitems",completion="sync",result="passed"} 1`,
		`stagegate_http_requests_total{route="gate",code="200"} 1`,
		"# TYPE stagegate_evaluation_duration_seconds histogram",
		`stagegate_evaluation_duration_seconds_bucket{gate="workitems",le="+Inf"} 1`,
		`stagegate_evaluation_duration_seconds_count{gate="workitems"} 1`,
		"stagegate_inflight_evaluations 0",
	} {
		assert.Contains(t, body, want)
	}
	code, _, _ = get("/nothing")
	assert.Equal(t, http.StatusNotFound, code)
	// A doubled slash (service connection URL with a trailing slash + a suffix with a leading
	// one) reaches the gate instead of a redirect.
	a = h.do(call{gate: "/workitems", body: `{"environment":"production","organization":"contoso"}`})
	assert.Equal(t, http.StatusOK, a.status)
	assert.Equal(t, "passed", a.json["status"])
	// Structured logs: one JSON object per line with the request id.
	for _, line := range strings.Split(strings.TrimSpace(h.logs.String()), "\n") {
		assert.True(t, strings.HasPrefix(line, "{") && strings.HasSuffix(line, "}"), line)
	}
	assert.Contains(t, h.logs.String(), `"msg":"evaluation finished"`)
	assert.Contains(t, h.logs.String(), a.header.Get("X-Request-Id"))
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}
