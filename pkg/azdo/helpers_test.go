package azdo_test

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/azdo"
	"github.com/stagegate/stagegate/pkg/azdo/azdosim"
)

const demoToken = "stagegate-demo-token"

var testNow = time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)

// recorder captures sleeps and warnings so tests never wait real seconds.
type recorder struct {
	mu       sync.Mutex
	waits    []time.Duration
	warnings []string
}

func (r *recorder) sleep(ctx context.Context, d time.Duration) error {
	r.mu.Lock()
	r.waits = append(r.waits, d)
	r.mu.Unlock()
	return ctx.Err()
}

func (r *recorder) warn(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.warnings = append(r.warnings, msg)
}

func (r *recorder) Waits() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.waits...)
}

func (r *recorder) Warnings() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.warnings...)
}

func demoScenario(t testing.TB) *azdosim.Scenario {
	t.Helper()
	sc, err := azdosim.LoadScenario("azdosim/testdata/demo.json")
	require.NoError(t, err)
	return sc
}

type env struct {
	sim    *azdosim.Server
	client *azdo.Client
	rec    *recorder
	orgURL string
}

// setup serves the scenario on a new httptest server (the client library
// caches locations per URL) and builds a Client with a fake sleep.
func setup(t testing.TB, sc *azdosim.Scenario, simOpts azdosim.Options, opts azdo.Options) env {
	t.Helper()
	if simOpts.Now == nil {
		simOpts.Now = func() time.Time { return testNow }
	}
	sim, err := azdosim.New(sc, simOpts)
	require.NoError(t, err)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	rec := &recorder{}
	opts.OrgURL = sim.OrgURL(srv.URL)
	if opts.Credential == nil {
		opts.Credential = azdo.JobToken(demoToken)
	}
	if opts.Sleep == nil {
		opts.Sleep = rec.sleep
	}
	if opts.Warn == nil {
		opts.Warn = rec.warn
	}
	if opts.Now == nil {
		opts.Now = func() time.Time { return testNow }
	}
	c, err := azdo.New(context.Background(), opts)
	require.NoError(t, err)
	return env{sim: sim, client: c, rec: rec, orgURL: opts.OrgURL}
}

func inject(t testing.TB, sim *azdosim.Server, faults ...azdosim.Fault) {
	t.Helper()
	for _, f := range faults {
		require.NoError(t, sim.Inject(f))
	}
}
