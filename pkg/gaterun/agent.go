package gaterun

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/stagegate/stagegate/pkg/finding"
	"github.com/stagegate/stagegate/pkg/render"
	"github.com/stagegate/stagegate/pkg/task"
	"github.com/stagegate/stagegate/tasks"
)

func runAgent(ctx context.Context, g Gate, env task.LookupFunc, stdout io.Writer, opt Options) int {
	log := task.NewLog(stdout, task.DebugEnabled(env))
	// Register every credential before anything else is printed, so nothing later can echo it.
	if tok, ok := task.JobToken(env); ok {
		log.SetSecret(tok)
	}
	if pat, ok := env("AZURE_DEVOPS_EXT_PAT"); ok {
		log.SetSecret(strings.TrimSpace(pat))
	}
	fail := func(err error) int {
		msg := fmt.Sprintf("%s could not evaluate: %v", g.Title, err)
		log.LogIssue(task.Issue{Type: task.IssueError, Message: msg})
		log.Complete(task.Failed, msg)
		return ExitError
	}
	def, err := tasks.Get(g.Task)
	if err != nil {
		return fail(err)
	}
	workDir := task.Variable(env, "Build.SourcesDirectory")
	if workDir == "" {
		workDir, _ = os.Getwd()
	}
	rt := &Runtime{
		Inputs:  task.AgentInputs(env, defaults(def)),
		Env:     env,
		OnAgent: true,
		Now:     opt.Now(),
		Warn:    log.Warning,
		Info:    log.Info,
		Debug:   log.Debug,
		Secret:  log.SetSecret,
		WorkDir: workDir,
	}
	ev := evaluate(ctx, g, def, rt, opt)
	if ev.err != nil {
		return fail(ev.err)
	}
	m := ev.meta()
	render.Pipeline(log, ev.report, m)
	if err := uploadSummary(log, env, g, ev.report, m); err != nil {
		log.Warning(fmt.Sprintf("could not write the run summary: %v", err))
	}
	if hasInput(def, "sarifFile") {
		if p := rt.Inputs.Path("sarifFile", workDir); p != "" {
			if err := writeFile(p, func(w io.Writer) error { return render.SARIF(w, ev.report, m) }); err != nil {
				return fail(fmt.Errorf("input \"sarifFile\": %w", err))
			}
			log.Info("SARIF written to " + p)
		}
	}
	if err := log.Err(); err != nil {
		return ExitError
	}
	return complete(log, ev.verdict)
}

// outcome is the single mapping from verdict to task result and exit code.
func outcome(v finding.Verdict) (task.Result, int) {
	switch {
	case v.Outcome == finding.Failed && v.Unevaluated > 0:
		return task.Failed, ExitError
	case v.Outcome == finding.Failed:
		return task.Failed, ExitViolated
	case v.Outcome == finding.Warned:
		return task.SucceededWithIssues, ExitPassed
	default:
		return task.Succeeded, ExitPassed
	}
}

func complete(log *task.Log, v finding.Verdict) int {
	res, code := outcome(v)
	log.Complete(res, v.Message)
	return code
}

func uploadSummary(log *task.Log, env task.LookupFunc, g Gate, r *finding.Report, m render.Meta) error {
	dir := task.Variable(env, "Agent.TempDirectory")
	if dir == "" {
		dir = os.TempDir()
	}
	name := fmt.Sprintf("stagegate-%s-%s.md", g.Command, sanitize(task.Variable(env, "System.JobId")))
	path := filepath.Join(dir, name)
	if err := writeFile(path, func(w io.Writer) error { return render.Markdown(w, r, m) }); err != nil {
		return err
	}
	log.UploadSummary(path)
	return nil
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return -1
	}, s)
}
