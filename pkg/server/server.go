// Package server is `stagegate serve`: the gates as Azure Pipelines "Invoke REST API" checks on
// environments and as classic release gates.
//
// POST /v1/gates/{workitems|reviews|keyvault} takes a JSON body (CheckRequest: the run context
// and the task's inputs) and answers in one of two completion modes:
//
//   - synchronous (the default): the verdict is the response, {"status":"passed"|"failed",
//     "summary", "findings", ...}, within the check's time limit; the check's success criteria
//     is eq(root['status'], 'passed').
//   - callback (?completion=callback): the request is acknowledged at once (202), the gate runs
//     in the background, its log lines stream to the timeline record feed, and one TaskCompleted
//     event goes to the plan with the check's AuthToken.
//
// Inputs merge with the policy the configuration file sets per environment; the policy wins, and
// mode never comes from the request. Callers authenticate (Basic or Bearer), organizations and
// PlanUrl must be on the allow-list, and concurrency, body size and time are bounded. The server
// keeps no state beyond the evaluations it is running, so replicas can sit behind a load
// balancer.
package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/stagegate/stagegate/pkg/azdo"
	"github.com/stagegate/stagegate/pkg/finding"
	"github.com/stagegate/stagegate/pkg/gaterun"
	"github.com/stagegate/stagegate/pkg/render"
	"github.com/stagegate/stagegate/pkg/server/repofetch"
	"github.com/stagegate/stagegate/pkg/task"
	"github.com/stagegate/stagegate/pkg/version"
	"github.com/stagegate/stagegate/tasks"

	"github.com/stagegate/stagegate/pkg/retry"
)

// Options build a Server.
type Options struct {
	Config *Config
	// Gates by URL name; nil means DefaultGates(). Names must be workitems, reviews or keyvault
	// (inputs are checked against those tasks' definitions).
	Gates map[string]GateSpec
	// Identity is the server's own Azure DevOps credential (NewIdentity); nil for none.
	Identity azdo.Credential
	// Sources downloads repositories for gates that scan files; nil means repofetch with the
	// configured limits.
	Sources SourceFetcher
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
	// HTTPClient is the upstream transport (Azure DevOps and the plan); nil means a pooled
	// client of the server's own.
	HTTPClient *http.Client
	// Now is the gates' clock; Sleep waits between retries of plan posts. Tests inject them.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// TempDir holds repository downloads; default os.TempDir().
	TempDir string
	// FeedInterval is how often queued log lines are posted; default 250ms.
	FeedInterval time.Duration
}

// Server answers check requests. Build it with New; serve it with Run, or mount Handler and call
// Shutdown yourself.
type Server struct {
	cfg      *Config
	gates    map[string]GateSpec
	defs     map[string]*tasks.Definition
	identity azdo.Credential
	sources  SourceFetcher
	log      *slog.Logger
	upstream *http.Client
	plan     *planClient
	metrics  *metrics
	now      func() time.Time
	tempDir  string
	feedIntv time.Duration
	tlsCfg   *tls.Config
	secrets  []string // server-wide secrets to redact (the PAT)

	slots    chan struct{}
	evalCtx  context.Context
	stopEval context.CancelFunc
	wg       sync.WaitGroup

	mu       sync.Mutex
	draining bool
	running  map[string]bool // callback evaluations by plan/task instance
}

