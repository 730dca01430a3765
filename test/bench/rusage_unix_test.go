//go:build linux || darwin

package bench

import (
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// peakRSS is the largest resident set of a finished child process, in bytes: getrusage's
// ru_maxrss, which Linux counts in KiB and macOS in bytes.
func peakRSS(ps *os.ProcessState) (int64, bool) {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, false
	}
	if runtime.GOOS == "darwin" {
		return ru.Maxrss, true
	}
	return ru.Maxrss << 10, true
}

// cpuTime is this process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
