// Command corpusgen writes a realistic, deterministic tree of infrastructure-as-code for the
// Key Vault gate's throughput and memory budgets (`make bench-corpus`):
//
//	go run ./tools/corpusgen -size 1GB -out /tmp/corpus [-seed 1] [-mix terraform=7,bicep=6,arm=4,app=3] [-findings=false] [-json]
//	go run ./tools/corpusgen -allowed-vaults
//
// The tree is a monorepo of Terraform, Bicep, ARM and application projects with their
// pipelines, in real-world file sizes (kvtest.GenerateMixedTree). It prints the number of files
// and bytes per content kind and the number of findings the gate must report on it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/stagegate/stagegate/pkg/gates/keyvault/kvtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Summary is what -json prints.
type Summary struct {
	Dir      string                      `json:"dir"`
	Seed     uint64                      `json:"seed"`
	Mix      string                      `json:"mix"`
	Projects int                         `json:"projects"`
	Files    int                         `json:"files"`
	Bytes    int64                       `json:"bytes"`
	Findings int                         `json:"findings"`
	Kinds    map[string]kvtest.KindStats `json:"kinds"`
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("corpusgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	size := fs.String("size", "", "at least this much content: 1GB, 500MB, 64MiB, 1048576 (required)")
	out := fs.String("out", "", "folder to write; must not exist or be empty (required)")
	seed := fs.Uint64("seed", 1, "the same seed, size and mix give the same tree")
	findings := fs.Bool("findings", true, "plant one badly kept project in 25 (every rule fires)")
	mixFlag := fs.String("mix", "default", "projects of each archetype per cycle: terraform=7,bicep=6,arm=4,app=3 (the default)")
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	vaults := fs.Bool("allowed-vaults", false, "print the vault names the tree references, comma-separated (an allowedVaults value that keeps every rule on without new findings), and exit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *vaults {
		fmt.Fprintln(stdout, strings.Join(kvtest.AllowedVaults(), ","))
		return 0
	}
	if fs.NArg() > 0 || *size == "" || *out == "" {
		fmt.Fprintln(stderr, "usage: corpusgen -size SIZE -out DIR [-seed N] [-mix terraform=7,bicep=6,arm=4,app=3] [-findings=false] [-json]")
		return 2
	}
	target, err := kvtest.ParseSize(*size)
	if err != nil {
		fmt.Fprintln(stderr, "corpusgen:", err)
		return 2
	}
	mix, err := kvtest.ParseMix(*mixFlag)
	if err != nil {
		fmt.Fprintln(stderr, "corpusgen:", err)
		return 2
	}
	if err := checkEmpty(*out); err != nil {
		fmt.Fprintln(stderr, "corpusgen:", err)
		return 2
	}
	start := time.Now()
	st, err := kvtest.GenerateMixedTree(ctx, *out, target, kvtest.MixOptions{Seed: *seed, Findings: *findings, Mix: mix})
	if err != nil {
		fmt.Fprintln(stderr, "corpusgen:", err)
		return 1
	}
	sum := Summary{Dir: *out, Seed: *seed, Mix: mix.String(), Projects: st.Projects, Files: st.Files, Bytes: st.Bytes, Findings: st.Findings, Kinds: st.ByKind}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(sum); err != nil {
			fmt.Fprintln(stderr, "corpusgen:", err)
			return 1
		}
		return 0
	}
	fmt.Fprintf(stdout, "%s: %d projects, %d files, %.1f MB, %d planted findings (seed %d, mix %s, %s)\n",
		*out, st.Projects, st.Files, float64(st.Bytes)/1e6, st.Findings, *seed, mix, time.Since(start).Round(time.Millisecond))
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "kind\tfiles\tMB\tshare\tavg KB\t")
	for _, k := range st.Kinds() {
		ks := st.ByKind[k]
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f%%\t%.1f\t\n", k, ks.Files, float64(ks.Bytes)/1e6, 100*float64(ks.Bytes)/float64(st.Bytes), float64(ks.Bytes)/float64(ks.Files)/1e3)
	}
	if err := tw.Flush(); err != nil {
		fmt.Fprintln(stderr, "corpusgen:", err)
		return 1
	}
	return 0
}

// checkEmpty refuses to write into a folder that already holds files: a tree mixed with
// other content would not match the printed statistics.
func checkEmpty(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("output folder %s: %w", dir, err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("output folder %s is not empty; remove it or choose another", dir)
	}
	return nil
}
