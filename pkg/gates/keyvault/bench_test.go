package keyvault

import (
	"context"
	"fmt"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/stagegate/stagegate/pkg/gates/keyvault/discover"
	"github.com/stagegate/stagegate/pkg/gates/keyvault/kvtest"
	"github.com/stagegate/stagegate/pkg/task"
)

// BenchmarkScanTree scans a generated tree of at least 50 MB of mixed templates (ARM, Bicep,
// Terraform, pipelines, application settings, lock files, manifests) with findings planted in
// one project out of 25, on one and on two cores. It reports throughput (MB/s) and the peak
// live heap during the scan.
func BenchmarkScanTree(b *testing.B) {
	dir := b.TempDir()
	st, err := kvtest.GenerateTree(dir, 50<<20, 1, true)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("tree: %d files, %.1f MB, %d planted findings", st.Files, float64(st.Bytes)/1e6, st.Findings)
	for _, procs := range []int{1, 2} {
		b.Run(fmt.Sprintf("GOMAXPROCS=%d", procs), func(b *testing.B) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			o := &Options{Root: dir, Workers: procs}
			o.Include, o.Exclude = defaultGlobs(b)
			b.SetBytes(st.Bytes)
			var peak uint64
			cpu0 := cpuTime(b)
			for b.Loop() {
				stop := samplePeakHeap(&peak)
				res, err := Scan(context.Background(), o)
				stop()
				if err != nil {
					b.Fatal(err)
				}
				if n := len(res.Report().Findings); n != st.Findings {
					b.Fatalf("%d findings, want %d", n, st.Findings)
				}
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
			// CPU time, not wall time: on a shared machine this is what one core does.
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

func defaultGlobs(b *testing.B) (include, exclude []string) {
	var err error
	if include, err = discover.Compile("include", task.SplitList("**/*.json,**/*.jsonc,**/*.bicep,**/*.bicepparam,**/*.tf,**/*.tfvars,**/*.yml,**/*.yaml")); err != nil {
		b.Fatal(err)
	}
	if exclude, err = discover.Compile("exclude", task.SplitList("**/node_modules/**,**/.git/**,**/.terraform/**")); err != nil {
		b.Fatal(err)
	}
	return include, exclude
}