// New builds a Server. It makes no network call.
func New(opts Options) (*Server, error) {
	if opts.Config == nil {
		return nil, errors.New("server: Options.Config is required")
	}
	cfg := opts.Config
	s := &Server{
		cfg: cfg, gates: opts.Gates, identity: opts.Identity, sources: opts.Sources, log: opts.Logger,
		upstream: opts.HTTPClient, now: opts.Now, tempDir: opts.TempDir, feedIntv: opts.FeedInterval,
		metrics: newMetrics(), running: map[string]bool{}, defs: map[string]*tasks.Definition{},
	}
	if s.gates == nil {
		s.gates = DefaultGates()
	}
	for name, g := range s.gates {
		def, ok := gateDefinition(name)
		if !ok {
			return nil, fmt.Errorf("server: gate %q: expected workitems, reviews or keyvault", name)
		}
		if g.Build == nil {
			return nil, fmt.Errorf("server: gate %q has no Build", name)
		}
		s.defs[name] = def
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.upstream == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConns = 256
		tr.MaxIdleConnsPerHost = 64
		s.upstream = &http.Client{Transport: tr}
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.feedIntv <= 0 {
		s.feedIntv = 250 * time.Millisecond
	}
	sleep := opts.Sleep
	if sleep == nil {
		sleep = retry.Sleep
	}
	if s.sources == nil {
		s.sources = &repofetch.Fetcher{
			HTTPClient: s.upstream,
			Limits:     repofetch.Limits{MaxArchiveBytes: cfg.Limits.RepositoryMaxArchiveBytes, MaxFiles: cfg.Limits.RepositoryMaxFiles, MaxBytes: cfg.Limits.RepositoryMaxBytes},
			TempDir:    s.tempDir,
			OnRetry:    func() { s.metrics.inc(mUpstreamRetries, "repository") },
		}
	}
	s.plan = &planClient{
		hc: &http.Client{
			Transport: s.upstream.Transport,
			Timeout:   15 * time.Second,
			// The token goes to the allow-listed plan URL only, never where a redirect points.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		sleep:   sleep,
		metrics: s.metrics,
	}
	if cfg.Identity.pat != "" {
		s.secrets = append(s.secrets, cfg.Identity.pat)
	}
	if cfg.TLS != nil {
		cert, err := tls.LoadX509KeyPair(cfg.TLS.CertFile, cfg.TLS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("server: tls: %w", err)
		}
		s.tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	}
	s.slots = make(chan struct{}, cfg.Limits.MaxConcurrent)
	s.evalCtx, s.stopEval = context.WithCancel(context.Background())
	return s, nil
}

// Handler returns the HTTP handler: the gate endpoints, /healthz, /readyz and /metrics.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/gates/{gate}", s.handleGate)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": version.String()})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if s.isDraining() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "draining"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_ = s.metrics.write(w)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "", "no such endpoint: POST /v1/gates/{workitems|reviews|keyvault}, GET /healthz, /readyz, /metrics")
	})
	return s.middleware(mux)
}

// statusWriter records the status for the access log and metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

type ctxKey int

const requestIDKey ctxKey = 1

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := newID()
		sw := &statusWriter{ResponseWriter: w}
		h := sw.Header()
		h.Set("X-Request-Id", id)
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		r = r.WithContext(context.WithValue(r.Context(), requestIDKey, id))
		// A service connection URL with a trailing slash plus a suffix with a leading one gives
		// "//v1/gates/..."; the mux would answer that with a redirect, which a POST from Azure
		// DevOps does not follow. Route the clean path instead.
		if strings.Contains(r.URL.Path, "//") {
			r.URL.Path = path.Clean(r.URL.Path)
			r.URL.RawPath = ""
		}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("internal error answering a request", "requestId", id, "panic", fmt.Sprint(p))
				if sw.status == 0 {
					writeError(sw, http.StatusInternalServerError, id, "internal error: the check fails closed; the server log has the request id")
				}
			}
			route := routeLabel(r.URL.Path)
			s.metrics.inc(mRequests, route, fmt.Sprint(sw.status))
			lvl := slog.LevelInfo
			if route != "gate" {
				lvl = slog.LevelDebug
			}
			s.log.Log(r.Context(), lvl, "request", "requestId", id, "method", r.Method, "path", r.URL.Path,
				"status", sw.status, "durationMs", time.Since(start).Milliseconds(), "remote", r.RemoteAddr)
		}()
		next.ServeHTTP(sw, r)
	})
}

func routeLabel(p string) string {
	switch {
	case strings.HasPrefix(p, "/v1/gates/"):
		return "gate"
	case p == "/healthz", p == "/readyz", p == "/metrics":
		return strings.TrimPrefix(p, "/")
	}
	return "other"
}

// errorBody is the answer to a request that was not evaluated. It has the verdict's status so a
// check's success criteria fails on it like on a violation.
type errorBody struct {
	Status    string `json:"status"`
	Summary   string `json:"summary"`
	Error     string `json:"error"`
	RequestID string `json:"requestId,omitempty"`
}

