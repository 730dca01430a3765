package keyvault

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/stagegate/stagegate/pkg/finding"
	"github.com/stagegate/stagegate/pkg/gates/keyvault/discover"
	"github.com/stagegate/stagegate/pkg/gates/keyvault/rules"
	"github.com/stagegate/stagegate/pkg/gates/keyvault/secrets"
	kv "github.com/stagegate/stagegate/pkg/keyvault"
)

// GroupStats counts what one check group scanned.
type GroupStats struct {
	Files int
	Bytes int64
	// Formats counts files per format (ARM template, ARM parameters, ...).
	Formats map[rules.Format]int
}

// Result is a finished scan.
type Result struct {
	Root string
	// References are the Key Vault references found, in path order: every one when the scan
	// verifies them (Options.Verifier), else the first ones, enough for the summary's table.
	// ReferencesFound counts them all.
	References      []kv.Reference
	ReferencesFound int
	// Groups holds per-check-group statistics, keyed by group name.
	Groups map[string]*GroupStats
	// FilesScanned and BytesScanned count every file read (binary files excluded).
	FilesScanned int
	BytesScanned int64
	// Duration is the wall time of the scan.
	Duration time.Duration

	files []*rules.FileResult
	notes []string
	// verified holds findings from a Verifier (KV012-KV014); verifiedRan says one ran, and
	// verifyReport describes its lookups when it can.
	verified     []finding.Finding
	verifiedRan  bool
	verifyReport VerifyReport
}

type job struct {
	seq int
	f   discover.File
}

type outcome struct {
	seq    int
	r      *rules.FileResult
	note   string
	binary bool
}

