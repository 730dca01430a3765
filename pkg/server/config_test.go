package server

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/task"
)

func TestParseConfigFull(t *testing.T) {
	data, err := os.ReadFile("testdata/config/full.yaml")
	require.NoError(t, err)
	c, err := ParseConfig("full.yaml", data, testEnv())
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:9443", c.Listen)
	assert.Equal(t, []string{"https://dev.azure.com/Contoso", "https://fabrikam.visualstudio.com"}, c.Organizations)
	require.Len(t, c.Callers, 2)
	assert.Equal(t, "stagegate", c.Callers[0].Username)
	assert.False(t, c.Callers[0].bearer)
	assert.True(t, c.Callers[1].bearer)
	assert.Equal(t, []string{"production"}, c.Callers[1].Environments)
	assert.Equal(t, IdentityConfig{Type: IdentityWorkloadIdentity, ClientID: "11111111-1111-1111-1111-111111111111"}, c.Identity)
	l := c.Limits
	assert.Equal(t, 4, l.MaxConcurrent)
	assert.Equal(t, int64(16<<10), l.MaxBodyBytes)
	assert.Equal(t, 10*time.Second, l.SyncTimeout)
	assert.Equal(t, 25*time.Second, l.WriteTimeout, "derived from syncTimeout")
	assert.Equal(t, 5*time.Minute, l.CallbackTimeout)
	assert.Equal(t, 3*time.Second, l.RetryAfter)
	assert.Equal(t, 100, l.MaxFeedLines)
	assert.Equal(t, int64(8<<20), l.RepositoryMaxArchiveBytes)
	assert.Equal(t, 500, l.RepositoryMaxFiles)
	assert.Equal(t, int64(32<<20), l.RepositoryMaxBytes)
	assert.Equal(t, DefaultLimits().ShutdownGrace, l.ShutdownGrace, "unset limits keep their defaults")
	assert.Equal(t, map[string]map[string]string{"workitems": {"tags": "Security,Compliance", "maxLow": "-1"}}, c.Defaults)
	assert.Equal(t, map[string]map[string]map[string]string{
		"production": {"workitems": {"mode": "enforce", "maxHigh": "0"}, "keyvault": {"rootDirectory": "infra", "mode": "enforce"}},
		"staging":    {"reviews": {"mode": "audit", "checkChange": "false"}},
	}, c.Environments)
	assert.Equal(t, slog.LevelDebug, c.LogLevel)
}

func TestParseConfigMinimalDefaults(t *testing.T) {
	data, err := os.ReadFile("testdata/config/minimal.yaml")
	require.NoError(t, err)
	c, err := ParseConfig("minimal.yaml", data, testEnv())
	require.NoError(t, err)
	assert.Equal(t, ":8080", c.Listen)
	assert.Equal(t, DefaultLimits(), c.Limits)
	assert.Equal(t, IdentityNone, c.Identity.Type)
	assert.Nil(t, c.TLS)
	assert.Empty(t, c.Environments)
}

// The shipped example parses, with its password file beside it.
func TestExampleConfig(t *testing.T) {
	data, err := os.ReadFile("../../examples/server/stagegate-serve.yaml")
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "secrets"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "secrets", "check-password"), []byte(testPassword+"\n"), 0o600))
	name := filepath.Join(dir, "stagegate-serve.yaml")
	require.NoError(t, os.WriteFile(name, data, 0o600))
	c, err := LoadConfig(name, task.MapEnv(map[string]string{"STAGEGATE_RELEASE_GATES_TOKEN": testBearer}))
	require.NoError(t, err)
	assert.Equal(t, IdentityManagedIdentity, c.Identity.Type)
	assert.Equal(t, "enforce", c.Environments["production"]["workitems"]["mode"])
	assert.Equal(t, "fail", c.Environments["production"]["reviews"]["onNonProductionBranch"])
	// The trailing newline of a secret file is not part of the password.
	req := newAuthRequest(t, testUser, testPassword)
	cl, ok := authenticate(req, c.Callers)
	require.True(t, ok)
	assert.Equal(t, "environment-checks", cl.Name)
}

