package workitems

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestBuildWIQL(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"defaults", Config{Tags: []string{"Security"}},
			"SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = @project AND ([System.Tags] CONTAINS 'Security') " +
				"AND ([Microsoft.VSTS.Common.ClosedDate] = '' OR [Microsoft.VSTS.Common.ClosedDate] >= @Today - 90) ORDER BY [System.Id]"},
		{"every filter", Config{Tags: []string{"Security", "Pen Test"}, Types: []string{"Bug", "Issue"}, AreaPath: `Payments\Web`},
			"SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = @project AND ([System.Tags] CONTAINS 'Security' OR [System.Tags] CONTAINS 'Pen Test') " +
				"AND [System.WorkItemType] IN ('Bug', 'Issue') AND [System.AreaPath] UNDER 'Payments\\Web' " +
				"AND ([Microsoft.VSTS.Common.ClosedDate] = '' OR [Microsoft.VSTS.Common.ClosedDate] >= @Today - 90) ORDER BY [System.Id]"},
		{"quotes doubled", Config{Tags: []string{"Security' OR [System.Id] > '0"}, Types: []string{"O'Brien"}, AreaPath: "A'B"},
			"SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = @project AND ([System.Tags] CONTAINS 'Security'' OR [System.Id] > ''0') " +
				"AND [System.WorkItemType] IN ('O''Brien') AND [System.AreaPath] UNDER 'A''B' " +
				"AND ([Microsoft.VSTS.Common.ClosedDate] = '' OR [Microsoft.VSTS.Common.ClosedDate] >= @Today - 90) ORDER BY [System.Id]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, BuildWIQL(&tc.cfg))
		})
	}
}
