//go:build !(linux || darwin)

package bench

import (
	"os"
	"testing"
	"time"
)

// peakRSS is not available here: the corpus benchmark reports no peak-RSS metric.
func peakRSS(*os.ProcessState) (int64, bool) { return 0, false }

// cpuTime is not available here: the in-process benchmark reports no MB/cpu-s metric.
func cpuTime(*testing.B) time.Duration { return 0 }
