package azdosim

import (
	"fmt"
	"testing"
)

// BenchmarkEvalWIQL10k measures the simulator's WIQL evaluation alone (parse,
// bind, scan and sort 10,000 items), without HTTP.
func BenchmarkEvalWIQL10k(b *testing.B) {
	sc := NewScenario("bench")
	p := sc.Project("P")
	for i := 1; i <= 10000; i++ {
		p.AddWorkItems(&WorkItem{ID: i, Type: "Bug", Title: fmt.Sprintf("finding %d", i), State: "Active",
			Tags: []string{"Security", fmt.Sprint("Team", i%7)}, Severity: fmt.Sprintf("%d - x", 1+i%4), AreaPath: fmt.Sprintf(`P\Area%d`, i%5), CreatedDaysAgo: Days(float64(i % 200))})
	}
	s := newTestServer(b, sc)
	query := `SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = @project AND [System.Tags] CONTAINS 'Security' AND [System.State] IN ('New', 'Active') AND [System.AreaPath] UNDER 'P' AND [System.CreatedDate] >= @Today - 180 ORDER BY [Microsoft.VSTS.Common.Severity], [System.CreatedDate] DESC`
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ids, err := s.evalWIQL(query, "P", false)
		if err != nil {
			b.Fatal(err)
		}
		if len(ids) == 0 {
			b.Fatal("no match")
		}
	}
}
