package server

import (
	"context"
	"fmt"
	"net/http"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/stagegate/stagegate/pkg/azdo"
	"github.com/stagegate/stagegate/pkg/gaterun"
	"github.com/stagegate/stagegate/pkg/gates/keyvault"
	"github.com/stagegate/stagegate/pkg/gates/reviews"
	"github.com/stagegate/stagegate/pkg/gates/workitems"
	"github.com/stagegate/stagegate/pkg/server/repofetch"
	"github.com/stagegate/stagegate/pkg/version"
	"github.com/stagegate/stagegate/tasks"
)

// Gate names in URLs and in the configuration.
const (
	GateWorkItems = "workitems"
	GateReviews   = "reviews"
	GateKeyVault  = "keyvault"
)

// gateTask maps a gate name to its task.json name.
func gateTask(name string) (string, bool) {
	switch name {
	case GateWorkItems:
		return "SecurityWorkItemGate", true
	case GateReviews:
		return "ProductionReviewGate", true
	case GateKeyVault:
		return keyvault.TaskName, true
	}
	return "", false
}

func gateDefinition(name string) (*tasks.Definition, bool) {
	t, ok := gateTask(name)
	if !ok {
		return nil, false
	}
	d, err := tasks.Get(t)
	if err != nil {
		return nil, false
	}
	return d, true
}

func inputNames(d *tasks.Definition) string {
	names := make([]string, 0, len(d.Inputs))
	for _, in := range d.Inputs {
		names = append(names, in.Name)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// Connection is how one evaluation reaches Azure DevOps: the organization and the credential
// chosen for the request (the check's AuthToken in callback mode, else the server's identity).
// Gates get it through GateSpec.Build and open clients with Client, so the token never passes
// through the gate's environment.
type Connection struct {
	OrgURL     string
	Credential azdo.Credential
	// HTTPClient is the shared upstream transport (connection reuse, proxies).
	HTTPClient *http.Client

	mu      sync.Mutex
	clients []*azdo.Client
}

// Client opens an Azure DevOps client for the gate; retries are reported through rt.Warn.
func (c *Connection) Client(ctx context.Context, rt *gaterun.Runtime) (*azdo.Client, error) {
	cl, err := azdo.New(ctx, azdo.Options{OrgURL: c.OrgURL, Credential: c.Credential, Warn: rt.Warn, HTTPClient: c.HTTPClient, UserAgent: "stagegate-serve/" + version.String()})
	if err != nil {
		return nil, fmt.Errorf("connect to Azure DevOps: %w", err)
	}
	c.mu.Lock()
	c.clients = append(c.clients, cl)
	c.mu.Unlock()
	return cl, nil
}

// stats sums the round trips of every client opened through the connection.
func (c *Connection) stats() azdo.Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	var s azdo.Stats
	for _, cl := range c.clients {
		st := cl.Requests()
		s.Total += st.Total
		s.Retries += st.Retries
	}
	return s
}

// redact hides any token the connection's clients sent.
func (c *Connection) redact(s string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cl := range c.clients {
		s = cl.Redact(s)
	}
	return s
}

// GateSpec is one gate the server offers.
type GateSpec struct {
	// Build returns the gate for one evaluation, reading Azure DevOps through conn.
	Build func(conn *Connection) gaterun.Gate
	// Sources asks the server to download the repository's files at the request's commit
	// before evaluation; the gate then sees them as its working directory and
	// BUILD_SOURCESDIRECTORY.
	Sources bool
}

// DefaultGates are the three stagegate gates, connected through the request's Connection.
func DefaultGates() map[string]GateSpec {
	return map[string]GateSpec{
		GateWorkItems: {Build: func(conn *Connection) gaterun.Gate {
			return workitems.GateWith(func(ctx context.Context, rt *gaterun.Runtime) (workitems.Reader, error) {
				c, err := conn.Client(ctx, rt)
				if err != nil {
					return nil, err
				}
				return c, nil
			})
		}},
		GateReviews: {Build: func(conn *Connection) gaterun.Gate {
			return reviews.GateWith(func(ctx context.Context, rt *gaterun.Runtime) (reviews.Reader, error) {
				c, err := conn.Client(ctx, rt)
				if err != nil {
					return nil, err
				}
				return c, nil
			})
		}},
		GateKeyVault: {Build: func(*Connection) gaterun.Gate { return keyvault.Gate() }, Sources: true},
	}
}

// SourceFetcher downloads a repository's files at a commit into dir.
type SourceFetcher interface {
	Fetch(ctx context.Context, src repofetch.Source, dir string) (repofetch.Stats, error)
}

// vetInput applies the server's restrictions to one input, from a request or from the policy:
// the server scans a fresh download of the repository and writes no files, so paths must stay
// inside the download and inputs that need an agent are refused.
func vetInput(gate, name, value string) error {
	switch {
	case strings.EqualFold(name, "mode"):
		if value != "" && !strings.EqualFold(value, "enforce") && !strings.EqualFold(value, "audit") {
			return fmt.Errorf("input %q: got %q, expected enforce or audit", name, value)
		}
	case gate == GateKeyVault && (strings.EqualFold(name, "rootDirectory") || strings.EqualFold(name, "baselineFile")):
		if value == "" {
			return nil
		}
		if err := relativePath(value); err != nil {
			return fmt.Errorf("input %q: %w", name, err)
		}
	case gate == GateKeyVault && (strings.EqualFold(name, "sarifFile") || strings.EqualFold(name, "azureSubscription")):
		if value != "" {
			return fmt.Errorf("input %q is not supported by stagegate serve (it writes no files and has no service connections): leave it empty", name)
		}
	}
	return nil
}

// relativePath accepts a slash-separated path inside the repository.
func relativePath(p string) error {
	if strings.HasPrefix(p, "$(") {
		return fmt.Errorf("%q: give a path relative to the repository root, not a pipeline variable", p)
	}
	if strings.ContainsAny(p, "\\\x00") || path.IsAbs(p) || len(p) >= 2 && p[1] == ':' {
		return fmt.Errorf("%q: give a slash-separated path relative to the repository root", p)
	}
	clean := path.Clean(p)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return fmt.Errorf("%q leaves the repository", p)
	}
	return nil
}

// vetPolicyInput checks an input set in the configuration file.
func vetPolicyInput(gate, name, value string) error { return vetInput(gate, name, value) }
