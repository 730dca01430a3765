package task

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// InputError says which input was wrong, what it held and what was expected.
type InputError struct {
	Input    string
	Value    string
	Expected string
}

func (e *InputError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("input %q: %s", e.Input, e.Expected)
	}
	return fmt.Sprintf("input %q: got %q, expected %s", e.Input, OneLine(e.Value), e.Expected)
}

// Inputs reads task inputs from one source (the agent's INPUT_* variables, or command-line flags)
// and falls back to the defaults declared in task.json, so a local run behaves like the agent.
type Inputs struct {
	source   func(name string) (string, bool)
	defaults map[string]string
	env      LookupFunc
}

// AgentInputs reads INPUT_<NAME> from env. The agent has already applied task.json defaults and
// expanded macros; the defaults here only matter when a variable is absent (a hand-run binary).
func AgentInputs(env LookupFunc, defaults map[string]string) *Inputs {
	return &Inputs{
		source:   func(name string) (string, bool) { return env("INPUT_" + EnvName(name)) },
		defaults: defaults,
		env:      env,
	}
}

// ValueInputs reads inputs from a map keyed by input name (flags, an HTTP request body).
// Keys are matched case-insensitively, like the agent's environment names.
func ValueInputs(values map[string]string, env LookupFunc, defaults map[string]string) *Inputs {
	norm := make(map[string]string, len(values))
	for k, v := range values {
		norm[strings.ToLower(k)] = v
	}
	return &Inputs{
		source: func(name string) (string, bool) {
			v, ok := norm[strings.ToLower(name)]
			return v, ok
		},
		defaults: defaults,
		env:      env,
	}
}

var macro = regexp.MustCompile(`\$\(([A-Za-z0-9_.]+)\)`)

// Raw returns the trimmed value of an input: the given value, else the task.json default with
// $(Variable) macros expanded from the environment. Unresolvable macros expand to "".
func (in *Inputs) Raw(name string) string {
	if v, ok := in.source(name); ok && strings.TrimSpace(v) != "" {
		return strings.TrimSpace(v)
	}
	d := in.defaults[name]
	if d == "" {
		for k, v := range in.defaults {
			if strings.EqualFold(k, name) {
				d = v
				break
			}
		}
	}
	return strings.TrimSpace(macro.ReplaceAllStringFunc(d, func(m string) string {
		if in.env == nil {
			return ""
		}
		return Variable(in.env, m[2:len(m)-1])
	}))
}

// String returns an input; empty when neither given nor defaulted.
func (in *Inputs) String(name string) string { return in.Raw(name) }

// Required returns an input that must not be empty.
func (in *Inputs) Required(name string) (string, error) {
	v := in.Raw(name)
	if v == "" {
		hint := "a value"
		if d := in.defaults[name]; strings.Contains(d, "$(") {
			hint = fmt.Sprintf("a value (its default %s is empty here; outside a pipeline pass --%s)", d, name)
		}
		return "", &InputError{Input: name, Expected: "is required: give " + hint}
	}
	return v, nil
}

// Bool accepts true/false (any case); empty means false unless defaulted.
func (in *Inputs) Bool(name string) (bool, error) {
	v := in.Raw(name)
	switch strings.ToLower(v) {
	case "true":
		return true, nil
	case "false", "":
		return false, nil
	}
	return false, &InputError{Input: name, Value: v, Expected: "true or false"}
}

// Int parses a whole number within [min, max].
func (in *Inputs) Int(name string, min, max int) (int, error) {
	v := in.Raw(name)
	if v == "" {
		return 0, &InputError{Input: name, Expected: fmt.Sprintf("an integer from %d to %d", min, max)}
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		return 0, &InputError{Input: name, Value: v, Expected: fmt.Sprintf("an integer from %d to %d", min, max)}
	}
	return n, nil
}

// List splits a comma- or newline-separated input, trimming items and dropping empty ones.
func (in *Inputs) List(name string) []string {
	return SplitList(in.Raw(name))
}

// SplitList splits on commas and newlines, trimming and dropping empty items.
func SplitList(v string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// Pick returns one of the allowed values (matched case-insensitively, returned as declared).
func (in *Inputs) Pick(name string, allowed ...string) (string, error) {
	v := in.Raw(name)
	for _, a := range allowed {
		if strings.EqualFold(v, a) {
			return a, nil
		}
	}
	return "", &InputError{Input: name, Value: v, Expected: "one of " + strings.Join(allowed, ", ")}
}

// Path returns a cleaned path; relative paths are resolved against base (the sources directory
// on an agent, the working directory locally). Empty stays empty.
func (in *Inputs) Path(name, base string) string {
	v := in.Raw(name)
	if v == "" {
		return ""
	}
	if !filepath.IsAbs(v) && base != "" {
		v = filepath.Join(base, v)
	}
	return filepath.Clean(v)
}
