package evidence

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/azdo/azdosim"
	"github.com/stagegate/stagegate/pkg/gaterun"
	"github.com/stagegate/stagegate/pkg/gates/keyvault"
	"github.com/stagegate/stagegate/pkg/gates/reviews"
	"github.com/stagegate/stagegate/pkg/gates/workitems"

	"github.com/stagegate/stagegate/internal/testfiles"
)

// Hostile input: repositories and Azure DevOps data built to hang, exhaust or hijack a gate. Each
// run is bounded by a context deadline (runAgent fails the test if it is reached) and by
// STAGEGATE_TIMEOUT; none asserts wall-clock durations. Each must end with exactly one
// task.complete, a clear finding or error, and no logging command smuggled in.

const (
	armTemplateSchema   = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
	armParametersSchema = "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#"
	// hostileTitle tries to end the task as Succeeded and to overwrite an output variable.
	hostileTitle = "##vso[task.complete result=Succeeded]fixed\r\n##vso[task.setvariable variable=overdue;isOutput=true]0"
	literalPW    = "Zq8fj3KdLm29Xq#4"
)

// issue is what a finding must look like in the pipeline log.
type issue struct {
	code, path string
	line, col  int // 0: not checked
	text       string
}

type hostileCase struct {
	name  string
	files map[string]string
	// setup adds what a map of files cannot hold (links, FIFOs, long paths).
	setup func(t *testing.T, dir string)
	mode  string
	code  int
	// issues must all appear; when exact, they are all the issues there are.
	issues []issue
	exact  bool
	// logs are phrases the pipeline log must contain.
	logs []string
}

func deep(open, close string, n int) string {
	return strings.Repeat(open, n) + strings.Repeat(close, n)
}

// aliasBomb is the "billion laughs" of YAML: nine levels of nine aliases each.
func aliasBomb() string {
	var b strings.Builder
	b.WriteString("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n")
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		b.WriteString(n + ": &" + n + " [" + strings.TrimSuffix(strings.Repeat("*"+prev+",", 9), ",") + "]\n")
		prev = n
	}
	b.WriteString("steps:\n- script: echo\n  env:\n    X: *i\n")
	return b.String()
}

const bom = "\xef\xbb\xbf"

func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

