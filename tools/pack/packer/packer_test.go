package packer

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/internal/testfiles"
)

func TestParsePlatforms(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr string
	}{
		{in: "", want: "linux-amd64,linux-arm64,windows-amd64"},
		{in: "default", want: "linux-amd64,linux-arm64,windows-amd64"},
		{in: "all", want: "darwin-amd64,darwin-arm64,linux-amd64,linux-arm64,windows-amd64"},
		{in: " windows-amd64, linux-amd64 ,linux-amd64", want: "linux-amd64,windows-amd64"},
		{in: "linux-riscv64", wantErr: `platform "linux-riscv64": want one of darwin-amd64`},
		{in: "win32-x64", wantErr: `platform "win32-x64"`},
		{in: ",", wantErr: "no platform given"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePlatforms(tt.in)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, strings.ReplaceAll(platformNames(got), " ", ""))
		})
	}
	assert.Equal(t, "x-gate.exe", Platform{"windows", "amd64"}.Exe("x-gate"))
	assert.Equal(t, "x-gate", Platform{"linux", "arm64"}.Exe("x-gate"))
}

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in      string
		want    Version
		wantErr bool
	}{
		{in: "1.0.0", want: Version{1, 0, 0}},
		{in: " 2.13.407\n", want: Version{2, 13, 407}},
		{in: "0.0.1", want: Version{0, 0, 1}},
		{in: "1.0", wantErr: true},
		{in: "1.0.0-beta", wantErr: true},
		{in: "v1.0.0", wantErr: true},
		{in: "01.0.0", wantErr: true},
		{in: "1.0.0.0", wantErr: true},
		{in: "9999999999.0.0", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseVersion(tt.in)
			if tt.wantErr {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "MAJOR.MINOR.PATCH")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, strings.TrimSpace(tt.in), got.String())
		})
	}
}

func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"1.0.0", "0.10.3", "1.0", "01.1.1", "1.2.3\n", "-1.0.0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVersion(s)
		if err != nil {
			return
		}
		if v.Major < 0 || v.Minor < 0 || v.Patch < 0 {
			t.Fatalf("negative part in %q: %+v", s, v)
		}
		if v.String() != strings.TrimSpace(s) {
			t.Fatalf("%q parsed as %s, which does not print back the same", s, v)
		}
	})
}

func TestReadVersionOfRepository(t *testing.T) {
	v, err := ReadVersion(testfiles.ModuleRoot(t))
	require.NoError(t, err, "VERSION must hold MAJOR.MINOR.PATCH")
	assert.Positive(t, v.Major)

	_, err = ReadVersion(t.TempDir())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "read the version")
}

func TestStampTask(t *testing.T) {
	in := []byte(`{"name":"DemoGate","id":"x","version":{"Major":1,"Minor":0,"Patch":0},"inputs":[{"name":"a","defaultValue":"<b>&"}]}`)
	out, err := StampTask(in, Version{1, 4, 2})
	require.NoError(t, err)
	var doc struct {
		Name    string
		Version map[string]int
		Inputs  []map[string]string
	}
	require.NoError(t, json.Unmarshal(out, &doc))
	assert.Equal(t, map[string]int{"Major": 1, "Minor": 4, "Patch": 2}, doc.Version)
	assert.Equal(t, "DemoGate", doc.Name, "other fields are kept")
	assert.Equal(t, "<b>&", doc.Inputs[0]["defaultValue"])
	assert.Contains(t, string(out), `"<b>&"`, "no HTML escaping in the staged file")

	_, err = StampTask(in, Version{2, 0, 0})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "version.Major 1 but VERSION is 2.0.0")
	assert.Contains(t, err.Error(), "DemoGate@1")

	_, err = StampTask([]byte(`{"name":"DemoGate"}`), Version{1, 0, 0})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "version.Major is missing")

	_, err = StampTask([]byte(`{`), Version{1, 0, 0})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "parse task.json")
}

