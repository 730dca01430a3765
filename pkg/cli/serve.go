package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"

	"github.com/stagegate/stagegate/pkg/gaterun"
	"github.com/stagegate/stagegate/pkg/server"
	"github.com/stagegate/stagegate/pkg/task"
)

// serve runs `stagegate serve --config FILE`: the gates as "Invoke REST API" checks and release
// gates. It serves until ctx ends (SIGINT or SIGTERM in cmd/stagegate), then drains. Secrets come
// from files or environment variables named in the configuration, never from flags.
func serve(ctx context.Context, args []string, env task.LookupFunc, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("stagegate serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "", "the configuration file (YAML; see examples/server/stagegate-serve.yaml)")
	check := fs.Bool("check", false, "validate the configuration and exit")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: stagegate serve --config FILE [--check]\n\n"+
			"Serves POST /v1/gates/{workitems|reviews|keyvault} for Azure Pipelines checks and release gates,\n"+
			"plus /healthz, /readyz and /metrics. Logs are JSON lines on standard error. See docs/server.md.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return gaterun.ExitPassed
		}
		return gaterun.ExitError
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "stagegate serve: unexpected argument %q (see --help)\n", fs.Arg(0))
		return gaterun.ExitError
	}
	if *config == "" {
		fmt.Fprintln(stderr, "stagegate serve: --config is required")
		return gaterun.ExitError
	}
	cfg, err := server.LoadConfig(*config, env)
	if err != nil {
		fmt.Fprintf(stderr, "stagegate serve: %v\n", err)
		return gaterun.ExitError
	}
	ident, err := server.NewIdentity(cfg.Identity)
	if err != nil {
		fmt.Fprintf(stderr, "stagegate serve: %v\n", err)
		return gaterun.ExitError
	}
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	srv, err := server.New(server.Options{Config: cfg, Identity: ident, Logger: logger})
	if err != nil {
		fmt.Fprintf(stderr, "stagegate serve: %v\n", err)
		return gaterun.ExitError
	}
	if *check {
		fmt.Fprintf(stdout, "%s: configuration is valid\n", *config)
		return gaterun.ExitPassed
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		fmt.Fprintf(stderr, "stagegate serve: listen: %v\n", err)
		return gaterun.ExitError
	}
	if err := srv.Run(ctx, ln); err != nil {
		logger.Error("stagegate serve stopped with an error", "error", err.Error())
		return gaterun.ExitError
	}
	return gaterun.ExitPassed
}