// Scan discovers, reads and analyses every file under opt.Root (phase 1, in parallel), then
// pairs parameters files and deployments with their templates (phase 2). Each file is read once
// and its parse tree is dropped as soon as its summary is taken; memory holds at most one file
// per worker plus the small summaries.
func Scan(ctx context.Context, opt *Options) (*Result, error) {
	if opt.Verify && opt.Verifier == nil {
		return nil, ErrNoVerifier
	}
	start := time.Now()
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	maxSize := opt.MaxFileSize
	if maxSize <= 0 {
		maxSize = DefaultMaxFileSize
	}
	cfg := &rules.Config{Allow: opt.Allow}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	jobs := make(chan job, workers*4)
	outs := make(chan outcome, workers*4)
	var walkStats discover.Stats
	var walkErr error
	go func() {
		defer close(jobs)
		seq := 0
		walkStats, walkErr = discover.Walk(ctx, opt.Root, discover.Options{Include: opt.Include, Exclude: opt.Exclude}, func(f discover.File) error {
			select {
			case jobs <- job{seq: seq, f: f}:
				seq++
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for j := range jobs {
				if ctx.Err() != nil {
					continue
				}
				o := analyzeFile(j.f, &buf, cfg, maxSize)
				o.seq = j.seq
				select {
				case outs <- o:
				case <-ctx.Done():
					// Scan has returned or will: nobody may read outs any more.
				}
			}
		}()
	}
	go func() {
		wg.Wait()
		close(outs)
	}()

	res := &Result{Root: opt.Root, Groups: map[string]*GroupStats{}}
	for _, g := range rules.Groups() {
		res.Groups[g] = &GroupStats{Formats: map[rules.Format]int{}}
	}
	var ordered []outcome
	// Without verification only the first references are shown: keeping every one until the
	// end was a quarter of the live heap on a 1 GB tree.
	window := &refWindow{n: maxReferenceRows, all: opt.Verifier != nil}
	// A cancelled scan returns at once rather than when every worker has finished the file it
	// is parsing (a large file can take seconds); the workers stop after that file.
	for o := range whileLive(ctx, outs) {
		if o.r != nil && !o.binary {
			res.count(o.r)
			res.ReferencesFound += len(o.r.Refs)
			window.offer(o.seq, o.r)
			if o.r.Empty() {
				// Nothing to report or pair: keep only the counts. On a large tree most files
				// are clean, and their results would otherwise stay until the end of phase 1.
				o.r = nil
			}
		}
		for len(ordered) <= o.seq {
			ordered = append(ordered, outcome{})
		}
		ordered[o.seq] = o
	}
	// ctx first: after an early return the walker may still be writing walkErr.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if walkErr != nil {
		return nil, fmt.Errorf("scan %s: %w", opt.Root, walkErr)
	}
	res.collect(ordered, walkStats)
	res.pair()
	res.Duration = time.Since(start)
	if opt.Verifier != nil {
		found, err := opt.Verifier.Verify(ctx, res.References)
		if err != nil {
			return nil, fmt.Errorf("verify Key Vault references: %w", err)
		}
		res.verified, res.verifiedRan = found, true
		if vr, ok := opt.Verifier.(VerifyReport); ok {
			res.verifyReport = vr
		}
	}
	if opt.Progress != nil {
		opt.Progress(fmt.Sprintf("Scanned %d files (%s) in %s; %d Key Vault references found", res.FilesScanned, humanBytes(res.BytesScanned), res.Duration.Round(time.Millisecond), res.ReferencesFound))
	}
	return res, nil
}

// refWindow keeps the references of the files earliest in walk order until they hold n (all
// of them when all is set), dropping the others' as files arrive in any order.
type refWindow struct {
	n     int
	all   bool
	kept  int
	files []keptRefs // by seq
}

type keptRefs struct {
	seq int
	r   *rules.FileResult
}

func (w *refWindow) offer(seq int, r *rules.FileResult) {
	if w.all || len(r.Refs) == 0 {
		return
	}
	i, _ := slices.BinarySearchFunc(w.files, seq, func(k keptRefs, seq int) int { return cmp.Compare(k.seq, seq) })
	w.files = slices.Insert(w.files, i, keptRefs{seq, r})
	w.kept += len(r.Refs)
	// The last file's references are not needed if the files before it already hold n.
	for len(w.files) > 0 {
		last := w.files[len(w.files)-1]
		if w.kept-len(last.r.Refs) < w.n {
			break
		}
		w.kept -= len(last.r.Refs)
		last.r.Refs = nil
		w.files = w.files[:len(w.files)-1]
	}
}

// whileLive yields the values of ch until ch closes or ctx ends.
func whileLive[T any](ctx context.Context, ch <-chan T) iter.Seq[T] {
	return func(yield func(T) bool) {
		for {
			select {
			case v, ok := <-ch:
				if !ok || !yield(v) {
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}
}

// collect keeps the outcomes in path order and turns discovery problems into findings and notes.
func (res *Result) collect(ordered []outcome, st discover.Stats) {
	var binaries []string
	for _, o := range ordered {
		if o.note != "" {
			res.notes = append(res.notes, o.note)
		}
		switch {
		case o.r == nil: // nothing to report: counted on arrival
		case o.binary:
			binaries = append(binaries, o.r.Path)
		default:
			res.files = append(res.files, o.r)
		}
	}
	for _, p := range st.Problems {
		// A file or folder that cannot be read cannot be proven clean: fail closed.
		r := &rules.FileResult{Path: p.Path, Format: guessFormat(p.Path)}
		r.Issues = append(r.Issues, rules.Issue{Rule: rules.KV000, Severity: finding.Error, FailClosed: true, Logical: "read",
			Message: "cannot read: " + cleanErr(p.Err)})
		res.files = append(res.files, r)
	}
	if len(binaries) > 0 {
		res.notes = append(res.notes, fmt.Sprintf("skipped %d binary %s matching the include globs: %s", len(binaries), plural(len(binaries), "file", "files"), sample(binaries)))
	}
	if len(st.SpecialPaths) > 0 {
		res.notes = append(res.notes, fmt.Sprintf("did not read %d special %s (pipe, device or socket) matching the include globs: %s", len(st.SpecialPaths), plural(len(st.SpecialPaths), "file", "files"), sample(st.SpecialPaths)))
	}
	var outside, inside []string
	for _, l := range st.Links {
		if l.Outside {
			outside = append(outside, l.Path)
		} else {
			inside = append(inside, l.Path)
		}
	}
	if len(outside) > 0 {
		res.notes = append(res.notes, fmt.Sprintf("did not follow %d symbolic %s pointing outside rootDirectory: %s", len(outside), plural(len(outside), "link", "links"), sample(outside)))
	}
	if len(inside) > 0 {
		res.notes = append(res.notes, fmt.Sprintf("did not follow %d symbolic %s inside rootDirectory (their targets are scanned at their own paths when included): %s", len(inside), plural(len(inside), "link", "links"), sample(inside)))
	}
}

// count adds a scanned file to the statistics.
func (res *Result) count(r *rules.FileResult) {
	g := res.Groups[r.Format.Group()]
	g.Files++
	g.Bytes += r.Size
	g.Formats[r.Format]++
	res.FilesScanned++
	res.BytesScanned += r.Size
}

// pair runs phase 2 and merges its issues into each file's issues; summaries are dropped after.
func (res *Result) pair() {
	sums := make([]rules.Summarized, 0, len(res.files))
	for _, f := range res.files {
		if f.Summary != nil {
			sums = append(sums, rules.Summarized{Path: f.Path, Format: f.Format, Summary: f.Summary})
		}
	}
	cross := rules.Pair(sums)
	n := 0
	for _, f := range res.files {
		n += len(f.Refs)
	}
	// Sized once, and each file's copy dropped: on a 1 GB tree the references are 120,000
	// structs, which doubling growth and two copies would hold two to four times over.
	if n > 0 {
		res.References = make([]kv.Reference, 0, n)
	}
	for _, f := range res.files {
		f.Issues = rules.Merge(f.Issues, cross.Issues[f.Path])
		f.Summary = nil
		res.References = append(res.References, f.Refs...)
		f.Refs = nil
	}
	res.notes = append(res.notes, cross.Notes...)
}

// analyzeFile reads one file (reusing buf) and analyses it.
func analyzeFile(f discover.File, buf *[]byte, cfg *rules.Config, maxSize int64) outcome {
	if f.Size > maxSize {
		r, err := streamCredentials(f)
		if err != nil {
			return readFailed(f, err)
		}
		return outcome{r: r, note: fmt.Sprintf("%s is %s, over the %s parse limit: it was scanned for credentials only", f.Path, humanBytes(f.Size), humanBytes(maxSize))}
	}
	data, err := readInto(f.Abs, buf, f.Size, maxSize)
	if err != nil {
		return readFailed(f, err)
	}
	if cap(*buf) > 8<<20 {
		*buf = nil // do not keep a large buffer for the small files that usually follow
	}
	r := rules.Analyze(f.Path, data, cfg)
	return outcome{r: r, binary: r.Binary}
}

func readFailed(f discover.File, err error) outcome {
	r := &rules.FileResult{Path: f.Path, Format: guessFormat(f.Path), Size: f.Size}
	r.Issues = append(r.Issues, rules.Issue{Rule: rules.KV000, Severity: finding.Error, FailClosed: true, Logical: "read",
		Message: "cannot read: " + cleanErr(err)})
	return outcome{r: r}
}

// cleanErr drops the absolute path from a file error (findings carry the relative path).
func cleanErr(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Op + ": " + pe.Err.Error()
	}
	return err.Error()
}

// readInto reads a whole file into *buf, growing it as needed, and fails if the file is (or
// grows) larger than limit.
func readInto(name string, buf *[]byte, sizeHint, limit int64) ([]byte, error) {
	fh, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	if int64(cap(*buf)) < sizeHint+512 {
		*buf = make([]byte, 0, sizeHint+512)
	}
	b := (*buf)[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := fh.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if int64(len(b)) > limit {
			return nil, fmt.Errorf("file grew past the %s parse limit while being read", humanBytes(limit))
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	*buf = b
	return b, nil
}

// streamCredentials scans a file too large to parse for credentials, in overlapping windows,
// never holding more than one window.
func streamCredentials(f discover.File) (*rules.FileResult, error) {
	const chunk, overlap = 4 << 20, 64 << 10
	fh, err := os.Open(f.Abs)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	r := &rules.FileResult{Path: f.Path, Format: rules.Other, Size: f.Size}
	window := make([]byte, 0, chunk+overlap)
	line, col := 1, 1 // position of window[0]
	seen := map[string]int{}
	for {
		n, rerr := io.ReadFull(fh, window[len(window):len(window)+chunk])
		window = window[:len(window)+n]
		final := rerr != nil
		if rerr != nil && !errors.Is(rerr, io.EOF) && !errors.Is(rerr, io.ErrUnexpectedEOF) {
			return nil, rerr
		}
		safe := len(window)
		if !final {
			safe = max(0, len(window)-overlap)
		}
		for _, m := range secrets.Scan(window) {
			if m.Start >= safe {
				continue
			}
			l, c := advance(window[:m.Start], line, col)
			h := m.Hash()
			seen[h]++
			r.Issues = append(r.Issues, rules.Issue{Rule: rules.KV009, Severity: finding.Error, Line: l, Column: c,
				Logical: fmt.Sprintf("%s#%d", m.Kind, seen[h]), ValueHash: h, Message: string(m.Kind) + " in clear text: " + m.Redacted})
		}
		if final {
			return r, nil
		}
		line, col = advance(window[:safe], line, col)
		window = window[:copy(window, window[safe:])]
	}
}

// advance moves a line/column position over b.
func advance(b []byte, line, col int) (int, int) {
	if n := bytes.Count(b, []byte{'\n'}); n > 0 {
		line += n
		b = b[bytes.LastIndexByte(b, '\n')+1:]
		col = 1
	}
	return line, col + utf8.RuneCount(b)
}

func guessFormat(p string) rules.Format {
	switch strings.ToLower(path.Ext(p)) {
	case ".bicep":
		return rules.Bicep
	case ".bicepparam":
		return rules.BicepParams
	case ".tf":
		return rules.Terraform
	case ".tfvars":
		return rules.TFVars
	}
	return rules.Other
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// sample lists up to five paths.
func sample(paths []string) string {
	if len(paths) <= 5 {
		return strings.Join(paths, ", ")
	}
	return strings.Join(paths[:5], ", ") + fmt.Sprintf(" and %d more", len(paths)-5)
}
