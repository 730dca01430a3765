//go:build linux || darwin

package bench

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// meter runs commands through testdata/rsswrap, which reports their peak RSS: measured from
// this (large) benchmark process, ru_maxrss would include this process's memory.
type meter struct {
	wrapper string
	stats   string
}

func newMeter(b *testing.B) *meter {
	b.Helper()
	dir := b.TempDir()
	return &meter{wrapper: buildPackage(b, "./test/bench/testdata/rsswrap", "rsswrap"), stats: filepath.Join(dir, "stats.json")}
}

// run runs cmd (its path, arguments, environment and output) to completion.
func (m *meter) run(b *testing.B, cmd *exec.Cmd) runStats {
	b.Helper()
	w := exec.Command(m.wrapper, append([]string{"-o", m.stats, "--", cmd.Path}, cmd.Args[1:]...)...)
	w.Env, w.Dir, w.Stdin, w.Stdout, w.Stderr = cmd.Env, cmd.Dir, cmd.Stdin, cmd.Stdout, cmd.Stderr
	code := runOnce(b, w)
	data, err := os.ReadFile(m.stats)
	if err != nil {
		b.Fatalf("rsswrap wrote no statistics (exit %d): %v", code, err)
	}
	var st runStats
	if err := json.Unmarshal(data, &st); err != nil {
		b.Fatal(err)
	}
	if err := os.Remove(m.stats); err != nil {
		b.Fatal(err)
	}
	return st
}

// cpuTime is this process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