func TestStampManifest(t *testing.T) {
	in := []byte(`{"id":"stagegate","publisher":"stagegate","public":false,"name":"n"}`)
	tests := []struct {
		name, publisher, id string
		wantPub, wantID     string
		wantErr             string
	}{
		{name: "manifest values", wantPub: "stagegate", wantID: "stagegate"},
		{name: "overrides", publisher: "contoso", id: "stagegate-test", wantPub: "contoso", wantID: "stagegate-test"},
		{name: "bad publisher", publisher: "con toso", wantErr: `PUBLISHER "con toso"`},
		{name: "path in id", id: "../x", wantErr: `EXTENSION_ID "../x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := StampManifest(in, Version{3, 2, 1}, tt.publisher, tt.id)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			var m Manifest
			require.NoError(t, json.Unmarshal(out, &m))
			assert.Equal(t, "3.2.1", m.Version)
			assert.Equal(t, tt.wantPub, m.Publisher)
			assert.Equal(t, tt.wantID, m.ID)
			require.NotNil(t, m.Public)
			assert.False(t, *m.Public)
		})
	}
}

func TestRepositoryManifestMatchesTaskFolders(t *testing.T) {
	root := testfiles.ModuleRoot(t)
	tasks, err := DiscoverTasks(root)
	require.NoError(t, err)
	require.Len(t, tasks, 6)
	kinds := map[bool][]string{}
	for _, task := range tasks {
		kinds[task.Agentless] = append(kinds[task.Agentless], task.Name)
		assert.Equal(t, 1, task.Major)
		if task.Agentless {
			assert.Empty(t, task.Binary, "%s runs on the server: no binary", task.Name)
		} else {
			assert.NotEmpty(t, task.Binary, task.Name)
		}
	}
	assert.Equal(t, []string{"KeyVaultReferenceGate", "ProductionReviewGate", "SecurityWorkItemGate"}, kinds[false])
	assert.Equal(t, []string{"KeyVaultReferenceCheck", "ProductionReviewCheck", "SecurityWorkItemCheck"}, kinds[true])
	data, err := os.ReadFile(filepath.Join(root, "vss-extension.json"))
	require.NoError(t, err)
	var m Manifest
	require.NoError(t, json.Unmarshal(data, &m))
	require.NoError(t, CheckManifest(m, tasks))
	assert.Empty(t, m.Version, "the version comes from VERSION only; tools/pack stamps it")
}

func TestCheckManifest(t *testing.T) {
	tasks := []Task{{Name: "A", Binary: "a"}, {Name: "B", Binary: "b"}}
	manifest := func(public string, files []string, contributions ...string) Manifest {
		var sb strings.Builder
		sb.WriteString(`{"id":"x","publisher":"p"` + public + `,"files":[`)
		for i, f := range files {
			if i > 0 {
				sb.WriteString(",")
			}
			sb.WriteString(`{"path":"` + f + `"}`)
		}
		sb.WriteString(`],"contributions":[`)
		for i, c := range contributions {
			if i > 0 {
				sb.WriteString(",")
			}
			sb.WriteString(`{"id":"c` + c + `","type":"ms.vss-distributed-task.task","properties":{"name":"` + c + `"}}`)
		}
		sb.WriteString(`,{"id":"hub","type":"ms.vss-web.hub","properties":{"name":"tasks/Z"}}]}`)
		var m Manifest
		require.NoError(t, json.Unmarshal([]byte(sb.String()), &m))
		return m
	}
	both := []string{"tasks/A", "tasks/B/"}
	tests := []struct {
		name    string
		m       Manifest
		wantErr []string
	}{
		{name: "ok", m: manifest(`,"public":false`, both, "tasks/A", "tasks/B")},
		{name: "public", m: manifest(`,"public":true`, both, "tasks/A", "tasks/B"), wantErr: []string{`"public" must be false`}},
		{name: "public missing", m: manifest(``, both, "tasks/A", "tasks/B"), wantErr: []string{`"public" must be false`}},
		{name: "missing contribution", m: manifest(`,"public":false`, both, "tasks/A"), wantErr: []string{"tasks/B has no ms.vss-distributed-task.task contribution"}},
		{name: "unknown folder", m: manifest(`,"public":false`, both, "tasks/A", "tasks/B", "tasks/C"), wantErr: []string{`"ctasks/C" names tasks/C, which is no task folder`}},
		{name: "repeated", m: manifest(`,"public":false`, both, "tasks/A", "tasks/B", "tasks/A/"), wantErr: []string{"repeats task folder tasks/A"}},
		{name: "not in files", m: manifest(`,"public":false`, []string{"tasks/A"}, "tasks/A", "tasks/B"), wantErr: []string{`tasks/B is missing from "files"`}},
		{name: "description of 200", m: manifest(`,"public":false,"description":"`+strings.Repeat("é", 200)+`"`, both, "tasks/A", "tasks/B")},
		{name: "description over 200", m: manifest(`,"public":false,"description":"`+strings.Repeat("d", 201)+`"`, both, "tasks/A", "tasks/B"), wantErr: []string{`"description" is 201 characters`, "at most 200"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckManifest(tt.m, tasks)
			if len(tt.wantErr) == 0 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, want := range tt.wantErr {
				assert.Contains(t, err.Error(), want)
			}
		})
	}
}

func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for rel, content := range files {
		p := filepath.Join(root, filepath.FromSlash(rel))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
}

const (
	agentlessJSON = `{"name":"A","version":{"Major":1},"runsOn":["Server","ServerGate"],"execution":{"HttpRequest":{"Execute":{"Method":"POST"}}}}`
	agentJSON     = `{"name":"B","version":{"Major":1},"runsOn":["Agent"],"execution":{"Node20_1":{"target":"index.js"}}}`
)

func TestDiscoverTasksAgentless(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"tasks/A/task.json":     agentlessJSON,
		"tasks/B/task.json":     agentJSON,
		"tasks/B/launcher.json": `{"binary":"b-gate"}`,
		"cmd/b-gate/main.go":    "package main",
	})
	tasks, err := DiscoverTasks(root)
	require.NoError(t, err)
	assert.Equal(t, []Task{{Name: "A", Major: 1, Agentless: true}, {Name: "B", Binary: "b-gate", Major: 1}}, tasks,
		"an agentless task needs neither launcher.json nor a cmd package")
}

func TestDiscoverTasksErrors(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		wantErr string
	}{
		{name: "no tasks", files: map[string]string{"go.mod": "module x"}, wantErr: "no task folders"},
		{name: "name differs", files: map[string]string{"tasks/A/task.json": `{"name":"B","version":{"Major":1}}`}, wantErr: `name "B" differs from its folder "A"`},
		{name: "bad json", files: map[string]string{"tasks/A/task.json": `{`}, wantErr: "parse "},
		{name: "no major", files: map[string]string{"tasks/A/task.json": `{"name":"A"}`}, wantErr: "version.Major is missing"},
		{name: "no launcher.json", files: map[string]string{"tasks/A/task.json": `{"name":"A","version":{"Major":1}}`}, wantErr: "launcher.json"},
		{
			name: "binary with a path",
			files: map[string]string{
				"tasks/A/task.json":     `{"name":"A","version":{"Major":1}}`,
				"tasks/A/launcher.json": `{"binary":"../a"}`,
			},
			wantErr: `"binary" "../a" must be a plain file name`,
		},
		{
			name: "no cmd package",
			files: map[string]string{
				"tasks/A/task.json":     `{"name":"A","version":{"Major":1}}`,
				"tasks/A/launcher.json": `{"binary":"a-gate"}`,
			},
			wantErr: "has no package cmd/a-gate",
		},
		{
			name: "agentless task with a launcher",
			files: map[string]string{
				"tasks/A/task.json":     agentlessJSON,
				"tasks/A/launcher.json": `{"binary":"a-gate"}`,
			},
			wantErr: "runs no launcher: remove launcher.json",
		},
		{
			name:    "server and agent at once",
			files:   map[string]string{"tasks/A/task.json": `{"name":"A","version":{"Major":1},"runsOn":["Agent","ServerGate"],"execution":{"HttpRequest":{}}}`},
			wantErr: "mixes the server",
		},
		{
			name:    "server task without HttpRequest",
			files:   map[string]string{"tasks/A/task.json": `{"name":"A","version":{"Major":1},"runsOn":["Server"],"execution":{"Node20_1":{"target":"index.js"}}}`},
			wantErr: "needs execution.HttpRequest as its only handler",
		},
		{
			name:    "server task with a Node handler too",
			files:   map[string]string{"tasks/A/task.json": `{"name":"A","version":{"Major":1},"runsOn":["Server"],"execution":{"HttpRequest":{},"Node20_1":{"target":"index.js"}}}`},
			wantErr: "needs execution.HttpRequest as its only handler",
		},
		{
			name:    "HttpRequest on an agent",
			files:   map[string]string{"tasks/A/task.json": `{"name":"A","version":{"Major":1},"execution":{"HttpRequest":{}}}`},
			wantErr: "runs on the server only",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeTree(t, root, tt.files)
			_, err := DiscoverTasks(root)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestCompressRoundTripAndCache(t *testing.T) {
	raw := bytes.Repeat([]byte("stagegate binary bytes \x00\x01\x02 "), 2000)
	cache := compressCache{dir: filepath.Join(t.TempDir(), "cache")}

	packed, cached, err := cache.compress(raw)
	require.NoError(t, err)
	assert.False(t, cached)
	assert.Less(t, len(packed), len(raw)/10, "repetitive input compresses well")
	out, err := Decompress(packed)
	require.NoError(t, err)
	assert.Equal(t, raw, out)

	again, cached, err := cache.compress(raw)
	require.NoError(t, err)
	assert.True(t, cached, "the second compression of the same bytes comes from the cache")
	assert.Equal(t, packed, again)

	// A damaged entry is detected and replaced, never shipped.
	require.NoError(t, os.WriteFile(cache.path(raw), []byte("garbage"), 0o644))
	fixed, cached, err := cache.compress(raw)
	require.NoError(t, err)
	assert.False(t, cached)
	assert.Equal(t, packed, fixed)
	stored, err := os.ReadFile(cache.path(raw))
	require.NoError(t, err)
	assert.Equal(t, packed, stored)

	// No cache: still compresses.
	uncached, cached, err := compressCache{}.compress(raw)
	require.NoError(t, err)
	assert.False(t, cached)
	assert.Equal(t, packed, uncached)

	_, err = Decompress([]byte("not brotli at all"))
	require.Error(t, err)
}

func TestCachePrune(t *testing.T) {
	dir := t.TempDir()
	cache := compressCache{dir: dir}
	now := time.Now()
	old := filepath.Join(dir, "old.br")
	fresh := filepath.Join(dir, "fresh.br")
	require.NoError(t, os.WriteFile(old, []byte("x"), 0o644))
	require.NoError(t, os.WriteFile(fresh, []byte("x"), 0o644))
	require.NoError(t, os.Chtimes(old, now.Add(-31*24*time.Hour), now.Add(-31*24*time.Hour)))
	require.NoError(t, cache.prune(now))
	assert.NoFileExists(t, old)
	assert.FileExists(t, fresh)

	require.NoError(t, compressCache{dir: filepath.Join(dir, "missing")}.prune(now), "a cache never written is fine")
	require.NoError(t, compressCache{}.prune(now))
}

func fakeTfx(t *testing.T, script string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tfx")
	require.NoError(t, os.WriteFile(p, []byte("#!/bin/sh\n"+script), 0o755))
	return p
}

func TestRunTfx(t *testing.T) {
	// The fake receives the same arguments as the real tfx: it writes the file named after
	// --output-path ($8 here) and prints what the test asks for.
	writeOutput := `out=""; while [ $# -gt 0 ]; do if [ "$1" = "--output-path" ]; then out="$2"; fi; shift; done; echo vsix > "$out"; `
	tests := []struct {
		name    string
		script  string
		wantErr string
		wantOut bool
	}{
		{name: "ok", script: writeOutput + `echo "=== Completed operation: create extension ==="`, wantOut: true},
		{name: "warning is an error", script: writeOutput + `echo "warning: Invalid task json:" >&2`, wantErr: "warned, treated as an error"},
		{name: "failure", script: `echo "error: boom" >&2; exit 3`, wantErr: "error: boom"},
		{name: "no file", script: `echo done`, wantErr: "wrote no"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vsix := filepath.Join(t.TempDir(), "out", "p.x-1.0.0.vsix")
			var log bytes.Buffer
			err := runTfx(t.Context(), fakeTfx(t, tt.script), t.TempDir(), vsix, &log)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.NoFileExists(t, vsix, "a failed run leaves no package")
				return
			}
			require.NoError(t, err)
			assert.FileExists(t, vsix)
			assert.Contains(t, log.String(), vsix)
		})
	}
}

func TestCheckBudget(t *testing.T) {
	dir := t.TempDir()
	vsix := filepath.Join(dir, "p.x-1.0.0.vsix")
	require.NoError(t, os.WriteFile(vsix, make([]byte, 1000), 0o644))

	size, err := checkBudget(vsix, 1001)
	require.NoError(t, err)
	assert.Equal(t, int64(1000), size)

	size, err = checkBudget(vsix, 1000)
	require.Error(t, err, "the package must be smaller than the limit")
	assert.Equal(t, int64(1000), size, "the size is reported even when over budget")
	assert.Contains(t, err.Error(), "1000 bytes, not under the 1000-byte limit")
	assert.NoFileExists(t, vsix, "an oversized package is removed so nobody uploads it")

	_, err = checkBudget(vsix, 1000)
	require.Error(t, err)
}

// An extension of agentless tasks only builds without Go: the packer asks for no binary.
func TestBuildAgentlessOnly(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"VERSION":                  "1.4.2\n",
		"overview.md":              "# overview",
		"tasks/extension-icon.png": "extension icon",
		"tasks/launcher/index.js":  "launcher",
		"tasks/A/task.json":        agentlessJSON,
		"tasks/A/icon.png":         "icon",
		"tasks/A/bin/stray.br":     "a stray local build",
		"vss-extension.json":       `{"id":"x","publisher":"p","public":false,"files":[{"path":"tasks/A"}],"contributions":[{"id":"a","type":"ms.vss-distributed-task.task","properties":{"name":"tasks/A"}}]}`,
	})
	t.Setenv("PATH", t.TempDir()) // no go command to find
	writeOutput := `out=""; while [ $# -gt 0 ]; do if [ "$1" = "--output-path" ]; then out="$2"; fi; shift; done; echo vsix > "$out"`
	stage := filepath.Join(t.TempDir(), "stage")
	res, err := Build(t.Context(), Options{Root: root, Tfx: fakeTfx(t, writeOutput), StageDir: stage, Platforms: DefaultPlatforms()})
	require.NoError(t, err)
	assert.Empty(t, res.Binaries)
	assert.Equal(t, []Task{{Name: "A", Major: 1, Agentless: true}}, res.Tasks)
	assert.FileExists(t, res.VSIX)

	var staged []string
	require.NoError(t, filepath.WalkDir(filepath.Join(stage, "tasks"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(stage, p)
			staged = append(staged, filepath.ToSlash(rel))
		}
		return err
	}))
	assert.Equal(t, []string{"tasks/A/icon.png", "tasks/A/task.json"}, staged, "task.json and icon only: no launcher, no binaries")
	var shipped struct {
		Version   map[string]int
		Execution map[string]any
	}
	data, err := os.ReadFile(filepath.Join(stage, "tasks", "A", "task.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &shipped))
	assert.Equal(t, map[string]int{"Major": 1, "Minor": 4, "Patch": 2}, shipped.Version)
	assert.Contains(t, shipped.Execution, "HttpRequest")
}

func TestBuildRejectsBadOptionsEarly(t *testing.T) {
	_, err := Build(t.Context(), Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Root is required")

	_, err = Build(t.Context(), Options{Root: testfiles.ModuleRoot(t), Tfx: filepath.Join(t.TempDir(), "no-tfx")})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "npm ci")
}

// benchInput is the first 4 MiB of this test binary: real machine code and data, like the
// gate binaries tools/pack ships.
func benchInput(b *testing.B) []byte {
	b.Helper()
	exe, err := os.Executable()
	require.NoError(b, err)
	data, err := os.ReadFile(exe)
	require.NoError(b, err)
	return data[:min(len(data), 4<<20)]
}

func BenchmarkCompress(b *testing.B) {
	raw := benchInput(b)
	b.SetBytes(int64(len(raw)))
	var packed []byte
	for b.Loop() {
		var err error
		packed, err = Compress(raw)
		require.NoError(b, err)
	}
	b.ReportMetric(float64(len(packed))/float64(len(raw)), "ratio")
}

func BenchmarkDecompress(b *testing.B) {
	raw := benchInput(b)
	packed, err := Compress(raw)
	require.NoError(b, err)
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		_, err := Decompress(packed)
		require.NoError(b, err)
	}
}
