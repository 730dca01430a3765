package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/finding"
	"github.com/stagegate/stagegate/pkg/gaterun"
	"github.com/stagegate/stagegate/pkg/task"
)

// Secrets of the test callers, long enough for the configuration's minimum.
const (
	testUser     = "stagegate"
	testPassword = "check-password-0123456789"
	testBearer   = "release-gates-bearer-0123456789"
	testProdOnly = "production-only-secret-0123456789"
	testToken    = "job-access-token-0123456789abcdef"
)

func testEnv() task.LookupFunc {
	return task.MapEnv(map[string]string{
		"SG_PASSWORD": testPassword, "SG_BEARER": testBearer, "SG_PROD": testProdOnly,
	})
}

// baseConfig is a configuration for an organization at orgURL; extra YAML is appended.
func baseConfig(orgURL, extra string) string {
	return `listen: "127.0.0.1:0"
organizations:
  - ` + orgURL + `
callers:
  - name: checks
    username: ` + testUser + `
    passwordEnv: SG_PASSWORD
  - name: release-gates
    bearerTokenEnv: SG_BEARER
  - name: prod-pipeline
    username: prod
    passwordEnv: SG_PROD
    environments: [production]
environments:
  staging:
    workitems:
      mode: audit
  production:
    workitems:
      mode: enforce
      maxHigh: 0
    reviews:
      minimumApprovers: 2
allowUnknownEnvironments: false
` + extra
}

// planRecord is one request the fake plan endpoint received.
type planRecord struct {
	Kind   string // event or feed
	Path   string
	Query  string
	Token  string
	Status int
	Event  taskCompleted
	Lines  []string
	At     time.Time
}

// fakePlan is the distributedtask side of Azure DevOps: it records TaskCompleted events and feed
// lines, and can fail the first posts.
type fakePlan struct {
	mu         sync.Mutex
	records    []planRecord
	failEvents int // answer 503 to this many event posts first
	failFeeds  int
	changed    chan struct{}
}

func newFakePlan() *fakePlan { return &fakePlan{changed: make(chan struct{}, 1)} }

// wrap serves distributedtask paths and passes everything else to next (an azdosim, or 404).
func (p *fakePlan) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.URL.Path, "/_apis/distributedtask/") {
			if next == nil {
				http.NotFound(w, r)
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		rec := planRecord{Path: r.URL.Path, Query: r.URL.RawQuery, At: time.Now()}
		if u, pw, ok := r.BasicAuth(); ok && u == "" {
			rec.Token = pw
		}
		body, _ := io.ReadAll(r.Body)
		p.mu.Lock()
		status := http.StatusOK
		switch {
		case strings.HasSuffix(r.URL.Path, "/events"):
			rec.Kind = "event"
			if err := json.Unmarshal(body, &rec.Event); err != nil {
				status = http.StatusBadRequest
			}
			if p.failEvents > 0 {
				p.failEvents--
				status = http.StatusServiceUnavailable
			}
		case strings.HasSuffix(r.URL.Path, "/feed"):
			rec.Kind = "feed"
			var fb feedBody
			if err := json.Unmarshal(body, &fb); err != nil || fb.Count != len(fb.Value) {
				status = http.StatusBadRequest
			}
			rec.Lines = fb.Value
			if p.failFeeds > 0 {
				p.failFeeds--
				status = http.StatusInternalServerError
			}
		default:
			status = http.StatusNotFound
		}
		rec.Status = status
		p.records = append(p.records, rec)
		p.mu.Unlock()
		select {
		case p.changed <- struct{}{}:
		default:
		}
		w.WriteHeader(status)
	})
}

// events returns the accepted TaskCompleted posts (status 200).
func (p *fakePlan) events() []planRecord {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []planRecord
	for _, r := range p.records {
		if r.Kind == "event" && r.Status == http.StatusOK {
			out = append(out, r)
		}
	}
	return out
}

func (p *fakePlan) all() []planRecord {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]planRecord(nil), p.records...)
}

// lines returns the feed lines accepted for a job.
func (p *fakePlan) lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, r := range p.records {
		if r.Kind == "feed" && r.Status == http.StatusOK {
			out = append(out, r.Lines...)
		}
	}
	return out
}

// waitEvents waits until n events were accepted.
func (p *fakePlan) waitEvents(t testing.TB, n int) []planRecord {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		if ev := p.events(); len(ev) >= n {
			return ev
		}
		select {
		case <-p.changed:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatalf("waited 20s for %d TaskCompleted events, got %d", n, len(p.events()))
		}
	}
}

// syncBuffer collects the JSON logs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type harness struct {
	t        testing.TB
	srv      *Server
	front    *httptest.Server // the stagegate server
	upstream *httptest.Server // Azure DevOps: the plan endpoint and, when given, a simulator
	plan     *fakePlan
	org      string
	logs     *syncBuffer
}

type harnessOptions struct {
	gates  map[string]GateSpec
	sim    http.Handler      // azdosim for real gates; nil: only the plan endpoint
	extra  string            // YAML appended to the configuration
	env    map[string]string // more environment variables for the configuration's secrets
	config func(c *Config)
	opts   func(o *Options)
}

