// Package e2e runs the shipped artefacts the way Azure Pipelines does: the .vsix built by
// tools/pack with the real tfx-cli, the launcher under the machine's node, and the gate
// binaries with an agent's environment.
package e2e

import (
	"archive/zip"
	"bytes"
	"context"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stagegate/stagegate/tools/pack/packer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/internal/testfiles"
)

// taskSchema compiles the official task.json schema from ../shared/schemas beside the
// repository (CI lays shared/ out there too).
func taskSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	p := filepath.Join(testfiles.ModuleRoot(t), "..", "shared", "schemas", "tasks.schema.json")
	f, err := os.Open(p)
	require.NoError(t, err, "the official task schema is expected at ../shared/schemas/ beside the repository")
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft4)
	const url = "file:///tasks.schema.json"
	require.NoError(t, c.AddResource(url, doc))
	s, err := c.Compile(url)
	require.NoError(t, err)
	return s
}

// packResult is one run of tools/pack as `make vsix` runs it.
type packResult struct {
	vsix   string
	report string
}

// buildPackTool compiles tools/pack once per test. It runs as its own process, not inside the
// test binary: under -race, brotli's quality-11 compression would be many times slower.
func buildPackTool(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "pack")
	cmd := exec.Command("go", "build", "-o", bin, "./tools/pack")
	cmd.Dir = testfiles.ModuleRoot(t)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "build tools/pack: %s", out)
	return bin
}

func runPack(t *testing.T, tool string, args ...string) packResult {
	t.Helper()
	root := testfiles.ModuleRoot(t)
	require.FileExists(t, filepath.Join(root, "node_modules", ".bin", "tfx"),
		"the pinned tfx-cli is missing: run `npm ci` in the repository (make test does)")
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool, append([]string{"-root", root, "-out", out}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	t.Logf("tools/pack %q\n%s%s", args, stderr.String(), stdout.String())
	require.NoError(t, err, "tools/pack failed:\n%s", stderr.String())
	vsixes, err := filepath.Glob(filepath.Join(out, "*.vsix"))
	require.NoError(t, err)
	require.Len(t, vsixes, 1, "one package in the output folder")
	return packResult{vsix: vsixes[0], report: stdout.String()}
}

// vsixFiles reads every entry of the package.
func vsixFiles(t *testing.T, vsix string) map[string][]byte {
	t.Helper()
	zr, err := zip.OpenReader(vsix)
	require.NoError(t, err)
	defer zr.Close()
	files := map[string][]byte{}
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue
		}
		rc, err := f.Open()
		require.NoError(t, err)
		data, err := io.ReadAll(rc)
		require.NoError(t, rc.Close())
		require.NoError(t, err, f.Name)
		files[f.Name] = data
	}
	return files
}

type vsixManifest struct {
	Identity struct {
		ID        string `xml:"Id,attr"`
		Publisher string `xml:"Publisher,attr"`
		Version   string `xml:"Version,attr"`
	} `xml:"Metadata>Identity"`
	GalleryFlags string `xml:"Metadata>GalleryFlags"`
	Targets      []struct {
		ID string `xml:"Id,attr"`
	} `xml:"Installation>InstallationTarget"`
	Assets []struct {
		Type string `xml:"Type,attr"`
		Path string `xml:"Path,attr"`
	} `xml:"Assets>Asset"`
}

func repoManifest(t *testing.T) (publisher, id string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testfiles.ModuleRoot(t), "vss-extension.json"))
	require.NoError(t, err)
	var m struct{ Publisher, ID string }
	require.NoError(t, json.Unmarshal(data, &m))
	return m.Publisher, m.ID
}

