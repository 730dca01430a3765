// Package reviews implements the ProductionReviewGate task. It is not implemented yet: it fails closed.
package reviews

import (
	"context"
	"errors"

	"github.com/stagegate/stagegate/pkg/finding"
	"github.com/stagegate/stagegate/pkg/gaterun"
)

// Gate returns the gate definition for gaterun.
func Gate() gaterun.Gate {
	return gaterun.Gate{
		Task:       "ProductionReviewGate",
		Command:    "reviews",
		Title:      "Production review gate",
		Positional: "",
		Evaluate: func(ctx context.Context, rt *gaterun.Runtime) (*finding.Report, error) {
			return nil, errors.New("ProductionReviewGate is not implemented yet in this version of stagegate; it fails closed rather than pass")
		},
	}
}