func TestParseConfigErrors(t *testing.T) {
	const callers = "callers:\n  - name: checks\n    username: stagegate\n    passwordEnv: SG_PASSWORD\n"
	const orgs = "organizations: [https://dev.azure.com/contoso]\n"
	dir := t.TempDir()
	short := filepath.Join(dir, "short")
	require.NoError(t, os.WriteFile(short, []byte("tooshort\n"), 0o600))
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{"empty", "", "the configuration is empty"},
		{"unknown top-level key", orgs + callers + "lisen: :80\n", `line 6: unknown key "lisen"`},
		{"unknown nested key", orgs + callers + "limits:\n  maxConcurent: 3\n", `line 7: unknown key "maxConcurent"`},
		{"unknown caller key", orgs + "callers:\n  - name: a\n    pasword: x\n", `line 4: unknown key "pasword"`},
		{"unknown gate", orgs + callers + "environments:\n  prod:\n    workitem:\n      mode: audit\n", `line 8: unknown gate "workitem"`},
		{"unknown input", orgs + callers + "defaults:\n  reviews:\n    minApprovers: 2\n", `line 8: gate "reviews" has no input "minApprovers"`},
		{"list as input value", orgs + callers + "defaults:\n  workitems:\n    tags: [a, b]\n", "line 8: input \"tags\": expected a single value"},
		{"bad mode", orgs + callers + "defaults:\n  workitems:\n    mode: lenient\n", `line 8: input "mode": got "lenient", expected enforce or audit`},
		{"sarif in policy", orgs + callers + "defaults:\n  keyvault:\n    sarifFile: out.sarif\n", `line 8: input "sarifFile" is not supported by stagegate serve`},
		{"absolute root", orgs + callers + "defaults:\n  keyvault:\n    rootDirectory: /etc\n", `line 8: input "rootDirectory"`},
		{"escaping root", orgs + callers + "defaults:\n  keyvault:\n    rootDirectory: infra/../../x\n", "leaves the repository"},
		{"bad duration", orgs + callers + "limits:\n  syncTimeout: soon\n", `line 7: "soon" is not a positive duration`},
		{"bad size", orgs + callers + "limits:\n  maxBodyBytes: 12XB\n", `line 7: "12XB" is not a positive size`},
		{"write timeout too short", orgs + callers + "limits:\n  syncTimeout: 30s\n  writeTimeout: 20s\n", "must be longer than limits.syncTimeout"},
		{"no organizations", callers, "organizations: list at least one"},
		{"plain http", "organizations: [http://dev.azure.com/contoso]\n" + callers, "only https is allowed"},
		{"credentials in url", "organizations: [https://u:p@dev.azure.com/contoso]\n" + callers, "no credentials"},
		{"duplicate organization", "organizations: [https://dev.azure.com/contoso, https://dev.azure.com/contoso/]\n" + callers, "listed twice"},
		{"no callers", orgs, "callers: list at least one"},
		{"caller without name", orgs + "callers:\n  - username: a\n    passwordEnv: SG_PASSWORD\n", "name is required"},
		{"basic and bearer", orgs + "callers:\n  - name: a\n    username: a\n    passwordEnv: SG_PASSWORD\n    bearerTokenEnv: SG_BEARER\n", "not both"},
		{"unset variable", orgs + "callers:\n  - name: a\n    username: a\n    passwordEnv: NOPE\n", "NOPE is not set"},
		{"short secret", orgs + "callers:\n  - name: a\n    username: a\n    passwordFile: " + short + "\n", "shorter than 16 characters"},
		{"missing secret file", orgs + "callers:\n  - name: a\n    username: a\n    passwordFile: nope.txt\n", "nope.txt"},
		{"duplicate caller", orgs + callers + "  - name: Checks\n    bearerTokenEnv: SG_BEARER\n", "used twice"},
		{"caller environment unknown", orgs + "callers:\n  - name: a\n    bearerTokenEnv: SG_BEARER\n    environments: [prod]\n", `environment "prod" is not listed`},
		{"pat without token", orgs + callers + "identity:\n  type: pat\n", "give a file or an environment variable"},
		{"pat file on another type", orgs + callers + "identity:\n  type: managedIdentity\n  patEnv: SG_PASSWORD\n", "belong to type pat"},
		{"unknown identity", orgs + callers + "identity:\n  type: magic\n", `"magic" is not none, pat`},
		{"two documents", orgs + callers + "---\nlisten: :1\n", "only one YAML document"},
		{"tls half", orgs + callers + "tls:\n  certFile: a.crt\n", "both certFile and keyFile"},
		{"duplicate environment", orgs + callers + "environments:\n  Prod: {}\n  prod: {}\n", "listed twice"},
		{"bad listen", orgs + callers + "listen: localhost\n", "not host:port"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig(filepath.Join(dir, "c.yaml"), []byte(tc.yaml), testEnv())
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.True(t, strings.HasPrefix(err.Error(), filepath.Join(dir, "c.yaml")+": "), "errors name the file: %v", err)
			assert.NotContains(t, err.Error(), testPassword)
		})
	}
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]int64{"1": 1, "64KiB": 64 << 10, " 2 MiB ": 2 << 20, "1GiB": 1 << 30} {
		got, err := parseByteSize(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "0", "-1", "1.5MiB", "1TB", "9999999999GiB"} {
		_, err := parseByteSize(in)
		assert.Error(t, err, in)
	}
}

// FuzzParseConfig: any input gives a config or an error, never a panic, and an accepted config
// always has an allow-list and callers.
func FuzzParseConfig(f *testing.F) {
	paths, err := filepath.Glob("testdata/config/*.yaml")
	if err != nil {
		f.Fatal(err)
	}
	paths = append(paths, "../../examples/server/stagegate-serve.yaml")
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("organizations: [x]\ncallers: [{name: a}]\nenvironments: {a: {keyvault: {rootDirectory: ../x}}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig("fuzz.yaml", data, testEnv())
		if err != nil {
			return
		}
		if len(c.Organizations) == 0 || len(c.Callers) == 0 || c.Limits.MaxConcurrent < 1 {
			t.Fatalf("accepted an unusable configuration: %+v", c)
		}
	})
}
