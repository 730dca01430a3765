package azdosim

// location is one entry of the OPTIONS {org}/_apis answer. The Go client
// dereferences every version field without a nil check, so all are set.
type location struct {
	ID              string `json:"id"`
	Area            string `json:"area"`
	ResourceName    string `json:"resourceName"`
	RouteTemplate   string `json:"routeTemplate"`
	ResourceVersion int    `json:"resourceVersion"`
	MinVersion      string `json:"minVersion"`
	MaxVersion      string `json:"maxVersion"`
	ReleasedVersion string `json:"releasedVersion"`
}

// locations are the resources the simulator serves, with the ids and route
// templates of the real service (the client builds URLs from them).
var locations = []location{
	{"e81700f7-3be2-46de-8624-2eb35882fcaa", "Location", "ResourceAreas", "_apis/{resource}/{areaId}", 1, "3.2", "7.1", "0.0"},
	{"1a9c53f7-f243-4447-b110-35ef023636e4", "wit", "wiql", "{project}/{team}/_apis/{area}/{resource}", 2, "4.1", "7.1", "7.1"},
	{"a02355f5-5f8a-4671-8e32-369d23aac83d", "wit", "wiql", "{project}/{team}/_apis/{area}/{resource}/{id}", 2, "4.1", "7.1", "7.1"},
	{"a67d190c-c41f-424b-814d-0e906f659301", "wit", "queries", "{project}/_apis/{area}/{resource}/{*query}", 2, "4.1", "7.1", "7.1"},
	{"908509b6-4248-4475-a1cd-829139ba419f", "wit", "workItemsBatch", "{project}/_apis/{area}/{resource}", 1, "4.1", "7.1", "7.1"},
	{"7c9d7a76-4a09-43e8-b5df-bd792f4ac6aa", "wit", "workItemTypeStates", "{project}/_apis/{area}/workitemtypes/{type}/states", 1, "4.1", "7.1", "7.1"},
	{"5a21f5d2-5642-47e4-a0bd-1356e6731bee", "build", "workitems", "{project}/_apis/{area}/builds/{buildId}/{resource}", 2, "2.0", "7.1", "7.1"},
	{"b3a6eebe-9cf0-49ea-b6cb-1a4c5f5007b0", "git", "pullRequestQuery", "{project}/_apis/{area}/repositories/{repositoryId}/{resource}", 1, "2.0", "7.1", "7.1"},
	{"9946fd70-0d40-406e-b686-b4744cbbcc37", "git", "pullRequests", "{project}/_apis/{area}/repositories/{repositoryId}/{resource}/{pullRequestId}", 1, "1.0", "7.1", "7.1"},
	{"4b6702c7-aa35-4b89-9c96-b9abf6d3e540", "git", "pullRequestReviewers", "{project}/_apis/{area}/repositories/{repositoryId}/pullRequests/{pullRequestId}/reviewers/{reviewerId}", 1, "1.0", "7.1", "7.1"},
	{"225f7195-f9c7-4d14-ab28-a83f7ff77e1f", "git", "repositories", "{project}/_apis/{area}/{resource}/{repositoryId}", 1, "1.0", "7.1", "7.1"},
	{"2c420070-a0a2-49cc-9639-c9f271c5ff07", "git", "policyConfigurations", "{project}/_apis/{area}/policy/configurations", 1, "5.0", "7.1", "7.1"},
	{"fb93c0db-47ed-4a31-8c20-47552878fb44", "git", "items", "{project}/_apis/{area}/repositories/{repositoryId}/{resource}/{*path}", 1, "1.0", "7.1", "7.1"},
}
