// Package workitems implements the SecurityWorkItemGate task: it blocks a stage while
// security-tagged work items are open beyond per-severity thresholds or past their SLA, and
// reports the open counts, the overdue count and the mean time to resolve as output variables.
//
// The gate gathers facts with few requests (one WIQL query or one build work item list, one
// batch read per 200 items, one states call per work item type) and judges them in memory: see
// Gather and Judge.
package workitems

import (
	"context"
	"fmt"

	"github.com/stagegate/stagegate/pkg/azdo"
	"github.com/stagegate/stagegate/pkg/finding"
	"github.com/stagegate/stagegate/pkg/gaterun"
	"github.com/stagegate/stagegate/pkg/version"
)

// Reader is the Azure DevOps access the gate needs; *azdo.Client implements it.
type Reader interface {
	azdo.WorkItemReader
	azdo.BuildReader
}

// Connect opens the connection the gate reads through. It is called after the inputs are
// validated, once per evaluation.
type Connect func(ctx context.Context, rt *gaterun.Runtime) (Reader, error)

// Gate returns the gate definition for gaterun, connected with AgentConnect.
func Gate() gaterun.Gate { return GateWith(AgentConnect) }

// GateWith returns the gate definition with its own connection: tests pass a client for a
// simulator, and the CLI may pass one that authenticates with Microsoft Entra.
func GateWith(connect Connect) gaterun.Gate {
	return gaterun.Gate{
		Task:    "SecurityWorkItemGate",
		Command: "workitems",
		Title:   "Security work item gate",
		Evaluate: func(ctx context.Context, rt *gaterun.Runtime) (*finding.Report, error) {
			return evaluate(ctx, rt, connect)
		},
	}
}

// LocalSetup tells a person running the gate outside a pipeline how to connect.
const LocalSetup = "outside a pipeline, set SYSTEM_COLLECTIONURI to the organization URL (https://dev.azure.com/<organization>/) " +
	"and AZURE_DEVOPS_EXT_PAT to a personal access token with the Work Items (Read) scope (and Build (Read) for scope run " +
	"or requireReviewTag, with BUILD_BUILDID set to the run's id)"

// AgentConnect connects with the agent's environment (azdo.FromAgentEnv): the job token on an
// agent, or SYSTEM_COLLECTIONURI and AZURE_DEVOPS_EXT_PAT on a workstation. Retries are reported
// through rt.Warn.
func AgentConnect(ctx context.Context, rt *gaterun.Runtime) (Reader, error) {
	orgURL, cred, err := azdo.FromAgentEnv(rt.Env)
	if err != nil {
		if !rt.OnAgent {
			return nil, fmt.Errorf("connect to Azure DevOps: %w (%s)", err, LocalSetup)
		}
		return nil, fmt.Errorf("connect to Azure DevOps: %w", err)
	}
	c, err := azdo.New(ctx, azdo.Options{OrgURL: orgURL, Credential: cred, Warn: rt.Warn, UserAgent: "workitem-gate/" + version.String()})
	if err != nil {
		return nil, fmt.Errorf("connect to Azure DevOps: %w", err)
	}
	return c, nil
}

// requestCounter is implemented by *azdo.Client.
type requestCounter interface{ Requests() azdo.Stats }

func evaluate(ctx context.Context, rt *gaterun.Runtime, connect Connect) (*finding.Report, error) {
	cfg, err := parseConfig(rt)
	if err != nil {
		return nil, err
	}
	r, err := connect(ctx, rt)
	if err != nil {
		return nil, err
	}
	f, err := Gather(ctx, r, cfg)
	if err != nil {
		return nil, err
	}
	if rc, ok := r.(requestCounter); ok && rt.Debug != nil {
		s := rc.Requests()
		rt.Debug(fmt.Sprintf("Azure DevOps requests: %d (%d retries): %v", s.Total, s.Retries, s.ByCall))
	}
	return Judge(cfg, f, rt.Now), nil
}
