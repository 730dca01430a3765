package rules

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/stagegate/stagegate/pkg/gates/keyvault/secrets"
)

// Cross is the outcome of phase 2: issues per file path and notes for the log.
type Cross struct {
	Issues map[string][]Issue
	Notes  []string
	// Pairs maps a parameters file to the templates it was judged against.
	Pairs map[string][]string
}

func (c *Cross) add(p string, is Issue) {
	if is.Severity == "" {
		is.Severity = Severity(is.Rule)
	}
	c.Issues[p] = append(c.Issues[p], is)
}

// Summarized is the part of a phase-1 result phase 2 reads.
type Summarized struct {
	Path    string
	Format  Format
	Summary *Summary
}

// Pair applies the cross-file rules to the summaries of every scanned file: KV001 for parameters
// files, .bicepparam files and Bicep module calls judged against the template they pair with
// (or, when none is found, against the parameter name), and KV011 for pipeline deployment
// overrides. Paths are slash-separated and relative to the root.
func Pair(files []Summarized) *Cross {
	c := &Cross{Issues: map[string][]Issue{}, Pairs: map[string][]string{}}
	byPath := make(map[string]*Summarized, len(files))
	lower := make(map[string]string, len(files))
	for i := range files {
		f := &files[i]
		if f.Summary == nil {
			continue
		}
		byPath[f.Path] = f
		lower[strings.ToLower(f.Path)] = f.Path
	}
	lookup := func(p string) *Summarized {
		if f, ok := byPath[p]; ok {
			return f
		}
		if q, ok := lower[strings.ToLower(p)]; ok {
			return byPath[q]
		}
		return nil
	}
	isTemplate := func(f *Summarized) bool {
		return f != nil && (f.Format == ARMTemplate || f.Format == Bicep)
	}

	// Parameters files pair with their templates by name, and with what pipelines name.
	pairs := map[string][]string{}
	addPair := func(params, tpl string) {
		for _, t := range pairs[params] {
			if t == tpl {
				return
			}
		}
		pairs[params] = append(pairs[params], tpl)
	}
	var paramFiles []string
	for i := range files {
		f := &files[i]
		if f.Summary == nil || f.Format != ARMParameters {
			continue
		}
		paramFiles = append(paramFiles, f.Path)
		for _, cand := range templateCandidates(f.Path) {
			if t := lookup(cand); isTemplate(t) {
				addPair(f.Path, t.Path)
				break
			}
		}
	}

	// Pipelines: pair the files a deployment names and judge its overrides.
	for i := range files {
		f := &files[i]
		if f.Summary == nil || f.Format != Pipeline {
			continue
		}
		for _, d := range f.Summary.Deployments {
			var tpls []*Summarized
			if d.Template != "" {
				resolved, inside := resolvePipelinePath(d.Template)
				switch {
				case !inside:
					c.Notes = append(c.Notes, fmt.Sprintf("%s:%d: %s deploys %s, which is not under rootDirectory: its overrides are judged by parameter name only", f.Path, d.Line, d.Task, d.Template))
				default:
					tpls = matchFiles(resolved, byPath, lookup, isTemplate)
					if len(tpls) == 0 {
						c.Notes = append(c.Notes, fmt.Sprintf("%s:%d: %s deploys %s, which was not found among the scanned files: its overrides are judged by parameter name only", f.Path, d.Line, d.Task, d.Template))
					}
				}
			}
			for _, pf := range d.Parameters {
				resolved, inside := resolvePipelinePath(pf)
				if !inside {
					continue
				}
				for _, pfile := range matchFiles(resolved, byPath, lookup, func(s *Summarized) bool { return s.Format == ARMParameters }) {
					for _, t := range tpls {
						addPair(pfile.Path, t.Path)
					}
				}
			}
			judge(c, f.Path, KV011, d.Overrides, tpls, fmt.Sprintf("%s override", d.Task))
		}
	}

	// ARM parameters files.
	sort.Strings(paramFiles)
	for _, p := range paramFiles {
		f := byPath[p]
		var tpls []*Summarized
		for _, t := range pairs[p] {
			tpls = append(tpls, byPath[t])
		}
		c.Pairs[p] = pairs[p]
		judge(c, p, KV001, f.Summary.Values, tpls, "parameters file")
	}

	// .bicepparam files and Bicep modules.
	for i := range files {
		f := &files[i]
		if f.Summary == nil {
			continue
		}
		switch f.Format {
		case BicepParams:
			var tpls []*Summarized
			s := f.Summary
			if s.HasUsing && !s.UsingNone && isLocalPath(s.Using) {
				if t := lookup(path.Join(path.Dir(f.Path), s.Using)); isTemplate(t) {
					tpls = append(tpls, t)
					c.Pairs[f.Path] = []string{t.Path}
				} else {
					c.Notes = append(c.Notes, fmt.Sprintf("%s:%d: using '%s' names a template that was not found among the scanned files: parameters are judged by name only", f.Path, s.UsingLine, s.Using))
				}
			}
			judge(c, f.Path, KV001, s.Values, tpls, "parameters file")
		case Bicep:
			for _, m := range f.Summary.Modules {
				var tpls []*Summarized
				if isLocalPath(m.Path) {
					if t := lookup(path.Join(path.Dir(f.Path), m.Path)); isTemplate(t) {
						tpls = append(tpls, t)
					}
				}
				judge(c, f.Path, KV001, m.Values, tpls, fmt.Sprintf("module '%s'", m.Symbol))
			}
		}
	}
	return c
}

