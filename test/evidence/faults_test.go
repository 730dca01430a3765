package evidence

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/azdo/azdosim"
	"github.com/stagegate/stagegate/pkg/gaterun"
	"github.com/stagegate/stagegate/pkg/gates/keyvault"

	"github.com/stagegate/stagegate/internal/testfiles"
)

// The fault matrix: each Azure DevOps gate, run through gaterun.Main in agent mode against the
// simulator over real HTTP, with one fault injected on one REST call. A transient fault must be
// retried to the same result as a run without it; a fault that stops the evaluation must end the
// task Failed with exit code 2 (in enforce and in audit mode) and a message that names the cause
// and what to do. The transport's sleep is recorded instead of waited, so Retry-After can be
// checked exactly and the matrix runs in seconds.

// azdoGate is a gate under test with the REST calls faults are injected on.
type azdoGate struct {
	name     string
	scenario string
	env      func(uri string) map[string]string
	gate     func(p *probe, attemptTimeout time.Duration) gaterun.Gate
	routes   []gateRoute
}

// gateRoute is one REST call of a gate, with what its 403 and 404 messages must name.
type gateRoute struct {
	route      string
	permission string // the permission a 403 names
	target     string // what a 404 names
}

const buildService = `"Payments Build Service (contoso)"`

var azdoGates = []azdoGate{
	{name: "workitems", scenario: "scenario.json", env: workItemsEnv, gate: (*probe).workItemsGate, routes: []gateRoute{
		{azdosim.RouteWIQL, `"View work items in this node"`, `project "Payments"`},
		{azdosim.RouteWorkItemsBatch, `"View work items in this node"`, `project "Payments"`},
		{azdosim.RouteWorkItemTypeStates, `"View work items in this node"`, `work item type "Bug" in project "Payments"`},
	}},
	{name: "reviews", scenario: "reviews-scenario.json", env: reviewsEnv, gate: (*probe).reviewsGate, routes: []gateRoute{
		{azdosim.RoutePolicyConfigurations, `"Read" on the repository (Code)`, `repository "` + reviewsRepoID + `" in project "Payments"`},
		{azdosim.RoutePullRequestQuery, `"Read" on the repository (Code)`, `repository "` + reviewsRepoID + `" in project "Payments"`},
		{azdosim.RoutePullRequest, `"Read" on the repository (Code)`, `pull request 21 in repository "` + reviewsRepoID + `"`},
	}},
}

// faultCell is one column of the matrix.
type faultCell struct {
	name  string
	fault azdosim.Fault
	// attemptTimeout bounds each attempt (0: the transport's default, 30s); timeout is
	// STAGEGATE_TIMEOUT, the overall deadline (default 30s here).
	attemptTimeout time.Duration
	timeout        string
	// primaryOnly runs the cell on the gate's first route only (cells that cost wall time).
	primaryOnly bool
	// recovers: the run must end exactly like the run without the fault.
	recovers bool
	// want are phrases the Failed message must contain (r is the route under test).
	want func(r gateRoute) []string
	// check adds cell-specific assertions.
	check func(t *testing.T, c cellRun)
}

// cellRun is what one cell observed.
type cellRun struct {
	run    agentRun
	hits   int // requests the simulator logged on the faulted route
	sleeps []time.Duration
	warns  []string
}

func phrases(p ...string) func(gateRoute) []string { return func(gateRoute) []string { return p } }

func sleepsAll(d time.Duration, n int) func(t *testing.T, c cellRun) {
	return func(t *testing.T, c cellRun) {
		t.Helper()
		if n == 0 {
			assert.Empty(t, c.sleeps, "no retry")
			return
		}
		want := make([]time.Duration, n)
		for i := range want {
			want[i] = d
		}
		assert.Equal(t, want, c.sleeps, "Retry-After is honoured exactly")
	}
}

