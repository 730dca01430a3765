package gaterun

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"

	"github.com/stagegate/stagegate/pkg/task"
)

// A template scan keeps little live data but allocates 35-100 bytes per byte it reads, so at
// the default GOGC=100 the collector runs every few hundred kilobytes on a small tree. Letting
// the heap grow to about ScanHeapTarget between collections while the live heap is small cuts
// the Key Vault gate's CPU time by 20-28% on a 200 MB tree (docs/performance.md). A high
// fixed GOGC would multiply a large tree's live heap instead, and a tight memory limit alone
// thrashes on one, so GOGC follows the live heap and never drops below the default, and a soft
// limit of ScanMemoryLimit keeps a very large tree's peak memory near the 256 MiB budget at the
// price of more collections (GOMEMLIMIT=off chooses speed instead).
const (
	ScanHeapTarget   = 160 << 20
	ScanMemoryLimit  = 224 << 20
	minScanGCPercent = 100
	maxScanGCPercent = 1000
)

// scanGCPercent is the GOGC that puts the next collection at about ScanHeapTarget for a live
// heap of live bytes: live*(1+GOGC/100) = target, kept within [100, 1000].
func scanGCPercent(live uint64) int {
	if live == 0 {
		return maxScanGCPercent
	}
	p := (int64(ScanHeapTarget) - int64(live)) * 100 / int64(live)
	return int(min(max(p, minScanGCPercent), maxScanGCPercent))
}

// TuneGCForScan sets the soft memory limit and adapts GOGC to the live heap after every
// collection, unless the environment already chooses (GOGC or GOMEMLIMIT set). It reports
// whether it did; stop ends the adaptation (the last setting stays). Only one-scan processes
// should call it: it changes process-wide runtime settings.
func TuneGCForScan(env task.LookupFunc) (stop func(), ok bool) {
	if _, set := env("GOGC"); set {
		return func() {}, false
	}
	if _, set := env("GOMEMLIMIT"); set {
		return func() {}, false
	}
	var stopped atomic.Bool
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	debug.SetGCPercent(maxScanGCPercent)
	debug.SetMemoryLimit(ScanMemoryLimit)
	// A cleanup runs after the collection that found its object unreachable; re-arming it on
	// a fresh object gives a callback per collection without a polling goroutine. The object
	// holds a pointer so that it is never tiny-allocated (tiny objects may never be freed).
	var arm func()
	arm = func() {
		runtime.AddCleanup(&gcSentinel{}, func(struct{}) {
			if stopped.Load() {
				return
			}
			metrics.Read(sample)
			if sample[0].Value.Kind() == metrics.KindUint64 {
				debug.SetGCPercent(scanGCPercent(sample[0].Value.Uint64()))
			}
			arm()
		}, struct{}{})
	}
	arm()
	return func() { stopped.Store(true) }, true
}

type gcSentinel struct{ _ *byte }
