// Command keyvault-gate is the agent-side binary of one stagegate task; the task's launcher runs it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/stagegate/stagegate/pkg/gaterun"
	"github.com/stagegate/stagegate/pkg/gates/keyvault"
)

func main() {
	// One scan per process: trade memory for CPU (see gaterun.TuneGCForScan).
	_, _ = gaterun.TuneGCForScan(os.LookupEnv)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := gaterun.Main(ctx, keyvault.AgentGate(), os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr, gaterun.Options{})
	stop()
	os.Exit(code)
}
