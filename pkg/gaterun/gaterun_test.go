package gaterun

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/finding"
	"github.com/stagegate/stagegate/pkg/task"
)

const canaryToken = "CANARY-JOB-TOKEN-3f9a"

// testGate uses the Key Vault task's definition (it has mode, baselineFile and sarifFile) with an
// evaluation the test controls.
func testGate(eval func(ctx context.Context, rt *Runtime) (*finding.Report, error)) Gate {
	return Gate{Task: "KeyVaultReferenceGate", Command: "keyvault", Title: "Test gate", Positional: "rootDirectory", Evaluate: eval}
}

func reportWith(fs ...finding.Finding) *finding.Report {
	return &finding.Report{Gate: "KeyVaultReferenceGate", Title: "Test gate", Checks: []finding.Check{{Name: "c"}}, Findings: fs,
		Outputs: []finding.Output{{Name: "findings", Value: "1"}}}
}

var violation = finding.Finding{Rule: "KV001", Severity: finding.Error, Check: "c", Message: "literal", Fingerprint: "fp-1",
	Location: finding.Location{Path: "main.parameters.json", Line: 3, Column: 7}}

func agentEnv(t *testing.T, extra map[string]string) task.LookupFunc {
	m := map[string]string{
		"TF_BUILD":               "True",
		task.JobTokenVar:         canaryToken,
		"AGENT_TEMPDIRECTORY":    t.TempDir(),
		"BUILD_SOURCESDIRECTORY": t.TempDir(),
		"SYSTEM_JOBID":           "job-1",
	}
	for k, v := range extra {
		m[k] = v
	}
	return task.MapEnv(m)
}

func runAgentGate(t *testing.T, g Gate, env task.LookupFunc) (string, int) {
	t.Helper()
	var out bytes.Buffer
	code := Main(context.Background(), g, nil, env, &out, &bytes.Buffer{}, Options{Now: func() time.Time { return time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC) }})
	return out.String(), code
}

func completions(log string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.HasPrefix(l, "##vso[task.complete ") {
			out = append(out, l)
		}
	}
	return out
}

func TestAgentResults(t *testing.T) {
	cases := []struct {
		name   string
		mode   string
		eval   func(ctx context.Context, rt *Runtime) (*finding.Report, error)
		result string
		code   int
		want   string
	}{
		{"clean", "", func(context.Context, *Runtime) (*finding.Report, error) { return reportWith(), nil }, "Succeeded", 0, "Test gate passed: no findings"},
		{"violation enforce", "enforce", func(context.Context, *Runtime) (*finding.Report, error) { return reportWith(violation), nil }, "Failed", 1, "##vso[task.logissue code=KV001;columnnumber=7;linenumber=3;sourcepath=main.parameters.json;type=error]KV001: literal"},
		{"violation audit", "audit", func(context.Context, *Runtime) (*finding.Report, error) { return reportWith(violation), nil }, "SucceededWithIssues", 0, "passed in audit mode"},
		{"error fails closed in audit", "audit", func(context.Context, *Runtime) (*finding.Report, error) {
			return nil, errors.New("GET policy configurations: 403 Forbidden")
		}, "Failed", 2, "Test gate could not evaluate: GET policy configurations: 403 Forbidden"},
		{"panic is an error without a stack", "", func(context.Context, *Runtime) (*finding.Report, error) {
			panic(errors.New("boom"))
		}, "Failed", 2, "internal error in KeyVaultReferenceGate"},
		{"bad mode", "block", func(context.Context, *Runtime) (*finding.Report, error) { return reportWith(), nil }, "Failed", 2, `input "mode": got "block", expected one of enforce, audit`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			log, code := runAgentGate(t, testGate(c.eval), agentEnv(t, map[string]string{"INPUT_MODE": c.mode}))
			assert.Equal(t, c.code, code)
			lines := strings.Split(log, "\n")
			assert.Equal(t, "##vso[task.setsecret]"+canaryToken, lines[0], "the token is registered before anything else")
			comp := completions(log)
			require.Len(t, comp, 1, log)
			assert.True(t, strings.HasPrefix(comp[0], "##vso[task.complete result="+c.result+"]"), comp[0])
			assert.Contains(t, log, c.want)
			assert.NotContains(t, log, "goroutine")
			assert.Equal(t, 1, strings.Count(log, canaryToken), "the token appears only in setsecret")
		})
	}
}

func TestAgentInjectedMessageCannotFlipResult(t *testing.T) {
	evil := violation
	evil.Message = "##vso[task.complete result=Succeeded]done\n##vso[task.complete result=Succeeded]"
	evil.Location.Path = "x]##vso[task.complete result=Succeeded];y"
	log, code := runAgentGate(t, testGate(func(context.Context, *Runtime) (*finding.Report, error) { return reportWith(evil), nil }), agentEnv(t, nil))
	assert.Equal(t, 1, code)
	comp := completions(log)
	require.Len(t, comp, 1)
	assert.True(t, strings.HasPrefix(comp[0], "##vso[task.complete result=Failed]"))
	for _, l := range strings.Split(log, "\n") {
		assert.LessOrEqual(t, strings.Count(l, "##vso["), 1, l)
	}
}

