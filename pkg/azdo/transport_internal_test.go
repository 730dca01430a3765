package azdo

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCallName(t *testing.T) {
	tests := map[string]string{
		"OPTIONS /org/_apis":                                           "locations",
		"GET /org/_apis/ResourceAreas":                                 "resourceAreas",
		"POST /org/P/_apis/wit/wiql":                                   "wiql",
		"POST /org/P/Team/_apis/wit/wiql":                              "wiql",
		"GET /org/P/_apis/wit/wiql/4d7c0d1e":                           "wiqlById",
		"GET /org/P/_apis/wit/queries/Shared%20Queries%2Fx":            "queries",
		"POST /org/P/_apis/wit/workItemsBatch":                         "workItemsBatch",
		"GET /org/P/_apis/wit/workitemtypes/Bug/states":                "workItemTypeStates",
		"GET /org/P/_apis/build/builds/5/workitems":                    "buildWorkItems",
		"POST /org/P/_apis/git/repositories/r/pullRequestQuery":        "pullRequestQuery",
		"GET /org/P/_apis/git/repositories/r/pullRequests/1":           "pullRequest",
		"GET /org/P/_apis/git/repositories/r/pullRequests/1/reviewers": "pullRequestReviewers",
		"GET /org/P/_apis/git/repositories/r":                          "repository",
		"GET /org/P/_apis/git/policy/configurations":                   "policyConfigurations",
		"POST /org/P/_apis/git/repositories/r/pushes":                  "other",
		"GET /org/nothing":                                             "other",
	}
	for in, want := range tests {
		var method, path string
		for i := range in {
			if in[i] == ' ' {
				method, path = in[:i], in[i+1:]
				break
			}
		}
		assert.Equal(t, want, callName(method, path), in)
	}
}

func TestRetryable(t *testing.T) {
	assert.True(t, retryable(http.MethodGet, "pullRequest"))
	assert.True(t, retryable(http.MethodOptions, "locations"))
	for _, q := range []string{"wiql", "workItemsBatch", "pullRequestQuery"} {
		assert.True(t, retryable(http.MethodPost, q), q)
	}
	assert.False(t, retryable(http.MethodPost, "other"))
	assert.False(t, retryable(http.MethodPatch, "other"))
}

func TestRedactor(t *testing.T) {
	r := newRedactor()
	r.add("Basic OnNlY3JldC1wYXQtdmFsdWU=") // ":secret-pat-value"
	r.add("Bearer short")                   // too short to redact safely
	assert.Equal(t, "x *** y *** z", r.redact("x secret-pat-value y OnNlY3JldC1wYXQtdmFsdWU= z"))
	assert.Equal(t, "*** and short", r.redact("Basic OnNlY3JldC1wYXQtdmFsdWU= and short"), "the whole header goes")
}
