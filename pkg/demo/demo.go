// Package demo runs every gate against the built-in Azure DevOps simulator (over real HTTP on
// loopback, through the real Go client) and against the sample templates, so a newcomer sees real
// output with no account. Each step states what it should show; the demo fails if a gate does
// something else.
package demo

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stagegate/stagegate/pkg/azdo/azdosim"
	"github.com/stagegate/stagegate/pkg/gaterun"
	"github.com/stagegate/stagegate/pkg/task"
)

// Step is one gate run of the demo.
type Step struct {
	Title string
	// Why says what the step demonstrates and what the reader should look for.
	Why  string
	Gate gaterun.Gate
	// Scenario names the simulator the step talks to ("" for none).
	Scenario string
	Args     []string
	// Want is the exit code the step must end with (0 pass, 1 violations).
	Want int
}

// Options configure a demo run.
type Options struct {
	// Scenarios are simulator scenarios (JSON) by name; each gets its own simulator.
	// Templates is a file tree of sample templates, copied to a temporary directory so the demo
	// never writes into the caller's tree.
	Scenarios map[string][]byte
	Templates fs.FS
	Steps     func(env Env) []Step
	Now       func() time.Time
}

// Env is what steps need to know about the running demo.
type Env struct {
	Templates string // directory holding the extracted sample templates
}

// Run starts the simulator, runs each step and reports whether every step behaved as designed.
func Run(ctx context.Context, w io.Writer, opt Options) int {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	sims := map[string]simulator{}
	for name, data := range opt.Scenarios {
		s, err := startSimulator(name, data, opt.Now)
		if err != nil {
			fmt.Fprintf(w, "demo: %v\n", err)
			return gaterun.ExitError
		}
		defer s.srv.Close()
		sims[name] = s
	}

	dir, err := os.MkdirTemp("", "stagegate-demo-")
	if err != nil {
		fmt.Fprintf(w, "demo: %v\n", err)
		return gaterun.ExitError
	}
	defer os.RemoveAll(dir)
	if opt.Templates != nil {
		if err := os.CopyFS(dir, opt.Templates); err != nil {
			fmt.Fprintf(w, "demo: extract sample templates: %v\n", err)
			return gaterun.ExitError
		}
	}
	env := Env{Templates: dir}
	for name, s := range sims {
		fmt.Fprintf(w, "stagegate demo: Azure DevOps simulator %q (organization %q) at %s\n", name, s.org, s.orgURL)
	}
	failed := 0
	steps := opt.Steps(env)
	for i, s := range steps {
		fmt.Fprintf(w, "\n%s\n%d/%d  %s\n      stagegate %s %s\n      %s\n%s\n", strings.Repeat("=", 78), i+1, len(steps), s.Title, s.Gate.Command, strings.Join(redactArgs(s.Args, dir), " "), s.Why, strings.Repeat("-", 78))
		procEnv := task.MapEnv(nil)
		if s.Scenario != "" {
			sim, ok := sims[s.Scenario]
			if !ok {
				fmt.Fprintf(w, "demo: step %q names unknown scenario %q\n", s.Title, s.Scenario)
				return gaterun.ExitError
			}
			procEnv = sim.env
		}
		code := gaterun.Main(ctx, s.Gate, s.Args, procEnv, w, w, gaterun.Options{Now: opt.Now})
		verdict := "as designed"
		if code != s.Want {
			verdict = fmt.Sprintf("UNEXPECTED: exit code %d, the demo expects %d", code, s.Want)
			failed++
		}
		fmt.Fprintf(w, "-> exit code %d (%s)\n", code, verdict)
	}
	fmt.Fprintf(w, "\n%s\n", strings.Repeat("=", 78))
	if failed > 0 {
		fmt.Fprintf(w, "demo: %d of %d steps did not behave as designed\n", failed, len(steps))
		return gaterun.ExitViolated
	}
	fmt.Fprintf(w, "demo: all %d steps behaved as designed (failing steps are meant to fail: that is the gate working)\n", len(steps))
	return 0
}

type simulator struct {
	org, orgURL string
	srv         *http.Server
	env         task.LookupFunc
}

// startSimulator serves one scenario on loopback: the gates reach it over real HTTP through the
// real Azure DevOps client, exactly as they reach dev.azure.com.
func startSimulator(name string, data []byte, now func() time.Time) (simulator, error) {
	sc, err := azdosim.ParseScenario(data)
	if err != nil {
		return simulator{}, fmt.Errorf("scenario %s: %w", name, err)
	}
	sim, err := azdosim.New(sc, azdosim.Options{Now: now})
	if err != nil {
		return simulator{}, fmt.Errorf("simulator %s: %w", name, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return simulator{}, fmt.Errorf("listen on loopback: %w", err)
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	orgURL := fmt.Sprintf("http://%s/%s/", ln.Addr(), sc.Organization)
	token := ""
	if len(sc.Tokens) > 0 {
		token = sc.Tokens[0]
	}
	vars := map[string]string{"SYSTEM_COLLECTIONURI": orgURL, "AZURE_DEVOPS_EXT_PAT": token}
	if len(sc.Projects) > 0 {
		vars["SYSTEM_TEAMPROJECT"] = sc.Projects[0].Name
	}
	env := task.MapEnv(vars)
	return simulator{org: sc.Organization, orgURL: orgURL, srv: srv, env: env}, nil
}

// redactArgs shows sample-template paths relative to the extracted tree, for readable output.
func redactArgs(args []string, dir string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if rel, err := filepath.Rel(dir, a); err == nil && !strings.HasPrefix(rel, "..") && filepath.IsAbs(a) {
			a = filepath.ToSlash(filepath.Join("examples", rel))
		}
		out[i] = a
	}
	return out
}