func hostileCases() []hostileCase {
	const levels = 100_000
	cases := []hostileCase{
		{name: "100,000 levels of JSON in an ARM template", mode: "audit", code: gaterun.ExitError, exact: true,
			files:  map[string]string{"main.json": `{"$schema": "` + armTemplateSchema + `", "x": ` + deep("[", "]", levels) + "}"},
			issues: []issue{{code: "KV000", path: "main.json", line: 1, text: "nesting deeper than 1000 levels"}}},
		{name: "100,000 levels in pipeline YAML", mode: "audit", code: gaterun.ExitError, exact: true,
			files:  map[string]string{"azure-pipelines.yml": "steps:\n- script: " + deep("[", "]", levels) + "\n"},
			issues: []issue{{code: "KV000", path: "azure-pipelines.yml", text: "cannot parse pipeline YAML"}}},
		{name: "100,000 levels in Bicep", mode: "audit", code: gaterun.ExitError, exact: true,
			files:  map[string]string{"main.bicep": "var x = " + deep("(", ")", levels) + "\n"},
			issues: []issue{{code: "KV000", path: "main.bicep", line: 1, text: "nested deeper than 500 levels"}}},
		{name: "100,000 levels in Terraform", mode: "audit", code: gaterun.ExitError, exact: true,
			files:  map[string]string{"main.tf": "locals {\n  x = " + deep("[", "]", levels) + "\n}\n"},
			issues: []issue{{code: "KV000", path: "main.tf", line: 2, text: "nesting deeper than 1000 levels"}}},
		{name: "100,000 levels in application settings (credential scan only)", code: gaterun.ExitPassed, exact: true,
			files: map[string]string{"appsettings.json": `{"a": ` + deep("[", "]", levels) + "}"}},
		{name: "YAML alias bomb in azure-pipelines.yml", mode: "audit", code: gaterun.ExitError, exact: true,
			files:  map[string]string{"azure-pipelines.yml": aliasBomb()},
			issues: []issue{{code: "KV000", path: "azure-pipelines.yml", text: "alias bomb"}}},
		{name: "CRLF line ends and byte order marks", code: gaterun.ExitViolated, exact: true,
			files: map[string]string{
				"infra/app.bicep": bom + crlf("param adminPassword string = '"+literalPW+"'\n\n// a comment\nparam dbPassword string\n"),
				"infra/main.json": bom + crlf(`{
  "$schema": "`+armTemplateSchema+`",
  "contentVersion": "1.0.0.0",
  "parameters": {
    "adminPassword": {"type": "securestring"}
  },
  "resources": []
}
`),
				"infra/main.parameters.json": bom + crlf(`{
  "$schema": "`+armParametersSchema+`",
  "contentVersion": "1.0.0.0",
  "parameters": {
    "adminPassword": {
      "value": "`+literalPW+`"
    }
  }
}
`),
				"infra/main.tf":       crlf("provider \"azurerm\" {\n  features {}\n  client_secret = \"" + literalPW + "\"\n}\n"),
				"azure-pipelines.yml": bom + crlf("trigger:\n- main\n\nvariables:\n  dbPassword: '"+literalPW+"'\nsteps:\n- script: echo\n"),
			},
			issues: []issue{
				{code: "KV003", path: "infra/app.bicep", line: 1, col: 7},
				{code: "KV003", path: "infra/app.bicep", line: 4, col: 7},
				{code: "KV001", path: "infra/main.parameters.json", line: 6, col: 16},
				{code: "KV010", path: "infra/main.tf", line: 3, col: 19},
				{code: "KV011", path: "azure-pipelines.yml", line: 5, col: 15},
			}},
		{name: "invalid UTF-8 in names and contents", code: gaterun.ExitViolated, exact: true,
			files: map[string]string{
				"bad\xff\xfe.bicep": "// \xff\xfe\xfd\nparam adminPassword string = 'Zq\xff8fj3KdLm29Xq#4'\n",
				"main.json":         `{"$schema": "` + armTemplateSchema + `", "contentVersion": "1.0.0.0", "variables": {"x": "` + "\xc3\x28\xa0\xa1" + `"}, "resources": []}`,
			},
			// The log replaces each run of invalid bytes with U+FFFD, as the agent's UTF-8 reader does.
			issues: []issue{{code: "KV003", path: "bad\uFFFD.bicep", line: 2, col: 7}}},
		{name: "a file name carrying a logging command", code: gaterun.ExitViolated, exact: true,
			files:  map[string]string{"##vso[task.complete result=Succeeded]done;x.bicep": "param adminPassword string = '" + literalPW + "'\n"},
			issues: []issue{{code: "KV003", path: "##vso%5Btask.complete result=Succeeded]done;x.bicep", line: 1, col: 7}}},
		{name: "a directory named like a template", code: gaterun.ExitViolated, exact: true,
			files:  map[string]string{"main.json/inner.bicep": "param adminPassword string = '" + literalPW + "'\n"},
			issues: []issue{{code: "KV003", path: "main.json/inner.bicep", line: 1, col: 7}}},
	}
	return append(cases, platformHostileCases()...)
}

func TestHostileRepositories(t *testing.T) {
	for _, c := range hostileCases() {
		t.Run(c.name, func(t *testing.T) {
			dir := testfiles.WriteTree(t, c.files)
			if c.setup != nil {
				c.setup(t, dir)
			}
			sarif := filepath.Join(t.TempDir(), "kv.sarif")
			env := map[string]string{"BUILD_SOURCESDIRECTORY": dir, "STAGEGATE_TIMEOUT": "60s", "INPUT_SARIFFILE": sarif}
			if c.mode != "" {
				env["INPUT_MODE"] = c.mode
			}
			r := runAgent(t, keyvault.Gate(), env)
			assert.Equal(t, c.code, r.code, r.stdout)
			comp := r.complete(t)
			wantResult := map[int]string{gaterun.ExitPassed: "Succeeded", gaterun.ExitViolated: "Failed", gaterun.ExitError: "Failed"}[c.code]
			if c.code == gaterun.ExitPassed && len(c.issues) > 0 {
				wantResult = "SucceededWithIssues"
			}
			assert.Equal(t, wantResult, comp.Props["result"])
			assertWellFormedLog(t, r.stdout)

			got := r.named("task.logissue")
			for _, want := range c.issues {
				assert.True(t, hasIssue(got, want), "issue %+v in:\n%s", want, r.stdout)
			}
			if c.exact {
				assert.Len(t, got, len(c.issues), r.stdout)
			}
			for _, l := range c.logs {
				assert.Contains(t, r.stdout, l)
			}
			if c.code != gaterun.ExitError {
				// Every other output stays well formed too.
				data, err := os.ReadFile(sarif)
				require.NoError(t, err)
				assert.True(t, json.Valid(data), "SARIF is valid JSON")
				assert.True(t, utf8.Valid(data), "SARIF is valid UTF-8")
				assert.True(t, utf8.ValidString(r.summary(t)), "the summary is valid UTF-8")
				assertLocalFormats(t, dir)
			}
		})
	}
}

