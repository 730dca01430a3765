package azdo_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/azdo"
	"github.com/stagegate/stagegate/pkg/azdo/azdosim"
)

// call runs one Client method by name, for table-driven error tests.
func call(ctx context.Context, c *azdo.Client, op string) error {
	var err error
	switch op {
	case "QueryWIQL":
		_, err = c.QueryWIQL(ctx, "Payments", securityWIQL)
	case "QueryByID":
		_, err = c.QueryByID(ctx, "Payments", "4d7c0d1e-5a2b-4c3d-9e8f-0a1b2c3d4e5f")
	case "GetQuery":
		_, err = c.GetQuery(ctx, "Payments", "Shared Queries/Security/Open security bugs")
	case "GetWorkItems":
		_, err = c.GetWorkItems(ctx, "Payments", []int{1, 2}, nil)
	case "GetWorkItemTypeStates":
		_, err = c.GetWorkItemTypeStates(ctx, "Payments", "Bug")
	case "GetBuildWorkItemIDs":
		_, err = c.GetBuildWorkItemIDs(ctx, "Payments", 501)
	case "QueryPullRequestsByCommit":
		_, err = c.QueryPullRequestsByCommit(ctx, "Payments", "payments-api", "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678")
	case "GetPullRequest":
		_, err = c.GetPullRequest(ctx, "Payments", "payments-api", 12)
	case "GetPullRequestReviewers":
		_, err = c.GetPullRequestReviewers(ctx, "Payments", "payments-api", 12)
	case "GetRepository":
		_, err = c.GetRepository(ctx, "Payments", "payments-api")
	case "GetPolicyConfigurations":
		_, err = c.GetPolicyConfigurations(ctx, "Payments", "3411ebc1-d5aa-464f-9615-0b527bc66719", "refs/heads/main", azdo.PolicyTypeMinimumReviewers)
	default:
		panic("unknown op " + op)
	}
	return err
}

var allOps = []string{"QueryWIQL", "QueryByID", "GetQuery", "GetWorkItems", "GetWorkItemTypeStates", "GetBuildWorkItemIDs",
	"QueryPullRequestsByCommit", "GetPullRequest", "GetPullRequestReviewers", "GetRepository", "GetPolicyConfigurations"}

var routeOf = map[string]string{
	"QueryWIQL": azdosim.RouteWIQL, "QueryByID": azdosim.RouteWIQLByID, "GetQuery": azdosim.RouteQueries,
	"GetWorkItems": azdosim.RouteWorkItemsBatch, "GetWorkItemTypeStates": azdosim.RouteWorkItemTypeStates,
	"GetBuildWorkItemIDs": azdosim.RouteBuildWorkItems, "QueryPullRequestsByCommit": azdosim.RoutePullRequestQuery,
	"GetPullRequest": azdosim.RoutePullRequest, "GetPullRequestReviewers": azdosim.RoutePullRequestReviewers,
	"GetRepository": azdosim.RouteRepository, "GetPolicyConfigurations": azdosim.RoutePolicyConfigurations,
}

func TestEveryCallWorks(t *testing.T) {
	e := setup(t, demoScenario(t), azdosim.Options{}, azdo.Options{})
	for _, op := range allOps {
		assert.NoError(t, call(context.Background(), e.client, op), op)
	}
	assert.Empty(t, e.rec.Warnings())
}

func TestForbiddenNamesThePermission(t *testing.T) {
	perms := map[string]string{
		"QueryWIQL":                 `"View work items in this node"`,
		"QueryByID":                 `"Read" on the saved query`,
		"GetQuery":                  `"Read" on the saved query`,
		"GetWorkItems":              `"View work items in this node"`,
		"GetWorkItemTypeStates":     `"View work items in this node"`,
		"GetBuildWorkItemIDs":       `"View builds"`,
		"QueryPullRequestsByCommit": `"Read" on the repository`,
		"GetPullRequest":            `"Read" on the repository`,
		"GetPullRequestReviewers":   `"Read" on the repository`,
		"GetRepository":             `"Read" on the repository`,
		"GetPolicyConfigurations":   `branch policies`,
	}
	for _, op := range allOps {
		t.Run(op, func(t *testing.T) {
			e := setup(t, demoScenario(t), azdosim.Options{}, azdo.Options{})
			inject(t, e.sim, azdosim.Fault{Route: routeOf[op], Kind: azdosim.FaultStatus, Status: 403, Message: "TF401027: You need the Git 'GenericRead' permission."})
			err := call(context.Background(), e.client, op)
			ae := asError(t, err)
			assert.Equal(t, op, ae.Op)
			assert.Equal(t, 403, ae.Status)
			assert.ErrorIs(t, err, azdo.ErrForbidden)
			msg := err.Error()
			assert.Contains(t, msg, "403 Forbidden")
			assert.Contains(t, msg, perms[op])
			assert.Contains(t, msg, azdo.SourceJobToken)
			assert.Contains(t, msg, `"Payments Build Service (contoso)"`)
			assert.Contains(t, msg, `"Limit job authorization scope to current project"`)
			assert.Contains(t, msg, "TF401027", "the service's message is kept")
			assert.Equal(t, 1, ae.Attempts, "403 is not retried")
		})
	}
}

