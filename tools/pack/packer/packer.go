// Package packer builds the extension package (.vsix): it stages the task folders, builds and
// brotli-compresses the gate binaries for each platform, stamps one version everywhere and
// runs the pinned tfx-cli. `make vsix` (tools/pack) and the end-to-end tests both use it, so
// the tests inspect exactly what ships.
package packer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

// DefaultMaxBytes is the largest package the Marketplace and Azure DevOps Server 2019 accept
// (25 MiB). Azure DevOps Server 2022 accepts 100 MiB.
const DefaultMaxBytes = 25 << 20

// Options configures Build. Only Root is required.
type Options struct {
	Root        string     // repository root (holds go.mod, VERSION, vss-extension.json, tasks/)
	OutDir      string     // where the .vsix is written; default Root/dist
	StageDir    string     // staging folder, kept for inspection; default a temporary one, removed
	Platforms   []Platform // default DefaultPlatforms()
	Publisher   string     // replaces the manifest's publisher when set
	ExtensionID string     // replaces the manifest's id when set
	MaxBytes    int64      // size budget; default DefaultMaxBytes
	CacheDir    string     // compressed-binary cache; "" disables it (see DefaultCacheDir)
	Tfx         string     // tfx executable; default Root/node_modules/.bin/tfx
	Log         io.Writer  // progress messages; default io.Discard
}

// Binary describes one compressed binary in the package.
type Binary struct {
	Task       string
	Platform   Platform
	Path       string // inside the package, e.g. tasks/X/bin/linux-amd64/x-gate.br
	Raw        int64
	Compressed int64
	Cached     bool // compressed output came from the cache
}

// Result describes the package Build wrote.
type Result struct {
	VSIX        string
	Size        int64
	MaxBytes    int64
	Version     Version
	Publisher   string
	ExtensionID string
	Tasks       []Task
	Binaries    []Binary
}

// Build writes the .vsix and returns what went into it. It fails, and leaves no package
// behind, when the package is not under the size budget; the Result is then still returned,
// with an empty VSIX, so the caller can show the sizes.
func Build(ctx context.Context, opts Options) (*Result, error) {
	if opts.Root == "" {
		return nil, errors.New("packer: Options.Root is required")
	}
	root, err := filepath.Abs(opts.Root)
	if err != nil {
		return nil, fmt.Errorf("packer: root: %w", err)
	}
	outDir := opts.OutDir
	if outDir == "" {
		outDir = filepath.Join(root, "dist")
	}
	if outDir, err = filepath.Abs(outDir); err != nil {
		return nil, fmt.Errorf("packer: output folder: %w", err)
	}
	platforms := opts.Platforms
	if len(platforms) == 0 {
		platforms = DefaultPlatforms()
	}
	maxBytes := opts.MaxBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	tfx := opts.Tfx
	if tfx == "" {
		tfx = filepath.Join(root, "node_modules", ".bin", "tfx")
	}
	if !fileExists(tfx) {
		return nil, fmt.Errorf("packer: %s not found: install the pinned tfx-cli with `npm ci` (make vsix does this)", tfx)
	}
	logw := opts.Log
	if logw == nil {
		logw = io.Discard
	}

	version, err := ReadVersion(root)
	if err != nil {
		return nil, fmt.Errorf("packer: %w", err)
	}
	tasks, err := DiscoverTasks(root)
	if err != nil {
		return nil, fmt.Errorf("packer: %w", err)
	}
	manifestRaw, err := os.ReadFile(filepath.Join(root, "vss-extension.json"))
	if err != nil {
		return nil, fmt.Errorf("packer: %w", err)
	}
	var manifest Manifest
	if err := json.Unmarshal(manifestRaw, &manifest); err != nil {
		return nil, fmt.Errorf("packer: parse vss-extension.json: %w", err)
	}
	if err := CheckManifest(manifest, tasks); err != nil {
		return nil, fmt.Errorf("packer: %w", err)
	}
	stamped, err := StampManifest(manifestRaw, version, opts.Publisher, opts.ExtensionID)
	if err != nil {
		return nil, fmt.Errorf("packer: %w", err)
	}
	if err := json.Unmarshal(stamped, &manifest); err != nil {
		return nil, fmt.Errorf("packer: %w", err)
	}

	work, err := os.MkdirTemp("", "stagegate-pack-")
	if err != nil {
		return nil, fmt.Errorf("packer: %w", err)
	}
	defer os.RemoveAll(work)
	stage := opts.StageDir
	if stage == "" {
		stage = filepath.Join(work, "stage")
	} else if stage, err = filepath.Abs(stage); err != nil {
		return nil, fmt.Errorf("packer: stage folder: %w", err)
	}
	// A kept stage folder is rebuilt from scratch so nothing stale ships.
	if err := os.RemoveAll(stage); err != nil {
		return nil, fmt.Errorf("packer: %w", err)
	}

	if err := stageFiles(root, stage, stamped, tasks, version); err != nil {
		return nil, fmt.Errorf("packer: %w", err)
	}
	built, err := buildBinaries(ctx, root, filepath.Join(work, "build"), tasks, platforms, version, logw)
	if err != nil {
		return nil, fmt.Errorf("packer: %w", err)
	}
	cache := compressCache{dir: opts.CacheDir}
	if err := cache.prune(time.Now()); err != nil {
		fmt.Fprintf(logw, "warning: %v\n", err)
	}
	binaries, err := compressBinaries(ctx, stage, built, tasks, cache, logw)
	if err != nil {
		return nil, fmt.Errorf("packer: %w", err)
	}

	vsix := filepath.Join(outDir, fmt.Sprintf("%s.%s-%s.vsix", manifest.Publisher, manifest.ID, version))
	if err := runTfx(ctx, tfx, stage, vsix, logw); err != nil {
		return nil, fmt.Errorf("packer: %w", err)
	}
	res := &Result{
		VSIX:        vsix,
		MaxBytes:    maxBytes,
		Version:     version,
		Publisher:   manifest.Publisher,
		ExtensionID: manifest.ID,
		Tasks:       tasks,
		Binaries:    binaries,
	}
	res.Size, err = checkBudget(vsix, maxBytes)
	if err != nil {
		// The sizes still tell what to shrink; the package itself is gone.
		res.VSIX = ""
		return res, fmt.Errorf("packer: %w", err)
	}
	return res, nil
}

