// Package gaterun runs one gate end to end, on an agent or from a terminal: it reads inputs,
// evaluates the gate, applies the baseline, renders every output and is the one place that maps
// the verdict to a task result and an exit code.
package gaterun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stagegate/stagegate/pkg/finding"
	"github.com/stagegate/stagegate/pkg/render"
	"github.com/stagegate/stagegate/pkg/task"
	"github.com/stagegate/stagegate/pkg/version"
	"github.com/stagegate/stagegate/tasks"
)

// Exit codes. The agent treats any non-zero exit as Failed; locally they tell why.
const (
	ExitPassed   = 0 // passed, passed with warnings, or audit mode
	ExitViolated = 1 // violations block the stage
	ExitError    = 2 // the gate could not evaluate (bad input, auth, outage, unparsable file)
)

// Gate is what a gate package provides.
type Gate struct {
	Task    string // task.json name, e.g. SecurityWorkItemGate
	Command string // CLI verb, e.g. workitems
	Title   string // human title used in verdicts
	// Positional names the input that a bare CLI argument fills (keyvault: rootDirectory).
	Positional string
	Evaluate   func(ctx context.Context, rt *Runtime) (*finding.Report, error)
}

// Runtime is everything a gate may use besides its facts.
type Runtime struct {
	Inputs  *task.Inputs
	Env     task.LookupFunc
	OnAgent bool
	Now     time.Time
	// Warn reports a problem worth attention during evaluation (a retry, a skipped file).
	Warn func(string)
	// Info reports progress.
	Info func(string)
	// Debug reports detail shown only with System.Debug.
	Debug func(string)
	// Secret registers a credential the gate obtained so the agent masks it.
	Secret func(string)
	// WorkDir resolves relative paths: the sources directory on an agent, the cwd locally.
	WorkDir string
	// Baseline is the parsed baselineFile input, nil without one. gaterun applies it to the
	// report after Evaluate; a gate reads it only to compute outputs that count what the
	// verdict will count.
	Baseline *finding.Baseline
}

// Options tune Main for tests and for the CLI.
type Options struct {
	Now     func() time.Time
	Timeout time.Duration
}

// Main runs the gate and returns the process exit code.
func Main(ctx context.Context, g Gate, args []string, env task.LookupFunc, stdout, stderr io.Writer, opt Options) int {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Timeout == 0 {
		opt.Timeout = timeoutFromEnv(env)
	}
	if task.OnAgent(env) {
		return runAgent(ctx, g, env, stdout, opt)
	}
	return runLocal(ctx, g, args, env, stdout, stderr, opt)
}

// timeoutFromEnv bounds evaluation so retries give up before the job's own timeout cancels us
// without a verdict. STAGEGATE_TIMEOUT takes a Go duration (e.g. 90s); the default is 10 minutes.
func timeoutFromEnv(env task.LookupFunc) time.Duration {
	if v, ok := env("STAGEGATE_TIMEOUT"); ok {
		if d, err := time.ParseDuration(strings.TrimSpace(v)); err == nil && d > 0 {
			return d
		}
	}
	return 10 * time.Minute
}

func defaults(def *tasks.Definition) map[string]string {
	m := map[string]string{}
	for _, in := range def.Inputs {
		m[in.Name] = in.DefaultValue
	}
	return m
}

func hasInput(def *tasks.Definition, name string) bool {
	_, ok := def.Input(name)
	return ok
}

// evaluation is the shared core of agent and local runs.
type evaluation struct {
	report  *finding.Report
	mode    finding.Mode
	verdict finding.Verdict
	err     error
}

func (e *evaluation) meta() render.Meta {
	return render.Meta{Tool: "stagegate", Version: version.String(), Mode: e.mode, Verdict: e.verdict}
}

func evaluate(ctx context.Context, g Gate, def *tasks.Definition, rt *Runtime, opt Options) (ev evaluation) {
	ev.mode = finding.Enforce
	m, err := rt.Inputs.Pick("mode", string(finding.Enforce), string(finding.Audit))
	if err != nil {
		ev.err = err
		return ev
	}
	ev.mode = finding.Mode(m)
	var bl *finding.Baseline
	if hasInput(def, "baselineFile") {
		if p := rt.Inputs.Path("baselineFile", rt.WorkDir); p != "" {
			data, err := os.ReadFile(p)
			if err != nil {
				ev.err = fmt.Errorf("input \"baselineFile\": %w", err)
				return ev
			}
			if bl, err = finding.ParseBaseline(p, data); err != nil {
				ev.err = fmt.Errorf("input \"baselineFile\": %w", err)
				return ev
			}
		}
	}
	rt.Baseline = bl
	ctx, cancel := context.WithTimeout(ctx, opt.Timeout)
	defer cancel()
	ev.report, ev.err = safeEvaluate(ctx, g, rt)
	if ev.err != nil {
		if errors.Is(ev.err, context.DeadlineExceeded) && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			// A gate may return the bare context error ("context deadline exceeded"); say which
			// limit ran out and how to raise it.
			ev.err = fmt.Errorf("%w (the evaluation's time limit of %s ran out: raise it with STAGEGATE_TIMEOUT for the task and the CLI, "+
				"or limits.syncTimeout and limits.callbackTimeout for stagegate serve)", ev.err, opt.Timeout)
		}
		return ev
	}
	if ev.report == nil {
		ev.err = errors.New("the gate returned no report")
		return ev
	}
	bl.Apply(opt.Now(), ev.report)
	ev.report.Sort()
	ev.verdict = finding.Decide(ev.report, ev.mode)
	return ev
}

// safeEvaluate turns a panic into an evaluation error: a pipeline log gets a sentence, never a
// Go stack trace, and the gate fails closed.
func safeEvaluate(ctx context.Context, g Gate, rt *Runtime) (r *finding.Report, err error) {
	defer func() {
		if p := recover(); p != nil {
			r, err = nil, fmt.Errorf("internal error in %s (please report it): %v", g.Task, p)
		}
	}()
	return g.Evaluate(ctx, rt)
}

func writeFile(path string, write func(io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
