package bench

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stagegate/stagegate/pkg/azdo/azdosim"
	"github.com/stagegate/stagegate/pkg/gates/keyvault/kvtest"
	"github.com/stagegate/stagegate/pkg/task"
	"github.com/stagegate/stagegate/tools/pack/packer"

	"github.com/stagegate/stagegate/internal/testfiles"
)

// smallRepo writes one well-kept project (23 files, about 150 KB: ARM, Bicep, Terraform,
// pipeline, settings, lock files) and returns its folder.
func smallRepo(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	if _, err := kvtest.WriteFiles(dir, kvtest.CleanCorpus(1, "")); err != nil {
		b.Fatal(err)
	}
	return dir
}

// BenchmarkGateProcess is process start to verdict, as the agent runs a task's binary: exec,
// read the inputs, evaluate, write the logging commands and summary, exit. The Key Vault gate
// scans a small repository; the work item and review gates ask the Azure DevOps simulator
// (real HTTP on loopback) about the demo scenarios, and the work item gate also about 10,000
// open items. Besides ms/op it reports the requests each run made and the process's peak RSS.
func BenchmarkGateProcess(b *testing.B) {
	b.Run("keyvault-gate/small-repo", func(b *testing.B) {
		bin := buildBinary(b, "keyvault-gate")
		repo := smallRepo(b)
		env := agentEnv(b, "KeyVaultReferenceGate", map[string]string{"Build.SourcesDirectory": repo}, map[string]string{"BUILD_SOURCESDIRECTORY": repo})
		runGate(b, bin, env, 0, nil)
	})
	b.Run("workitem-gate/demo", func(b *testing.B) {
		bin := buildBinary(b, "workitem-gate")
		sc, err := azdosim.LoadScenario(filepath.Join(testfiles.ModuleRoot(b), "examples", "azdo", "scenario.json"))
		if err != nil {
			b.Fatal(err)
		}
		sim, uri := serve(b, sc)
		env := agentEnv(b, "SecurityWorkItemGate", map[string]string{"System.TeamProject": "Payments"}, map[string]string{
			"SYSTEM_COLLECTIONURI": uri,
			"SYSTEM_TEAMPROJECT":   "Payments",
			"BUILD_BUILDID":        "501",
			task.JobTokenVar:       demoToken,
		})
		// The demo scenario has overdue security bugs: the verdict is a violation.
		runGate(b, bin, env, 1, sim)
	})
	b.Run("workitem-gate/10k-open-items", func(b *testing.B) {
		bin := buildBinary(b, "workitem-gate")
		sc := azdosim.NewScenario("bench", demoToken)
		p := sc.Project("Big")
		sevs := []string{"1 - Critical", "2 - High", "3 - Medium", "4 - Low", ""}
		for i := 1; i <= 10000; i++ {
			p.AddWorkItems(&azdosim.WorkItem{ID: i, Type: "Bug", State: "Active", Title: fmt.Sprintf("Security finding %d", i),
				Tags: []string{"Security", "Scanner"}, Severity: sevs[i%len(sevs)], AreaPath: `Big\Team`, CreatedDaysAgo: azdosim.Days(float64(i % 400))})
		}
		sim, uri := serve(b, sc)
		env := agentEnv(b, "SecurityWorkItemGate", map[string]string{"System.TeamProject": "Big"}, map[string]string{
			"SYSTEM_COLLECTIONURI": uri,
			"SYSTEM_TEAMPROJECT":   "Big",
			"BUILD_BUILDID":        "502",
			task.JobTokenVar:       demoToken,
		})
		runGate(b, bin, env, 1, sim)
	})
	b.Run("review-gate/demo", func(b *testing.B) {
		bin := buildBinary(b, "review-gate")
		sc, err := azdosim.LoadScenario(filepath.Join(testfiles.ModuleRoot(b), "examples", "azdo", "reviews-scenario.json"))
		if err != nil {
			b.Fatal(err)
		}
		sim, uri := serve(b, sc)
		const repoID, compliant = "3411ebc1-d5aa-464f-9615-0b527bc66719", "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678" // PR 21: two approvals
		env := agentEnv(b, "ProductionReviewGate", map[string]string{
			"Build.Repository.ID": repoID, "Build.SourceBranch": "refs/heads/main", "Build.SourceVersion": compliant,
		}, map[string]string{
			"SYSTEM_COLLECTIONURI":      uri,
			"SYSTEM_TEAMPROJECT":        "Payments",
			"BUILD_REPOSITORY_ID":       repoID,
			"BUILD_REPOSITORY_NAME":     "payments-api",
			"BUILD_REPOSITORY_PROVIDER": "TfsGit",
			"BUILD_SOURCEBRANCH":        "refs/heads/main",
			"BUILD_SOURCEVERSION":       compliant,
			task.JobTokenVar:            demoToken,
		})
		runGate(b, bin, env, 0, sim)
	})
}