// stageFiles lays out the package root: the stamped manifest, the overview page, the
// extension icon and each task folder with its stamped task.json and icon, plus the launcher
// for an agent task.
func stageFiles(root, stage string, manifest []byte, tasks []Task, v Version) error {
	if err := writeFile(filepath.Join(stage, "vss-extension.json"), manifest); err != nil {
		return err
	}
	if err := copyFile(filepath.Join(root, "overview.md"), filepath.Join(stage, "overview.md")); err != nil {
		return err
	}
	if err := copyFile(filepath.Join(root, "tasks", "extension-icon.png"), filepath.Join(stage, "images", "extension-icon.png")); err != nil {
		return err
	}
	launcher := filepath.Join(root, "tasks", "launcher", "index.js")
	for _, t := range tasks {
		src := filepath.Join(root, "tasks", t.Name)
		dst := filepath.Join(stage, "tasks", t.Name)
		raw, err := os.ReadFile(filepath.Join(src, "task.json"))
		if err != nil {
			return fmt.Errorf("stage: %w", err)
		}
		taskJSON, err := StampTask(raw, v)
		if err != nil {
			return fmt.Errorf("tasks/%s/task.json: %w", t.Name, err)
		}
		if err := writeFile(filepath.Join(dst, "task.json"), taskJSON); err != nil {
			return err
		}
		// Only these files ship: a stray local build in tasks/X/bin never reaches the package.
		type file struct{ src, dst string }
		files := []file{{filepath.Join(src, "icon.png"), "icon.png"}}
		if !t.Agentless {
			files = append(files, file{launcher, "index.js"}, file{filepath.Join(src, "launcher.json"), "launcher.json"})
		}
		for _, f := range files {
			if err := copyFile(f.src, filepath.Join(dst, f.dst)); err != nil {
				return err
			}
		}
	}
	return nil
}

type builtBinary struct {
	binary   string
	platform Platform
	path     string
}

// buildBinaries cross-compiles every agent task's binary for every platform, one `go build`
// per platform so Go shares its work across packages. Agentless tasks have no binary.
func buildBinaries(ctx context.Context, root, out string, tasks []Task, platforms []Platform, v Version, logw io.Writer) ([]builtBinary, error) {
	var pkgs, names []string
	seen := map[string]bool{}
	for _, t := range tasks {
		if !t.Agentless && !seen[t.Binary] {
			seen[t.Binary] = true
			pkgs = append(pkgs, "./cmd/"+t.Binary)
			names = append(names, t.Binary)
		}
	}
	if len(pkgs) == 0 {
		return nil, nil
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("build: the go command is not on PATH: %w", err)
	}
	ldflags := "-s -w -X github.com/stagegate/stagegate/pkg/version.version=" + v.String()
	var built []builtBinary
	for _, p := range platforms {
		dir := filepath.Join(out, p.String())
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("build: %w", err)
		}
		start := time.Now()
		args := append([]string{"build", "-trimpath", "-buildvcs=false", "-ldflags", ldflags, "-o", dir + string(filepath.Separator)}, pkgs...)
		cmd := exec.CommandContext(ctx, goTool, args...)
		cmd.Dir = root
		// -trimpath and -buildvcs=false make the binaries reproducible, so the compression
		// cache hits for unchanged code on any checkout.
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Arch)
		var output bytes.Buffer
		cmd.Stdout, cmd.Stderr = &output, &output
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("build %s for %s: %w\n%s", strings.Join(names, ", "), p, err, output.String())
		}
		fmt.Fprintf(logw, "built %s for %s in %s\n", strings.Join(names, ", "), p, time.Since(start).Round(time.Millisecond))
		for _, name := range names {
			built = append(built, builtBinary{binary: name, platform: p, path: filepath.Join(dir, p.Exe(name))})
		}
	}
	return built, nil
}

