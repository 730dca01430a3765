package gaterun

import (
	"context"
	"time"

	"github.com/stagegate/stagegate/pkg/finding"
	"github.com/stagegate/stagegate/pkg/render"
	"github.com/stagegate/stagegate/pkg/task"
	"github.com/stagegate/stagegate/tasks"
)

// Outcome is a finished evaluation for callers that render it themselves (the check server).
type Outcome struct {
	Report  *finding.Report
	Mode    finding.Mode
	Verdict finding.Verdict
	Meta    render.Meta
	// Result and ExitCode come from the same single mapping the task uses.
	Result   task.Result
	ExitCode int
}

// EvaluateInputs runs a gate with inputs given by name (as in task.json), the way the task would
// run with them: task.json defaults, mode, baseline, verdict. Log lines go to the Runtime sinks
// given in hooks (nil sinks discard). An error means the gate could not evaluate: fail closed.
func EvaluateInputs(ctx context.Context, g Gate, inputs map[string]string, env task.LookupFunc, workDir string, hooks Hooks, opt Options) (*Outcome, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Timeout == 0 {
		opt.Timeout = timeoutFromEnv(env)
	}
	def, err := tasks.Get(g.Task)
	if err != nil {
		return nil, err
	}
	discard := func(string) {}
	rt := &Runtime{
		Inputs:  task.ValueInputs(inputs, env, defaults(def)),
		Env:     env,
		OnAgent: false,
		Now:     opt.Now(),
		Warn:    orDiscard(hooks.Warn, discard),
		Info:    orDiscard(hooks.Info, discard),
		Debug:   orDiscard(hooks.Debug, discard),
		Secret:  orDiscard(hooks.Secret, discard),
		WorkDir: workDir,
	}
	ev := evaluate(ctx, g, def, rt, opt)
	if ev.err != nil {
		return nil, ev.err
	}
	res, code := outcome(ev.verdict)
	return &Outcome{Report: ev.report, Mode: ev.mode, Verdict: ev.verdict, Meta: ev.meta(), Result: res, ExitCode: code}, nil
}

// Hooks receive a gate's log lines during EvaluateInputs.
type Hooks struct {
	Warn, Info, Debug, Secret func(string)
}

func orDiscard(f, d func(string)) func(string) {
	if f == nil {
		return d
	}
	return f
}