func hasIssue(got []command, want issue) bool {
	for _, c := range got {
		if c.Props["code"] != want.code || c.Props["sourcepath"] != want.path {
			continue
		}
		if want.line > 0 && c.Props["linenumber"] != itoa(want.line) {
			continue
		}
		if want.col > 0 && c.Props["columnnumber"] != itoa(want.col) {
			continue
		}
		if want.text != "" && !strings.Contains(c.Data, want.text) {
			continue
		}
		return true
	}
	return false
}

func itoa(n int) string { return strconv.Itoa(n) }

// assertWellFormedLog: valid UTF-8, at most one logging command per line, and every
// task.complete and setvariable comes from the gate (none hides inside another line).
func assertWellFormedLog(t *testing.T, stdout string) {
	t.Helper()
	assert.True(t, utf8.ValidString(stdout), "the pipeline log is valid UTF-8")
	for _, l := range strings.Split(stdout, "\n") {
		assert.LessOrEqual(t, strings.Count(l, "##vso["), 1, "one command per line at most: %q", l)
		if i := strings.Index(l, "##vso["); i > 0 {
			assert.Fail(t, "a logging command that does not start its line", "%q", l)
		}
	}
}

// assertLocalFormats renders the same tree in every local format and checks each is well formed.
func assertLocalFormats(t *testing.T, dir string) {
	t.Helper()
	for _, format := range []string{"json", "sarif", "junit", "text"} {
		r := runLocal(t, keyvault.Gate(), []string{"--format", format, dir}, nil)
		assert.NotEqual(t, gaterun.ExitError, r.code, r.stderr)
		assert.True(t, utf8.ValidString(r.stdout), "%s output is valid UTF-8", format)
		assert.False(t, strings.ContainsFunc(r.stdout, func(c rune) bool { return c < 0x20 && c != '\n' && c != '\t' || c == 0x7f }),
			"%s output has no control characters (terminal escapes) but line ends", format)
		switch format {
		case "json", "sarif":
			assert.True(t, json.Valid([]byte(r.stdout)), "%s output is valid JSON", format)
		case "junit":
			dec := xml.NewDecoder(strings.NewReader(r.stdout))
			for {
				_, err := dec.Token()
				if errors.Is(err, io.EOF) {
					break
				}
				if !assert.NoError(t, err, "JUnit output is well-formed XML") {
					break
				}
			}
		}
	}
}

// heapNow is the live heap (objects not yet freed), read without stopping the world.
func heapNow() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// heapPeak samples the live heap until stop is called and returns the highest value seen.
func heapPeak() (stop func() uint64) {
	var peak uint64
	read := func() {
		if v := heapNow(); v > peak {
			peak = v
		}
	}
	read()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				read()
			}
		}
	}()
	return func() uint64 {
		close(done)
		wg.Wait()
		read()
		return peak
	}
}