// compressBinaries writes tasks/<Task>/bin/<os>-<arch>/<exe>.br into the stage, compressing
// on every core: quality 11 is the slow step of the whole build.
func compressBinaries(ctx context.Context, stage string, built []builtBinary, tasks []Task, cache compressCache, logw io.Writer) ([]Binary, error) {
	type job struct {
		src    builtBinary
		task   string
		result Binary
		err    error
	}
	var jobs []*job
	for _, t := range tasks {
		if t.Agentless {
			continue
		}
		for _, b := range built {
			if b.binary == t.Binary {
				jobs = append(jobs, &job{src: b, task: t.Name})
			}
		}
	}
	workers := min(runtime.GOMAXPROCS(0), len(jobs))
	queue := make(chan *job)
	var wg sync.WaitGroup
	var logMu sync.Mutex
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range queue {
				j.result, j.err = compressOne(stage, j.task, j.src, cache)
				if j.err == nil {
					logMu.Lock()
					fmt.Fprintf(logw, "compressed %s\n", j.result.Path)
					logMu.Unlock()
				}
			}
		}()
	}
	for _, j := range jobs {
		if ctx.Err() != nil {
			break
		}
		queue <- j
	}
	close(queue)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("compress: %w", err)
	}
	var out []Binary
	var errs []error
	for _, j := range jobs {
		if j.err != nil {
			errs = append(errs, j.err)
			continue
		}
		out = append(out, j.result)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

func compressOne(stage, task string, b builtBinary, cache compressCache) (Binary, error) {
	raw, err := os.ReadFile(b.path)
	if err != nil {
		return Binary{}, fmt.Errorf("compress: %w", err)
	}
	packed, cached, err := cache.compress(raw)
	if err != nil {
		return Binary{}, fmt.Errorf("compress %s for %s: %w", b.binary, b.platform, err)
	}
	rel := filepath.ToSlash(filepath.Join("tasks", task, "bin", b.platform.String(), b.platform.Exe(b.binary)+".br"))
	if err := writeFile(filepath.Join(stage, filepath.FromSlash(rel)), packed); err != nil {
		return Binary{}, err
	}
	return Binary{
		Task:       task,
		Platform:   b.platform,
		Path:       rel,
		Raw:        int64(len(raw)),
		Compressed: int64(len(packed)),
		Cached:     cached,
	}, nil
}

// runTfx packages the stage with the pinned tfx-cli. tfx only warns about an invalid
// task.json ("will be treated as an error in the future"); here it is an error now.
func runTfx(ctx context.Context, tfx, stage, vsix string, logw io.Writer) error {
	if err := os.MkdirAll(filepath.Dir(vsix), 0o755); err != nil {
		return fmt.Errorf("tfx: %w", err)
	}
	_ = os.Remove(vsix)
	cmd := exec.CommandContext(ctx, tfx, "extension", "create",
		"--root", stage,
		"--manifest-globs", "vss-extension.json",
		"--output-path", vsix,
		"--no-prompt", "--no-color")
	cmd.Dir = stage
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("tfx extension create: %w\n%s", err, output.String())
	}
	for _, line := range strings.Split(output.String(), "\n") {
		if strings.HasPrefix(strings.ToLower(strings.TrimSpace(line)), "warning") {
			_ = os.Remove(vsix)
			return fmt.Errorf("tfx extension create warned, treated as an error:\n%s", output.String())
		}
	}
	if !fileExists(vsix) {
		return fmt.Errorf("tfx extension create wrote no %s:\n%s", vsix, output.String())
	}
	fmt.Fprintf(logw, "tfx wrote %s\n", vsix)
	return nil
}

// checkBudget returns the package size and, when it is not under maxBytes, removes the
// package and fails: an oversized package would only be refused at upload time.
func checkBudget(vsix string, maxBytes int64) (int64, error) {
	st, err := os.Stat(vsix)
	if err != nil {
		return 0, fmt.Errorf("size budget: %w", err)
	}
	if st.Size() >= maxBytes {
		if err := os.Remove(vsix); err != nil {
			return st.Size(), fmt.Errorf("size budget: %w", err)
		}
		return st.Size(), fmt.Errorf("size budget: %s is %d bytes, not under the %d-byte limit (the Marketplace and Azure DevOps Server 2019 refuse packages over 25 MiB); the package was removed: build fewer platforms or shrink the binaries", filepath.Base(vsix), st.Size(), maxBytes)
	}
	return st.Size(), nil
}
