// Command pack builds the extension package: `make vsix` runs it from the repository root.
//
//	go run ./tools/pack [-platforms all] [-publisher contoso] [-extension-id stagegate-test]
//
// It prints each binary's raw and compressed size and the package size, and fails when the
// package exceeds the size budget.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/stagegate/stagegate/tools/pack/packer"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pack", flag.ContinueOnError)
	fs.SetOutput(stderr)
	root := fs.String("root", ".", "repository root")
	out := fs.String("out", "", "output folder for the .vsix (default <root>/dist)")
	stage := fs.String("stage", "", "keep the staged package root in this folder (default: a temporary folder)")
	platforms := fs.String("platforms", "", `comma-separated <os>-<arch> list, "all", or empty for linux-amd64,linux-arm64,windows-amd64`)
	publisher := fs.String("publisher", "", "Marketplace publisher id (default: the manifest's)")
	extensionID := fs.String("extension-id", "", "extension id (default: the manifest's)")
	maxBytes := fs.Int64("max-bytes", packer.DefaultMaxBytes, "fail when the package is not smaller than this (Azure DevOps Server 2022 accepts 104857600)")
	cache := fs.String("cache", packer.DefaultCacheDir(), `compressed-binary cache folder; "" disables it`)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	plats, err := packer.ParsePlatforms(*platforms)
	if err != nil {
		fmt.Fprintln(stderr, "pack:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := packer.Build(ctx, packer.Options{
		Root:        *root,
		OutDir:      *out,
		StageDir:    *stage,
		Platforms:   plats,
		Publisher:   *publisher,
		ExtensionID: *extensionID,
		MaxBytes:    *maxBytes,
		CacheDir:    *cache,
		Log:         stderr,
	})
	if res != nil {
		report(stdout, res)
	}
	if err != nil {
		fmt.Fprintln(stderr, "pack:", err)
		return 1
	}
	return 0
}

func report(w io.Writer, res *packer.Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "task\tplatform\traw bytes\tcompressed bytes\tratio\t")
	var raw, packed int64
	for _, b := range res.Binaries {
		raw += b.Raw
		packed += b.Compressed
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.1f%%\t\n", b.Task, b.Platform, b.Raw, b.Compressed, 100*float64(b.Compressed)/float64(b.Raw))
	}
	fmt.Fprintf(tw, "all binaries\t\t%d\t%d\t%.1f%%\t\n", raw, packed, 100*float64(packed)/float64(max(raw, 1)))
	_ = tw.Flush()
	var agentless []string
	for _, t := range res.Tasks {
		if t.Agentless {
			agentless = append(agentless, t.Name)
		}
	}
	if len(agentless) > 0 {
		fmt.Fprintf(w, "agentless tasks (task.json and icon, no binaries): %s\n", strings.Join(agentless, ", "))
	}
	name := res.VSIX
	if name == "" {
		name = "(removed: over budget)"
	}
	fmt.Fprintf(w, "package %s: %d bytes, %.1f%% of the %d-byte limit (version %s, publisher %s, id %s)\n",
		name, res.Size, 100*float64(res.Size)/float64(res.MaxBytes), res.MaxBytes, res.Version, res.Publisher, res.ExtensionID)
}
