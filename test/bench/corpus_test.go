package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stagegate/stagegate/pkg/gates/keyvault"
	"github.com/stagegate/stagegate/pkg/gates/keyvault/discover"
	"github.com/stagegate/stagegate/pkg/gates/keyvault/kvtest"
	kv "github.com/stagegate/stagegate/pkg/keyvault"
	"github.com/stagegate/stagegate/pkg/task"
)

// Environment of the corpus benchmarks (make bench-corpus sets them):
//
//	STAGEGATE_BENCH_CORPUS  size of the tree the binary scans (default 100MB; the budget is on 1GB)
//	STAGEGATE_BENCH_INPROC  size of the tree scanned in process (default 20MB)
//	STAGEGATE_BENCH_MIX     project archetypes, as corpusgen -mix (default terraform=7,bicep=6,arm=4,app=3)
//	STAGEGATE_BENCH_DIR     where to generate it (default the system temp folder); it is
//	                        deleted when the benchmark ends
const (
	envCorpusSize    = "STAGEGATE_BENCH_CORPUS"
	envInProcessSize = "STAGEGATE_BENCH_INPROC"
	envCorpusMix     = "STAGEGATE_BENCH_MIX"
	envCorpusDir     = "STAGEGATE_BENCH_DIR"
)

// generateCorpus writes the mixed tree (seed 1, with planted findings) of the size sizeVar
// names (defaultSize when unset) and removes it when the benchmark ends.
func generateCorpus(b *testing.B, sizeVar, defaultSize string) (string, kvtest.MixedStats) {
	b.Helper()
	size := os.Getenv(sizeVar)
	if size == "" {
		size = defaultSize
	}
	target, err := kvtest.ParseSize(size)
	if err != nil {
		b.Fatalf("%s: %v", sizeVar, err)
	}
	mix, err := kvtest.ParseMix(os.Getenv(envCorpusMix))
	if err != nil {
		b.Fatalf("%s: %v", envCorpusMix, err)
	}
	dir, err := os.MkdirTemp(os.Getenv(envCorpusDir), "stagegate-corpus-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			b.Errorf("remove the generated tree: %v", err)
		}
	})
	start := time.Now()
	st, err := kvtest.GenerateMixedTree(context.Background(), dir, target, kvtest.MixOptions{Seed: 1, Findings: true, Mix: mix})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("tree %s (mix %s): %d projects, %d files, %.1f MB, %d planted findings, generated in %s; %d CPUs",
		dir, mix, st.Projects, st.Files, float64(st.Bytes)/1e6, st.Findings, time.Since(start).Round(time.Millisecond), runtime.NumCPU())
	for _, k := range st.Kinds() {
		b.Logf("  %-15s %6d files %8.1f MB %5.1f%%", k, st.ByKind[k].Files, float64(st.ByKind[k].Bytes)/1e6, 100*float64(st.ByKind[k].Bytes)/float64(st.Bytes))
	}
	return dir, st
}

// procCounts are the GOMAXPROCS values the corpus is scanned with: one core, two, and every
// core of a larger machine.
func procCounts() []int {
	counts := []int{1, 2}
	if n := runtime.NumCPU(); n > 2 {
		counts = append(counts, n)
	}
	return counts
}

