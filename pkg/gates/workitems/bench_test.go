package workitems

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/azdo"
	"github.com/stagegate/stagegate/pkg/azdo/azdosim"
	"github.com/stagegate/stagegate/pkg/gaterun"
)

// BenchmarkEvaluate10k evaluates 10,000 open items against the simulator over real HTTP:
// 1 WIQL + 50 batch reads + 1 states call per run. The simulator runs in the same process, so
// B/op and allocs/op include its side of every request.
func BenchmarkEvaluate10k(b *testing.B) {
	const n = 10000
	sc := azdosim.NewScenario("bench", testToken)
	p := sc.Project("Big")
	sevs := []string{"1 - Critical", "2 - High", "3 - Medium", "4 - Low", ""}
	for i := 1; i <= n; i++ {
		p.AddWorkItems(&azdosim.WorkItem{ID: i, Type: "Bug", State: "Active", Title: fmt.Sprintf("Security finding %d", i),
			Tags: []string{"Security", "Scanner"}, Severity: sevs[i%len(sevs)], AreaPath: `Big\Team`, CreatedDaysAgo: azdosim.Days(float64(i % 400))})
	}
	h := newHarness(b, sc)
	var client Reader
	g := GateWith(func(ctx context.Context, rt *gaterun.Runtime) (Reader, error) {
		if client == nil {
			var err error
			if client, err = h.connect(ctx, rt); err != nil {
				return nil, err
			}
		}
		return client, nil
	})
	rt := h.runtime(b, nil, map[string]string{"SYSTEM_TEAMPROJECT": "Big"})
	ctx := context.Background()
	// Warm up: location discovery happens once per process and organization.
	r, err := g.Evaluate(ctx, rt)
	require.NoError(b, err)
	require.Equal(b, "2000", outputs(r)[OutOpenCritical])
	before := h.sim.Count("")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := g.Evaluate(ctx, rt); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(h.sim.Count("")-before)/float64(b.N), "requests/op")
	if s := client.(*azdo.Client).Requests(); s.Retries != 0 {
		b.Fatalf("%d retries", s.Retries)
	}
}