// checkExecutable verifies that data is an executable for platform p.
func checkExecutable(t *testing.T, p packer.Platform, data []byte) {
	t.Helper()
	r := bytes.NewReader(data)
	switch p.OS {
	case "linux":
		f, err := elf.NewFile(r)
		require.NoError(t, err, "an ELF executable for %s", p)
		want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[p.Arch]
		assert.Equal(t, want, f.Machine, p.String())
		assert.Equal(t, elf.ET_EXEC, f.Type, "statically linked (CGO_ENABLED=0)")
		assert.Nil(t, f.Section(".symtab"), "stripped (-s)")
	case "windows":
		f, err := pe.NewFile(r)
		require.NoError(t, err, "a PE executable for %s", p)
		assert.Equal(t, uint16(pe.IMAGE_FILE_MACHINE_AMD64), f.Machine, p.String())
	case "darwin":
		f, err := macho.NewFile(r)
		require.NoError(t, err, "a Mach-O executable for %s", p)
		want := map[string]macho.Cpu{"amd64": macho.CpuAmd64, "arm64": macho.CpuArm64}[p.Arch]
		assert.Equal(t, want, f.Cpu, p.String())
	default:
		t.Fatalf("no executable check for %s", p)
	}
}

func TestPackage(t *testing.T) {
	root := testfiles.ModuleRoot(t)
	tool := buildPackTool(t)
	res := runPack(t, tool)
	files := vsixFiles(t, res.vsix)

	versionFile, err := os.ReadFile(filepath.Join(root, "VERSION"))
	require.NoError(t, err)
	version, err := packer.ParseVersion(string(versionFile))
	require.NoError(t, err)
	publisher, id := repoManifest(t)
	tasks, err := packer.DiscoverTasks(root)
	require.NoError(t, err)
	require.NotEmpty(t, tasks)

	t.Run("named and sized for the Marketplace", func(t *testing.T) {
		assert.Equal(t, publisher+"."+id+"-"+version.String()+".vsix", filepath.Base(res.vsix))
		st, err := os.Stat(res.vsix)
		require.NoError(t, err)
		assert.Less(t, st.Size(), int64(25<<20), "the Marketplace refuses packages over 25 MiB")
		assert.Contains(t, res.report, "package "+res.vsix+": ", "tools/pack reports the package size")
		for _, task := range tasks {
			assert.Contains(t, res.report, task.Name, "tools/pack reports each binary's sizes, and names the agentless tasks")
		}
	})

	t.Run("manifest identity, version, privacy and contributions", func(t *testing.T) {
		var m vsixManifest
		require.NoError(t, xml.Unmarshal(files["extension.vsixmanifest"], &m))
		assert.Equal(t, id, m.Identity.ID)
		assert.Equal(t, publisher, m.Identity.Publisher)
		assert.Equal(t, version.String(), m.Identity.Version, "the extension version is VERSION")
		assert.NotContains(t, m.GalleryFlags, "Public", "the extension is private")
		require.Len(t, m.Targets, 1)
		assert.Equal(t, "Microsoft.VisualStudio.Services", m.Targets[0].ID)
		assets := map[string]string{}
		for _, a := range m.Assets {
			assets[a.Type] = a.Path
			assert.Contains(t, files, a.Path, "asset %s is in the package", a.Type)
		}
		require.Equal(t, "extension.vsomanifest", assets["Microsoft.VisualStudio.Services.Manifest"])
		assert.Equal(t, "overview.md", assets["Microsoft.VisualStudio.Services.Content.Details"])

		var vso struct {
			Contributions []struct {
				ID         string
				Type       string
				Targets    []string
				Properties struct{ Name string }
			}
		}
		require.NoError(t, json.Unmarshal(files["extension.vsomanifest"], &vso))
		var contributed []string
		for _, c := range vso.Contributions {
			require.Equal(t, "ms.vss-distributed-task.task", c.Type, c.ID)
			assert.Equal(t, []string{"ms.vss-distributed-task.tasks"}, c.Targets, c.ID)
			contributed = append(contributed, c.Properties.Name)
		}
		var folders []string
		for name := range files {
			if dir, file := path.Split(name); file == "task.json" && strings.HasPrefix(dir, "tasks/") {
				folders = append(folders, strings.TrimSuffix(dir, "/"))
			}
		}
		var repoFolders []string
		for _, task := range tasks {
			repoFolders = append(repoFolders, "tasks/"+task.Name)
		}
		sort.Strings(contributed)
		sort.Strings(folders)
		sort.Strings(repoFolders)
		assert.Equal(t, folders, contributed, "one task contribution per task folder in the package")
		assert.Equal(t, repoFolders, folders, "every task folder of the repository ships")
	})

	t.Run("task folders hold exactly the launcher, definition, icon and binaries", func(t *testing.T) {
		schema := taskSchema(t)
		launcher, err := os.ReadFile(filepath.Join(root, "tasks", "launcher", "index.js"))
		require.NoError(t, err)
		agentless := 0
		for _, task := range tasks {
			t.Run(task.Name, func(t *testing.T) {
				prefix := "tasks/" + task.Name + "/"
				want := []string{prefix + "icon.png", prefix + "task.json"}
				if task.Agentless {
					agentless++
				} else {
					want = append(want, prefix+"index.js", prefix+"launcher.json")
					for _, p := range packer.DefaultPlatforms() {
						want = append(want, prefix+"bin/"+p.String()+"/"+p.Exe(task.Binary)+".br")
					}
				}
				var got []string
				for name := range files {
					if strings.HasPrefix(name, prefix) {
						got = append(got, name)
					}
				}
				sort.Strings(want)
				sort.Strings(got)
				require.Equal(t, want, got)

				icon, err := os.ReadFile(filepath.Join(root, "tasks", task.Name, "icon.png"))
				require.NoError(t, err)
				assert.Equal(t, icon, files[prefix+"icon.png"])

				var shipped, committed map[string]any
				require.NoError(t, json.Unmarshal(files[prefix+"task.json"], &shipped))
				data, err := os.ReadFile(filepath.Join(root, "tasks", task.Name, "task.json"))
				require.NoError(t, err)
				require.NoError(t, json.Unmarshal(data, &committed))
				assert.Equal(t, map[string]any{
					"Major": float64(version.Major), "Minor": float64(version.Minor), "Patch": float64(version.Patch),
				}, shipped["version"], "the task version is VERSION")

				if task.Agentless {
					// The schema lists no HttpRequest handler (package tasks checks that block):
					// validate the rest.
					assert.Equal(t, []any{"Server", "ServerGate"}, shipped["runsOn"])
					execution, _ := shipped["execution"].(map[string]any)
					require.Contains(t, execution, "HttpRequest")
					assert.Len(t, execution, 1, "no agent handler")
					stripped := make(map[string]any, len(shipped))
					for k, v := range shipped {
						if k != "execution" {
							stripped[k] = v
						}
					}
					data, err := json.Marshal(stripped)
					require.NoError(t, err)
					inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
					require.NoError(t, err)
					assert.NoError(t, schema.Validate(inst), "task.json in the package follows the official schema, execution aside")
				} else {
					assert.Equal(t, launcher, files[prefix+"index.js"], "index.js is tasks/launcher/index.js")
					var l struct{ Binary string }
					require.NoError(t, json.Unmarshal(files[prefix+"launcher.json"], &l))
					assert.Equal(t, task.Binary, l.Binary)
					inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(files[prefix+"task.json"]))
					require.NoError(t, err)
					assert.NoError(t, schema.Validate(inst), "task.json in the package follows the official schema")
				}

				delete(shipped, "version")
				delete(committed, "version")
				assert.Equal(t, committed, shipped, "apart from the version, task.json ships as committed")

				if task.Agentless {
					return
				}
				for _, p := range packer.DefaultPlatforms() {
					raw, err := packer.Decompress(files[prefix+"bin/"+p.String()+"/"+p.Exe(task.Binary)+".br"])
					require.NoError(t, err, p.String())
					checkExecutable(t, p, raw)
					assert.Contains(t, res.report, strconv.Itoa(len(raw)), "tools/pack reports the raw size of %s %s", task.Name, p)
				}
			})
		}
		assert.Equal(t, 3, agentless, "the three agentless tasks ship, for classic release gates and agentless jobs")
	})

	t.Run("the launcher runs the packaged binaries as an agent would", func(t *testing.T) {
		host := packer.Platform{OS: runtime.GOOS, Arch: runtime.GOARCH}
		shipped := false
		for _, p := range packer.DefaultPlatforms() {
			shipped = shipped || p == host
		}
		tests := []struct {
			task       string
			wantResult string // prefix of the task.complete line
			wantExit0  bool
		}{
			// Needs no organisation: an empty sources folder has nothing to flag.
			{task: "KeyVaultReferenceGate", wantResult: "##vso[task.complete result=Succeeded", wantExit0: true},
			// No organisation to ask: the gate must fail closed, never pass.
			{task: "SecurityWorkItemGate", wantResult: "##vso[task.complete result=Failed"},
		}
		for _, tt := range tests {
			t.Run(tt.task, func(t *testing.T) {
				var task packer.Task
				for _, candidate := range tasks {
					if candidate.Name == tt.task {
						task = candidate
					}
				}
				require.Equal(t, tt.task, task.Name)
				prefix := "tasks/" + task.Name + "/"
				dir := t.TempDir()
				for name, data := range files {
					if rel, ok := strings.CutPrefix(name, prefix); ok {
						p := filepath.Join(dir, filepath.FromSlash(rel))
						require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
						// The agent unzips with no unix permissions either.
						require.NoError(t, os.WriteFile(p, data, 0o644))
					}
				}
				node, err := exec.LookPath("node")
				require.NoError(t, err)
				ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
				defer cancel()
				cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "index.js"))
				cmd.Dir = dir
				// An agent job's environment, with the task.json defaults the agent would
				// apply left to the binary, and no Azure DevOps organisation.
				sources := t.TempDir()
				cmd.Env = []string{
					"PATH=" + os.Getenv("PATH"),
					"HOME=" + t.TempDir(),
					"TF_BUILD=True",
					"AGENT_TEMPDIRECTORY=" + t.TempDir(),
					"BUILD_SOURCESDIRECTORY=" + sources,
					"INPUT_ROOTDIRECTORY=" + sources,
					"STAGEGATE_TIMEOUT=30s",
				}
				out, err := cmd.Output()
				t.Logf("%s", out)
				if !shipped {
					assert.Contains(t, string(out), "has no build for "+host.String())
					return
				}
				if tt.wantExit0 {
					assert.NoError(t, err)
				} else {
					require.Error(t, err)
					_, isExit := err.(*exec.ExitError)
					assert.True(t, isExit, "%v", err)
				}
				assert.Contains(t, string(out), tt.wantResult)
				assert.NotContains(t, string(out), "stagegate launcher:", "the launcher found the binary")
				assert.True(t, isExecutable(t, filepath.Join(dir, "bin", host.String(), host.Exe(task.Binary))))
			})
		}
	})

	t.Run("publisher and extension id can be overridden", func(t *testing.T) {
		// The binaries are unchanged, so this second build takes them from the compression cache.
		res := runPack(t, tool, "-publisher", "contoso", "-extension-id", "stagegate-test")
		assert.Equal(t, "contoso.stagegate-test-"+version.String()+".vsix", filepath.Base(res.vsix))
		var m vsixManifest
		require.NoError(t, xml.Unmarshal(vsixFiles(t, res.vsix)["extension.vsixmanifest"], &m))
		assert.Equal(t, "contoso", m.Identity.Publisher)
		assert.Equal(t, "stagegate-test", m.Identity.ID)
		assert.Equal(t, version.String(), m.Identity.Version)
	})
}
