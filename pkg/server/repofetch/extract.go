// Package repofetch downloads a repository's files at one commit from Azure Repos (the git items
// API, as a zip archive) and unpacks them into a directory, within limits, so the check server
// can scan the templates of the commit being deployed without an agent or a clone.
//
// The archive comes from a remote service and is treated as hostile: entry names that would
// leave the directory are refused, sizes are counted as the bytes really decompressed (never
// the sizes the archive claims), entry and byte counts are bounded, only regular files and
// folders are written, and every write goes through an os.Root opened on the directory.
package repofetch

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// Limits bound one download and its extraction. Zero fields take the defaults.
type Limits struct {
	// MaxArchiveBytes bounds the compressed download. Default 64 MiB.
	MaxArchiveBytes int64
	// MaxFiles bounds the entries of the archive, folders included. Default 20,000.
	MaxFiles int
	// MaxBytes bounds the bytes written, all files together. Default 256 MiB.
	MaxBytes int64
}

// Default limits.
const (
	DefaultMaxArchiveBytes = 64 << 20
	DefaultMaxFiles        = 20000
	DefaultMaxBytes        = 256 << 20
)

func (l Limits) withDefaults() Limits {
	if l.MaxArchiveBytes <= 0 {
		l.MaxArchiveBytes = DefaultMaxArchiveBytes
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = DefaultMaxFiles
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	return l
}

// Stats describes an extraction.
type Stats struct {
	Files   int
	Folders int
	Bytes   int64
	// Skipped lists entries that are neither files nor folders (symbolic links): the scanners
	// never follow links, so nothing they could read is lost.
	Skipped []string
	// ArchiveBytes is the size of the downloaded archive (Fetch only).
	ArchiveBytes int64
}

// ErrLimit is wrapped by every error caused by a limit, so callers can tell "too big" from
// "broken".
var ErrLimit = errors.New("repository limit exceeded")

// Extract unpacks the zip archive in r (size bytes) into dir, which must exist. On error, dir
// may hold part of the files; the caller removes it.
func Extract(r io.ReaderAt, size int64, dir string, lim Limits) (Stats, error) {
	lim = lim.withDefaults()
	var st Stats
	zr, err := zip.NewReader(r, size)
	// ErrInsecurePath (GODEBUG=zipinsecurepath=0) still returns a usable reader; the names are
	// vetted below either way.
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return st, fmt.Errorf("read the repository archive: %w", err)
	}
	if len(zr.File) > lim.MaxFiles {
		return st, fmt.Errorf("the repository archive has %d entries, more than the limit of %d: %w", len(zr.File), lim.MaxFiles, ErrLimit)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return st, fmt.Errorf("open the extraction folder: %w", err)
	}
	defer root.Close()
	for _, f := range zr.File {
		name, err := entryName(f.Name)
		if err != nil {
			return st, err
		}
		if name == "" {
			continue // the archive's root folder
		}
		mode := f.Mode()
		switch {
		case mode.IsDir() || strings.HasSuffix(f.Name, "/"):
			if err := root.MkdirAll(name, 0o700); err != nil {
				return st, fmt.Errorf("create folder %q: %w", name, err)
			}
			st.Folders++
			continue
		case !mode.IsRegular():
			st.Skipped = append(st.Skipped, name)
			continue
		}
		if dir := path.Dir(name); dir != "." {
			if err := root.MkdirAll(dir, 0o700); err != nil {
				return st, fmt.Errorf("create folder %q: %w", dir, err)
			}
		}
		n, err := writeEntry(root, f, name, lim.MaxBytes-st.Bytes, lim.MaxBytes)
		st.Bytes += n
		if err != nil {
			return st, err
		}
		st.Files++
	}
	return st, nil
}

// writeEntry copies one file, refusing to write more than budget bytes (what is left of total).
func writeEntry(root *os.Root, f *zip.File, name string, budget, total int64) (int64, error) {
	rc, err := f.Open()
	if err != nil {
		return 0, fmt.Errorf("read %q from the repository archive: %w", name, err)
	}
	defer rc.Close()
	// O_EXCL: an archive naming the same file twice is refused rather than letting the second
	// copy replace what the first one said.
	out, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return 0, fmt.Errorf("the repository archive holds %q twice", name)
		}
		return 0, fmt.Errorf("create %q: %w", name, err)
	}
	n, err := io.Copy(out, io.LimitReader(rc, budget+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, fmt.Errorf("extract %q: %w", name, err)
	}
	if n > budget {
		return n, fmt.Errorf("the repository's files exceed the limit of %d bytes (at %q): %w", total, name, ErrLimit)
	}
	return n, nil
}

// entryName vets an archive entry name and returns it relative to the extraction folder ("" for
// the root itself). Names are slash-separated; one leading slash is accepted (the service names
// items from the repository root).
func entryName(raw string) (string, error) {
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("the repository archive holds an unsafe entry name %q: %s", printable(raw), why)
	}
	if raw == "" {
		return bad("empty")
	}
	if len(raw) > 4096 {
		return bad("longer than 4096 bytes")
	}
	for _, r := range raw {
		if r < 0x20 || r == 0x7f {
			return bad("control character")
		}
	}
	if strings.Contains(raw, `\`) {
		return bad("backslash")
	}
	name := strings.TrimSuffix(strings.TrimPrefix(raw, "/"), "/")
	if name == "" {
		return "", nil
	}
	if strings.HasPrefix(name, "/") {
		return bad("absolute path")
	}
	for _, el := range strings.Split(name, "/") {
		switch {
		case el == "", el == ".", el == "..":
			return bad("empty, '.' or '..' path element")
		case len(el) == 2 && el[1] == ':':
			return bad("drive letter")
		}
	}
	return name, nil
}

// printable keeps error messages on one line.
func printable(s string) string {
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}
