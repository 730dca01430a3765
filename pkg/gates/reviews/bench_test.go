package reviews_test

import (
	"testing"

	"github.com/stagegate/stagegate/pkg/azdo/azdosim"
)

// BenchmarkEvaluate measures one full gate run (policies, pull request query, pull request)
// against the simulator over loopback HTTP, with a new client per run as on an agent.
func BenchmarkEvaluate(b *testing.B) {
	w := healthy()
	for id := 2; id <= 40; id++ {
		w.proj.AddPolicies(compliant(id, map[string]any{"minimumApproverCount": 1}))
	}
	h := start(b, w.sc, azdosim.Options{})
	b.ReportAllocs()
	for b.Loop() {
		r, err := h.evaluate(nil, nil)
		if err != nil || len(r.Findings) != 0 {
			b.Fatalf("unexpected result: %v %v", err, r)
		}
	}
}