func TestAgentBaselineSummarySARIF(t *testing.T) {
	src := t.TempDir()
	bl := `{"version":1,"accepted":[{"fingerprint":"fp-1","justification":"accepted for the test","expires":"2027-01-01"},{"fingerprint":"old","justification":"gone"}]}`
	require.NoError(t, os.WriteFile(filepath.Join(src, "baseline.json"), []byte(bl), 0o644))
	tmp := t.TempDir()
	env := agentEnv(t, map[string]string{
		"BUILD_SOURCESDIRECTORY": src, "AGENT_TEMPDIRECTORY": tmp,
		"INPUT_BASELINEFILE": "baseline.json", "INPUT_SARIFFILE": "out/report.sarif",
	})
	log, code := runAgentGate(t, testGate(func(context.Context, *Runtime) (*finding.Report, error) { return reportWith(violation), nil }), env)
	assert.Equal(t, 0, code, log)
	assert.Contains(t, log, "##vso[task.complete result=Succeeded]")
	assert.Contains(t, log, "stale baseline entry")
	assert.Contains(t, log, "##vso[task.setvariable isOutput=true;variable=findings]1")
	summary := filepath.Join(tmp, "stagegate-keyvault-job-1.md")
	assert.Contains(t, log, "##vso[task.uploadsummary]"+summary)
	md, err := os.ReadFile(summary)
	require.NoError(t, err)
	assert.Contains(t, string(md), "accepted")
	sarif, err := os.ReadFile(filepath.Join(src, "out", "report.sarif"))
	require.NoError(t, err)
	assert.Contains(t, string(sarif), `"kind": "external"`)
}

func TestAgentBadBaselineFailsClosed(t *testing.T) {
	src := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(src, "bl.json"), []byte("{\n\"version\": 1,\n\"accepted\": [{\"fingerprint\": \"x\"}]}"), 0o644))
	env := agentEnv(t, map[string]string{"BUILD_SOURCESDIRECTORY": src, "INPUT_BASELINEFILE": "bl.json", "INPUT_MODE": "audit"})
	log, code := runAgentGate(t, testGate(func(context.Context, *Runtime) (*finding.Report, error) { return reportWith(), nil }), env)
	assert.Equal(t, 2, code)
	assert.Contains(t, log, "##vso[task.complete result=Failed]")
	assert.Contains(t, log, "justification")
}

func TestLocal(t *testing.T) {
	var seen *Runtime
	g := testGate(func(_ context.Context, rt *Runtime) (*finding.Report, error) {
		seen = rt
		return reportWith(violation), nil
	})
	env := task.MapEnv(map[string]string{})
	var out, errb bytes.Buffer
	code := Main(context.Background(), g, []string{"--format", "json", "--mode=audit", "--verifyReferences", "infra"}, env, &out, &errb, Options{})
	require.Equal(t, 0, code, errb.String())
	assert.Equal(t, "infra", seen.Inputs.String("rootDirectory"))
	v, err := seen.Inputs.Bool("verifyReferences")
	require.NoError(t, err)
	assert.True(t, v)
	assert.Equal(t, "30", seen.Inputs.String("expiryWarningDays"), "task.json defaults apply locally")
	var doc map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &doc))
	assert.Equal(t, "passed", doc["status"])
	assert.Equal(t, "warned", doc["outcome"])

	out.Reset()
	code = Main(context.Background(), g, []string{}, env, &out, &errb, Options{})
	assert.Equal(t, 1, code)
	assert.Contains(t, out.String(), "error    KV001  main.parameters.json:3:7 literal")
	assert.NotContains(t, out.String(), "##vso[", "no logging commands outside an agent")

	errb.Reset()
	code = Main(context.Background(), g, []string{"--format", "yaml"}, env, &out, &errb, Options{})
	assert.Equal(t, 2, code)
	assert.Contains(t, errb.String(), `--format "yaml": expected one of text, json, sarif, junit`)

	errb.Reset()
	code = Main(context.Background(), g, []string{"--nope"}, env, &out, &errb, Options{})
	assert.Equal(t, 2, code)
	assert.Contains(t, errb.String(), "flag provided but not defined: -nope")
}

func TestLocalWriteBaseline(t *testing.T) {
	g := testGate(func(context.Context, *Runtime) (*finding.Report, error) { return reportWith(violation), nil })
	path := filepath.Join(t.TempDir(), "bl.json")
	code := Main(context.Background(), g, []string{"--write-baseline", path}, task.MapEnv(nil), &bytes.Buffer{}, &bytes.Buffer{}, Options{Now: func() time.Time { return time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC) }})
	assert.Equal(t, 1, code)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	b, err := finding.ParseBaseline(path, data)
	require.NoError(t, err)
	require.Len(t, b.Accepted, 1)
	assert.Equal(t, "fp-1", b.Accepted[0].Fingerprint)
	assert.Equal(t, "2026-05-01", b.Accepted[0].Expires)
}

func TestEvaluateInputs(t *testing.T) {
	var warned []string
	g := testGate(func(_ context.Context, rt *Runtime) (*finding.Report, error) {
		rt.Warn("retrying")
		n, err := rt.Inputs.Int("expiryWarningDays", 0, 3650)
		if err != nil {
			return nil, err
		}
		r := reportWith(violation)
		r.Outputs = []finding.Output{{Name: "days", Value: fmt.Sprint(n)}}
		return r, nil
	})
	out, err := EvaluateInputs(context.Background(), g, map[string]string{"mode": "audit"}, task.MapEnv(nil), t.TempDir(), Hooks{Warn: func(s string) { warned = append(warned, s) }}, Options{})
	require.NoError(t, err)
	assert.Equal(t, task.SucceededWithIssues, out.Result)
	assert.Equal(t, 0, out.ExitCode)
	assert.Equal(t, "30", out.Report.Outputs[0].Value)
	assert.Equal(t, []string{"retrying"}, warned)

	_, err = EvaluateInputs(context.Background(), g, map[string]string{"expiryWarningDays": "soon"}, task.MapEnv(nil), "", Hooks{}, Options{})
	assert.EqualError(t, err, `input "expiryWarningDays": got "soon", expected an integer from 0 to 3650`)
}