// simRoutes are the simulator's routes, for the per-run request breakdown.
var simRoutes = []string{
	azdosim.RouteLocations, azdosim.RouteResourceAreas, azdosim.RouteWIQL, azdosim.RouteWIQLByID, azdosim.RouteQueries,
	azdosim.RouteWorkItemsBatch, azdosim.RouteItems, azdosim.RouteWorkItemTypeStates, azdosim.RouteBuildWorkItems,
	azdosim.RoutePullRequestQuery, azdosim.RoutePullRequest, azdosim.RoutePullRequestReviewers, azdosim.RouteRepository,
	azdosim.RoutePolicyConfigurations,
}

// routeCounts counts the simulator's requests so far per route ("" for all of them).
func routeCounts(sim *azdosim.Server) map[string]int {
	m := map[string]int{}
	if sim == nil {
		return m
	}
	m[""] = sim.Count("")
	for _, r := range simRoutes {
		m[r] = sim.Count(r)
	}
	return m
}

// demoToken is the job token the demo scenarios accept.
const demoToken = "stagegate-demo-token"

// serve runs the simulator on loopback for the benchmark and returns it with its collection URL.
func serve(b *testing.B, sc *azdosim.Scenario) (*azdosim.Server, string) {
	b.Helper()
	sim, err := azdosim.New(sc, azdosim.Options{})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	b.Cleanup(srv.Close)
	return sim, sim.OrgURL(srv.URL) + "/"
}

// runGate execs the gate b.N times, checks its exit code, and reports ms/op and the simulator
// requests per run (when sim is set); one more run through the meter reports the peak RSS.
func runGate(b *testing.B, bin string, env []string, wantCode int, sim *azdosim.Server) {
	b.Helper()
	m := newMeter(b)
	run := func(measure bool) runStats {
		cmd := exec.Command(bin)
		cmd.Env = env
		var out strings.Builder
		cmd.Stdout = &out
		var st runStats
		if measure {
			st = m.run(b, cmd)
		} else {
			st.ExitCode = runOnce(b, cmd)
		}
		if st.ExitCode != wantCode {
			b.Fatalf("%s exited %d, want %d: %s", filepath.Base(bin), st.ExitCode, wantCode, out.String())
		}
		if !strings.Contains(out.String(), "##vso[task.complete result=") {
			b.Fatalf("no verdict: %s", out.String())
		}
		return st
	}
	before := routeCounts(sim)
	for b.Loop() {
		run(false)
	}
	msPerOp(b)
	if sim != nil {
		after := routeCounts(sim)
		b.ReportMetric(float64(after[""]-before[""])/float64(b.N), "requests/op")
		var parts []string
		for _, r := range simRoutes {
			if n := after[r] - before[r]; n > 0 {
				parts = append(parts, fmt.Sprintf("%s %.0f", r, float64(n)/float64(b.N)))
			}
		}
		b.Logf("requests per run: %s", strings.Join(parts, ", "))
	}
	if st := run(true); st.PeakRSSBytes > 0 {
		b.ReportMetric(float64(st.PeakRSSBytes)/(1<<20), "peak-RSS-MiB")
	}
}

