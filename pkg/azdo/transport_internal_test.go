package azdo

import (
	"net/http"
	"testing"
	"time"

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

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"5", 5 * time.Second, true},
		{" 0.5 ", 500 * time.Millisecond, true},
		{"0", 0, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
		{"", 0, false},
		{"-3", 0, false},
		{"soon", 0, false},
		{"1e9", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.in, now)
		assert.Equal(t, tt.ok, ok, tt.in)
		assert.Equal(t, tt.want, got, tt.in)
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	now := time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)
	for _, s := range []string{"5", "0.25", "Sun, 15 Jun 2025 12:01:00 GMT", "", "NaN", "+Inf", "-1", "86401"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := parseRetryAfter(s, now)
		if ok && d < 0 {
			t.Fatalf("parseRetryAfter(%q) = %v", s, d)
		}
		if !ok && d != 0 {
			t.Fatalf("parseRetryAfter(%q) returned %v with ok=false", s, d)
		}
	})
}

func TestRedactor(t *testing.T) {
	r := newRedactor()
	r.add("Basic OnNlY3JldC1wYXQtdmFsdWU=") // ":secret-pat-value"
	r.add("Bearer short")                   // too short to redact safely
	assert.Equal(t, "x *** y *** z", r.redact("x secret-pat-value y OnNlY3JldC1wYXQtdmFsdWU= z"))
	assert.Equal(t, "*** and short", r.redact("Basic OnNlY3JldC1wYXQtdmFsdWU= and short"), "the whole header goes")
}
