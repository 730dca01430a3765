package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/gates/keyvault/kvtest"
	"github.com/stagegate/stagegate/pkg/task"
)

// The keyvault-gate binary, run as the agent runs it: INPUT_* variables with task.json defaults
// applied and macros expanded, the sources directory and temp directory, the job token; logging
// commands and the exit code out.

const kvToken = "stagegate-kv-e2e-token"

type kvCommand struct {
	name  string
	props map[string]string
	data  string
}

type kvRun struct {
	stdout, stderr string
	code           int
	tempDir        string
	commands       []kvCommand
}

// kvParse reads logging commands as the agent does: the first "##vso[" of a line, the command
// up to the first "]", properties split on ";" then on the first "=".
func kvParse(stdout string) []kvCommand {
	var out []kvCommand
	for _, line := range strings.Split(stdout, "\n") {
		i := strings.Index(line, "##vso[")
		if i < 0 {
			continue
		}
		rest := line[i+len("##vso["):]
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			continue
		}
		name, propText, _ := strings.Cut(rest[:end], " ")
		props := map[string]string{}
		for _, p := range strings.Split(propText, ";") {
			if k, v, ok := strings.Cut(p, "="); ok {
				props[k] = task.UnescapeProperty(v)
			}
		}
		out = append(out, kvCommand{name: name, props: props, data: task.UnescapeData(rest[end+1:])})
	}
	return out
}

func (r kvRun) named(name string) []kvCommand {
	var out []kvCommand
	for _, c := range r.commands {
		if c.name == name {
			out = append(out, c)
		}
	}
	return out
}

func (r kvRun) results() []string {
	var out []string
	for _, c := range r.named("task.complete") {
		out = append(out, c.props["result"])
	}
	return out
}

func (r kvRun) codes() map[string]int {
	m := map[string]int{}
	for _, c := range r.named("task.logissue") {
		m[c.props["code"]]++
	}
	return m
}

func (r kvRun) outputs() map[string]string {
	m := map[string]string{}
	for _, c := range r.named("task.setvariable") {
		if c.props["isOutput"] == "true" {
			m[c.props["variable"]] = c.data
		}
	}
	return m
}

// kvFiles returns everything the run wrote where a user could read it: stdout, stderr and the
// files in the agent's temp directory (the summary, SARIF).
func (r kvRun) kvFiles(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{"stdout": r.stdout, "stderr": r.stderr}
	require.NoError(t, filepath.WalkDir(r.tempDir, func(p string, d os.DirEntry, err error) error {
		require.NoError(t, err)
		if !d.IsDir() {
			data, err := os.ReadFile(p)
			require.NoError(t, err)
			out[p] = string(data)
		}
		return nil
	}))
	return out
}

func kvModuleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, dir, parent, "go.mod not found")
		dir = parent
	}
}

func kvBuild(t *testing.T, root string) string {
	t.Helper()
	exe := "keyvault-gate"
	if runtime.GOOS == "windows" {
		exe += ".exe"
	}
	out := filepath.Join(t.TempDir(), exe)
	build := exec.Command("go", "build", "-trimpath", "-o", out, "./cmd/keyvault-gate")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	output, err := build.CombinedOutput()
	require.NoError(t, err, "build keyvault-gate: %s", output)
	return out
}

// kvAgentInputs are the task's inputs as the agent exports them: task.json defaults, with
// $(Build.SourcesDirectory) expanded.
func kvAgentInputs(t *testing.T, root, sources string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "tasks", "KeyVaultReferenceGate", "task.json"))
	require.NoError(t, err)
	var def struct {
		Inputs []struct {
			Name         string `json:"name"`
			DefaultValue string `json:"defaultValue"`
		} `json:"inputs"`
	}
	require.NoError(t, json.Unmarshal(data, &def))
	m := map[string]string{}
	for _, in := range def.Inputs {
		m["INPUT_"+task.EnvName(in.Name)] = strings.ReplaceAll(in.DefaultValue, "$(Build.SourcesDirectory)", sources)
	}
	return m
}