// BenchmarkLauncher separates the Node launcher's own cost from the gate's: Node starting
// alone, the gate binary run directly, and tasks/launcher/index.js running it from a task
// folder that ships it brotli-compressed (as tools/pack does, quality 11), both on the first
// run of a job (unpack and write the binary) and on later runs (the binary is already there).
// The launcher's overhead is the difference to "direct".
func BenchmarkLauncher(b *testing.B) {
	node, err := exec.LookPath("node")
	if err != nil {
		b.Skip("node is not on PATH: the launcher needs the agent's Node (CI has Node 20)")
	}
	bin := buildBinary(b, "keyvault-gate")
	raw, err := os.ReadFile(bin)
	if err != nil {
		b.Fatal(err)
	}
	packed := compressed(b, raw)
	b.Logf("keyvault-gate: %.1f MB, %.1f MB compressed", float64(len(raw))/1e6, float64(len(packed))/1e6)

	taskDir := filepath.Join(b.TempDir(), "KeyVaultReferenceGate")
	platform := runtime.GOOS + "-" + runtime.GOARCH
	exe := filepath.Base(bin)
	binDir := filepath.Join(taskDir, "bin", platform)
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		b.Fatal(err)
	}
	launcher, err := os.ReadFile(filepath.Join(testfiles.ModuleRoot(b), "tasks", "launcher", "index.js"))
	if err != nil {
		b.Fatal(err)
	}
	for name, data := range map[string][]byte{
		filepath.Join(taskDir, "index.js"):      launcher,
		filepath.Join(taskDir, "launcher.json"): []byte(`{"binary": "keyvault-gate"}`),
		filepath.Join(binDir, exe+".br"):        packed,
	} {
		if err := os.WriteFile(name, data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	repo := smallRepo(b)
	env := agentEnv(b, "KeyVaultReferenceGate", map[string]string{"Build.SourcesDirectory": repo}, map[string]string{"BUILD_SOURCESDIRECTORY": repo})
	launch := func() *exec.Cmd {
		cmd := exec.Command(node, filepath.Join(taskDir, "index.js"))
		cmd.Env = env
		return cmd
	}
	expect := func(b *testing.B, cmd *exec.Cmd) {
		b.Helper()
		var out strings.Builder
		cmd.Stdout = &out
		if code := runOnce(b, cmd); code != 0 {
			b.Fatalf("exit %d: %s", code, out.String())
		}
		if !strings.Contains(out.String(), "##vso[task.complete result=Succeeded") {
			b.Fatalf("no verdict in the output: %s", out.String())
		}
	}

	b.Run("node-alone", func(b *testing.B) {
		for b.Loop() {
			runOnce(b, exec.Command(node, "-e", "0"))
		}
		msPerOp(b)
	})
	b.Run("direct", func(b *testing.B) {
		for b.Loop() {
			cmd := exec.Command(bin)
			cmd.Env = env
			expect(b, cmd)
		}
		msPerOp(b)
	})
	b.Run("launcher-first-run", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			if err := os.Remove(filepath.Join(binDir, exe)); err != nil && !os.IsNotExist(err) {
				b.Fatal(err)
			}
			b.StartTimer()
			expect(b, launch())
		}
		msPerOp(b)
	})
	b.Run("launcher-later-runs", func(b *testing.B) {
		expect(b, launch()) // unpack once
		for b.Loop() {
			expect(b, launch())
		}
		msPerOp(b)
	})
}

// compressed returns raw brotli-compressed as tools/pack ships it. Quality 11 takes a minute
// or more for a gate binary, so the result is kept in the user cache folder, keyed by content.
func compressed(b *testing.B, raw []byte) []byte {
	b.Helper()
	sum := sha256.Sum256(raw)
	var cache string
	if dir, err := os.UserCacheDir(); err == nil {
		cache = filepath.Join(dir, "stagegate", "bench", hex.EncodeToString(sum[:12])+".br")
		if data, err := os.ReadFile(cache); err == nil {
			if plain, err := packer.Decompress(data); err == nil && bytes.Equal(plain, raw) {
				return data
			}
		}
	}
	packed, err := packer.Compress(raw)
	if err != nil {
		b.Fatal(err)
	}
	if cache != "" {
		// Only the latest binary is worth keeping.
		old, _ := filepath.Glob(filepath.Join(filepath.Dir(cache), "*.br"))
		for _, f := range old {
			_ = os.Remove(f)
		}
		if err := os.MkdirAll(filepath.Dir(cache), 0o755); err == nil {
			_ = os.WriteFile(cache, packed, 0o644)
		}
	}
	return packed
}
