package azdo_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/azdo"
	"github.com/stagegate/stagegate/pkg/azdo/azdosim"
)

// BenchmarkWIQLAndBatch10k is the work item gate's read path at scale: one
// WIQL query matching 10,000 items, then batch reads of their fields, against
// the simulator over real HTTP.
func BenchmarkWIQLAndBatch10k(b *testing.B) {
	sc := azdosim.NewScenario("bench", demoToken)
	p := sc.Project("P")
	severities := []string{"1 - Critical", "2 - High", "3 - Medium", "4 - Low"}
	for i := 1; i <= 10000; i++ {
		p.AddWorkItems(&azdosim.WorkItem{ID: i, Type: "Bug", Title: fmt.Sprintf("finding %d", i), State: "Active",
			Tags: []string{"Security", "Team" + fmt.Sprint(i%7)}, Severity: severities[i%4], AreaPath: `P\Area` + fmt.Sprint(i%5), CreatedDaysAgo: azdosim.Days(float64(i % 200))})
	}
	e := setup(b, sc, azdosim.Options{}, azdo.Options{})
	ctx := context.Background()
	wiql := "SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = @project AND [System.Tags] CONTAINS 'Security' AND [System.State] IN ('New', 'Active')"
	fields := []string{azdo.FieldWorkItemType, azdo.FieldTitle, azdo.FieldState, azdo.FieldTags, azdo.FieldSeverity, azdo.FieldCreatedDate, azdo.FieldAreaPath}
	// Warm the location cache so every iteration does the same requests.
	_, err := e.client.QueryWIQL(ctx, "P", wiql)
	require.NoError(b, err)
	before := e.client.Requests().Total
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ids, err := e.client.QueryWIQL(ctx, "P", wiql)
		if err != nil {
			b.Fatal(err)
		}
		items, err := e.client.GetWorkItems(ctx, "P", ids, fields)
		if err != nil {
			b.Fatal(err)
		}
		if len(items) != 10000 {
			b.Fatalf("read %d items", len(items))
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(e.client.Requests().Total-before)/float64(b.N), "requests/op")
}
