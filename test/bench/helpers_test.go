// Package bench holds the benchmarks that run the real binaries: process start to verdict,
// the Node launcher's own overhead, and the Key Vault gate on a generated tree on disk (the
// throughput and memory budgets of docs/performance.md). `make bench` runs them with every
// other benchmark; `make bench-corpus` runs the corpus budget alone.
package bench

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stagegate/stagegate/pkg/task"
	"github.com/stagegate/stagegate/tasks"

	"github.com/stagegate/stagegate/internal/testfiles"
)

// buildBinary builds ./cmd/<name> as tools/pack does (static, trimmed, stripped) into a
// temporary folder and returns its path.
func buildBinary(b *testing.B, name string) string {
	b.Helper()
	return buildPackage(b, "./cmd/"+name, name)
}

// buildPackage builds the main package pkg (relative to the module root) as name.
func buildPackage(b *testing.B, pkg, name string) string {
	b.Helper()
	exe := name
	if runtime.GOOS == "windows" {
		exe += ".exe"
	}
	out := filepath.Join(b.TempDir(), exe)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, pkg)
	cmd.Dir = testfiles.ModuleRoot(b)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if output, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build %s: %v\n%s", name, err, output)
	}
	return out
}

// agentEnv is the environment the agent gives a task's binary: task.json defaults as INPUT_*
// variables with macros expanded, the agent variables, the job token, and overrides.
func agentEnv(b *testing.B, taskName string, macros, vars map[string]string) []string {
	b.Helper()
	def, err := tasks.Get(taskName)
	if err != nil {
		b.Fatal(err)
	}
	tmp := b.TempDir()
	env := map[string]string{
		"PATH":                os.Getenv("PATH"),
		"HOME":                tmp,
		"TF_BUILD":            "True",
		"AGENT_TEMPDIRECTORY": tmp,
		"SYSTEM_JOBID":        "job-bench",
		"STAGEGATE_TIMEOUT":   "120s",
		task.JobTokenVar:      "stagegate-bench-token",
	}
	maps.Copy(env, def.DefaultInputVars(macros))
	for k, v := range vars {
		env[k] = v
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// runOnce runs a command to completion and returns its exit code; a failure to start or a
// signal is fatal.
func runOnce(b *testing.B, cmd *exec.Cmd) int {
	b.Helper()
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok && ee.Exited() {
		return ee.ExitCode()
	}
	if err != nil {
		b.Fatalf("%s: %v", cmd.Path, err)
	}
	return 0
}

// runStats is what one measured run of a binary cost (see meter).
type runStats struct {
	PeakRSSBytes int64   `json:"peakRSSBytes"`
	UserSeconds  float64 `json:"userSeconds"`
	SysSeconds   float64 `json:"sysSeconds"`
	WallSeconds  float64 `json:"wallSeconds"`
	ExitCode     int     `json:"exitCode"`
}

// msPerOp reports the mean wall time per operation in milliseconds, the unit the budgets use.
func msPerOp(b *testing.B) {
	if b.N > 0 {
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/op")
	}
}
