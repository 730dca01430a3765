package workitems

import (
	"strconv"
	"strings"

	"github.com/stagegate/stagegate/pkg/azdo"
)

// resolveWindowDays is how far back closed items count for the mean time to resolve.
const resolveWindowDays = 90

// BuildWIQL returns the tag query of scope project. Every input reaches WIQL through
// azdo.QuoteWIQL or azdo.WIQLList, never spliced in raw; the project comes from the request's
// project context (@project).
//
// Open items are not selected by state: which states count as open is only known per work item
// type from the states API, after the query. Instead the query keeps every item that is not
// closed, plus items closed within the resolve window, so that one query serves both the open
// counts and the mean time to resolve; states are then judged in memory.
func BuildWIQL(c *Config) string {
	var b strings.Builder
	b.WriteString("SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = @project")
	if len(c.Tags) > 0 {
		b.WriteString(" AND (")
		for i, t := range c.Tags {
			if i > 0 {
				b.WriteString(" OR ")
			}
			b.WriteString("[System.Tags] CONTAINS ")
			b.WriteString(azdo.QuoteWIQL(t))
		}
		b.WriteString(")")
	}
	if len(c.Types) > 0 {
		b.WriteString(" AND [System.WorkItemType] IN ")
		b.WriteString(azdo.WIQLList(c.Types))
	}
	if c.AreaPath != "" {
		b.WriteString(" AND [System.AreaPath] UNDER ")
		b.WriteString(azdo.QuoteWIQL(c.AreaPath))
	}
	b.WriteString(" AND ([Microsoft.VSTS.Common.ClosedDate] = '' OR [Microsoft.VSTS.Common.ClosedDate] >= @Today - ")
	b.WriteString(strconv.Itoa(resolveWindowDays))
	b.WriteString(") ORDER BY [System.Id]")
	return b.String()
}
