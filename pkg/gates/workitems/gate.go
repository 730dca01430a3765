// Package workitems implements the SecurityWorkItemGate task. It is not implemented yet: it fails closed.
package workitems

import (
	"context"
	"errors"

	"github.com/stagegate/stagegate/pkg/finding"
	"github.com/stagegate/stagegate/pkg/gaterun"
)

// Gate returns the gate definition for gaterun.
func Gate() gaterun.Gate {
	return gaterun.Gate{
		Task:       "SecurityWorkItemGate",
		Command:    "workitems",
		Title:      "Security work item gate",
		Positional: "",
		Evaluate: func(ctx context.Context, rt *gaterun.Runtime) (*finding.Report, error) {
			return nil, errors.New("SecurityWorkItemGate is not implemented yet in this version of stagegate; it fails closed rather than pass")
		},
	}
}
