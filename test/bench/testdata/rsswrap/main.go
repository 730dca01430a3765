//go:build linux || darwin

// Command rsswrap runs a command and writes its peak resident set size, CPU time and wall time
// as JSON to the -o file; it exits with the command's exit code. The corpus and process
// benchmarks measure the gate binaries through it: getrusage's ru_maxrss of a child counts the
// memory of the process that started it up to its exec, so a large benchmark process would
// inflate the figure, while this small process adds at most its own few MiB.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"
)

// Stats is what rsswrap writes.
type Stats struct {
	PeakRSSBytes int64   `json:"peakRSSBytes"`
	UserSeconds  float64 `json:"userSeconds"`
	SysSeconds   float64 `json:"sysSeconds"`
	WallSeconds  float64 `json:"wallSeconds"`
	ExitCode     int     `json:"exitCode"`
}

func main() {
	out := flag.String("o", "", "file to write the statistics to (required)")
	flag.Parse()
	if *out == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: rsswrap -o stats.json -- command [args...]")
		os.Exit(2)
	}
	cmd := exec.Command(flag.Arg(0), flag.Args()[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		fmt.Fprintln(os.Stderr, "rsswrap:", err)
		os.Exit(2)
	}
	ps := cmd.ProcessState
	st := Stats{UserSeconds: ps.UserTime().Seconds(), SysSeconds: ps.SystemTime().Seconds(), WallSeconds: wall.Seconds(), ExitCode: ps.ExitCode()}
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		st.PeakRSSBytes = ru.Maxrss << 10 // KiB on Linux
		if runtime.GOOS == "darwin" {
			st.PeakRSSBytes = ru.Maxrss // bytes on macOS
		}
	}
	data, err := json.Marshal(st)
	if err == nil {
		err = os.WriteFile(*out, data, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "rsswrap:", err)
		os.Exit(2)
	}
	os.Exit(st.ExitCode)
}
