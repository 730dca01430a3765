// Package cli is the stagegate command: every gate as a subcommand with the task's inputs as
// flags, plus demo and version. It returns exit codes instead of exiting so tests run it in-process.
package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/stagegate/stagegate/pkg/demo"
	"github.com/stagegate/stagegate/pkg/gaterun"
	"github.com/stagegate/stagegate/pkg/gates/keyvault"
	"github.com/stagegate/stagegate/pkg/gates/reviews"
	"github.com/stagegate/stagegate/pkg/gates/workitems"
	"github.com/stagegate/stagegate/pkg/task"
	"github.com/stagegate/stagegate/pkg/version"
)

// Gates lists the gates the CLI offers, by subcommand.
func Gates() map[string]gaterun.Gate {
	m := map[string]gaterun.Gate{}
	for _, g := range []gaterun.Gate{workitems.Gate(), reviews.Gate(), keyvault.Gate()} {
		m[g.Command] = g
	}
	return m
}

// Main runs the stagegate command and returns its exit code.
func Main(ctx context.Context, args []string, env task.LookupFunc, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return gaterun.ExitError
	}
	gates := Gates()
	switch cmd := args[0]; cmd {
	case "version", "--version":
		fmt.Fprintf(stdout, "stagegate %s\n", version.String())
		return 0
	case "demo":
		return demo.RunDefault(ctx, stdout)
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	case "serve":
		return serve(ctx, args[1:], env, stdout, stderr)
	default:
		g, ok := gates[cmd]
		if !ok {
			fmt.Fprintf(stderr, "stagegate: unknown command %q\n\n", cmd)
			usage(stderr)
			return gaterun.ExitError
		}
		return gaterun.Main(ctx, g, args[1:], env, stdout, stderr, gaterun.Options{})
	}
}

func usage(w io.Writer) {
	var names []string
	for n, g := range Gates() {
		names = append(names, fmt.Sprintf("  %-10s %s (task %s@1)", n, g.Title, g.Task))
	}
	sort.Strings(names)
	fmt.Fprintf(w, "usage: stagegate <command> [flags]\n\ncommands:\n%s\n  demo       run every gate against the built-in Azure DevOps simulator and sample templates\n  serve      answer Azure Pipelines checks and release gates over HTTP (--config FILE)\n  version    print the version\n\nRun 'stagegate <command> --help' for the flags of a gate.\n", strings.Join(names, "\n"))
}
