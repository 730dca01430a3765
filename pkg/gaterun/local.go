package gaterun

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/stagegate/stagegate/pkg/finding"
	"github.com/stagegate/stagegate/pkg/render"
	"github.com/stagegate/stagegate/pkg/task"
	"github.com/stagegate/stagegate/tasks"
)

// inputFlag records an input given on the command line; boolean inputs work as bare switches.
type inputFlag struct {
	name   string
	values map[string]string
	isBool bool
}

func (f *inputFlag) String() string { return "" }
func (f *inputFlag) Set(v string) error {
	f.values[f.name] = v
	return nil
}
func (f *inputFlag) IsBoolFlag() bool { return f.isBool }

var renderers = map[string]func(io.Writer, *finding.Report, render.Meta) error{
	"text":  render.Text,
	"json":  render.JSON,
	"sarif": render.SARIF,
	"junit": render.JUnit,
}

func runLocal(ctx context.Context, g Gate, args []string, env task.LookupFunc, stdout, stderr io.Writer, opt Options) int {
	def, err := tasks.Get(g.Task)
	if err != nil {
		fmt.Fprintf(stderr, "stagegate %s: %v\n", g.Command, err)
		return ExitError
	}
	values := map[string]string{}
	fs := flag.NewFlagSet("stagegate "+g.Command, flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "text", "output format: text, json, sarif or junit")
	output := fs.String("output", "", "write the report to this file instead of standard output")
	writeBaseline := fs.String("write-baseline", "", "write a baseline accepting every current finding to this file (edit the justifications)")
	for _, in := range def.Inputs {
		fs.Var(&inputFlag{name: in.Name, values: values, isBool: in.Type == "boolean"}, in.Name, usage(in))
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: stagegate %s [flags]", g.Command)
		if g.Positional != "" {
			fmt.Fprintf(stderr, " [%s]", g.Positional)
		}
		fmt.Fprintf(stderr, "\n\n%s: %s\nFlags are the task's inputs; defaults are the task's defaults.\n\n", def.FriendlyName, def.Description)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitPassed
		}
		return ExitError
	}
	rest := fs.Args()
	if len(rest) > 0 && g.Positional != "" {
		if _, given := values[g.Positional]; given {
			fmt.Fprintf(stderr, "stagegate %s: both --%s and a positional argument given\n", g.Command, g.Positional)
			return ExitError
		}
		values[g.Positional], rest = rest[0], rest[1:]
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "stagegate %s: unexpected argument %q (see --help)\n", g.Command, rest[0])
		return ExitError
	}
	rend, ok := renderers[*format]
	if !ok {
		fmt.Fprintf(stderr, "stagegate %s: --format %q: expected one of text, json, sarif, junit\n", g.Command, *format)
		return ExitError
	}
	cwd, _ := os.Getwd()
	say := func(prefix string) func(string) {
		return func(s string) { fmt.Fprintf(stderr, "%s%s\n", prefix, task.OneLine(s)) }
	}
	rt := &Runtime{
		Inputs:  task.ValueInputs(values, env, defaults(def)),
		Env:     env,
		Now:     opt.Now(),
		Warn:    say("warning: "),
		Info:    say(""),
		Debug:   func(string) {},
		Secret:  func(string) {},
		WorkDir: cwd,
	}
	if task.DebugEnabled(env) {
		rt.Debug = say("debug: ")
	}
	ev := evaluate(ctx, g, def, rt, opt)
	if ev.err != nil {
		fmt.Fprintf(stderr, "%s could not evaluate: %s\n", g.Title, task.OneLine(ev.err.Error()))
		return ExitError
	}
	m := ev.meta()
	out := stdout
	if *output != "" {
		f, err := os.Create(*output)
		if err != nil {
			fmt.Fprintf(stderr, "stagegate %s: --output: %v\n", g.Command, err)
			return ExitError
		}
		defer f.Close()
		out = f
	}
	if err := rend(out, ev.report, m); err != nil {
		fmt.Fprintf(stderr, "stagegate %s: write report: %v\n", g.Command, err)
		return ExitError
	}
	// sarifFile is a task input like any other, so it is a flag here too; honour it as the agent
	// does rather than accept it and write nothing.
	if hasInput(def, "sarifFile") {
		if p := rt.Inputs.Path("sarifFile", cwd); p != "" {
			if err := writeFile(p, func(w io.Writer) error { return render.SARIF(w, ev.report, m) }); err != nil {
				fmt.Fprintf(stderr, "stagegate %s: input \"sarifFile\": %v\n", g.Command, err)
				return ExitError
			}
		}
	}
	if *writeBaseline != "" {
		b := finding.NewBaseline(ev.report, "TODO: say why this finding is accepted", opt.Now().AddDate(0, 3, 0))
		data, _ := json.MarshalIndent(b, "", "  ")
		if err := os.WriteFile(*writeBaseline, append(data, '\n'), 0o644); err != nil {
			fmt.Fprintf(stderr, "stagegate %s: --write-baseline: %v\n", g.Command, err)
			return ExitError
		}
	}
	_, code := outcome(ev.verdict)
	return code
}

func usage(in tasks.Input) string {
	s := in.Label
	if in.HelpMarkDown != "" {
		s += ": " + strings.Join(strings.Fields(in.HelpMarkDown), " ")
	}
	if len(in.Options) > 0 {
		keys := make([]string, 0, len(in.Options))
		for k := range in.Options {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		s += " (" + strings.Join(keys, "|") + ")"
	}
	if in.DefaultValue != "" {
		s += fmt.Sprintf(" (default %q)", in.DefaultValue)
	}
	return s
}