func warned(substr string) func(t *testing.T, c cellRun) {
	return func(t *testing.T, c cellRun) {
		t.Helper()
		assert.True(t, anyContains(c.warns, substr), "a pipeline warning says %q: %v", substr, c.warns)
	}
}

func anyContains(lines []string, substr string) bool {
	for _, l := range lines {
		if strings.Contains(l, substr) {
			return true
		}
	}
	return false
}

func both(fs ...func(t *testing.T, c cellRun)) func(t *testing.T, c cellRun) {
	return func(t *testing.T, c cellRun) {
		t.Helper()
		for _, f := range fs {
			f(t, c)
		}
	}
}

func hitsAtLeast(n int) func(t *testing.T, c cellRun) {
	return func(t *testing.T, c cellRun) {
		t.Helper()
		assert.GreaterOrEqual(t, c.hits, n, "requests on the faulted call")
	}
}

func hitsExactly(n int) func(t *testing.T, c cellRun) {
	return func(t *testing.T, c cellRun) {
		t.Helper()
		assert.Equal(t, n, c.hits, "requests on the faulted call")
	}
}

const attempt4 = "gave up after 4 attempts"

var faultCells = []faultCell{
	{name: "429 twice, Retry-After 7", fault: azdosim.Fault{Kind: azdosim.FaultThrottle, RetryAfter: "7", Times: 2}, recovers: true,
		check: both(sleepsAll(7*time.Second, 2), hitsAtLeast(3), warned("429 Too Many Requests; retrying in 7s"))},
	{name: "429 always", fault: azdosim.Fault{Kind: azdosim.FaultThrottle, RetryAfter: "1"},
		want:  phrases("429 Too Many Requests", attempt4, "rate limit"),
		check: both(sleepsAll(time.Second, 3), hitsExactly(4))},
	{name: "429 with Retry-After past the deadline", fault: azdosim.Fault{Kind: azdosim.FaultThrottle, RetryAfter: "120"}, timeout: "20s",
		want:  phrases("429 Too Many Requests", "a retry would wait 2m0s but the deadline comes first", "rate limit"),
		check: both(sleepsAll(0, 0), hitsExactly(1))},
	{name: "503 burst of 3", fault: azdosim.Fault{Kind: azdosim.FaultStatus, Status: http.StatusServiceUnavailable, Times: 3}, recovers: true,
		check: both(hitsAtLeast(4), warned("503 Service Unavailable; retrying"))},
	{name: "503 always", fault: azdosim.Fault{Kind: azdosim.FaultStatus, Status: http.StatusServiceUnavailable},
		want:  phrases("503 Service Unavailable", attempt4, "status.dev.azure.com"),
		check: hitsExactly(4)},
	{name: "503 empty body burst", fault: azdosim.Fault{Kind: azdosim.FaultEmpty, Status: http.StatusServiceUnavailable, Times: 2}, recovers: true,
		check: both(hitsAtLeast(3), warned("503 Service Unavailable; retrying"))},
	{name: "connection reset once", fault: azdosim.Fault{Kind: azdosim.FaultReset, Times: 1}, recovers: true,
		// net/http itself retries a GET on a reset reused connection; the transport retries the rest.
		check: hitsAtLeast(2)},
	{name: "connection reset always", fault: azdosim.Fault{Kind: azdosim.FaultReset},
		want:  phrases("connection reset", attempt4, "network access"),
		check: hitsAtLeast(4)},
	{name: "slow once, past the attempt timeout", fault: azdosim.Fault{Kind: azdosim.FaultLatency, Latency: time.Minute, Times: 1}, attemptTimeout: 400 * time.Millisecond, recovers: true,
		check: warned("no answer within 400ms; retrying")},
	{name: "slow always, past every attempt timeout", fault: azdosim.Fault{Kind: azdosim.FaultLatency, Latency: time.Minute}, attemptTimeout: 400 * time.Millisecond, primaryOnly: true,
		want:  phrases("no answer within", "gave up after 4 attempts"),
		check: warned("no answer within 400ms; retrying in")},
	{name: "slow past the task deadline", fault: azdosim.Fault{Kind: azdosim.FaultLatency, Latency: time.Minute}, timeout: "1500ms", primaryOnly: true,
		want: phrases("no answer from Azure DevOps", "before the deadline", "time limit of 1.5s ran out", "STAGEGATE_TIMEOUT")},
	{name: "truncated JSON once", fault: azdosim.Fault{Kind: azdosim.FaultTruncate, Times: 1}, recovers: true,
		check: both(hitsAtLeast(2), warned("incomplete JSON body; retrying"))},
	{name: "truncated JSON always", fault: azdosim.Fault{Kind: azdosim.FaultTruncate},
		want:  phrases("200 OK", "truncated or not JSON", attempt4),
		check: hitsExactly(4)},
	{name: "HTML error page once", fault: azdosim.Fault{Kind: azdosim.FaultHTML, Times: 1}, recovers: true,
		check: both(hitsAtLeast(2), warned("500 Internal Server Error; retrying"))},
	{name: "HTML error page always", fault: azdosim.Fault{Kind: azdosim.FaultHTML},
		want:  phrases("500 Internal Server Error", attempt4, "not JSON: an HTML error page"),
		check: hitsExactly(4)},
	{name: "401", fault: azdosim.Fault{Kind: azdosim.FaultStatus, Status: http.StatusUnauthorized},
		want:  phrases("401 Unauthorized", "the job token (System.AccessToken / SystemVssConnection)", "only valid while its job runs"),
		check: both(hitsExactly(1), sleepsAll(0, 0))},
	{name: "403", fault: azdosim.Fault{Kind: azdosim.FaultStatus, Status: http.StatusForbidden},
		want: func(r gateRoute) []string {
			return []string{"403 Forbidden", r.permission, buildService, "Limit job authorization scope"}
		},
		check: both(hitsExactly(1), sleepsAll(0, 0))},
	{name: "404", fault: azdosim.Fault{Kind: azdosim.FaultStatus, Status: http.StatusNotFound},
		want: func(r gateRoute) []string {
			return []string{"404 Not Found", r.target, "check the name and the identity's access"}
		},
		check: both(hitsExactly(1), sleepsAll(0, 0))},
	{name: "rate limit nearly used", fault: azdosim.Fault{Kind: azdosim.FaultHeaders, Headers: map[string]string{
		"X-RateLimit-Limit": "200", "X-RateLimit-Remaining": "3", "X-RateLimit-Resource": "Core", "X-RateLimit-Delay": "2"}}, recovers: true,
		check: warned("rate limit nearly used (3 of 200 remaining")},
}

