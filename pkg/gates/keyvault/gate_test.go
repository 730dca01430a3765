package keyvault

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/finding"
	"github.com/stagegate/stagegate/pkg/gaterun"
	"github.com/stagegate/stagegate/pkg/gates/keyvault/discover"
	"github.com/stagegate/stagegate/pkg/gates/keyvault/kvtest"
	"github.com/stagegate/stagegate/pkg/gates/keyvault/rules"
	kv "github.com/stagegate/stagegate/pkg/keyvault"
	"github.com/stagegate/stagegate/pkg/task"

	"github.com/stagegate/stagegate/internal/testfiles"
)

var testNow = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func options(t *testing.T, root string) *Options {
	t.Helper()
	in := task.ValueInputs(map[string]string{"rootDirectory": root}, task.MapEnv(nil), defaults(t))
	cwd, err := os.Getwd()
	require.NoError(t, err)
	o, err := OptionsFromInputs(in, cwd)
	require.NoError(t, err)
	return o
}

func defaults(t *testing.T) map[string]string {
	t.Helper()
	return map[string]string{
		"include":           "**/*.json,**/*.jsonc,**/*.bicep,**/*.bicepparam,**/*.tf,**/*.tfvars,**/*.yml,**/*.yaml",
		"exclude":           "**/node_modules/**,**/.git/**,**/.terraform/**",
		"mode":              "enforce",
		"verifyReferences":  "false",
		"expiryWarningDays": "30",
		"requireExpiry":     "true",
	}
}

func scanReport(t *testing.T, o *Options) (*Result, *finding.Report) {
	t.Helper()
	res, err := Scan(context.Background(), o)
	require.NoError(t, err)
	rep := res.Report()
	res.SetOutputs(rep, nil)
	return res, rep
}

// TestCleanCorpus: realistic well-kept projects produce no finding at all, KV009 included.
func TestCleanCorpus(t *testing.T) {
	dir := t.TempDir()
	var files int
	var size int64
	for seed := uint64(1); seed <= 12; seed++ {
		fs := kvtest.CleanCorpus(seed, fmt.Sprintf("p%02d/", seed))
		n, err := kvtest.WriteFiles(dir, fs)
		require.NoError(t, err)
		files += len(fs)
		size += n
	}
	res, rep := scanReport(t, options(t, dir))
	for _, f := range rep.Findings {
		t.Errorf("false positive: %s %s:%d %s", f.Rule, f.Location.Path, f.Location.Line, f.Message)
	}
	assert.Equal(t, files, res.FilesScanned)
	assert.Equal(t, size, res.BytesScanned)
	assert.Empty(t, rep.Notes)
	assert.NotEmpty(t, res.References)
	t.Logf("clean corpus: %d files, %d bytes, %d Key Vault references, 0 findings", files, size, res.ReferencesFound)
	for _, g := range rules.Groups() {
		assert.Positive(t, res.Groups[g].Files, "the corpus has %s files", g)
	}
}

func TestPlantedFindings(t *testing.T) {
	dir := t.TempDir()
	files, want := kvtest.BadProject(9)
	_, err := kvtest.WriteFiles(dir, append(files, kvtest.CleanCorpus(9, "")...))
	require.NoError(t, err)
	_, rep := scanReport(t, options(t, dir))
	assert.Len(t, rep.Findings, want)
	byRule := map[string]int{}
	for _, f := range rep.Findings {
		byRule[f.Rule]++
	}
	for _, id := range []string{"KV001", "KV002", "KV003", "KV004", "KV005", "KV006", "KV007", "KV008", "KV009", "KV010", "KV011"} {
		assert.Positive(t, byRule[id], id)
	}
}

