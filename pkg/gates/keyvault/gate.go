// Package keyvault implements the KeyVaultReferenceGate task: it proves that secrets in ARM,
// Bicep, Terraform and Azure Pipelines files come from Key Vault references, never literals,
// and that no credential sits in any scanned file (rules KV000-KV011), and with
// verifyReferences looks every referenced secret up in Key Vault (KV012-KV014, package
// pkg/keyvault/verify).
//
// A scan is two-phase. Phase 1 streams the files discovery yields to GOMAXPROCS workers; each
// reads one file once, classifies and parses it, applies the per-file rules and keeps a small
// summary (declared secure parameters, parameter values, deployment tasks), never the parse
// tree. Phase 2 pairs parameters files, .bicepparam files, Bicep modules and pipeline deployment
// tasks with their templates using the summaries alone. Every Key Vault reference found is kept
// in the pkg/keyvault model; reference verification (KV012-KV014, verifyReferences) is a step over
// Result.References through Options.Verifier.
package keyvault

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"

	"github.com/stagegate/stagegate/pkg/finding"
	"github.com/stagegate/stagegate/pkg/gaterun"
	"github.com/stagegate/stagegate/pkg/gates/keyvault/discover"
	kv "github.com/stagegate/stagegate/pkg/keyvault"
	"github.com/stagegate/stagegate/pkg/keyvault/azcred"
	"github.com/stagegate/stagegate/pkg/keyvault/verify"
	"github.com/stagegate/stagegate/pkg/task"
)

// Task names the gate for gaterun and the reports.
const (
	TaskName = "KeyVaultReferenceGate"
	Title    = "Key Vault reference gate"
)

// DefaultMaxFileSize is the largest file parsed; larger files are only scanned for credentials,
// in chunks. Azure Resource Manager refuses templates over 4 MiB, so nothing deployable is lost.
const DefaultMaxFileSize = 32 << 20

// Gate returns the gate definition for gaterun. Off an agent, verification without
// azureSubscription uses DefaultAzureCredential (az login, AZURE_* environment, managed
// identity): the stagegate CLI and the check server use this.
func Gate() gaterun.Gate { return newGate(azcred.DefaultAzureCredential) }

// AgentGate is Gate without the DefaultAzureCredential fallback, for the keyvault-gate task
// binary, which runs on agents with a service connection: leaving the default chain out keeps
// about 0.8 MB (its public-client and developer-tool credentials) out of every platform's
// binary in the .vsix. Off an agent it asks for azureSubscription or for `stagegate keyvault`.
func AgentGate() gaterun.Gate { return newGate(nil) }

func newGate(local azcred.LocalFunc) gaterun.Gate {
	return gaterun.Gate{
		Task:       TaskName,
		Command:    "keyvault",
		Title:      Title,
		Positional: "rootDirectory",
		Evaluate: func(ctx context.Context, rt *gaterun.Runtime) (*finding.Report, error) {
			return evaluate(ctx, rt, local)
		},
	}
}

// Options configure a scan.
type Options struct {
	// Root is the directory to scan.
	Root string
	// Include and Exclude are doublestar globs relative to Root.
	Include, Exclude []string
	// Allow is the allowedVaults list (nil: any vault).
	Allow *kv.AllowList
	// MaxFileSize bounds the files parsed (DefaultMaxFileSize when 0).
	MaxFileSize int64
	// Workers is the number of files analysed at once (GOMAXPROCS when 0).
	Workers int
	// Verify asks for reference verification (KV012-KV014); Verifier must then be set.
	Verify   bool
	Verifier Verifier
	// AzureSubscription, ExpiryWarningDays and RequireExpiry configure verification.
	AzureSubscription string
	ExpiryWarningDays int
	RequireExpiry     bool
	// Progress receives progress lines (may be nil).
	Progress func(string)
}

// Verifier looks Key Vault references up in Key Vault (KV012-KV014); *verify.Verifier is the
// live one. An error means the gate could not evaluate: it fails closed.
type Verifier interface {
	Verify(ctx context.Context, refs []kv.Reference) ([]finding.Finding, error)
}