// baseline is the run without a fault that a recovered run must match.
type baseline struct {
	code     int
	complete string
	issues   []string
	outputs  []string
}

// observe keeps what a pipeline and later stages see of a run, with the simulator's address (a
// new one per run) replaced.
func observe(r agentRun, uri string) baseline {
	b := baseline{code: r.code}
	for _, c := range parseLog(strings.ReplaceAll(r.stdout, uri, "{collection}/")) {
		switch c.Name {
		case "task.complete":
			b.complete = c.line
		case "task.logissue":
			b.issues = append(b.issues, c.line)
		case "task.setvariable":
			b.outputs = append(b.outputs, c.line)
		}
	}
	return b
}

func TestFaultMatrix(t *testing.T) {
	for _, g := range azdoGates {
		// The same gate without a fault, in enforce mode: the work item gate fails on its data
		// (exit 1), the review gate passes (exit 0).
		_, uri := newSim(t, g.scenario, nil)
		base := observe(runAgent(t, g.gate(&probe{}, 0), g.env(uri)), uri)
		require.NotEmpty(t, base.complete)
		require.NotEqual(t, gaterun.ExitError, base.code, "the baseline evaluates")

		for i, r := range g.routes {
			for _, c := range faultCells {
				if c.primaryOnly && i > 0 {
					continue
				}
				modes := []string{"enforce"}
				if !c.recovers {
					modes = append(modes, "audit")
				}
				for _, mode := range modes {
					t.Run(fmt.Sprintf("%s/%s/%s/%s", g.name, r.route, c.name, mode), func(t *testing.T) {
						t.Parallel()
						runCell(t, g, r, c, mode, base)
					})
				}
			}
		}
	}
}

