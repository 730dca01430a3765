package gaterun

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/task"
)

func TestScanGCPercent(t *testing.T) {
	for _, tc := range []struct {
		live uint64
		want int
	}{
		{0, 1000},
		{1 << 20, 1000},  // 1 MiB live: would be 15900, capped
		{10 << 20, 1000}, // (160-10)/10 = 15: capped at 10x
		{32 << 20, 400},  // (160-32)/32 = 4
		{40 << 20, 300},  // (160-40)/40 = 3
		{64 << 20, 150},  // (160-64)/64 = 1.5
		{80 << 20, 100},  // (160-80)/80 = 1
		{150 << 20, 100}, // past the target: never below the default
		{4 << 30, 100},   // far past it
	} {
		assert.Equal(t, tc.want, scanGCPercent(tc.live), "live %d MiB", tc.live>>20)
	}
}

func gogc(t *testing.T) uint64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	require.Equal(t, metrics.KindUint64, s[0].Value.Kind())
	return s[0].Value.Uint64()
}

func TestTuneGCForScan(t *testing.T) {
	old := debug.SetGCPercent(100)
	oldLimit := debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() {
		debug.SetGCPercent(old)
		debug.SetMemoryLimit(oldLimit)
	})

	for _, env := range []map[string]string{{"GOGC": "100"}, {"GOGC": "off"}, {"GOMEMLIMIT": "1GiB"}} {
		stop, ok := TuneGCForScan(task.MapEnv(env))
		stop()
		assert.False(t, ok, "%v: the environment chose", env)
		assert.Equal(t, uint64(100), gogc(t), "%v: left alone", env)
		assert.Equal(t, int64(math.MaxInt64), debug.SetMemoryLimit(-1), "%v: no limit set", env)
	}

	stop, ok := TuneGCForScan(task.MapEnv(nil))
	require.True(t, ok)
	defer stop()
	assert.Equal(t, uint64(maxScanGCPercent), gogc(t), "starts high: the live heap is small at start")
	assert.Equal(t, int64(ScanMemoryLimit), debug.SetMemoryLimit(-1), "the soft limit is set") // -1 reads it

	// After a collection the finalizer sets GOGC from the live heap. Hold about 100 MiB live:
	// the setting must come down to the default.
	ballast := make([][]byte, 100)
	for i := range ballast {
		ballast[i] = make([]byte, 1<<20)
		ballast[i][0] = 1
	}
	require.Eventually(t, func() bool {
		runtime.GC()
		return gogc(t) == minScanGCPercent
	}, 10*time.Second, 10*time.Millisecond, "GOGC follows a large live heap down to 100")
	runtime.KeepAlive(ballast)

	ballast = nil
	require.Eventually(t, func() bool {
		runtime.GC()
		return gogc(t) == maxScanGCPercent
	}, 10*time.Second, 10*time.Millisecond, "and back up when the live heap is small again")

	stop()
	for range 3 { // let a finalizer that was already running finish, and the last one see stop
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
	}
	debug.SetGCPercent(123)
	runtime.GC()
	runtime.GC()
	time.Sleep(20 * time.Millisecond)
	assert.Equal(t, uint64(123), gogc(t), "stopped: no more changes")
}