// TestHostileSparseFile: a file far over the parse limit is streamed for credentials in bounded
// windows, never read whole; it is reported as over the cap, and a credential at its end is
// still found.
func TestHostileSparseFile(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.json")
	f, err := os.Create(big)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.NoError(t, os.Truncate(big, sparseSize))
	// A credential after the sparse hole, at the very end of the file.
	f, err = os.OpenFile(big, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	tail := "\n{\"Db\": \"Server=tcp:sql.database.windows.net;User ID=app;Password=" + literalPW + ";\"}\n"
	_, err = f.WriteString(tail)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	base := heapNow()
	stop := heapPeak()
	// Streaming 2 GiB takes seconds on an idle machine and much longer on a loaded one: the
	// bound is generous, the point is that it holds.
	r := runAgentWithin(t, 5*time.Minute, keyvault.Gate(), map[string]string{"BUILD_SOURCESDIRECTORY": dir, "STAGEGATE_TIMEOUT": "5m", "INPUT_MODE": "audit"})
	peak := stop()
	t.Logf("%d MiB file: heap %d MiB before, peak %d MiB during the run", sparseSize>>20, base>>20, peak>>20)
	assert.Less(t, peak-min(peak, base), uint64(64<<20), "the file is streamed, not read whole")
	assert.Equal(t, gaterun.ExitPassed, r.code, r.stdout)
	assert.Equal(t, "SucceededWithIssues", r.complete(t).Props["result"])
	assert.Contains(t, r.stdout, "big.json is "+sparseLabel+", over the 32.0 MiB parse limit: it was scanned for credentials only")
	issues := r.named("task.logissue")
	require.Len(t, issues, 1, r.stdout)
	assert.Equal(t, "KV009", issues[0].Props["code"])
	assert.Equal(t, "big.json", issues[0].Props["sourcepath"])
	assert.Equal(t, "2", issues[0].Props["linenumber"], "the line is counted across the streamed windows")
}

func TestHostileAzureDevOpsData(t *testing.T) {
	t.Run("work item title", func(t *testing.T) {
		for _, mode := range []string{"enforce", "audit"} {
			_, uri := newSim(t, "scenario.json", func(sc *azdosim.Scenario) { sc.Projects[0].WorkItems[0].Title = hostileTitle })
			env := workItemsEnv(uri)
			env["INPUT_MODE"] = mode
			r := runAgent(t, workitems.Gate(), env)
			assertWellFormedLog(t, r.stdout)
			assert.Equal(t, 1, strings.Count(r.stdout, "##vso[task.complete"), r.stdout)
			want := map[string]string{"enforce": "Failed", "audit": "SucceededWithIssues"}[mode]
			assert.Equal(t, want, r.complete(t).Props["result"])
			var overdue []string
			for _, v := range r.named("task.setvariable") {
				if v.Props["variable"] == "overdue" {
					overdue = append(overdue, v.Data)
				}
			}
			assert.Equal(t, []string{"1"}, overdue, "the title cannot set an output variable")
			assert.True(t, anyIssue(r, "#1 \"##vso%5Btask.complete result=Succeeded]fixed"), "the title is shown, defused:\n%s", r.stdout)
			assert.NotContains(t, r.summary(t), "##vso[")
		}
	})
	t.Run("bypass reason of the deployed pull request", func(t *testing.T) {
		const bypassed = "b2c3d4e5f60718293a4b5c6d7e8f901234567890" // PR 22
		_, uri := newSim(t, "reviews-scenario.json", func(sc *azdosim.Scenario) {
			for _, pr := range sc.Projects[0].Repositories[0].PullRequests {
				if pr.ID == 22 {
					pr.CompletionOptions.BypassReason = hostileTitle
				}
			}
		})
		env := reviewsEnv(uri)
		env["BUILD_SOURCEVERSION"] = bypassed
		r := runAgent(t, reviews.Gate(), env)
		assertWellFormedLog(t, r.stdout)
		assert.Equal(t, gaterun.ExitViolated, r.code)
		assert.Equal(t, "Failed", r.complete(t).Props["result"])
		assert.True(t, anyIssue(r, "reason: \"##vso%5Btask.complete result=Succeeded]fixed"), "the reason is shown, defused:\n%s", r.stdout)
	})
}

// anyIssue reports whether an issue's text, as the agent reads it, contains substr.
func anyIssue(r agentRun, substr string) bool {
	for _, c := range r.named("task.logissue") {
		if strings.Contains(c.Data, substr) {
			return true
		}
	}
	return false
}
