// Command stagegate runs the gates from a terminal, serves them to Azure Pipelines checks, and
// demonstrates them against a built-in simulator.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/stagegate/stagegate/pkg/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