func runCell(t *testing.T, g azdoGate, r gateRoute, c faultCell, mode string, base baseline) {
	sim, uri := newSim(t, g.scenario, nil)
	f := c.fault
	f.Route = r.route
	require.NoError(t, sim.Inject(f))
	env := g.env(uri)
	env["INPUT_MODE"] = mode
	if c.timeout != "" {
		env["STAGEGATE_TIMEOUT"] = c.timeout
	}
	p := &probe{}
	run := runAgent(t, g.gate(p, c.attemptTimeout), env)
	cr := cellRun{run: run, hits: sim.Count(r.route), sleeps: p.waits()}
	for _, l := range strings.Split(run.stdout, "\n") {
		if strings.HasPrefix(l, "##[warning]") {
			cr.warns = append(cr.warns, l)
		}
	}

	// Whatever happened, the token is registered first and appears nowhere else, and the
	// task ends exactly once.
	assert.True(t, strings.HasPrefix(run.stdout, "##vso[task.setsecret]"+jobTokenCanary+"\n"), "the token is registered first")
	assert.Equal(t, 1, strings.Count(run.stdout, jobTokenCanary))
	comp := run.complete(t)

	if c.recovers {
		got := observe(run, uri)
		assert.Equal(t, base, got, "a recovered run ends exactly like the run without the fault:\n%s", run.stdout)
	} else {
		assert.Equal(t, gaterun.ExitError, run.code, "an evaluation error exits 2:\n%s", run.stdout)
		assert.Equal(t, "Failed", comp.Props["result"], "never a pass on error (mode %s)", mode)
		for _, w := range c.want(r) {
			assert.Contains(t, comp.Data, w, "the verdict names the cause and the fix")
		}
		issues := run.named("task.logissue")
		require.Len(t, issues, 1, "one error issue: %s", run.stdout)
		assert.Equal(t, "error", issues[0].Props["type"])
		assert.Equal(t, comp.Data, issues[0].Data)
		for _, v := range run.named("task.setvariable") {
			assert.NotEqual(t, "true", v.Props["isOutput"], "no output variable a later stage could read as a pass: %s", v.line)
		}
	}
	if c.check != nil {
		c.check(t, cr)
	}
}

// kvFault is a repository the Key Vault gate cannot fully evaluate: a template that does not
// parse, or a folder that cannot be read. Either is a KV000 error finding that fails the task
// with exit code 2 in both modes; nothing is skipped silently.
type kvFault struct {
	name  string
	files map[string]string
	// setup makes what files cannot hold and returns the folder the KV000 path must lie on.
	setup func(t *testing.T, dir string) string
	path  string
	line  int // 0: not checked
	text  string
}

