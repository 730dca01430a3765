package render

import (
	"fmt"

	"github.com/stagegate/stagegate/pkg/finding"
	"github.com/stagegate/stagegate/pkg/task"
)

// Pipeline writes the report as agent logging commands: a group per check with one logissue per
// counted finding, output variables, notes, and a verdict section. The task result is set by the
// caller, which owns the one mapping from verdict to result.
func Pipeline(l *task.Log, r *finding.Report, m Meta) {
	for _, c := range r.Checks {
		errs, warns, acc := checkCounts(r, c.Name)
		l.Group(fmt.Sprintf("%s: %s (%d errors, %d warnings, %d accepted)", c.Name, checkResult(errs, warns), errs, warns, acc))
		if c.Detail != "" {
			l.Info(c.Detail)
		}
		for _, f := range r.InCheck(c.Name) {
			pipelineFinding(l, &f)
		}
		l.EndGroup()
	}
	for _, f := range r.Findings {
		if f.Check == "" {
			pipelineFinding(l, &f)
		}
	}
	for _, n := range r.Notes {
		l.Warning(n)
	}
	for _, o := range r.Outputs {
		l.SetVariable(o.Name, o.Value, true, false)
	}
	l.Section(m.Verdict.Message)
}

func pipelineFinding(l *task.Log, f *finding.Finding) {
	msg := f.Rule + ": " + oneLine(f.Message)
	if f.URL != "" {
		msg += " (" + f.URL + ")"
	}
	if !f.Counts() {
		l.Info(fmt.Sprintf("accepted by baseline (%s): %s %s", f.Accepted.Justification, location(f.Location), msg))
		return
	}
	typ := task.IssueError
	switch f.Severity {
	case finding.Warning:
		typ = task.IssueWarning
	case finding.Note:
		l.Info(msg)
		return
	}
	l.LogIssue(task.Issue{
		Type: typ, Message: msg, Code: f.Rule,
		SourcePath: f.Location.Path, Line: f.Location.Line, Column: f.Location.Column,
	})
}