func writeError(w http.ResponseWriter, code int, id, msg string) {
	writeJSON(w, code, errorBody{Status: "failed", Summary: "stagegate did not evaluate the request: " + msg, Error: msg, RequestID: id})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{"status":"failed","error":"internal error: encode the response"}`)
		code = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

func (s *Server) isDraining() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.draining
}

// Completion modes.
const (
	completionSync     = "sync"
	completionCallback = "callback"
)

// job is one accepted evaluation.
type job struct {
	id          string
	gate        string
	spec        GateSpec
	def         *tasks.Definition
	caller      string
	environment string
	completion  string
	inputs      map[string]string
	notes       []string
	env         map[string]string
	req         *CheckRequest
	cb          *Callback
	conn        *Connection
	red         *redactor
	start       time.Time
}

// reject answers a refused request and counts the reason.
func (s *Server) reject(w http.ResponseWriter, r *http.Request, code int, reason, msg string) {
	s.metrics.inc(mRejected, reason)
	id := requestID(r.Context())
	if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", fmt.Sprint(int(s.cfg.Limits.RetryAfter.Round(time.Second)/time.Second)))
	}
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="stagegate", charset="UTF-8"`)
	}
	s.log.Info("request refused", "requestId", id, "reason", reason, "status", code, "error", msg)
	writeError(w, code, id, msg)
}

