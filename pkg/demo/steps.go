package demo

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"

	"github.com/stagegate/stagegate/examples"
	"github.com/stagegate/stagegate/pkg/gates/keyvault"
	"github.com/stagegate/stagegate/pkg/gates/reviews"
	"github.com/stagegate/stagegate/pkg/gates/workitems"
)

// The commits of examples/azdo/reviews-scenario.json.
const (
	reviewedCommit = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678" // PR 21: two real approvals
	bypassCommit   = "b2c3d4e5f60718293a4b5c6d7e8f901234567890" // PR 22: completed with a policy bypass
	paymentsRepo   = "3411ebc1-d5aa-464f-9615-0b527bc66719"
)

// DefaultSteps is the built-in demo: every gate, with the outcome each step is designed to have.
func DefaultSteps(env Env) []Step {
	return []Step{
		{
			Title: "Security work items, default inputs", Gate: workitems.Gate(), Scenario: "workitems",
			Args: []string{"--project", "Payments"},
			Why:  "Fails: a critical security bug is past its 7-day SLA and critical/high items exceed their zero thresholds. Look for the KPI lines.",
			Want: 1,
		},
		{
			Title: "Security work items, audit mode", Gate: workitems.Gate(), Scenario: "workitems",
			Args: []string{"--project", "Payments", "--mode", "audit"},
			Why:  "Same findings, nothing blocked: audit mode ends with issues instead of failing.",
			Want: 0,
		},
		{
			Title: "Production review, a reviewed change", Gate: reviews.Gate(), Scenario: "reviews",
			Args: []string{"--repository", paymentsRepo, "--branch", "refs/heads/main", "--commit", reviewedCommit},
			Why:  "Passes: main requires two reviewers, and PR 21 brought the commit with two real approvals.",
			Want: 0,
		},
		{
			Title: "Production review, a bypassed change", Gate: reviews.Gate(), Scenario: "reviews",
			Args: []string{"--repository", paymentsRepo, "--branch", "refs/heads/main", "--commit", bypassCommit},
			Why:  "Fails: PR 22 was completed with a policy bypass (the reason is quoted) and too few approvals.",
			Want: 1,
		},
		{
			Title: "Key Vault references in the sample templates", Gate: keyvault.Gate(),
			Args: []string{filepath.Join(env.Templates, "keyvault")},
			Why:  "Fails: literal secrets in ARM, Bicep, Terraform and pipeline YAML; each finding has file, line and rule. Secrets show redacted.",
			Want: 1,
		},
	}
}

// RunDefault runs the built-in demo from the embedded examples.
func RunDefault(ctx context.Context, w io.Writer) int {
	wi, err1 := fs.ReadFile(examples.FS, "azdo/scenario.json")
	rv, err2 := fs.ReadFile(examples.FS, "azdo/reviews-scenario.json")
	if err1 != nil || err2 != nil {
		fmt.Fprintf(w, "demo: embedded scenarios missing: %v %v\n", err1, err2)
		return 2
	}
	return Run(ctx, w, Options{
		Scenarios: map[string][]byte{"workitems": wi, "reviews": rv},
		Templates: examples.FS,
		Steps:     DefaultSteps,
	})
}
