package workitems

import (
	"bytes"
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/azdo"
	"github.com/stagegate/stagegate/pkg/azdo/azdosim"
	"github.com/stagegate/stagegate/pkg/finding"
	"github.com/stagegate/stagegate/pkg/gaterun"
	"github.com/stagegate/stagegate/pkg/task"
	"github.com/stagegate/stagegate/tasks"
)

const (
	testToken  = "wi-test-token-8c1f"
	demoToken  = "stagegate-demo-token"
	demoFile   = "../../../examples/azdo/scenario.json"
	demoOrg    = "contoso"
	demoProjet = "Payments"
)

var testNow = time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)

// harness serves one simulator on its own httptest server (the client library caches
// locations per URL) and runs the gate against it over real HTTP with the real client.
type harness struct {
	sim    *azdosim.Server
	orgURL string
	token  string

	mu       sync.Mutex
	warnings []string
	sleeps   []time.Duration
	clients  []*azdo.Client
}

func newHarness(t testing.TB, sc *azdosim.Scenario) *harness {
	t.Helper()
	sim, err := azdosim.New(sc, azdosim.Options{Now: func() time.Time { return testNow }})
	require.NoError(t, err)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	tok := ""
	if len(sc.Tokens) > 0 {
		tok = sc.Tokens[0]
	}
	return &harness{sim: sim, orgURL: sim.OrgURL(srv.URL), token: tok}
}

func demoHarness(t testing.TB) *harness {
	t.Helper()
	sc, err := azdosim.LoadScenario(demoFile)
	require.NoError(t, err)
	return newHarness(t, sc)
}

func (h *harness) warn(s string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.warnings = append(h.warnings, s)
}

// connect builds a client like AgentConnect does, with a recorded no-op sleep so that retry
// tests take no time.
func (h *harness) connect(ctx context.Context, rt *gaterun.Runtime) (Reader, error) {
	c, err := azdo.New(ctx, azdo.Options{
		OrgURL:     h.orgURL,
		Credential: azdo.JobToken(h.token),
		Warn:       rt.Warn,
		Sleep: func(_ context.Context, d time.Duration) error {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.sleeps = append(h.sleeps, d)
			return nil
		},
	})
	if err == nil {
		h.mu.Lock()
		h.clients = append(h.clients, c)
		h.mu.Unlock()
	}
	return c, err
}

func (h *harness) gate() gaterun.Gate { return GateWith(h.connect) }

func taskDefaults(t testing.TB) map[string]string {
	t.Helper()
	def, err := tasks.Get("SecurityWorkItemGate")
	require.NoError(t, err)
	m := map[string]string{}
	for _, in := range def.Inputs {
		m[in.Name] = in.DefaultValue
	}
	return m
}

// runtime is what gaterun builds for a local run: inputs from a map, task.json defaults, and
// an environment with System.TeamProject set unless env overrides it.
func (h *harness) runtime(t testing.TB, inputs, env map[string]string) *gaterun.Runtime {
	t.Helper()
	e := map[string]string{"SYSTEM_TEAMPROJECT": demoProjet}
	for k, v := range env {
		e[k] = v
	}
	lookup := task.MapEnv(e)
	return &gaterun.Runtime{
		Inputs: task.ValueInputs(inputs, lookup, taskDefaults(t)),
		Env:    lookup,
		Now:    testNow,
		Warn:   h.warn,
		Info:   func(string) {},
		Debug:  func(string) {},
		Secret: func(string) {},
	}
}

// evaluate runs the gate's Evaluate as gaterun would and sorts the report like gaterun does.
func (h *harness) evaluate(t testing.TB, inputs, env map[string]string) (*finding.Report, error) {
	t.Helper()
	h.sim.ResetRequests()
	r, err := h.gate().Evaluate(context.Background(), h.runtime(t, inputs, env))
	if r != nil {
		r.Sort()
	}
	return r, err
}

func (h *harness) mustEvaluate(t testing.TB, inputs, env map[string]string) *finding.Report {
	t.Helper()
	r, err := h.evaluate(t, inputs, env)
	require.NoError(t, err)
	require.NotNil(t, r)
	return r
}

// counts returns the requests per simulator route since the last evaluate, discovery left out.
func (h *harness) counts() map[string]int {
	m := map[string]int{}
	for _, r := range h.sim.Requests() {
		if r.Route == azdosim.RouteLocations || r.Route == azdosim.RouteResourceAreas {
			continue
		}
		m[r.Route]++
	}
	return m
}

// agent runs the gate through gaterun.Main as the agent does, with a map environment.
func (h *harness) agent(t testing.TB, g gaterun.Gate, inputs map[string]string, extra map[string]string) (string, int) {
	t.Helper()
	env := map[string]string{
		"TF_BUILD":             "True",
		"SYSTEM_COLLECTIONURI": h.orgURL + "/",
		"SYSTEM_TEAMPROJECT":   demoProjet,
		task.JobTokenVar:       h.token,
		"AGENT_TEMPDIRECTORY":  t.TempDir(),
		"SYSTEM_JOBID":         "job-1",
	}
	for k, v := range inputs {
		env["INPUT_"+task.EnvName(k)] = v
	}
	for k, v := range extra {
		env[k] = v
	}
	var out bytes.Buffer
	code := gaterun.Main(context.Background(), g, nil, task.MapEnv(env), &out, &bytes.Buffer{}, gaterun.Options{Now: func() time.Time { return testNow }})
	return out.String(), code
}

func outputs(r *finding.Report) map[string]string {
	m := map[string]string{}
	for _, o := range r.Outputs {
		m[o.Name] = o.Value
	}
	return m
}

// ids lists "RULE:workitem/ID" for each finding, in report order.
func ids(r *finding.Report) []string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, f.Rule+":"+f.Location.Logical)
	}
	return out
}

func byRule(r *finding.Report, rule string) []finding.Finding {
	var out []finding.Finding
	for _, f := range r.Findings {
		if f.Rule == rule {
			out = append(out, f)
		}
	}
	return out
}

func checkDetail(r *finding.Report, name string) string {
	for _, c := range r.Checks {
		if c.Name == name {
			return c.Detail
		}
	}
	return ""
}

func checkNames(r *finding.Report) []string {
	var out []string
	for _, c := range r.Checks {
		out = append(out, c.Name)
	}
	return out
}
