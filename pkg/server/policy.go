package server

import (
	"fmt"
	"sort"
	"strings"

	"github.com/stagegate/stagegate/tasks"
)

// policy returns the inputs the configuration sets for a gate in an environment: the defaults,
// overlaid with the environment's own. envKey is the lower-cased name; display is as requested.
func (c *Config) policy(envKey, display, gate string) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range c.Defaults[gate] {
		out[k] = v
	}
	if envKey == "" {
		if len(c.Environments) > 0 && !c.AllowUnknownEnvironments {
			return nil, fmt.Errorf("the request names no environment, and this server applies a policy per environment: add \"environment\" to the body (one of %s)", c.environmentList())
		}
		return out, nil
	}
	env, ok := c.Environments[envKey]
	if !ok {
		if !c.AllowUnknownEnvironments {
			return nil, fmt.Errorf("environment %q is not configured on this server (configured: %s)", printable(display), c.environmentList())
		}
		return out, nil
	}
	for k, v := range env[gate] {
		out[k] = v
	}
	return out, nil
}

func (c *Config) environmentList() string {
	if len(c.Environments) == 0 {
		return "none"
	}
	names := make([]string, 0, len(c.Environments))
	for n := range c.Environments {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// mergeInputs combines the request's inputs with the policy. Precedence, highest first:
//
//  1. the policy (the environment's inputs over the defaults): an administrator's setting is
//     never weakened by a caller;
//  2. the request's inputs;
//  3. the task's defaults (applied later by gaterun).
//
// mode is special: it never comes from the request, so a caller cannot turn enforce into audit;
// it is the policy's mode, else enforce. Every request value the policy overrides, or that is
// ignored, gives a note for the log and the response. Request input names are checked against
// the task (case-insensitively, like the agent) and vetted for server mode.
func mergeInputs(def *tasks.Definition, gate string, policy, request map[string]string, environment string) (map[string]string, []string, error) {
	merged := map[string]string{}
	var notes []string
	keys := make([]string, 0, len(request))
	for k := range request {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	where := "the policy"
	if environment != "" {
		where = fmt.Sprintf("the policy of environment %q", environment)
	}
	requestMode := ""
	for _, k := range keys {
		in, ok := def.Input(k)
		if !ok {
			return nil, nil, fmt.Errorf("inputs: %s has no input %q (its inputs: %s)", def.Name, printable(k), inputNames(def))
		}
		if _, dup := merged[in.Name]; dup {
			return nil, nil, fmt.Errorf("inputs: %q is given twice (names are compared ignoring case)", in.Name)
		}
		v := request[k]
		if err := vetInput(gate, in.Name, v); err != nil {
			return nil, nil, fmt.Errorf("inputs: %w", err)
		}
		if in.Name == "mode" {
			requestMode = v
			merged[in.Name] = "" // placeholder for the duplicate check; replaced below
			continue
		}
		merged[in.Name] = v
	}
	pkeys := make([]string, 0, len(policy))
	for k := range policy {
		pkeys = append(pkeys, k)
	}
	sort.Strings(pkeys)
	for _, k := range pkeys {
		pv := policy[k]
		if rv, given := merged[k]; given && k != "mode" && rv != pv {
			notes = append(notes, fmt.Sprintf("input %s=%q from the request was replaced by %s: %s=%q", k, rv, where, k, pv))
		}
		merged[k] = pv
	}
	mode := strings.ToLower(policy["mode"])
	if mode == "" {
		mode = "enforce"
	}
	if requestMode != "" && !strings.EqualFold(requestMode, mode) {
		notes = append(notes, fmt.Sprintf("input mode=%q from the request was ignored: the mode comes from %s (%s)", requestMode, where, mode))
	}
	merged["mode"] = mode
	return merged, notes, nil
}