// judge applies KV001 (or KV011 for pipeline overrides) to literal values given to template
// parameters: a parameter a paired template declares secure, or, when no paired template
// declares it, a parameter whose name says secret.
func judge(c *Cross, file, rule string, values []ParamValue, tpls []*Summarized, where string) {
	for _, v := range values {
		if !v.Judgeable() {
			continue
		}
		declaredIn, secureIn := "", ""
		for _, t := range tpls {
			if d, ok := t.Summary.Param(v.Name); ok {
				if declaredIn == "" {
					declaredIn = t.Path
				}
				if d.Secure {
					secureIn = t.Path
					break
				}
			}
		}
		var msg string
		switch {
		case secureIn != "":
			msg = fmt.Sprintf("%s gives secure parameter '%s' (declared in %s) a literal (%s) instead of a Key Vault reference", where, v.Name, secureIn, v.Redacted)
		case declaredIn == "" && secrets.IsSecretName(v.Name) && !v.NoCredential:
			how := "no paired template declares it"
			if len(tpls) == 0 {
				how = "no template was found to confirm it is secure"
			}
			msg = fmt.Sprintf("%s gives parameter '%s', which looks like a secret, a literal (%s) instead of a Key Vault reference (%s)", where, v.Name, v.Redacted, how)
		default:
			continue
		}
		c.add(file, Issue{Rule: rule, Line: v.Line, Column: v.Column, Logical: v.Logical, Message: msg, start: v.start, end: v.end})
	}
}

// parametersName matches X.parameters.json and X.parameters.<env>.json (and .jsonc).
var parametersName = regexp.MustCompile(`(?i)^(.+)\.parameters(\.[^.]+)?\.jsonc?$`)

// templateCandidates lists the templates a parameters file pairs with, in preference order.
func templateCandidates(p string) []string {
	dir, base := path.Split(p)
	m := parametersName.FindStringSubmatch(base)
	if m == nil {
		return nil
	}
	x := m[1]
	return []string{dir + x + ".json", dir + x + ".jsonc", dir + x + ".bicep", dir + x + ".template.json"}
}

func isLocalPath(p string) bool {
	if p == "" {
		return false
	}
	l := strings.ToLower(p)
	return !strings.HasPrefix(l, "br:") && !strings.HasPrefix(l, "br/") && !strings.HasPrefix(l, "ts:") && !strings.HasPrefix(l, "ts/") && !strings.Contains(l, "://")
}

var rootMacros = regexp.MustCompile(`(?i)^\$\((build\.sourcesdirectory|system\.defaultworkingdirectory|build\.repository\.localpath)\)[/\\]?`)

// resolvePipelinePath expands the macros that mean the sources directory and returns the path
// relative to the root, and whether it is under the root at all.
func resolvePipelinePath(p string) (string, bool) {
	p = strings.TrimSpace(strings.ReplaceAll(p, `\`, "/"))
	if loc := rootMacros.FindStringIndex(p); loc != nil {
		p = p[loc[1]:]
	} else if strings.Contains(p, "$(") || strings.Contains(p, "${{") || strings.Contains(p, "$[") || strings.HasPrefix(p, "/") || len(p) > 1 && p[1] == ':' {
		return "", false
	}
	p = strings.TrimPrefix(p, "./")
	clean := path.Clean(p)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return "", false
	}
	return clean, true
}

// matchFiles returns the scanned files a (possibly glob) path names, in path order.
func matchFiles(p string, byPath map[string]*Summarized, lookup func(string) *Summarized, ok func(*Summarized) bool) []*Summarized {
	if !strings.ContainsAny(p, "*?[{") {
		if f := lookup(p); f != nil && ok(f) {
			return []*Summarized{f}
		}
		return nil
	}
	pattern := strings.ToLower(p)
	var out []*Summarized
	for q, f := range byPath {
		if m, err := doublestar.Match(pattern, strings.ToLower(q)); err == nil && m && ok(f) {
			out = append(out, f)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}