func TestReportShape(t *testing.T) {
	root := filepath.Join("..", "..", "..", "examples", "keyvault")
	res, rep := scanReport(t, options(t, root))
	assert.Equal(t, TaskName, rep.Gate)
	require.Len(t, rep.Checks, 5)
	for i, g := range rules.Groups() {
		assert.Equal(t, g, rep.Checks[i].Name)
		assert.Contains(t, rep.Checks[i].Detail, "scanned")
	}
	assert.Equal(t, rules.Catalog(), rep.Rules)
	require.Len(t, rep.Rules, 12)
	for _, r := range rep.Rules {
		assert.NotEmpty(t, r.Name)
		assert.NotEmpty(t, r.Description)
		assert.NotEmpty(t, r.Help)
	}
	names := map[string]string{}
	for _, o := range rep.Outputs {
		names[o.Name] = o.Value
	}
	// The outputs are exactly those task.json declares.
	var def struct {
		OutputVariables []struct{ Name string } `json:"outputVariables"`
	}
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "tasks", "KeyVaultReferenceGate", "task.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &def))
	require.Len(t, rep.Outputs, len(def.OutputVariables))
	for _, ov := range def.OutputVariables {
		assert.Contains(t, names, ov.Name)
	}
	assert.Equal(t, "0", names["secretsVerified"])
	assert.Equal(t, itoa(res.FilesScanned), names["filesScanned"])
	assert.Equal(t, itoa(res.ReferencesFound), names["referencesFound"])
	assert.Equal(t, itoa(len(rep.Findings)), names["findings"])
	require.Len(t, rep.Tables, 2)
	assert.Equal(t, "Findings by rule", rep.Tables[0].Title)
	assert.Len(t, rep.Tables[0].Rows, 11, "KV001-KV011 all fire in the examples")
	assert.Equal(t, "Key Vault references", rep.Tables[1].Title)
	seen := map[string]bool{}
	for _, f := range rep.Findings {
		assert.False(t, seen[f.Fingerprint], "duplicate fingerprint %s", f.Fingerprint)
		seen[f.Fingerprint] = true
		assert.NotEmpty(t, f.Location.Path)
		assert.Positive(t, f.Location.Line)
		assert.NotEmpty(t, f.Location.Logical)
		assert.NotEmpty(t, f.Check)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestDeterministic: the report does not depend on the number of workers.
func TestDeterministic(t *testing.T) {
	dir := t.TempDir()
	_, err := kvtest.GenerateTree(dir, 1<<20, 3, true)
	require.NoError(t, err)
	var reports [][]byte
	for _, w := range []int{1, 2, 8} {
		o := options(t, dir)
		o.Workers = w
		_, rep := scanReport(t, o)
		data, err := json.Marshal(rep)
		require.NoError(t, err)
		reports = append(reports, data)
	}
	assert.Equal(t, string(reports[0]), string(reports[1]))
	assert.Equal(t, string(reports[0]), string(reports[2]))
}

// TestFingerprintsSurviveUnrelatedEdits inserts lines above every finding and keeps the set of
// fingerprints.
func TestFingerprintsSurviveUnrelatedEdits(t *testing.T) {
	dir := t.TempDir()
	files, _ := kvtest.BadProject(5)
	files = append(files, kvtest.File{Path: "bad/main.bicep", Content: "@secure()\nparam p string = 'Hunter2-Hunter2'\nparam apiToken string\n"})
	_, err := kvtest.WriteFiles(dir, files)
	require.NoError(t, err)
	_, before := scanReport(t, options(t, dir))
	require.NotEmpty(t, before.Findings)

	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		var edited string
		switch filepath.Ext(f.Path) {
		case ".json":
			edited = "// a new comment\n\n" + f.Content
		case ".tf", ".yml":
			edited = "# a new comment\n\n" + f.Content
		case ".bicep":
			edited = "// a new comment\nmetadata owner = 'platform'\n\n" + f.Content
		}
		require.NoError(t, os.WriteFile(p, []byte(edited), 0o644))
	}
	_, after := scanReport(t, options(t, dir))
	fps := func(r *finding.Report) []string {
		var out []string
		for _, f := range r.Findings {
			out = append(out, f.Rule+" "+f.Location.Path+" "+f.Fingerprint)
		}
		sort.Strings(out)
		return out
	}
	assert.Equal(t, fps(before), fps(after))
	for i := range before.Findings {
		if before.Findings[i].Location.Path == after.Findings[i].Location.Path {
			assert.NotEqual(t, before.Findings[i].Location.Line, after.Findings[i].Location.Line, "the lines did move")
		}
	}
}

func TestInputs(t *testing.T) {
	root := testfiles.WriteTree(t, map[string]string{"a.json": "{}"})
	cases := []struct {
		name  string
		given map[string]string
		want  string
	}{
		{"bad include glob", map[string]string{"include": "**/[a.json"}, `input "include": "**/[a.json" is not a valid glob`},
		{"bad exclude glob", map[string]string{"exclude": "{a"}, `input "exclude"`},
		{"bad allowed vault", map[string]string{"allowedVaults": "kv_bad"}, `input "allowedVaults": allowed vault "kv_bad"`},
		{"bad expiry days", map[string]string{"expiryWarningDays": "soon"}, `input "expiryWarningDays": got "soon"`},
		{"bad boolean", map[string]string{"requireExpiry": "yes"}, `input "requireExpiry": got "yes", expected true or false`},
		{"missing root", map[string]string{"rootDirectory": filepath.Join(root, "nope")}, `input "rootDirectory"`},
		{"root is a file", map[string]string{"rootDirectory": filepath.Join(root, "a.json")}, `expected a directory`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			given := map[string]string{"rootDirectory": root}
			for k, v := range c.given {
				given[k] = v
			}
			_, err := OptionsFromInputs(task.ValueInputs(given, task.MapEnv(nil), defaults(t)), root)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}

	// Relative roots resolve against the working directory; an empty one means the working
	// directory itself.
	o, err := OptionsFromInputs(task.ValueInputs(map[string]string{"rootDirectory": "."}, task.MapEnv(nil), defaults(t)), root)
	require.NoError(t, err)
	assert.Equal(t, root, o.Root)
	o, err = OptionsFromInputs(task.ValueInputs(map[string]string{}, task.MapEnv(nil), defaults(t)), root)
	require.NoError(t, err)
	assert.Equal(t, root, o.Root)
	assert.Equal(t, 30, o.ExpiryWarningDays)
	assert.True(t, o.RequireExpiry)
	assert.Equal(t, runtime.GOMAXPROCS(0), o.Workers)
}

func TestVerifyReferencesFailsClosed(t *testing.T) {
	root := testfiles.WriteTree(t, map[string]string{"a.json": "{}"})
	in := task.ValueInputs(map[string]string{"rootDirectory": root, "verifyReferences": "true", "azureSubscription": "sc"}, task.MapEnv(nil), defaults(t))
	o, err := OptionsFromInputs(in, root)
	require.NoError(t, err)
	assert.True(t, o.Verify)
	_, err = Scan(context.Background(), o)
	require.ErrorIs(t, err, ErrNoVerifier)

	// The seam: a verifier gets every reference and its findings join the report.
	o.Verifier = verifierFunc(func(_ context.Context, refs []kv.Reference) ([]finding.Finding, error) {
		return []finding.Finding{{Rule: rules.KV012, Severity: finding.Error, Message: "secret missing", Fingerprint: "v1"}}, nil
	})
	res, err := Scan(context.Background(), o)
	require.NoError(t, err)
	rep := res.Report()
	res.SetOutputs(rep, nil)
	require.Len(t, rep.Findings, 1)
	assert.Equal(t, rules.KV012, rep.Findings[0].Rule)
	assert.Equal(t, "Key Vault verification", rep.Findings[0].Check, "a verifier's findings are grouped under the verification check")

	// A verifier that cannot evaluate fails the scan with its cause.
	o.Verifier = verifierFunc(func(context.Context, []kv.Reference) ([]finding.Finding, error) {
		return nil, errors.New("vault kv: 403 Forbidden")
	})
	_, err = Scan(context.Background(), o)
	require.ErrorContains(t, err, "403 Forbidden")
}

type verifierFunc func(context.Context, []kv.Reference) ([]finding.Finding, error)

func (f verifierFunc) Verify(ctx context.Context, refs []kv.Reference) ([]finding.Finding, error) {
	return f(ctx, refs)
}

func TestDiscoveryEdges(t *testing.T) {
	c := kvtest.NewCanaries(21)
	outside := testfiles.WriteTree(t, map[string]string{"secret.json": `{"k": "` + c.ConnString + `"}`})
	big := strings.Repeat(`{"padding": "`+strings.Repeat("x", 1000)+`"}`+"\n", 300) + c.ConnString + "\n"
	utf16 := utf16LE(`{"conn": "` + c.ConnString + `"}`)
	root := testfiles.WriteTree(t, map[string]string{
		"big.json":            big,
		"utf16.json":          string(utf16),
		"image.json":          "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
		"node_modules/x.json": `{"k": "` + c.ConnString + `"}`,
		"ok.json":             "{}",
	})
	require.NoError(t, os.Symlink(filepath.Join(outside, "secret.json"), filepath.Join(root, "link.json")))
	o := options(t, root)
	o.MaxFileSize = 64 << 10
	res, rep := scanReport(t, o)
	var got []string
	for _, f := range rep.Findings {
		got = append(got, f.Rule+" "+f.Location.Path)
	}
	assert.ElementsMatch(t, []string{"KV009 big.json", "KV009 utf16.json"}, got, "the oversized file is scanned in chunks, UTF-16 is decoded, excluded folders and symlinks are not read")
	for _, f := range rep.Findings {
		if f.Location.Path == "big.json" {
			assert.Equal(t, 301, f.Location.Line)
		}
	}
	notes := strings.Join(rep.Notes, "\n")
	assert.Contains(t, notes, "big.json is")
	assert.Contains(t, notes, "scanned for credentials only")
	assert.Contains(t, notes, "skipped 1 binary file matching the include globs: image.json")
	assert.Contains(t, notes, "did not follow 1 symbolic link pointing outside rootDirectory: link.json")
	assert.Equal(t, 3, res.FilesScanned)
}

func utf16LE(s string) []byte {
	out := []byte{0xff, 0xfe}
	for _, r := range s {
		out = append(out, byte(r), byte(r>>8))
	}
	return out
}

// TestStreamCredentialsAcrossWindows plants credentials around the 4 MiB window boundary.
func TestStreamCredentialsAcrossWindows(t *testing.T) {
	c := kvtest.NewCanaries(22)
	var b strings.Builder
	line := strings.Repeat("y", 99) + "\n"
	for b.Len() < 4<<20-40 {
		b.WriteString(line)
	}
	b.WriteString(c.ConnString + "\n")
	for b.Len() < 9<<20 {
		b.WriteString(line)
	}
	b.WriteString("key: " + c.StorageKey + "\n")
	dir := testfiles.WriteTree(t, map[string]string{"huge.log.json": b.String()})
	r, err := streamCredentials(discover.File{Path: "huge.log.json", Abs: filepath.Join(dir, "huge.log.json"), Size: int64(b.Len())})
	require.NoError(t, err)
	require.Len(t, r.Issues, 2)
	src := b.String()
	lines := strings.Split(src, "\n")
	for _, is := range r.Issues {
		text := lines[is.Line-1]
		assert.True(t, strings.Contains(text, c.DBPassword) || strings.Contains(text, c.StorageKey), "line %d holds the credential", is.Line)
	}
}

// TestCanariesNeverLeak runs the real gate through gaterun, on an agent and locally in every
// format, over a tree with canary credentials in every format, and checks no output carries
// any canary (in clear, base64, or as any 10-character slice).
func TestCanariesNeverLeak(t *testing.T) {
	c := kvtest.NewCanaries(99)
	files, _ := kvtest.BadProject(99)
	tree := map[string]string{
		"infra/main.bicep":           "var a = '" + c.ClientSecret + "'\nvar b = '" + c.SASURL + "'\n@secure()\nparam p string = '" + c.PlainPassword + "'\n",
		"infra/main.tf":              "locals {\n  k = \"" + c.StorageKey + "\"\n  u = \"" + c.URLWithPass + "\"\n}\n",
		"infra/dev.tfvars":           "admin_password = \"" + c.PlainPassword + "\"\n",
		"infra/x.bicepparam":         "using none\nparam clientSecret = '" + c.ClientSecret + "'\n",
		"k8s/tls.yaml":               "apiVersion: v1\nkind: Secret\nstringData:\n  tls.key: |\n    " + strings.ReplaceAll(c.PrivateKeyPEM, "\n", "\n    ") + "\n",
		"pipelines/a.yml":            "variables:\n  sas: '" + c.SASURL + "'\n  clientSecret: '" + c.ClientSecret + "'\nsteps:\n  - script: x\n    env:\n      DB_PASSWORD: '" + c.DBPassword + "'\n",
		"app/appsettings.json":       `{"Db": "` + c.ConnString + `", "Url": "` + c.URLWithPass + `"}`,
		"infra/bad.parameters.json":  `{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#", "contentVersion": "1.0.0.0", "parameters": {"clientSecret": {"value": "` + c.ClientSecret + `"}}}`,
		"infra/broken.json":          `{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#", "x": "` + c.PlainPassword + `" "` + c.StorageKey + `"}`,
		"infra/broken-literal.bicep": "param x string = '" + c.PlainPassword + "\n",
	}
	for _, f := range files {
		tree[f.Path] = f.Content
	}
	root := testfiles.WriteTree(t, tree)
	bad := kvtest.NewCanaries(99) // BadProject(99) plants the same canaries
	assertNoLeak := func(where, out string) {
		t.Helper()
		assert.Empty(t, c.Leaks(out), "%s leaks a canary", where)
		assert.Empty(t, bad.Leaks(out), "%s leaks a canary", where)
	}

	// Agent mode: log, summary, SARIF, output variables.
	tmp := t.TempDir()
	env := task.MapEnv(map[string]string{
		"TF_BUILD": "True", "BUILD_SOURCESDIRECTORY": root, "AGENT_TEMPDIRECTORY": tmp, "SYSTEM_JOBID": "j1",
		"INPUT_ROOTDIRECTORY": root, "INPUT_MODE": "audit", "INPUT_SARIFFILE": filepath.Join(tmp, "kv.sarif"),
		task.JobTokenVar: "job-token-for-test",
	})
	var out bytes.Buffer
	code := gaterun.Main(context.Background(), Gate(), nil, env, &out, &bytes.Buffer{}, gaterun.Options{Now: func() time.Time { return testNow }})
	log := out.String()
	assert.Equal(t, gaterun.ExitError, code, "KV000 fails closed even in audit")
	assert.Contains(t, log, "##vso[task.complete result=Failed]")
	assert.Contains(t, log, "code=KV000")
	assert.Contains(t, log, "code=KV009")
	for _, l := range strings.Split(log, "\n") {
		if strings.HasPrefix(l, "##vso[task.setsecret]") {
			assert.Equal(t, "##vso[task.setsecret]job-token-for-test", l, "found secrets are never registered")
		}
	}
	assertNoLeak("pipeline log", log)
	entries, err := os.ReadDir(tmp)
	require.NoError(t, err)
	require.Len(t, entries, 2)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(tmp, e.Name()))
		require.NoError(t, err)
		assert.NotEmpty(t, data)
		assertNoLeak(e.Name(), string(data))
	}

	// Local mode, every format, and a written baseline.
	for _, format := range []string{"text", "json", "sarif", "junit"} {
		var stdout, stderr bytes.Buffer
		bl := filepath.Join(t.TempDir(), "baseline.json")
		code := gaterun.Main(context.Background(), Gate(), []string{"--format", format, "--write-baseline", bl, root}, task.MapEnv(nil), &stdout, &stderr, gaterun.Options{Now: func() time.Time { return testNow }})
		assert.Equal(t, gaterun.ExitError, code, stderr.String())
		assert.Contains(t, stdout.String(), "KV009", format)
		assertNoLeak(format+" output", stdout.String())
		assertNoLeak(format+" stderr", stderr.String())
		data, err := os.ReadFile(bl)
		require.NoError(t, err)
		assertNoLeak("baseline", string(data))
	}
}