func kvFaults() []kvFault {
	return append([]kvFault{
		{name: "ARM template", path: "infra/main.json", line: 3, text: "cannot parse ARM template",
			files: map[string]string{"infra/main.json": "{\n  \"$schema\": \"" + armTemplateSchema + "\",\n  \"parameters\": { \"a\": 1 \"b\": 2 },\n  \"resources\": []\n}\n"}},
		{name: "ARM parameters file", path: "infra/x.parameters.json", line: 4, text: "cannot parse ARM parameters file",
			files: map[string]string{"infra/x.parameters.json": "{\n  \"$schema\": \"" + armParametersSchema + "\",\n  \"parameters\": {\n    \"p\": {\"value\": }\n  }\n}\n"}},
		{name: "Bicep file", path: "infra/main.bicep", line: 6, text: "cannot parse Bicep file",
			files: map[string]string{"infra/main.bicep": "param a string\n\nresource x 'Microsoft.Storage/storageAccounts@2023-01-01' = {\n  name: 'x'\n  properties: {\n    foo: ]\n  }\n}\n"}},
		{name: "Bicep parameters file", path: "infra/main.bicepparam", line: 3, text: "cannot parse Bicep parameters file",
			files: map[string]string{"infra/main.bicepparam": "using './main.bicep'\n\nparam a = \n"}},
		{name: "Terraform file", path: "infra/main.tf", text: "cannot parse Terraform file",
			files: map[string]string{"infra/main.tf": "resource \"azurerm_key_vault\" \"kv\" {\n  name = \"kv\"\n\n  sku_name = {{\n}\n"}},
		{name: "Terraform variables file", path: "infra/vars.tfvars", line: 1, text: "cannot parse Terraform variables file",
			files: map[string]string{"infra/vars.tfvars": "a = \"x\n"}},
		{name: "pipeline YAML", path: "azure-pipelines.yml", text: "cannot parse pipeline YAML",
			files: map[string]string{"azure-pipelines.yml": "trigger:\n- main\nsteps:\n- script: echo\n  env:\n    A: [unclosed\n"}},
	}, platformFileFaults()...)
}

func TestKeyVaultFileFaults(t *testing.T) {
	for _, c := range kvFaults() {
		for _, mode := range []string{"enforce", "audit"} {
			t.Run(c.name+"/"+mode, func(t *testing.T) {
				dir := testfiles.WriteTree(t, c.files)
				var within string
				if c.setup != nil {
					within = c.setup(t, dir)
				}
				r := runAgent(t, keyvault.Gate(), map[string]string{"BUILD_SOURCESDIRECTORY": dir, "INPUT_MODE": mode})
				assert.Equal(t, gaterun.ExitError, r.code, r.stdout)
				comp := r.complete(t)
				assert.Equal(t, "Failed", comp.Props["result"], "never a pass on a file that was not evaluated")
				assert.Contains(t, comp.Data, "could not be evaluated")
				issues := r.named("task.logissue")
				require.Len(t, issues, 1, r.stdout)
				is := issues[0]
				assert.Equal(t, "KV000", is.Props["code"])
				assert.Equal(t, "error", is.Props["type"])
				if within == "" {
					assert.Equal(t, c.path, is.Props["sourcepath"])
				} else {
					assert.NotEmpty(t, is.Props["sourcepath"])
					assert.True(t, strings.HasPrefix(within+"/", is.Props["sourcepath"]+"/"), "the unreadable folder %q lies on %q", is.Props["sourcepath"], within)
				}
				if c.line > 0 {
					assert.Equal(t, itoa(c.line), is.Props["linenumber"])
				} else if c.setup == nil {
					assert.NotEmpty(t, is.Props["linenumber"], "a parse error has a line")
				}
				assert.Contains(t, is.Data, c.text)
			})
		}
	}
}

// TestKeyVaultDeadline: a scan that runs out of time fails closed and says which limit ran out
// and how to raise it, in both modes.
func TestKeyVaultDeadline(t *testing.T) {
	dir := testfiles.WriteTree(t, map[string]string{"infra/main.bicep": "param location string\n"})
	for _, mode := range []string{"enforce", "audit"} {
		r := runAgent(t, keyvault.Gate(), map[string]string{"BUILD_SOURCESDIRECTORY": dir, "INPUT_MODE": mode, "STAGEGATE_TIMEOUT": "1ns"})
		assert.Equal(t, gaterun.ExitError, r.code, r.stdout)
		comp := r.complete(t)
		assert.Equal(t, "Failed", comp.Props["result"])
		assert.Contains(t, comp.Data, "context deadline exceeded")
		assert.Contains(t, comp.Data, "time limit of 1ns ran out: raise it with STAGEGATE_TIMEOUT")
	}
}