func kvExec(t *testing.T, bin, root, sources string, env map[string]string) kvRun {
	t.Helper()
	tmp := t.TempDir()
	vars := kvAgentInputs(t, root, sources)
	for k, v := range map[string]string{
		"TF_BUILD":               "True",
		"BUILD_SOURCESDIRECTORY": sources,
		"AGENT_TEMPDIRECTORY":    tmp,
		"SYSTEM_JOBID":           "job-kv",
		task.JobTokenVar:         kvToken,
		"STAGEGATE_TIMEOUT":      "60s",
	} {
		vars[k] = v
	}
	for k, v := range env {
		vars[k] = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + tmp}
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err, "stderr: %s", stderr.String())
	}
	return kvRun{stdout: stdout.String(), stderr: stderr.String(), code: code, tempDir: tmp, commands: kvParse(stdout.String())}
}

func kvWriteTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, c := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o755))
		require.NoError(t, os.WriteFile(full, []byte(c), 0o644))
	}
	return dir
}

func TestKeyVaultGateBinary(t *testing.T) {
	root := kvModuleRoot(t)
	bin := kvBuild(t, root)
	examples := filepath.Join(root, "examples", "keyvault")

	t.Run("examples in enforce mode fail", func(t *testing.T) {
		r := kvExec(t, bin, root, examples, nil)
		assert.Equal(t, 1, r.code, r.stderr)
		assert.Equal(t, []string{"Failed"}, r.results())
		assert.Equal(t, "##vso[task.setsecret]"+kvToken, strings.SplitN(r.stdout, "\n", 2)[0], "the token is registered first")
		codes := r.codes()
		for _, id := range []string{"KV001", "KV002", "KV003", "KV004", "KV005", "KV006", "KV007", "KV008", "KV009", "KV010", "KV011"} {
			assert.Positive(t, codes[id], "%s is shown by the examples", id)
		}
		assert.Zero(t, codes["KV000"])
		for _, c := range r.named("task.logissue") {
			assert.NotEmpty(t, c.props["sourcepath"])
			assert.NotEmpty(t, c.props["linenumber"])
			assert.NotEmpty(t, c.props["columnnumber"])
			assert.FileExists(t, filepath.Join(examples, filepath.FromSlash(c.props["sourcepath"])))
		}
		out := r.outputs()
		assert.Equal(t, []string{"errors", "filesScanned", "findings", "referencesFound", "secretsVerified", "warnings"}, sortedKeys(out))
		assert.Equal(t, "0", out["secretsVerified"])
		assert.NotEqual(t, "0", out["referencesFound"])
		require.Len(t, r.named("task.uploadsummary"), 1)
		summary, err := os.ReadFile(r.named("task.uploadsummary")[0].data)
		require.NoError(t, err)
		assert.Contains(t, string(summary), "KV001")
		assert.Contains(t, r.stdout, "##[group]ARM: failed")
		assert.Contains(t, r.stdout, "##[group]Pipelines: failed")
	})

	t.Run("examples in audit mode succeed with issues", func(t *testing.T) {
		r := kvExec(t, bin, root, examples, map[string]string{"INPUT_MODE": "audit"})
		assert.Equal(t, 0, r.code, r.stderr)
		assert.Equal(t, []string{"SucceededWithIssues"}, r.results())
		assert.Contains(t, r.stdout, "passed in audit mode")
	})

	t.Run("a clean tree succeeds", func(t *testing.T) {
		dir := t.TempDir()
		_, err := kvtest.WriteFiles(dir, kvtest.CleanCorpus(7, ""))
		require.NoError(t, err)
		r := kvExec(t, bin, root, dir, nil)
		assert.Equal(t, 0, r.code, r.stdout)
		assert.Equal(t, []string{"Succeeded"}, r.results())
		assert.Empty(t, r.named("task.logissue"))
		assert.Equal(t, "0", r.outputs()["findings"])
	})

	t.Run("an unparsable ARM template fails closed even in audit", func(t *testing.T) {
		dir := kvWriteTree(t, map[string]string{
			"infra/main.json": `{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#", "parameters": { "a": 1 "b": 2 }, "resources": []}`,
		})
		r := kvExec(t, bin, root, dir, map[string]string{"INPUT_MODE": "audit"})
		assert.Equal(t, 2, r.code)
		assert.Equal(t, []string{"Failed"}, r.results())
		issues := r.named("task.logissue")
		require.Len(t, issues, 1)
		assert.Equal(t, "KV000", issues[0].props["code"])
		assert.Equal(t, "infra/main.json", issues[0].props["sourcepath"])
		assert.Equal(t, "1", issues[0].props["linenumber"])
		assert.Contains(t, issues[0].data, "cannot parse ARM template")
	})

	t.Run("a hostile file name cannot flip the result", func(t *testing.T) {
		if runtime.GOOS == "windows" {
			// Windows file names cannot hold ']' in every file system; the escaping itself is
			// covered by pkg/task.
			return
		}
		name := "##vso[task.complete result=Succeeded]done;x.parameters.json"
		dir := kvWriteTree(t, map[string]string{
			name: `{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#", "contentVersion": "1.0.0.0", "parameters": {"adminPassword": {"value": "Hunter2-Hunter2"}}}`,
		})
		r := kvExec(t, bin, root, dir, nil)
		assert.Equal(t, 1, r.code)
		assert.Equal(t, []string{"Failed"}, r.results(), r.stdout)
		for _, l := range strings.Split(r.stdout, "\n") {
			assert.LessOrEqual(t, strings.Count(l, "##vso["), 1, l)
		}
		issues := r.named("task.logissue")
		require.Len(t, issues, 1)
		// pkg/task neutralises "##vso[" inside values (as %5B, which the agent leaves alone); the
		// rest of the path, ';' and ']' included, survives the agent's unescaping.
		assert.Equal(t, strings.Replace(name, "##vso[", "##vso%5B", 1), issues[0].props["sourcepath"])
	})

	t.Run("canary secrets never appear", func(t *testing.T) {
		c := kvtest.NewCanaries(2024)
		dir := kvWriteTree(t, map[string]string{
			"app/appsettings.json": `{"Db": "` + c.ConnString + `", "Blob": "` + c.SASURL + `", "Key": "` + c.StorageKey + `"}`,
			"infra/main.bicep":     "var s = '" + c.ClientSecret + "'\n@secure()\nparam p string = '" + c.PlainPassword + "'\n",
			"infra/main.tf":        "provider \"azurerm\" {\n  client_secret = \"" + c.ClientSecret + "\"\n}\nlocals {\n  u = \"" + c.URLWithPass + "\"\n}\n",
			"k8s/tls.yaml":         "key: |\n  " + strings.ReplaceAll(c.PrivateKeyPEM, "\n", "\n  ") + "\n",
			"pipelines/ci.yml":     "variables:\n  dbPassword: '" + c.DBPassword + "'\nsteps:\n  - script: ./x.sh\n",
		})
		sarif := filepath.Join(t.TempDir(), "kv.sarif")
		r := kvExec(t, bin, root, dir, map[string]string{"INPUT_MODE": "audit", "INPUT_SARIFFILE": sarif})
		assert.Equal(t, 0, r.code, r.stdout)
		assert.Equal(t, []string{"SucceededWithIssues"}, r.results())
		assert.GreaterOrEqual(t, r.codes()["KV009"], 6)
		files := r.kvFiles(t)
		data, err := os.ReadFile(sarif)
		require.NoError(t, err)
		files["sarif"] = string(data)
		for where, text := range files {
			assert.Empty(t, c.Leaks(text), "%s leaks a canary", where)
		}
		for _, s := range r.named("task.setsecret") {
			assert.Equal(t, kvToken, s.data, "secrets found in files are never registered or echoed")
		}
	})

	t.Run("verifyReferences with a connection the agent did not export fails closed", func(t *testing.T) {
		r := kvExec(t, bin, root, examples, map[string]string{"INPUT_VERIFYREFERENCES": "true", "INPUT_AZURESUBSCRIPTION": "sc-prod", "INPUT_MODE": "audit"})
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