// TestAgentResults covers the verdicts through gaterun: enforce fails, audit warns, a clean
// tree passes, the baseline is reflected in the outputs.
func TestAgentResults(t *testing.T) {
	bad := testfiles.WriteTree(t, map[string]string{"a.parameters.json": `{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#", "contentVersion": "1.0.0.0", "parameters": {"adminPassword": {"value": "Hunter2-Hunter2"}}}`})
	clean := testfiles.WriteTree(t, map[string]string{"a.parameters.json": `{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#", "contentVersion": "1.0.0.0", "parameters": {"location": {"value": "westeurope"}}}`})
	run := func(root string, extra map[string]string) (string, int) {
		m := map[string]string{"TF_BUILD": "True", "BUILD_SOURCESDIRECTORY": root, "AGENT_TEMPDIRECTORY": t.TempDir(), "INPUT_ROOTDIRECTORY": root}
		for k, v := range extra {
			m[k] = v
		}
		var out bytes.Buffer
		code := gaterun.Main(context.Background(), Gate(), nil, task.MapEnv(m), &out, &bytes.Buffer{}, gaterun.Options{Now: func() time.Time { return testNow }})
		return out.String(), code
	}
	log, code := run(bad, nil)
	assert.Equal(t, gaterun.ExitViolated, code)
	assert.Contains(t, log, "##vso[task.complete result=Failed]")
	assert.Contains(t, log, "##vso[task.logissue code=KV001;columnnumber=")
	assert.Contains(t, log, "sourcepath=a.parameters.json;type=error]")
	assert.Contains(t, log, "##vso[task.setvariable isOutput=true;variable=errors]1")

	log, code = run(bad, map[string]string{"INPUT_MODE": "audit"})
	assert.Equal(t, gaterun.ExitPassed, code)
	assert.Contains(t, log, "##vso[task.complete result=SucceededWithIssues]")

	log, code = run(clean, nil)
	assert.Equal(t, gaterun.ExitPassed, code)
	assert.Contains(t, log, "##vso[task.complete result=Succeeded]")
	assert.Contains(t, log, "##vso[task.setvariable isOutput=true;variable=filesScanned]1")

	// A baseline accepting the finding passes the run and the outputs count it as accepted.
	res, err := Scan(context.Background(), options(t, bad))
	require.NoError(t, err)
	rep := res.Report()
	bl := finding.NewBaseline(rep, "test fixture", testNow.AddDate(0, 1, 0))
	data, err := json.Marshal(bl)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(bad, "baseline.json"), data, 0o644))
	log, code = run(bad, map[string]string{"INPUT_BASELINEFILE": "baseline.json"})
	assert.Equal(t, gaterun.ExitPassed, code, log)
	assert.Contains(t, log, "##vso[task.complete result=Succeeded]")
	assert.Contains(t, log, "##vso[task.setvariable isOutput=true;variable=findings]0")
	assert.Contains(t, log, "##vso[task.setvariable isOutput=true;variable=errors]0")
}

