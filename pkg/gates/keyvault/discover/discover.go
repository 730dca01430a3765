// Package discover lists the files the Key Vault reference gate scans: a walk of the root
// directory in lexical order, filtered by include and exclude globs, that never follows a
// symbolic link (so nothing outside the root is ever read) and reports what it skipped.
package discover

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// Options select files. Globs use doublestar syntax (**, *, ?, [class], {a,b}; a backslash is a
// path separator, not an escape) on slash-separated paths relative to the root, and match
// case-insensitively, as Windows agents' file systems do.
type Options struct {
	Include []string
	Exclude []string
}

// File is one file to scan.
type File struct {
	Path string // slash-separated, relative to the root
	Abs  string // absolute path on disk
	Size int64
}

// Link is a symbolic link the walk did not follow.
type Link struct {
	Path    string
	Target  string // as stored in the link
	Outside bool   // the target resolves outside the root (or cannot be resolved)
}

// Problem is an entry the walk could not read.
type Problem struct {
	Path string
	Err  error
}

// Stats says what the walk saw besides the files it yielded.
type Stats struct {
	Links    []Link
	Problems []Problem
	// Excluded counts files and directories skipped by an exclude glob; Unmatched counts files no
	// include glob matched.
	Excluded, Unmatched int
	// Special counts devices, sockets and pipes that match the include globs; SpecialPaths
	// names them (slash-separated, relative to the root).
	Special      int
	SpecialPaths []string
}

// Compile validates globs and normalises them for matching. what names the input in errors.
func Compile(what string, globs []string) ([]string, error) {
	out := make([]string, 0, len(globs))
	for _, g := range globs {
		// A backslash is a path separator here (globs written on Windows), not an escape.
		g = strings.ReplaceAll(strings.TrimSpace(g), `\`, "/")
		g = strings.TrimPrefix(g, "./")
		if g == "" {
			continue
		}
		if !doublestar.ValidatePattern(g) {
			return nil, fmt.Errorf("%s: %q is not a valid glob (check brackets and braces)", what, g)
		}
		out = append(out, strings.ToLower(g))
	}
	return out, nil
}

// Walk calls fn for every regular file under root that an include glob matches and no exclude
// glob matches, in lexical path order. Excluded directories are not entered. Symbolic links are
// never followed, to files or to directories, inside or outside the root: they are listed in
// Stats. An error from fn stops the walk and is returned; unreadable entries are listed in
// Stats.Problems and the walk goes on.
func Walk(ctx context.Context, root string, opt Options, fn func(File) error) (Stats, error) {
	var st Stats
	real, err := filepath.EvalSymlinks(root)
	if err != nil {
		return st, fmt.Errorf("root directory %s: %w", root, err)
	}
	real, err = filepath.Abs(real)
	if err != nil {
		return st, fmt.Errorf("root directory %s: %w", root, err)
	}
	info, err := os.Stat(real)
	if err != nil {
		return st, fmt.Errorf("root directory %s: %w", root, err)
	}
	if !info.IsDir() {
		return st, fmt.Errorf("root directory %s is not a directory", root)
	}
	include, exclude := opt.Include, opt.Exclude
	walkErr := filepath.WalkDir(real, func(p string, d fs.DirEntry, err error) error {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		rel, rerr := filepath.Rel(real, p)
		if rerr != nil {
			return rerr
		}
		rel = filepath.ToSlash(rel)
		if err != nil {
			if rel == "." {
				return err
			}
			st.Problems = append(st.Problems, Problem{Path: rel, Err: err})
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if rel == "." {
			return nil
		}
		lower := strings.ToLower(rel)
		if matchAny(exclude, lower) {
			st.Excluded++
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		switch t := d.Type(); {
		case t&fs.ModeSymlink != 0:
			st.Links = append(st.Links, link(real, p, rel))
			return nil
		case d.IsDir():
			return nil
		}
		if !matchAny(include, lower) {
			st.Unmatched++
			return nil
		}
		if !d.Type().IsRegular() {
			// A pipe or device named like a template is never opened (it could block the scan
			// forever), but it is named so nothing is skipped silently.
			st.Special++
			st.SpecialPaths = append(st.SpecialPaths, rel)
			return nil
		}
		fi, ierr := d.Info()
		if ierr != nil {
			st.Problems = append(st.Problems, Problem{Path: rel, Err: ierr})
			return nil
		}
		return fn(File{Path: rel, Abs: p, Size: fi.Size()})
	})
	if walkErr != nil {
		return st, walkErr
	}
	return st, nil
}

func link(root, p, rel string) Link {
	l := Link{Path: rel, Outside: true}
	l.Target, _ = os.Readlink(p)
	if target, err := filepath.EvalSymlinks(p); err == nil {
		if r, err := filepath.Rel(root, target); err == nil && r != ".." && !strings.HasPrefix(r, ".."+string(filepath.Separator)) && !filepath.IsAbs(r) {
			l.Outside = false
		}
	}
	return l
}

func matchAny(globs []string, lowerPath string) bool {
	for _, g := range globs {
		if ok, err := doublestar.Match(g, lowerPath); err == nil && ok {
			return true
		}
	}
	return false
}