// VerifyReport is implemented by verifiers that also describe what they looked up, for the
// report: a check detail line, a table of every reference's state, notes, and the number of
// secrets looked up (the secretsVerified output). *verify.Verifier implements it.
type VerifyReport interface {
	Detail() string
	Table() finding.Table
	Notes() []string
	Verified() int
}

// ErrNoVerifier is returned when verifyReferences is true but no Verifier was configured: the
// gate must not pretend it verified anything.
var ErrNoVerifier = errors.New("input \"verifyReferences\": is true but no Key Vault verifier is configured (rules KV012-KV014 cannot run)")

// OptionsFromInputs reads the task inputs. Relative paths resolve against workDir.
func OptionsFromInputs(in *task.Inputs, workDir string) (*Options, error) {
	o := &Options{Root: in.Path("rootDirectory", workDir), MaxFileSize: DefaultMaxFileSize, Workers: runtime.GOMAXPROCS(0)}
	if o.Root == "" {
		o.Root = workDir
	}
	if o.Root == "" {
		return nil, &task.InputError{Input: "rootDirectory", Expected: "is required: give the folder to scan"}
	}
	fi, err := os.Stat(o.Root)
	if err != nil {
		return nil, fmt.Errorf("input \"rootDirectory\": %w", err)
	}
	if !fi.IsDir() {
		return nil, &task.InputError{Input: "rootDirectory", Value: o.Root, Expected: "a directory"}
	}
	inc := in.List("include")
	if len(inc) == 0 {
		return nil, &task.InputError{Input: "include", Expected: "at least one glob, e.g. **/*.json"}
	}
	if o.Include, err = discover.Compile("input \"include\"", inc); err != nil {
		return nil, err
	}
	if o.Exclude, err = discover.Compile("input \"exclude\"", in.List("exclude")); err != nil {
		return nil, err
	}
	if o.Allow, err = kv.ParseAllowList(in.List("allowedVaults")); err != nil {
		return nil, fmt.Errorf("input \"allowedVaults\": %w", err)
	}
	if o.Verify, err = in.Bool("verifyReferences"); err != nil {
		return nil, err
	}
	// Parsed even without verification, so a typo fails today rather than when it is turned on.
	if o.ExpiryWarningDays, err = in.Int("expiryWarningDays", 0, 3650); err != nil {
		return nil, err
	}
	if o.RequireExpiry, err = in.Bool("requireExpiry"); err != nil {
		return nil, err
	}
	o.AzureSubscription = in.String("azureSubscription")
	return o, nil
}

func evaluate(ctx context.Context, rt *gaterun.Runtime, local azcred.LocalFunc) (*finding.Report, error) {
	opt, err := OptionsFromInputs(rt.Inputs, rt.WorkDir)
	if err != nil {
		return nil, err
	}
	opt.Progress = rt.Info
	if opt.Verify {
		// Built before the scan, so a broken service connection fails fast.
		id, err := azcred.New(azcred.Config{Env: rt.Env, OnAgent: rt.OnAgent, Connection: opt.AzureSubscription, Secret: rt.Secret, Local: local})
		if err != nil {
			return nil, err
		}
		rt.Info("Key Vault references will be verified as " + id.String())
		v, err := verify.New(verify.Options{Identity: id, Now: rt.Now, ExpiryWarningDays: opt.ExpiryWarningDays, RequireExpiry: opt.RequireExpiry})
		if err != nil {
			return nil, err
		}
		opt.Verifier = v
	}
	res, err := Scan(ctx, opt)
	if err != nil {
		return nil, err
	}
	rep := res.Report()
	res.SetOutputs(rep, acceptedByBaseline(rt, rep))
	return rep, nil
}

// acceptedByBaseline returns a function telling whether the run's baseline accepts a finding,
// so the findings/errors/warnings outputs count what the verdict counts. gaterun applies the
// baseline itself after evaluation; this applies it to a copy.
func acceptedByBaseline(rt *gaterun.Runtime, rep *finding.Report) func(i int) bool {
	if rt.Baseline == nil {
		return nil
	}
	scratch := &finding.Report{Findings: append([]finding.Finding(nil), rep.Findings...)}
	rt.Baseline.Apply(rt.Now, scratch)
	return func(i int) bool { return !scratch.Findings[i].Counts() }
}