// BenchmarkKeyVaultCorpus is the Key Vault gate's throughput and memory budget: the real
// keyvault-gate binary scans a generated tree on disk with every static rule on (allowedVaults
// set, so KV008 applies to every reference), with GOMAXPROCS=1, 2 and all cores. It reports
// MB/s of wall time, MB per CPU-second (what one core does, on a shared machine) and the
// process's peak resident memory; the verdict must be exactly the planted findings.
func BenchmarkKeyVaultCorpus(b *testing.B) {
	bin := buildBinary(b, "keyvault-gate")
	dir, st := generateCorpus(b, envCorpusSize, "100MB")
	report := filepath.Join(b.TempDir(), "report.json")
	m := newMeter(b)
	allowed := strings.Join(kvtest.AllowedVaults(), ",")
	for _, procs := range procCounts() {
		b.Run(fmt.Sprintf("GOMAXPROCS=%d", procs), func(b *testing.B) {
			b.SetBytes(st.Bytes)
			var cpu float64
			var rss int64
			for b.Loop() {
				cmd := exec.Command(bin, "-format", "json", "-output", report, "-allowedVaults", allowed, dir)
				cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), fmt.Sprintf("GOMAXPROCS=%d", procs)}
				var stderr strings.Builder
				cmd.Stderr = &stderr
				run := m.run(b, cmd)
				// Exit code 1: the planted violations fail the gate.
				if run.ExitCode != 1 {
					b.Fatalf("keyvault-gate exited %d, want 1: %s", run.ExitCode, stderr.String())
				}
				cpu += run.UserSeconds + run.SysSeconds
				rss = max(rss, run.PeakRSSBytes)
				checkVerdict(b, report, st.Findings)
			}
			if cpu > 0 {
				b.ReportMetric(float64(st.Bytes)*float64(b.N)/1e6/cpu, "MB/cpu-s")
			}
			if rss > 0 {
				b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MiB")
			}
		})
	}
}

// checkVerdict reads the JSON report: every planted finding and nothing else is a violation.
func checkVerdict(b *testing.B, report string, want int) {
	b.Helper()
	data, err := os.ReadFile(report)
	if err != nil {
		b.Fatal(err)
	}
	var r struct {
		Counts struct {
			Violations  int `json:"violations"`
			Unevaluated int `json:"unevaluated"`
		} `json:"counts"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		b.Fatalf("%s: %v", report, err)
	}
	if r.Counts.Violations != want || r.Counts.Unevaluated != 0 {
		b.Fatalf("%d violations and %d unevaluated, want %d and 0", r.Counts.Violations, r.Counts.Unevaluated, want)
	}
}

// BenchmarkKeyVaultCorpusInProcess scans the same kind of tree with keyvault.Scan in this
// process, for profiling (-cpuprofile, -memprofile) and benchstat comparisons of parser work.
// It reports MB per CPU-second and the peak live heap.
func BenchmarkKeyVaultCorpusInProcess(b *testing.B) {
	dir, st := generateCorpus(b, envInProcessSize, "20MB")
	o := &keyvault.Options{Root: dir}
	var err error
	if o.Include, err = discover.Compile("include", task.SplitList("**/*.json,**/*.jsonc,**/*.bicep,**/*.bicepparam,**/*.tf,**/*.tfvars,**/*.yml,**/*.yaml")); err != nil {
		b.Fatal(err)
	}
	if o.Exclude, err = discover.Compile("exclude", task.SplitList("**/node_modules/**,**/.git/**,**/.terraform/**")); err != nil {
		b.Fatal(err)
	}
	if o.Allow, err = kv.ParseAllowList(kvtest.AllowedVaults()); err != nil {
		b.Fatal(err)
	}
	for _, procs := range []int{1, 2} {
		b.Run(fmt.Sprintf("GOMAXPROCS=%d", procs), func(b *testing.B) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			o.Workers = procs
			b.SetBytes(st.Bytes)
			b.ReportAllocs()
			var peak uint64
			cpu0 := cpuTime(b)
			for b.Loop() {
				stop := samplePeakHeap(&peak)
				res, err := keyvault.Scan(context.Background(), o)
				stop()
				if err != nil {
					b.Fatal(err)
				}
				violations := 0
				for _, f := range res.Report().Findings {
					if f.Severity == "error" {
						violations++
					}
				}
				if violations != st.Findings {
					b.Fatalf("%d violations, want %d", violations, st.Findings)
				}
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
			if cpu := cpuTime(b) - cpu0; cpu > 0 {
				b.ReportMetric(float64(st.Bytes)*float64(b.N)/1e6/cpu.Seconds(), "MB/cpu-s")
			}
		})
	}
}

// samplePeakHeap records the largest live heap seen until stop is called.
func samplePeakHeap(peak *uint64) (stop func()) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > *peak {
				*peak = v
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}
