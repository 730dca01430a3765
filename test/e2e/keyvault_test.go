package e2e

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/gates/keyvault/kvtest"
	"github.com/stagegate/stagegate/pkg/task"

	"github.com/stagegate/stagegate/internal/testfiles"
)

// The keyvault-gate binary, run as the agent runs it: INPUT_* variables with task.json defaults
// applied and macros expanded, the sources directory and temp directory, the job token; logging
// commands and the exit code out.

const kvToken = "stagegate-kv-e2e-token"

// kvExec runs keyvault-gate on sources as the agent would, task.json defaults applied; env
// overrides or adds variables.
func kvExec(t *testing.T, bin, sources string, env map[string]string) agentRun {
	t.Helper()
	return runAgent(t, bin, taskVars(t, "KeyVaultReferenceGate", map[string]string{"Build.SourcesDirectory": sources}, map[string]string{
		"BUILD_SOURCESDIRECTORY": sources,
		"SYSTEM_JOBID":           "job-kv",
		task.JobTokenVar:         kvToken,
	}, env))
}

func TestKeyVaultGateBinary(t *testing.T) {
	bin := buildCmd(t, "keyvault-gate")
	examples := filepath.Join(testfiles.ModuleRoot(t), "examples", "keyvault")

	t.Run("examples in enforce mode fail", func(t *testing.T) {
		r := kvExec(t, bin, examples, nil)
		assert.Equal(t, 1, r.code, r.stderr)
		assert.Equal(t, []string{"Failed"}, r.results())
		assert.Equal(t, "##vso[task.setsecret]"+kvToken, strings.SplitN(r.stdout, "\n", 2)[0], "the token is registered first")
		codes := r.codes()
		for _, id := range []string{"KV001", "KV002", "KV003", "KV004", "KV005", "KV006", "KV007", "KV008", "KV009", "KV010", "KV011"} {
			assert.Positive(t, codes[id], "%s is shown by the examples", id)
		}
		assert.Zero(t, codes["KV000"])
		for _, c := range r.named("task.logissue") {
			assert.NotEmpty(t, c.Props["sourcepath"])
			assert.NotEmpty(t, c.Props["linenumber"])
			assert.NotEmpty(t, c.Props["columnnumber"])
			assert.FileExists(t, filepath.Join(examples, filepath.FromSlash(c.Props["sourcepath"])))
		}
		out := r.outputs()
		assert.Equal(t, []string{"errors", "filesScanned", "findings", "referencesFound", "secretsVerified", "warnings"}, sortedKeys(out))
		assert.Equal(t, "0", out["secretsVerified"])
		assert.NotEqual(t, "0", out["referencesFound"])
		require.Len(t, r.named("task.uploadsummary"), 1)
		summary, err := os.ReadFile(r.named("task.uploadsummary")[0].Data)
		require.NoError(t, err)
		assert.Contains(t, string(summary), "KV001")
		assert.Contains(t, r.stdout, "##[group]ARM: failed")
		assert.Contains(t, r.stdout, "##[group]Pipelines: failed")
	})

	t.Run("examples in audit mode succeed with issues", func(t *testing.T) {
		r := kvExec(t, bin, examples, map[string]string{"INPUT_MODE": "audit"})
		assert.Equal(t, 0, r.code, r.stderr)
		assert.Equal(t, []string{"SucceededWithIssues"}, r.results())
		assert.Contains(t, r.stdout, "passed in audit mode")
	})

	t.Run("a clean tree succeeds", func(t *testing.T) {
		dir := t.TempDir()
		_, err := kvtest.WriteFiles(dir, kvtest.CleanCorpus(7, ""))
		require.NoError(t, err)
		r := kvExec(t, bin, dir, nil)
		assert.Equal(t, 0, r.code, r.stdout)
		assert.Equal(t, []string{"Succeeded"}, r.results())
		assert.Empty(t, r.named("task.logissue"))
		assert.Equal(t, "0", r.outputs()["findings"])
	})

	t.Run("an unparsable ARM template fails closed even in audit", func(t *testing.T) {
		dir := testfiles.WriteTree(t, map[string]string{
			"infra/main.json": `{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#", "parameters": { "a": 1 "b": 2 }, "resources": []}`,
		})
		r := kvExec(t, bin, dir, map[string]string{"INPUT_MODE": "audit"})
		assert.Equal(t, 2, r.code)
		assert.Equal(t, []string{"Failed"}, r.results())
		issues := r.named("task.logissue")
		require.Len(t, issues, 1)
		assert.Equal(t, "KV000", issues[0].Props["code"])
		assert.Equal(t, "infra/main.json", issues[0].Props["sourcepath"])
		assert.Equal(t, "1", issues[0].Props["linenumber"])
		assert.Contains(t, issues[0].Data, "cannot parse ARM template")
	})

	t.Run("a hostile file name cannot flip the result", func(t *testing.T) {
		if runtime.GOOS == "windows" {
			// Windows file names cannot hold ']' in every file system; the escaping itself is
			// covered by pkg/task.
			return
		}
		name := "##vso[task.complete result=Succeeded]done;x.parameters.json"
		dir := testfiles.WriteTree(t, map[string]string{
			name: `{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#", "contentVersion": "1.0.0.0", "parameters": {"adminPassword": {"value": "Hunter2-Hunter2"}}}`,
		})
		r := kvExec(t, bin, dir, nil)
		assert.Equal(t, 1, r.code)
		assert.Equal(t, []string{"Failed"}, r.results(), r.stdout)
		for _, l := range strings.Split(r.stdout, "\n") {
			assert.LessOrEqual(t, strings.Count(l, "##vso["), 1, l)
		}
		issues := r.named("task.logissue")
		require.Len(t, issues, 1)
		// pkg/task neutralises "##vso[" inside values (as %5B, which the agent leaves alone); the
		// rest of the path, ';' and ']' included, survives the agent's unescaping.
		assert.Equal(t, strings.Replace(name, "##vso[", "##vso%5B", 1), issues[0].Props["sourcepath"])
	})

	t.Run("canary secrets never appear", func(t *testing.T) {
		c := kvtest.NewCanaries(2024)
		dir := testfiles.WriteTree(t, map[string]string{
			"app/appsettings.json": `{"Db": "` + c.ConnString + `", "Blob": "` + c.SASURL + `", "Key": "` + c.StorageKey + `"}`,
			"infra/main.bicep":     "var s = '" + c.ClientSecret + "'\n@secure()\nparam p string = '" + c.PlainPassword + "'\n",
			"infra/main.tf":        "provider \"azurerm\" {\n  client_secret = \"" + c.ClientSecret + "\"\n}\nlocals {\n  u = \"" + c.URLWithPass + "\"\n}\n",
			"k8s/tls.yaml":         "key: |\n  " + strings.ReplaceAll(c.PrivateKeyPEM, "\n", "\n  ") + "\n",
			"pipelines/ci.yml":     "variables:\n  dbPassword: '" + c.DBPassword + "'\nsteps:\n  - script: ./x.sh\n",
		})
		sarif := filepath.Join(t.TempDir(), "kv.sarif")
		r := kvExec(t, bin, dir, map[string]string{"INPUT_MODE": "audit", "INPUT_SARIFFILE": sarif})
		assert.Equal(t, 0, r.code, r.stdout)
		assert.Equal(t, []string{"SucceededWithIssues"}, r.results())
		assert.GreaterOrEqual(t, r.codes()["KV009"], 6)
		files := r.files(t)
		data, err := os.ReadFile(sarif)
		require.NoError(t, err)
		files["sarif"] = string(data)
		for where, text := range files {
			assert.Empty(t, c.Leaks(text), "%s leaks a canary", where)
		}
		for _, s := range r.named("task.setsecret") {
			assert.Equal(t, kvToken, s.Data, "secrets found in files are never registered or echoed")
		}
	})

	t.Run("verifyReferences with a connection the agent did not export fails closed", func(t *testing.T) {
		r := kvExec(t, bin, examples, map[string]string{"INPUT_VERIFYREFERENCES": "true", "INPUT_AZURESUBSCRIPTION": "sc-prod", "INPUT_MODE": "audit"})
		assert.Equal(t, 2, r.code)
		assert.Equal(t, []string{"Failed"}, r.results())
		assert.Contains(t, r.stdout, `input "azureSubscription": service connection sc-prod: the agent exported no ENDPOINT_* variables for it`)
	})
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