func TestScanCancelled(t *testing.T) {
	dir := t.TempDir()
	_, err := kvtest.GenerateTree(dir, 256<<10, 4, false)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Scan(ctx, options(t, dir))
	require.ErrorIs(t, err, context.Canceled)
}

// Scan stops reading outcomes when its context ends, even while a worker is still parsing a
// file and nothing more will arrive for a while.
func TestWhileLiveStopsWithTheContext(t *testing.T) {
	ch := make(chan int, 2)
	ch <- 1
	ch <- 2
	var got []int
	for v := range whileLive(context.Background(), ch) {
		got = append(got, v)
		if len(got) == 2 {
			close(ch)
		}
	}
	assert.Equal(t, []int{1, 2}, got, "every value, then the end of the channel")

	ctx, cancel := context.WithCancel(context.Background())
	blocked := make(chan int) // a worker busy with a large file: nothing arrives
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range whileLive(ctx, blocked) {
			t.Error("no value was sent")
		}
	}()
	cancel()
	<-done // returns only because the context ended; a hang fails the test by its timeout
}

// Without verification the scan keeps only the first references in walk order, whatever order
// the workers deliver files in; with it, every one.
func TestRefWindow(t *testing.T) {
	refs := func(n int) []kv.Reference { return make([]kv.Reference, n) }
	sizes := []int{3, 0, 2, 4, 1, 5} // references per file, by seq
	for _, order := range [][]int{{0, 1, 2, 3, 4, 5}, {5, 4, 3, 2, 1, 0}, {2, 5, 0, 4, 1, 3}, {3, 0, 5, 1, 2, 4}} {
		for _, tc := range []struct {
			n    int
			all  bool
			want []int // references left per file
		}{
			{n: 5, want: []int{3, 0, 2, 0, 0, 0}},
			{n: 6, want: []int{3, 0, 2, 4, 0, 0}}, // whole files: 9 kept to show the first 6
			{n: 100, want: sizes},
			{n: 1, all: true, want: sizes},
		} {
			w := &refWindow{n: tc.n, all: tc.all}
			files := make([]*rules.FileResult, len(sizes))
			for seq := range sizes {
				files[seq] = &rules.FileResult{Refs: refs(sizes[seq])}
			}
			for _, seq := range order {
				w.offer(seq, files[seq])
			}
			got := make([]int, len(files))
			for i, f := range files {
				got[i] = len(f.Refs)
			}
			assert.Equal(t, tc.want, got, "n=%d all=%v order %v", tc.n, tc.all, order)
		}
	}
}
