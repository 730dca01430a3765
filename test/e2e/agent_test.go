package e2e

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/azdo/azdosim"
	"github.com/stagegate/stagegate/pkg/task"
	"github.com/stagegate/stagegate/tasks"

	"github.com/stagegate/stagegate/internal/testfiles"
)

// agentRun is what a gate binary produced when run as the agent runs it: environment in,
// logging commands (parsed exactly as the agent parses them) and exit code out.
type agentRun struct {
	stdout, stderr string
	code           int
	tempDir        string
	commands       []task.Command
}

func (r agentRun) named(name string) []task.Command {
	var out []task.Command
	for _, c := range r.commands {
		if c.Name == name {
			out = append(out, c)
		}
	}
	return out
}

// results lists the task.complete results; exactly one is expected.
func (r agentRun) results() []string {
	var out []string
	for _, c := range r.named("task.complete") {
		out = append(out, c.Props["result"])
	}
	return out
}

// files returns everything the run wrote where a user could read it: stdout, stderr and the
// files in the agent's temp directory (the summary, SARIF).
func (r agentRun) files(t *testing.T) map[string]string {
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

func (r agentRun) issues() []task.Command { return r.named("task.logissue") }

// codes counts logissue commands by rule id.
func (r agentRun) codes() map[string]int {
	m := map[string]int{}
	for _, c := range r.issues() {
		m[c.Props["code"]]++
	}
	return m
}

// outputs are the output variables set with isOutput=true.
func (r agentRun) outputs() map[string]string {
	m := map[string]string{}
	for _, c := range r.named("task.setvariable") {
		if c.Props["isOutput"] == "true" {
			m[c.Props["variable"]] = c.Data
		}
	}
	return m
}

// buildCmd builds ./cmd/<name> as the packager does (no cgo, trimmed paths) into a temp dir.
func buildCmd(t *testing.T, name string) string {
	t.Helper()
	exe := name
	if runtime.GOOS == "windows" {
		exe += ".exe"
	}
	out := filepath.Join(t.TempDir(), exe)
	build := exec.Command("go", "build", "-trimpath", "-o", out, "./cmd/"+name)
	build.Dir = testfiles.ModuleRoot(t)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	output, err := build.CombinedOutput()
	require.NoError(t, err, "build %s: %s", name, output)
	return out
}

// agentInputs are a task's inputs as the agent exports them: every task.json default as
// INPUT_<NAME>, with the given $(Variable) macros expanded.
func agentInputs(t *testing.T, taskName string, macros map[string]string) map[string]string {
	t.Helper()
	def, err := tasks.Get(taskName)
	require.NoError(t, err)
	return def.DefaultInputVars(macros)
}

// taskVars is what the agent exports for a task: base (the job's variables), then env over it,
// then the task's inputs from task.json defaults (macros expanded) where neither set them.
func taskVars(t *testing.T, taskName string, macros, base, env map[string]string) map[string]string {
	t.Helper()
	vars := map[string]string{}
	for _, m := range []map[string]string{base, env} {
		for k, v := range m {
			vars[k] = v
		}
	}
	for k, v := range agentInputs(t, taskName, macros) {
		if _, set := vars[k]; !set {
			vars[k] = v
		}
	}
	return vars
}

// serveScenario serves a scenario from examples/azdo on a new simulator; edit may change it
// first. It returns the simulator and the collection URI a job would see.
func serveScenario(t *testing.T, file string, edit func(*azdosim.Scenario)) (*azdosim.Server, string) {
	t.Helper()
	sc, err := azdosim.LoadScenario(filepath.Join(testfiles.ModuleRoot(t), "examples", "azdo", file))
	require.NoError(t, err)
	if edit != nil {
		edit(sc)
	}
	sim, err := azdosim.New(sc, azdosim.Options{})
	require.NoError(t, err)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return sim, sim.OrgURL(srv.URL) + "/"
}

// runAgent runs bin with exactly vars (plus PATH and HOME), filling in what every agent job
// has when vars lack it: TF_BUILD, a temp directory and a job id.
func runAgent(t *testing.T, bin string, vars map[string]string) agentRun {
	t.Helper()
	tmp := t.TempDir()
	env := map[string]string{"TF_BUILD": "True", "AGENT_TEMPDIRECTORY": tmp, "SYSTEM_JOBID": "job-e2e", "STAGEGATE_TIMEOUT": "60s"}
	for k, v := range vars {
		env[k] = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + tmp}
	for k, v := range env {
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
	return agentRun{stdout: stdout.String(), stderr: stderr.String(), code: code, tempDir: env["AGENT_TEMPDIRECTORY"], commands: task.ParseLog(stdout.String())}
}