func (s *Server) handleGate(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("gate")
	spec, ok := s.gates[name]
	if !ok {
		s.reject(w, r, http.StatusNotFound, "unknown_gate", fmt.Sprintf("unknown gate %q: this server offers %s", printable(name), strings.Join(s.gateNames(), ", ")))
		return
	}
	if s.isDraining() {
		s.reject(w, r, http.StatusServiceUnavailable, "draining", "the server is shutting down: retry on another replica")
		return
	}
	caller, ok := authenticate(r, s.cfg.Callers)
	if !ok {
		s.reject(w, r, http.StatusUnauthorized, "unauthorized", "missing or wrong credentials: use the Generic service connection's user name and password, or the bearer secret")
		return
	}
	completion := r.URL.Query().Get("completion")
	switch completion {
	case "", completionSync:
		completion = completionSync
	case completionCallback:
	default:
		s.reject(w, r, http.StatusBadRequest, "bad_request", fmt.Sprintf("completion=%q: expected sync or callback", printable(completion)))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.Limits.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.reject(w, r, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the request body is larger than %d bytes", s.cfg.Limits.MaxBodyBytes))
			return
		}
		s.reject(w, r, http.StatusBadRequest, "bad_request", "read the request body: "+err.Error())
		return
	}
	req, err := ParseCheckRequest(body)
	if err != nil {
		s.reject(w, r, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	j, code, reason, err := s.prepare(r, name, spec, caller, completion, req)
	if err != nil {
		s.reject(w, r, code, reason, err.Error())
		return
	}
	if completion == completionCallback {
		s.acceptCallback(w, r, j)
		return
	}
	s.runSync(w, r, j)
}

func (s *Server) gateNames() []string {
	names := make([]string, 0, len(s.gates))
	for n := range s.gates {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// prepare turns a request into a job: organization, credentials, policy and inputs. The error
// comes with its HTTP status and a metrics reason.
func (s *Server) prepare(r *http.Request, name string, spec GateSpec, caller *Caller, completion string, req *CheckRequest) (*job, int, string, error) {
	j := &job{id: requestID(r.Context()), gate: name, spec: spec, def: s.defs[name], caller: caller.Name, completion: completion, req: req, start: time.Now()}
	var err error
	// Organization: from PlanUrl and/or the body; whichever is given must be allow-listed, and
	// they must agree.
	var org string
	if completion == completionCallback {
		j.cb, err = parseCallback(r.Header, s.cfg.Organizations)
		if err != nil {
			if errors.Is(err, errForbiddenOrg) {
				return nil, http.StatusForbidden, "forbidden_organization", err
			}
			return nil, http.StatusBadRequest, "bad_request", err
		}
		org = j.cb.PlanURL
	} else if pu := strings.TrimSpace(r.Header.Get(HeaderPlanURL)); pu != "" {
		o, ok := matchOrganization(pu, s.cfg.Organizations)
		if !ok {
			return nil, http.StatusForbidden, "forbidden_organization", fmt.Errorf("header %s: %q is not an allowed organization", HeaderPlanURL, printable(pu))
		}
		org = o
	}
	if req.Organization != "" {
		o, ok := matchOrganization(req.Organization, s.cfg.Organizations)
		if !ok {
			return nil, http.StatusForbidden, "forbidden_organization", fmt.Errorf("organization %q is not on this server's allow-list", printable(req.Organization))
		}
		if org != "" && o != org {
			return nil, http.StatusBadRequest, "bad_request", fmt.Errorf("organization %q and the %s header %q name different organizations", printable(req.Organization), HeaderPlanURL, org)
		}
		org = o
	}
	if org == "" {
		return nil, http.StatusBadRequest, "bad_request", errors.New("no organization: give \"organization\" in the body ($(System.CollectionUri)) or the PlanUrl header")
	}
	// Policy.
	envKey := strings.ToLower(strings.TrimSpace(req.Environment))
	if !caller.mayUse(envKey) {
		return nil, http.StatusForbidden, "forbidden_environment", fmt.Errorf("caller %q may not evaluate environment %q", caller.Name, printable(req.Environment))
	}
	policy, err := s.cfg.policy(envKey, req.Environment, name)
	if err != nil {
		return nil, http.StatusBadRequest, "bad_request", err
	}
	j.environment = req.Environment
	j.inputs, j.notes, err = mergeInputs(j.def, name, policy, req.Inputs, req.Environment)
	if err != nil {
		return nil, http.StatusBadRequest, "bad_request", err
	}
	// Credentials: the check's own token in callback mode, else the server's identity, else a
	// token the synchronous request carries.
	var cred azdo.Credential
	token := strings.TrimSpace(r.Header.Get(HeaderAuthToken))
	switch {
	case completion == completionCallback:
		cred = azdo.JobToken(j.cb.AuthToken)
	case s.identity != nil:
		cred = s.identity
	case token != "":
		cred = azdo.JobToken(token)
	default:
		return nil, http.StatusBadRequest, "no_identity", errors.New("no identity to read Azure DevOps: configure the server's identity, send the AuthToken header, or use completion=callback")
	}
	j.red = newRedactor(append([]string{token}, s.secrets...)...)
	if j.cb != nil {
		j.red.add(j.cb.AuthToken)
	}
	j.conn = &Connection{OrgURL: org, Credential: cred, HTTPClient: s.upstream}
	// The agent-like environment the gate reads its context from.
	project := req.Project
	if project == "" && j.cb != nil {
		project = j.cb.ProjectID
	}
	j.env = map[string]string{"SYSTEM_COLLECTIONURI": org + "/"}
	set := func(k, v string) {
		if v != "" {
			j.env[k] = v
		}
	}
	set("SYSTEM_TEAMPROJECT", project)
	set("BUILD_REPOSITORY_ID", req.Repository)
	set("BUILD_REPOSITORY_PROVIDER", req.RepositoryProvider)
	set("BUILD_SOURCEBRANCH", req.Branch)
	set("BUILD_SOURCEVERSION", req.Commit)
	set("BUILD_BUILDID", req.BuildID)
	if j.cb != nil {
		set("SYSTEM_TEAMPROJECTID", j.cb.ProjectID)
		set("SYSTEM_PLANID", j.cb.PlanID)
		set("SYSTEM_JOBID", j.cb.JobID)
		set("SYSTEM_HOSTTYPE", strings.ToLower(j.cb.HubName))
	}
	if spec.Sources {
		var missing []string
		if project == "" {
			missing = append(missing, "project")
		}
		if req.Repository == "" {
			missing = append(missing, "repository")
		}
		if req.Commit == "" {
			missing = append(missing, "commit")
		}
		if len(missing) > 0 {
			return nil, http.StatusBadRequest, "bad_request", fmt.Errorf("gate %s scans the repository at the commit being deployed: give %s in the body", name, strings.Join(missing, ", "))
		}
		if p := req.RepositoryProvider; p != "" && !strings.EqualFold(p, "TfsGit") {
			return nil, http.StatusBadRequest, "bad_request", fmt.Errorf("gate %s reads Azure Repos Git repositories (TfsGit), not %q", name, printable(p))
		}
	}
	return j, 0, "", nil
}

// acquire takes an evaluation slot without waiting: a saturated server answers 429 at once, so
// the check retries later instead of timing out in a queue.
func (s *Server) acquire() bool {
	select {
	case s.slots <- struct{}{}:
		return true
	default:
		return false
	}
}

func (s *Server) release() { <-s.slots }

func (s *Server) runSync(w http.ResponseWriter, r *http.Request, j *job) {
	s.mu.Lock()
	if s.draining {
		s.mu.Unlock()
		s.reject(w, r, http.StatusServiceUnavailable, "draining", "the server is shutting down: retry on another replica")
		return
	}
	if !s.acquire() {
		s.mu.Unlock()
		s.reject(w, r, http.StatusTooManyRequests, "saturated", fmt.Sprintf("%d evaluations are running, the limit: retry later", s.cfg.Limits.MaxConcurrent))
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	defer s.release()
	s.metrics.setInflight(1)
	defer s.metrics.setInflight(-1)

	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.Limits.SyncTimeout)
	defer cancel()
	stop := context.AfterFunc(s.evalCtx, cancel)
	defer stop()
	defer func() {
		if p := recover(); p != nil {
			s.finish(j, "error")
			s.log.Error("internal error during a synchronous evaluation", "requestId", j.id, "gate", j.gate, "panic", j.red.redact(fmt.Sprint(p)))
			writeError(w, http.StatusInternalServerError, j.id, "internal error: the check fails closed; the server log has the request id")
		}
	}()
	resp, result := s.evaluate(ctx, j, s.syncLine(j), s.cfg.Limits.SyncTimeout)
	s.finish(j, result)
	b, err := json.Marshal(resp)
	if err != nil {
		writeError(w, http.StatusInternalServerError, j.id, "encode the verdict")
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, j.red.redact(string(b))+"\n")
}

// syncLine sends a synchronous evaluation's log lines to the server log: nobody else sees them.
func (s *Server) syncLine(j *job) func(level, line string) {
	return func(level, line string) {
		s.log.Debug("gate log", "requestId", j.id, "gate", j.gate, "level", level, "line", j.red.redact(line))
	}
}

func (s *Server) acceptCallback(w http.ResponseWriter, r *http.Request, j *job) {
	key := strings.ToLower(j.cb.PlanID + "/" + j.cb.TaskInstanceID)
	s.mu.Lock()
	if s.draining {
		s.mu.Unlock()
		s.reject(w, r, http.StatusServiceUnavailable, "draining", "the server is shutting down: retry on another replica")
		return
	}
	if s.running[key] {
		s.mu.Unlock()
		s.metrics.inc(mDuplicates)
		s.log.Info("duplicate callback request: the evaluation is already running", "requestId", j.id, "planId", j.cb.PlanID, "taskInstanceId", j.cb.TaskInstanceID)
		writeJSON(w, http.StatusAccepted, map[string]any{"status": "accepted", "duplicate": true, "gate": j.gate, "taskInstanceId": j.cb.TaskInstanceID, "requestId": j.id})
		return
	}
	if !s.acquire() {
		s.mu.Unlock()
		s.reject(w, r, http.StatusTooManyRequests, "saturated", fmt.Sprintf("%d evaluations are running, the limit: retry later", s.cfg.Limits.MaxConcurrent))
		return
	}
	s.running[key] = true
	s.wg.Add(1)
	s.mu.Unlock()
	s.log.Info("callback accepted", "requestId", j.id, "gate", j.gate, "caller", j.caller, "environment", j.environment,
		"organization", j.conn.OrgURL, "planId", j.cb.PlanID, "taskInstanceId", j.cb.TaskInstanceID, "hub", j.cb.HubName)
	go s.runCallback(j, key)
	writeJSON(w, http.StatusAccepted, map[string]any{"status": "accepted", "gate": j.gate, "taskInstanceId": j.cb.TaskInstanceID, "requestId": j.id})
}

// runCallback evaluates in the background and always ends with exactly one TaskCompleted post:
// on a verdict, an evaluation error, a timeout, a panic, or shutdown.
func (s *Server) runCallback(j *job, key string) {
	s.metrics.setInflight(1)
	fw := newFeedWriter(s.plan, j.cb, j.red, s.log, s.cfg.Limits.MaxFeedLines, s.feedIntv)
	result := resultFailed
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("internal error during a callback evaluation", "requestId", j.id, "gate", j.gate, "panic", j.red.redact(fmt.Sprint(p)))
			fw.line("##[error]stagegate: internal error; the check fails closed (request " + j.id + ")")
			result = resultFailed
			s.finish(j, "error")
		}
		if n := fw.close(); n > 0 {
			s.metrics.add(mFeedDropped, float64(n))
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Limits.CompletionTimeout)
		err := s.plan.complete(ctx, j.cb, result)
		cancel()
		if err != nil {
			s.log.Error("could not post TaskCompleted: the check will time out", "requestId", j.id, "planId", j.cb.PlanID,
				"taskInstanceId", j.cb.TaskInstanceID, "result", result, "error", j.red.redact(err.Error()))
		} else {
			s.log.Info("TaskCompleted posted", "requestId", j.id, "planId", j.cb.PlanID, "taskInstanceId", j.cb.TaskInstanceID, "result", result)
		}
		s.mu.Lock()
		delete(s.running, key)
		s.mu.Unlock()
		s.release()
		s.metrics.setInflight(-1)
		s.wg.Done()
	}()
	ctx, cancel := context.WithTimeout(s.evalCtx, s.cfg.Limits.CallbackTimeout)
	defer cancel()
	out := func(level, line string) {
		switch level {
		case "warning":
			fw.line("##[warning]" + line)
		case "error":
			fw.line("##[error]" + line)
		case "debug":
			s.log.Debug("gate log", "requestId", j.id, "gate", j.gate, "line", j.red.redact(line))
		default:
			fw.line(line)
		}
	}
	resp, outcome := s.evaluate(ctx, j, out, s.cfg.Limits.CallbackTimeout)
	s.finish(j, outcome)
	if resp.Status == "passed" {
		result = resultSucceeded
	}
}

// CheckResponse is the verdict of an evaluation: the JSON report, plus what the server adds.
type CheckResponse struct {
	render.JSONReport
	Environment string `json:"environment,omitempty"`
	// Error says why the gate could not evaluate (status is then failed).
	Error     string `json:"error,omitempty"`
	RequestID string `json:"requestId,omitempty"`
}

// evaluate runs the gate and returns its verdict and the metrics result (passed, warned, failed,
// error); it never fails: a gate that cannot evaluate gives a failed verdict with the cause. out
// receives log lines by level.
func (s *Server) evaluate(ctx context.Context, j *job, out func(level, line string), timeout time.Duration) (CheckResponse, string) {
	g := j.spec.Build(j.conn)
	for _, n := range j.notes {
		out("warning", n)
	}
	fail := func(err error) (CheckResponse, string) {
		msg := j.red.redact(j.conn.redact(task.OneLine(err.Error())))
		if s.isStopping() && ctx.Err() != nil {
			msg = "stagegate is shutting down and stopped the evaluation; the check fails closed and can be retried: " + msg
		}
		out("error", fmt.Sprintf("%s could not evaluate: %s", g.Title, msg))
		rep := render.JSONReport{
			Status: "failed", Outcome: finding.Failed, Summary: fmt.Sprintf("%s could not evaluate: %s", g.Title, msg),
			Gate: g.Task, Mode: finding.Mode(j.inputs["mode"]), Version: version.String(),
			Checks: []finding.Check{}, Findings: []finding.Finding{}, Notes: j.notes,
		}
		return CheckResponse{JSONReport: rep, Environment: j.environment, Error: msg, RequestID: j.id}, "error"
	}
	env := make(map[string]string, len(j.env)+1)
	for k, v := range j.env {
		env[k] = v
	}
	workDir := ""
	if j.spec.Sources {
		dir, err := os.MkdirTemp(s.tempDir, "stagegate-src-")
		if err != nil {
			return fail(fmt.Errorf("create a folder for the repository: %w", err))
		}
		defer os.RemoveAll(dir)
		out("info", fmt.Sprintf("Downloading repository %s at commit %s", j.req.Repository, j.req.Commit))
		st, err := s.sources.Fetch(ctx, repofetch.Source{OrgURL: j.conn.OrgURL, Credential: j.conn.Credential, Project: env["SYSTEM_TEAMPROJECT"], Repository: j.req.Repository, Commit: j.req.Commit}, dir)
		if err != nil {
			return fail(err)
		}
		out("info", fmt.Sprintf("Downloaded %d files (%d bytes)", st.Files, st.Bytes))
		if len(st.Skipped) > 0 {
			out("info", fmt.Sprintf("Skipped %d symbolic links (never followed by the scanners)", len(st.Skipped)))
		}
		env["BUILD_SOURCESDIRECTORY"] = dir
		workDir = dir
	}
	hooks := gaterun.Hooks{
		Info:   func(l string) { out("info", l) },
		Warn:   func(l string) { out("warning", l) },
		Debug:  func(l string) { out("debug", l) },
		Secret: j.red.add,
	}
	o, err := gaterun.EvaluateInputs(ctx, g, j.inputs, task.MapEnv(env), workDir, hooks, gaterun.Options{Now: s.now, Timeout: timeout})
	if err != nil {
		return fail(err)
	}
	rep := render.NewJSONReport(o.Report, o.Meta)
	rep.Notes = append(append([]string(nil), j.notes...), rep.Notes...)
	// The text report is for the check's log; a synchronous answer has no log but the server's.
	var text strings.Builder
	if j.completion == completionCallback || s.log.Enabled(ctx, slog.LevelDebug) {
		_ = render.Text(&text, o.Report, o.Meta)
	}
	if text.Len() > 0 {
		for _, l := range strings.Split(strings.TrimRight(text.String(), "\n"), "\n") {
			out("info", l)
		}
	}
	return CheckResponse{JSONReport: rep, Environment: j.environment, RequestID: j.id}, string(o.Verdict.Outcome)
}

// finish records a finished evaluation in the metrics and the log.
func (s *Server) finish(j *job, result string) {
	s.metrics.inc(mEvaluations, j.gate, j.completion, result)
	s.metrics.observe(j.gate, time.Since(j.start))
	st := j.conn.stats()
	s.metrics.add(mUpstreamRetries, float64(st.Retries), "azure_devops")
	s.log.Info("evaluation finished", "requestId", j.id, "gate", j.gate, "completion", j.completion, "caller", j.caller,
		"environment", j.environment, "organization", j.conn.OrgURL, "project", j.env["SYSTEM_TEAMPROJECT"], "result", result,
		"durationMs", time.Since(j.start).Milliseconds(), "azureDevOpsRequests", st.Total, "retries", st.Retries)
}

func (s *Server) isStopping() bool { return s.evalCtx.Err() != nil }

// Shutdown stops accepting evaluations and waits for running ones until ctx ends; then it stops
// them, and each still reports a failed verdict (a TaskCompleted for callbacks, a failed answer
// for synchronous requests), within the completion timeout.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.draining = true
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		s.stopEval()
		return nil
	case <-ctx.Done():
	}
	s.log.Warn("shutdown grace period over: stopping the running evaluations, each reports failed")
	s.stopEval()
	t := time.NewTimer(s.cfg.Limits.CompletionTimeout + 5*time.Second)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-t.C:
		return errors.New("server: evaluations still running after the completion timeout")
	}
}