func TestErrorMessages(t *testing.T) {
	tests := []struct {
		name  string
		cred  azdo.Credential
		fault *azdosim.Fault
		run   func(c *azdo.Client) error
		kind  azdo.Kind
		want  []string
	}{
		{
			name: "401 with the job token", cred: azdo.JobToken("no-longer-valid-token"),
			run:  func(c *azdo.Client) error { return call(context.Background(), c, "QueryWIQL") },
			kind: azdo.KindUnauthorized,
			want: []string{"QueryWIQL: ", "401 Unauthorized", azdo.SourceJobToken, "missing, expired or not valid", "TF400813"},
		},
		{
			name: "401 with a PAT", cred: azdo.PAT("no-longer-valid-pat"),
			run:  func(c *azdo.Client) error { return call(context.Background(), c, "GetRepository") },
			kind: azdo.KindUnauthorized,
			want: []string{"401 Unauthorized", azdo.SourcePAT, "Code (Read)", "AZURE_DEVOPS_EXT_PAT"},
		},
		{
			name:  "403 with a PAT names the scope",
			cred:  azdo.PAT(demoToken),
			fault: &azdosim.Fault{Route: azdosim.RouteBuildWorkItems, Kind: azdosim.FaultStatus, Status: 403},
			run:   func(c *azdo.Client) error { return call(context.Background(), c, "GetBuildWorkItemIDs") },
			kind:  azdo.KindForbidden,
			want:  []string{`"View builds"`, "Build (Read) scope", azdo.SourcePAT},
		},
		{
			name: "404 project",
			run: func(c *azdo.Client) error {
				_, err := c.GetWorkItemTypeStates(context.Background(), "Nope", "Bug")
				return err
			},
			kind: azdo.KindNotFound,
			want: []string{`work item type "Bug" in project "Nope" was not found (404 Not Found)`, "TF200016"},
		},
		{
			name: "404 repository",
			run: func(c *azdo.Client) error {
				_, err := c.GetRepository(context.Background(), "Payments", "nope")
				return err
			},
			kind: azdo.KindNotFound,
			want: []string{`repository "nope" in project "Payments" was not found`, "TF401019"},
		},
		{
			name: "404 saved query",
			run: func(c *azdo.Client) error {
				_, err := c.QueryByID(context.Background(), "Payments", "Shared Queries/Nope")
				return err
			},
			kind: azdo.KindNotFound,
			want: []string{`saved query "Shared Queries/Nope" in project "Payments" was not found`},
		},
		{
			name: "404 build",
			run: func(c *azdo.Client) error {
				_, err := c.GetBuildWorkItemIDs(context.Background(), "Payments", 999)
				return err
			},
			kind: azdo.KindNotFound,
			want: []string{`build 999 in project "Payments" was not found`},
		},
		{
			name: "400 WIQL error",
			run: func(c *azdo.Client) error {
				_, err := c.QueryWIQL(context.Background(), "Payments", "SELECT [System.Id] FROM WorkItems WHERE [Custom.Field] = 1")
				return err
			},
			kind: azdo.KindBadRequest,
			want: []string{"rejected the request", "400 Bad Request", "TF51005", "Custom.Field"},
		},
		{
			name:  "429 after retries",
			fault: &azdosim.Fault{Route: azdosim.RouteWorkItemsBatch, Kind: azdosim.FaultThrottle, RetryAfter: "1"},
			run:   func(c *azdo.Client) error { return call(context.Background(), c, "GetWorkItems") },
			kind:  azdo.KindThrottled,
			want:  []string{"GetWorkItems: ", "kept throttling", "429 Too Many Requests", "gave up after 4 attempts", "rate limit"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t, demoScenario(t), azdosim.Options{}, azdo.Options{Credential: tt.cred})
			if tt.fault != nil {
				inject(t, e.sim, *tt.fault)
			}
			err := tt.run(e.client)
			ae := asError(t, err)
			assert.Equal(t, tt.kind, ae.Kind, err.Error())
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestArgumentErrorsMakeNoRequest(t *testing.T) {
	e := setup(t, demoScenario(t), azdosim.Options{}, azdo.Options{})
	ctx := context.Background()
	_, err := e.client.QueryWIQL(ctx, "Payments", "SELECT [System.Id] FROM WorkItems WHERE [System.Title] = '"+strings.Repeat("x", 32000)+"'")
	assert.ErrorContains(t, err, "at most 32000")
	_, err = e.client.GetBuildWorkItemIDs(ctx, "Payments", 0)
	assert.ErrorIs(t, err, azdo.ErrBadRequest)
	_, err = e.client.GetPullRequest(ctx, "Payments", "", 1)
	assert.Error(t, err)
	_, err = e.client.QueryPullRequestsByCommit(ctx, "Payments", "payments-api", " ")
	assert.Error(t, err)
	_, err = e.client.GetPolicyConfigurations(ctx, "Payments", "3411ebc1-d5aa-464f-9615-0b527bc66719", "", "not-a-guid")
	assert.ErrorContains(t, err, "not a GUID")
	_, err = e.client.GetWorkItemTypeStates(ctx, "", "Bug")
	assert.Error(t, err)
	assert.Equal(t, 0, e.client.Requests().Total)
}

// The token must never appear in an error or a warning, whatever fails and
// even when the service echoes it back.
func TestCanaryTokenNeverLeaks(t *testing.T) {
	const canary = "canary-TOKEN-7f3a9c2e51d04b8e"
	forms := []string{
		canary,
		base64.StdEncoding.EncodeToString([]byte(":" + canary)),
		"Bearer " + canary,
	}
	type failure struct {
		name   string
		faults []azdosim.Fault
		ctx    func() (context.Context, context.CancelFunc)
	}
	failures := []failure{
		{name: "service echoes the token in a 400", faults: []azdosim.Fault{{Kind: azdosim.FaultStatus, Status: 400, Message: "bad header Authorization: Bearer " + canary + " / " + forms[1]}}},
		{name: "401 echo", faults: []azdosim.Fault{{Kind: azdosim.FaultStatus, Status: 401, Message: "token " + canary + " expired"}}},
		{name: "403 echo", faults: []azdosim.Fault{{Kind: azdosim.FaultStatus, Status: 403, Message: "identity for " + forms[1] + " lacks access"}}},
		{name: "404 echo", faults: []azdosim.Fault{{Kind: azdosim.FaultStatus, Status: 404, Message: canary}}},
		{name: "429 echo", faults: []azdosim.Fault{{Kind: azdosim.FaultThrottle, Message: "throttled " + canary}}},
		{name: "500 html", faults: []azdosim.Fault{{Kind: azdosim.FaultHTML, Status: 500}}},
		{name: "503 echo", faults: []azdosim.Fault{{Kind: azdosim.FaultStatus, Status: 503, Message: canary}}},
		{name: "reset", faults: []azdosim.Fault{{Kind: azdosim.FaultReset}}},
		{name: "truncated", faults: []azdosim.Fault{{Kind: azdosim.FaultTruncate}}},
		{name: "empty body", faults: []azdosim.Fault{{Kind: azdosim.FaultEmpty, Status: 404}}},
		{name: "deadline", faults: []azdosim.Fault{{Kind: azdosim.FaultLatency, Latency: time.Second}}, ctx: func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 30*time.Millisecond)
		}},
		{name: "retry past the deadline", faults: []azdosim.Fault{{Kind: azdosim.FaultThrottle, RetryAfter: "120"}}, ctx: func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 10*time.Second)
		}},
		{name: "wrong token (the scenario accepts another)"},
	}
	creds := map[string]azdo.Credential{"job token": azdo.JobToken(canary), "PAT": azdo.PAT(canary)}
	for credName, cred := range creds {
		for _, f := range failures {
			for _, op := range []string{"QueryWIQL", "GetWorkItems", "GetPullRequest", "GetPolicyConfigurations", "QueryByID"} {
				t.Run(credName+"/"+f.name+"/"+op, func(t *testing.T) {
					sc := demoScenario(t)
					if f.name != "wrong token (the scenario accepts another)" {
						sc.Tokens = append(sc.Tokens, canary)
					}
					e := setup(t, sc, azdosim.Options{}, azdo.Options{Credential: cred, AttemptTimeout: 500 * time.Millisecond})
					for _, fl := range f.faults {
						fl.Route = routeOf[op]
						inject(t, e.sim, fl)
					}
					ctx, cancel := context.Background(), context.CancelFunc(func() {})
					if f.ctx != nil {
						ctx, cancel = f.ctx()
					}
					defer cancel()
					err := call(ctx, e.client, op)
					require.Error(t, err)
					texts := append([]string{err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", cred), fmt.Sprint(cred)}, e.rec.Warnings()...)
					var ae *azdo.Error
					if assert.ErrorAs(t, err, &ae) {
						texts = append(texts, ae.ServiceMessage)
					}
					for _, text := range texts {
						for _, form := range forms {
							assert.NotContains(t, text, form)
						}
					}
				})
			}
		}
	}
}

func TestErrorIsAndUnwrap(t *testing.T) {
	e := setup(t, demoScenario(t), azdosim.Options{}, azdo.Options{})
	inject(t, e.sim, azdosim.Fault{Route: azdosim.RouteRepository, Kind: azdosim.FaultStatus, Status: http.StatusNotFound})
	_, err := e.client.GetRepository(context.Background(), "Payments", "payments-api")
	wrapped := fmt.Errorf("review gate: %w", err)
	assert.ErrorIs(t, wrapped, azdo.ErrNotFound)
	assert.NotErrorIs(t, wrapped, azdo.ErrForbidden)
	var ae *azdo.Error
	require.ErrorAs(t, wrapped, &ae)
	assert.Equal(t, `repository "payments-api" in project "Payments"`, ae.Target)
	assert.NotNil(t, ae.Unwrap(), "the library's error is kept")
}
