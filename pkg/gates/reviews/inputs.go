package reviews

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/stagegate/stagegate/pkg/gaterun"
	"github.com/stagegate/stagegate/pkg/task"
)

// Input names: the public contract of ProductionReviewGate@1.
const (
	inRepository          = "repository"
	inBranch              = "branch"
	inCommit              = "commit"
	inProductionBranches  = "productionBranches"
	inMinimumApprovers    = "minimumApprovers"
	inOnNonProduction     = "onNonProductionBranch"
	inCheckPolicy         = "checkPolicy"
	inCheckChange         = "checkChange"
	inCountWithSuggestion = "countApprovedWithSuggestions"
)

// maxApprovers is the largest "Minimum number of reviewers" the Azure DevOps web UI accepts.
const maxApprovers = 10

// settings are the validated inputs of one run.
type settings struct {
	Project    string
	Repository string // as given: a GUID or a name
	Branch     string // full ref name, refs/heads/...
	// Commit is lower-case hex; empty when checkChange is false.
	Commit              string
	Patterns            []Pattern
	MinApprovers        int
	CheckPolicy         bool
	CheckChange         bool
	CountSuggestions    bool
	FailOnNonProduction bool
}

func readSettings(rt *gaterun.Runtime) (settings, error) {
	in := rt.Inputs
	var s settings
	var err error
	if s.Repository, err = in.Required(inRepository); err != nil {
		return s, err
	}
	if strings.ContainsAny(s.Repository, "/\\\r\n") {
		return s, &task.InputError{Input: inRepository, Value: s.Repository, Expected: "an Azure Repos Git repository id (GUID) or name"}
	}
	if s.CheckPolicy, err = in.Bool(inCheckPolicy); err != nil {
		return s, err
	}
	if s.CheckChange, err = in.Bool(inCheckChange); err != nil {
		return s, err
	}
	if !s.CheckPolicy && !s.CheckChange {
		return s, fmt.Errorf("inputs %q and %q are both false: the gate would check nothing, so it refuses to pass; turn on at least one of them", inCheckPolicy, inCheckChange)
	}
	if s.CountSuggestions, err = in.Bool(inCountWithSuggestion); err != nil {
		return s, err
	}
	branch, err := in.Required(inBranch)
	if err != nil {
		return s, err
	}
	if s.Branch, err = NormalizeBranch(inBranch, branch); err != nil {
		return s, err
	}
	if s.CheckChange {
		commit, err := in.Required(inCommit)
		if err != nil {
			return s, err
		}
		if s.Commit, err = normalizeCommit(commit); err != nil {
			return s, err
		}
	}
	if s.Patterns, err = ParsePatterns(inProductionBranches, in.Raw(inProductionBranches)); err != nil {
		return s, err
	}
	if s.MinApprovers, err = in.Int(inMinimumApprovers, 1, maxApprovers); err != nil {
		return s, err
	}
	mode, err := in.Pick(inOnNonProduction, "pass", "fail")
	if err != nil {
		return s, err
	}
	s.FailOnNonProduction = mode == "fail"
	s.Project = task.Variable(rt.Env, "System.TeamProject")
	if s.Project == "" {
		return s, fmt.Errorf("SYSTEM_TEAMPROJECT is not set: on an agent the pipeline sets it; locally, set it to the name of the Azure DevOps project that holds repository %q", s.Repository)
	}
	return s, nil
}

var commitRe = regexp.MustCompile(`^(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$`)

func normalizeCommit(v string) (string, error) {
	if !commitRe.MatchString(v) {
		return "", &task.InputError{Input: inCommit, Value: v, Expected: "a full commit id (40 hexadecimal characters, as in Build.SourceVersion)"}
	}
	return strings.ToLower(v), nil
}

// Pattern is one production branch pattern: a full ref name, or a prefix when it ends in "*".
type Pattern struct {
	// Text is the normalized pattern, e.g. refs/heads/release/*.
	Text string
	// Prefix is true for a trailing "*": the pattern matches every ref that starts with Ref.
	Prefix bool
	// Ref is the ref name, or for a prefix pattern the part before the "*".
	Ref string
}

// Match reports whether ref (a full ref name) matches. Azure Repos treats branch names
// case-insensitively (policies, branch locks), so matching is case-insensitive: a branch that
// differs from a production branch only in case counts as production and is gated.
func (p Pattern) Match(ref string) bool {
	if p.Prefix {
		return len(ref) > len(p.Ref) && strings.EqualFold(ref[:len(p.Ref)], p.Ref)
	}
	return strings.EqualFold(ref, p.Ref)
}

