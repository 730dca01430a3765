//go:build !(linux || darwin)

package bench

import (
	"os/exec"
	"testing"
	"time"
)

// meter runs commands directly here: there is no peak RSS to report (PeakRSSBytes stays 0).
type meter struct{}

func newMeter(*testing.B) *meter { return &meter{} }

func (m *meter) run(b *testing.B, cmd *exec.Cmd) runStats {
	b.Helper()
	start := time.Now()
	code := runOnce(b, cmd)
	return runStats{
		UserSeconds: cmd.ProcessState.UserTime().Seconds(), SysSeconds: cmd.ProcessState.SystemTime().Seconds(),
		WallSeconds: time.Since(start).Seconds(), ExitCode: code,
	}
}

// cpuTime is not available here: the in-process benchmark reports no MB/cpu-s metric.
func cpuTime(*testing.B) time.Duration { return 0 }