// Run serves on ln until ctx ends, then shuts down gracefully (Shutdown, within the configured
// grace period).
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	l := s.cfg.Limits
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	if s.tlsCfg != nil {
		ln = tls.NewListener(ln, s.tlsCfg)
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	s.log.Info("stagegate serve listening", "address", ln.Addr().String(), "tls", s.tlsCfg != nil, "version", version.String(),
		"gates", s.gateNames(), "organizations", s.cfg.Organizations, "maxConcurrent", l.MaxConcurrent)
	select {
	case err := <-errc:
		s.stopEval()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("shutting down", "grace", l.ShutdownGrace.String())
	grace, cancel := context.WithTimeout(context.Background(), l.ShutdownGrace)
	defer cancel()
	httpDone := make(chan error, 1)
	// Stop the listener now, and give synchronous answers until after the evaluations end.
	httpCtx, cancelHTTP := context.WithTimeout(context.Background(), l.ShutdownGrace+l.CompletionTimeout+10*time.Second)
	defer cancelHTTP()
	go func() { httpDone <- hs.Shutdown(httpCtx) }()
	err := s.Shutdown(grace)
	if herr := <-httpDone; herr != nil {
		hs.Close()
		err = errors.Join(err, fmt.Errorf("http shutdown: %w", herr))
	}
	if err != nil {
		s.log.Error("shutdown incomplete", "error", err.Error())
		return err
	}
	s.log.Info("stopped")
	return nil
}
