package server

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/tasks"
)

func TestParseCheckRequest(t *testing.T) {
	full, err := os.ReadFile("testdata/requests/full.json")
	require.NoError(t, err)
	macros, err := os.ReadFile("testdata/requests/macros.json")
	require.NoError(t, err)
	tests := []struct {
		name string
		body string
		want *CheckRequest
		err  string
	}{
		{name: "full", body: string(full), want: &CheckRequest{
			Environment: "production", Organization: "https://dev.azure.com/contoso/", Project: "Payments",
			Repository: "3411ebc1-d5aa-464f-9615-0b527bc66719", RepositoryProvider: "TfsGit", Branch: "refs/heads/main",
			Commit: "0123456789abcdef0123456789abcdef01234567", BuildID: "501",
			Inputs: map[string]string{"tags": "Security", "maxHigh": "0", "checkPolicy": "true", "areaPath": `Payments\Web`},
		}},
		{name: "unexpanded macros are absent", body: string(macros), want: &CheckRequest{Environment: "staging", Inputs: map[string]string{"queryId": ""}}},
		{name: "empty body", body: "", want: &CheckRequest{Inputs: map[string]string{}}},
		{name: "null values", body: `{"project":null,"buildId":null,"inputs":{"tags":null}}`, want: &CheckRequest{Inputs: map[string]string{"tags": ""}}},
		{name: "numbers keep their text", body: `{"inputs":{"maxHigh":-1,"ratio":1.50}}`, want: &CheckRequest{Inputs: map[string]string{"maxHigh": "-1", "ratio": "1.50"}}},
		{name: "unknown field", body: `{"enviroment":"x"}`, err: `unknown field "enviroment"`},
		{name: "syntax error names the line", body: "{\n\"project\": \"a\",\n}", err: "line 3"},
		{name: "object input", body: `{"inputs":{"tags":{"a":1}}}`, err: `"inputs.tags": expected a string, number or boolean`},
		{name: "list input", body: `{"inputs":{"tags":[1]}}`, err: "not an object or a list"},
		{name: "negative build id", body: `{"buildId":-3}`, err: "expected a positive run id"},
		{name: "text build id", body: `{"buildId":"latest"}`, err: "expected a positive run id"},
		{name: "long field", body: `{"project":"` + strings.Repeat("p", 2000) + `"}`, err: "longer than 1024 bytes"},
		{name: "NUL", body: `{"branch":"a\u0000b"}`, err: "NUL"},
		{name: "empty input name", body: `{"inputs":{" ":"x"}}`, err: "empty input name"},
		{name: "too many inputs", body: `{"inputs":{` + manyInputs(65) + `}}`, err: "more than 64"},
		{name: "trailing data", body: `{} []`, err: "after the JSON object"},
		{name: "not an object", body: `[]`, err: "request body"},
		{name: "repeated member", body: `{"environment":"dev","environment":"production"}`, err: `line 1, column 22: member "environment" appears twice`},
		{name: "repeated member in another case", body: "{\"environment\":\"dev\",\n \"Environment\":\"production\"}", err: `line 2, column 2: member "Environment" appears twice`},
		{name: "repeated input", body: `{"inputs":{"maxHigh":"5","MAXHIGH":"0"}}`, err: `member "MAXHIGH" appears twice`},
		{name: "repeated inputs object", body: `{"inputs":{"tags":"a"},"project":"P","inputs":{"tags":"b"}}`, err: `member "inputs" appears twice`},
		{name: "one name in different objects", body: `{"project":"P","inputs":{"project":"Q","tags":"x"}}`, want: &CheckRequest{
			Project: "P", Inputs: map[string]string{"project": "Q", "tags": "x"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseCheckRequest([]byte(tc.body))
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func manyInputs(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = `"in` + strings.Repeat("x", i) + `":"v"`
	}
	return strings.Join(parts, ",")
}

func TestMatchOrganization(t *testing.T) {
	allowed := []string{"https://dev.azure.com/contoso", "https://fabrikam.visualstudio.com", "http://127.0.0.1:8080/contoso2"}
	tests := []struct {
		raw, want string
	}{
		{"https://dev.azure.com/contoso/", "https://dev.azure.com/contoso"},
		{"HTTPS://DEV.AZURE.COM/Contoso", "https://dev.azure.com/contoso"},
		{"contoso", "https://dev.azure.com/contoso"},
		{"Fabrikam", "https://fabrikam.visualstudio.com"},
		{"https://fabrikam.visualstudio.com/", "https://fabrikam.visualstudio.com"},
		{"http://127.0.0.1:8080/contoso2/", "http://127.0.0.1:8080/contoso2"},
		{"https://dev.azure.com/contoso-evil", ""},
		{"https://dev.azure.com/contoso/evil", ""},
		{"https://dev.azure.com.evil.example/contoso", ""},
		{"http://dev.azure.com/contoso", ""},
		{"https://x@dev.azure.com/contoso", ""},
		{"https://dev.azure.com/contoso?x=1", ""},
		{"", ""},
		{"contoso-evil", ""},
	}
	for _, tc := range tests {
		got, ok := matchOrganization(tc.raw, allowed)
		assert.Equal(t, tc.want, got, tc.raw)
		assert.Equal(t, tc.want != "", ok, tc.raw)
	}
	// Two allow-listed organizations with the same name: a bare name is ambiguous.
	_, ok := matchOrganization("contoso", []string{"https://dev.azure.com/contoso", "https://contoso.visualstudio.com"})
	assert.False(t, ok)
}

func TestMergeInputs(t *testing.T) {
	def, err := tasks.Get("KeyVaultReferenceGate")
	require.NoError(t, err)
	tests := []struct {
		name      string
		policy    map[string]string
		request   map[string]string
		want      map[string]string
		wantNotes []string
		err       string
	}{
		{name: "no policy: enforce", request: map[string]string{"allowedVaults": "kv1"}, want: map[string]string{"allowedVaults": "kv1", "mode": "enforce"}},
		{name: "request mode ignored", request: map[string]string{"Mode": "audit"}, want: map[string]string{"mode": "enforce"},
			wantNotes: []string{`input mode="audit" from the request was ignored: the mode comes from the policy of environment "prod" (enforce)`}},
		{name: "policy audit, request agrees", policy: map[string]string{"mode": "audit"}, request: map[string]string{"mode": "AUDIT"}, want: map[string]string{"mode": "audit"}},
		{name: "policy wins", policy: map[string]string{"allowedVaults": "kv-prod"}, request: map[string]string{"allowedvaults": "kv-any"},
			want:      map[string]string{"allowedVaults": "kv-prod", "mode": "enforce"},
			wantNotes: []string{`input allowedVaults="kv-any" from the request was replaced by the policy of environment "prod": allowedVaults="kv-prod"`}},
		{name: "relative root", request: map[string]string{"rootDirectory": "infra/arm"}, want: map[string]string{"rootDirectory": "infra/arm", "mode": "enforce"}},
		{name: "absolute root", request: map[string]string{"rootDirectory": "/etc"}, err: `input "rootDirectory"`},
		{name: "escaping root", request: map[string]string{"rootDirectory": "a/../../b"}, err: "leaves the repository"},
		{name: "windows root", request: map[string]string{"rootDirectory": `C:\agent\_work`}, err: "slash-separated"},
		{name: "macro root", request: map[string]string{"rootDirectory": "$(Build.SourcesDirectory)/infra"}, err: "not a pipeline variable"},
		{name: "escaping baseline", request: map[string]string{"baselineFile": "../baseline.json"}, err: "leaves the repository"},
		{name: "sarif refused", request: map[string]string{"sarifFile": "out.sarif"}, err: "not supported by stagegate serve"},
		{name: "service connection refused", request: map[string]string{"azureSubscription": "arm-prod"}, err: "not supported by stagegate serve"},
		{name: "unknown input", request: map[string]string{"root": "x"}, err: `has no input "root"`},
		{name: "same input twice", request: map[string]string{"include": "a", "INCLUDE": "b"}, err: "given twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, notes, err := mergeInputs(def, GateKeyVault, tc.policy, tc.request, "prod")
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.wantNotes, notes)
		})
	}
}

func newAuthRequest(t *testing.T, user, pw string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(http.MethodPost, "http://x/v1/gates/workitems", nil)
	require.NoError(t, err)
	r.SetBasicAuth(user, pw)
	return r
}

// FuzzParseCheckRequest: any body gives a request or an error, never a panic; an accepted
// request has bounded values and no unexpanded macro left as a whole value.
func FuzzParseCheckRequest(f *testing.F) {
	paths, err := filepath.Glob("testdata/requests/*.json")
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"inputs":{"a":1e400}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseCheckRequest(data)
		if err != nil {
			return
		}
		for _, v := range []string{r.Environment, r.Organization, r.Project, r.Repository, r.Branch, r.Commit, r.BuildID} {
			if len(v) > maxFieldLen || macroRe.MatchString(v) {
				t.Fatalf("accepted %q", v)
			}
		}
		if len(r.Inputs) > maxInputKeys {
			t.Fatalf("accepted %d inputs", len(r.Inputs))
		}
	})
}