// ParsePatterns parses a comma- or newline-separated list of branch patterns for the named input.
// Bare names get refs/heads/ (main -> refs/heads/main); a single "*" is allowed, only at the end.
// Blank lines are ignored, but an empty entry between commas is an error: it is usually a typo.
func ParsePatterns(input, value string) ([]Pattern, error) {
	var out []Pattern
	n := 0
	for _, line := range strings.Split(strings.ReplaceAll(value, "\r", "\n"), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		for _, item := range strings.Split(line, ",") {
			n++
			item = strings.TrimSpace(item)
			if item == "" {
				return nil, &task.InputError{Input: input, Value: value, Expected: fmt.Sprintf("a comma-separated list of branch patterns, but entry %d is empty (remove the extra comma)", n)}
			}
			p, err := parsePattern(item)
			if err != nil {
				return nil, &task.InputError{Input: input, Value: item, Expected: fmt.Sprintf("a branch pattern such as refs/heads/main or refs/heads/release/* (entry %d: %s)", n, err)}
			}
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, &task.InputError{Input: input, Expected: "at least one branch pattern, for example refs/heads/main,refs/heads/release/*"}
	}
	return out, nil
}

type patternError string

func (e patternError) Error() string { return string(e) }

func parsePattern(item string) (Pattern, error) {
	full := fullRef(item)
	if i := strings.IndexByte(full, '*'); i >= 0 && i != len(full)-1 {
		return Pattern{}, patternError(`a "*" is allowed only at the end`)
	}
	p := Pattern{Text: full}
	ref := full
	if strings.HasSuffix(full, "*") {
		p.Prefix = true
		ref = strings.TrimSuffix(full, "*")
	}
	if err := checkRefChars(ref, p.Prefix); err != nil {
		return Pattern{}, err
	}
	p.Ref = ref
	return p, nil
}

// NormalizeBranch turns a branch input into a full ref name (main -> refs/heads/main) and
// rejects what cannot be a Git ref name.
func NormalizeBranch(input, value string) (string, error) {
	v := strings.TrimSpace(value)
	full := fullRef(v)
	if strings.Contains(full, "*") {
		return "", &task.InputError{Input: input, Value: value, Expected: `one branch name such as refs/heads/main (no "*": patterns belong in productionBranches)`}
	}
	if err := checkRefChars(full, false); err != nil {
		return "", &task.InputError{Input: input, Value: value, Expected: "a branch name such as refs/heads/main (" + err.Error() + ")"}
	}
	return full, nil
}

// fullRef adds refs/heads/ to a bare branch name.
func fullRef(v string) string {
	if strings.HasPrefix(v, "refs/") {
		return v
	}
	return "refs/heads/" + v
}

// checkRefChars applies the parts of Git's ref name rules that catch real mistakes: spaces,
// control characters, the characters Git forbids, empty components. A prefix may end in "/".
func checkRefChars(ref string, prefix bool) error {
	for _, r := range ref {
		switch {
		case r == ' ' || r == '\t':
			return patternError("it contains a space")
		case r < 0x20 || r == 0x7f:
			return patternError("it contains a control character")
		case strings.ContainsRune(`~^:?[\`, r):
			return patternError(fmt.Sprintf("Git does not allow %q in a branch name", r))
		}
	}
	switch {
	case strings.Contains(ref, ".."):
		return patternError(`Git does not allow ".." in a branch name`)
	case strings.Contains(ref, "@{"):
		return patternError(`Git does not allow "@{" in a branch name`)
	case strings.Contains(ref, "//"):
		return patternError("it has an empty path component (//)")
	case !prefix && strings.HasSuffix(ref, "/"):
		return patternError(`a branch name cannot end with "/" (for every branch below a folder, end the pattern with "/*")`)
	case !prefix && (strings.HasSuffix(ref, ".") || strings.HasSuffix(ref, ".lock")):
		return patternError(`a branch name cannot end with "." or ".lock"`)
	}
	return nil
}

// describePatterns lists patterns for messages.
func describePatterns(ps []Pattern) string {
	t := make([]string, len(ps))
	for i, p := range ps {
		t[i] = p.Text
	}
	return strings.Join(t, ", ")
}

// productionMatch returns the first pattern that matches ref.
func productionMatch(ps []Pattern, ref string) (Pattern, bool) {
	for _, p := range ps {
		if p.Match(ref) {
			return p, true
		}
	}
	return Pattern{}, false
}
