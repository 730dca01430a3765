// Command stagegate runs the gates from a terminal, serves them to Azure Pipelines checks, and
// demonstrates them against a built-in simulator.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/stagegate/stagegate/pkg/cli"
	"github.com/stagegate/stagegate/pkg/gaterun"
)

func main() {
	// A local Key Vault scan is one scan per process, like the agent's keyvault-gate;
	// serve and demo keep the default collector.
	if len(os.Args) > 1 && os.Args[1] == "keyvault" {
		_, _ = gaterun.TuneGCForScan(os.LookupEnv)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