func newHarness(t testing.TB, ho harnessOptions) *harness {
	t.Helper()
	h := &harness{t: t, plan: newFakePlan(), logs: &syncBuffer{}}
	h.upstream = httptest.NewServer(h.plan.wrap(ho.sim))
	t.Cleanup(h.upstream.Close)
	h.org = h.upstream.URL + "/contoso"
	env := testEnv()
	lookup := func(k string) (string, bool) {
		if v, ok := ho.env[k]; ok {
			return v, true
		}
		return env(k)
	}
	cfg, err := ParseConfig("test.yaml", []byte(baseConfig(h.org, ho.extra)), lookup)
	require.NoError(t, err)
	cfg.Limits.RetryAfter = 2 * time.Second
	if ho.config != nil {
		ho.config(cfg)
	}
	opts := Options{
		Config: cfg, Gates: ho.gates,
		Logger:       slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Sleep:        func(ctx context.Context, d time.Duration) error { return ctx.Err() },
		FeedInterval: 20 * time.Millisecond,
		TempDir:      t.TempDir(),
	}
	if ho.opts != nil {
		ho.opts(&opts)
	}
	if cfg.Identity.Type != IdentityNone && opts.Identity == nil {
		opts.Identity, err = NewIdentity(cfg.Identity)
		require.NoError(t, err)
	}
	h.srv, err = New(opts)
	require.NoError(t, err)
	h.front = httptest.NewServer(h.srv.Handler())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = h.srv.Shutdown(ctx)
		h.front.Close()
	})
	return h
}

// waitIdle waits until no evaluation holds a slot.
func (h *harness) waitIdle() {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(h.srv.slots) > 0 {
		if time.Now().After(deadline) {
			h.t.Fatalf("evaluations still hold %d slots after 10s", len(h.srv.slots))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// callbackHeaders are the headers an "Invoke REST API" check sends, for one task instance.
func (h *harness) callbackHeaders(taskInstance string) map[string]string {
	return map[string]string{
		HeaderPlanURL: h.org + "/", HeaderProjectID: "6ce954b1-ce1f-45d1-b94d-e6bf2464ba2c", HeaderHubName: "Checks",
		HeaderPlanID: "11111111-2222-3333-4444-555555555555", HeaderJobID: "66666666-7777-8888-9999-000000000000",
		HeaderTimelineID: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", HeaderTaskInstanceID: taskInstance, HeaderAuthToken: testToken,
	}
}

type call struct {
	gate       string
	completion string
	body       any // marshalled unless a string or []byte
	headers    map[string]string
	auth       func(r *http.Request) // default: Basic checks caller
}

type answer struct {
	status int
	header http.Header
	body   []byte
	json   map[string]any
}

func basicAuth(user, pw string) func(*http.Request) {
	return func(r *http.Request) { r.SetBasicAuth(user, pw) }
}

func (h *harness) do(c call) answer {
	h.t.Helper()
	return doCall(h.t, h.front.Client(), h.front.URL, c)
}

func doCall(t testing.TB, hc *http.Client, base string, c call) answer {
	t.Helper()
	var body []byte
	switch b := c.body.(type) {
	case nil:
	case string:
		body = []byte(b)
	case []byte:
		body = b
	default:
		var err error
		body, err = json.Marshal(b)
		require.NoError(t, err)
	}
	u := base + "/v1/gates/" + c.gate
	if c.completion != "" {
		u += "?completion=" + c.completion
	}
	req, err := http.NewRequest(http.MethodPost, u, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	if c.auth != nil {
		c.auth(req)
	} else {
		req.SetBasicAuth(testUser, testPassword)
	}
	resp, err := hc.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	a := answer{status: resp.StatusCode, header: resp.Header, body: b}
	_ = json.Unmarshal(b, &a.json)
	return a
}

func newTaskID() string { return uuid.NewString() }

// fakeGate builds gates whose behaviour the test controls; they never touch the network.
type fakeGate struct {
	task     string
	evaluate func(ctx context.Context, rt *gaterun.Runtime) (*finding.Report, error)
	seen     chan *gaterun.Runtime // receives every runtime, when not nil
}

func (f fakeGate) spec() GateSpec {
	return GateSpec{Build: func(conn *Connection) gaterun.Gate {
		return gaterun.Gate{Task: f.task, Command: "fake", Title: "Fake gate", Evaluate: func(ctx context.Context, rt *gaterun.Runtime) (*finding.Report, error) {
			if f.seen != nil {
				f.seen <- rt
			}
			return f.evaluate(ctx, rt)
		}}
	}}
}

func report(findings ...finding.Finding) *finding.Report {
	return &finding.Report{Gate: "SecurityWorkItemGate", Title: "Fake gate", Checks: []finding.Check{{Name: "fake"}}, Findings: findings}
}

func violation(msg string) finding.Finding {
	return finding.Finding{Rule: "WI001", Severity: finding.Error, Check: "fake", Message: msg, Fingerprint: finding.Fingerprint(msg)}
}

func passGate() fakeGate {
	return fakeGate{task: "SecurityWorkItemGate", evaluate: func(ctx context.Context, rt *gaterun.Runtime) (*finding.Report, error) {
		rt.Info("fake gate looked at 3 work items")
		return report(), nil
	}}
}

// blockingGate waits for release (or its context) and then passes.
func blockingGate(started chan<- struct{}, release <-chan struct{}) fakeGate {
	return fakeGate{task: "SecurityWorkItemGate", evaluate: func(ctx context.Context, rt *gaterun.Runtime) (*finding.Report, error) {
		rt.Info("fake gate started")
		if started != nil {
			started <- struct{}{}
		}
		select {
		case <-release:
			return report(), nil
		case <-ctx.Done():
			return nil, errors.Join(errors.New("fake gate stopped"), ctx.Err())
		}
	}}
}

func gatesOf(g fakeGate) map[string]GateSpec { return map[string]GateSpec{GateWorkItems: g.spec()} }
