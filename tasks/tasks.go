// Package tasks exposes the task.json definitions of the pipeline tasks, embedded at build
// time, so the Go binaries apply the same input defaults when they run outside an agent
// (the agent applies them itself from task.json).
//
// Two kinds of task live here: the agent tasks (SecurityWorkItemGate, ProductionReviewGate,
// KeyVaultReferenceGate), which run a gate binary on an agent, and the agentless tasks
// (SecurityWorkItemCheck, ProductionReviewCheck, KeyVaultReferenceCheck), which run on the
// Azure DevOps server and ask `stagegate serve` for the verdict. Gates evaluate agent task
// definitions only; Definition.Agentless tells the two apart.
package tasks

import (
	"github.com/stagegate/stagegate/pkg/task"

	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

//go:embed */task.json
var files embed.FS

// Input is one task input as declared in task.json.
type Input struct {
	Name, Type, Label, DefaultValue, HelpMarkDown, GroupName string
	Required                                                 bool
	// Options holds the choices of a pickList input: value -> display text.
	Options map[string]string
}

// OutputVariable is one output variable a task sets.
type OutputVariable struct {
	Name, Description string
}

// Definition is the part of a task.json the binaries need.
type Definition struct {
	ID, Name, FriendlyName, Description string
	// RunsOn is task.json's runsOn: Agent, DeploymentGroup, Server, ServerGate.
	RunsOn          []string
	Inputs          []Input
	OutputVariables []OutputVariable
}

// Agentless reports whether the task runs on the Azure DevOps server (agentless jobs and
// release gates) rather than on an agent: its inputs are a request to stagegate serve, not
// the inputs of a gate binary.
func (d *Definition) Agentless() bool {
	if len(d.RunsOn) == 0 {
		return false // the service's default is Agent
	}
	for _, r := range d.RunsOn {
		if r != "Server" && r != "ServerGate" {
			return false
		}
	}
	return true
}

// Get returns the definition of the task with the given name (for example
// "SecurityWorkItemGate"), compared case-insensitively.
func Get(name string) (*Definition, error) {
	// Parse only the one file asked for: the check server calls this for every evaluation.
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		return nil, fmt.Errorf("list embedded task folders: %w", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if strings.EqualFold(e.Name(), name) {
			return load(e.Name() + "/task.json")
		}
		names = append(names, e.Name())
	}
	return nil, fmt.Errorf("task %q not found: known tasks are %s", name, strings.Join(names, ", "))
}

// All returns every embedded task definition, sorted by name. Each call returns fresh values,
// so callers may modify them.
func All() ([]*Definition, error) {
	paths, err := fs.Glob(files, "*/task.json")
	if err != nil {
		return nil, fmt.Errorf("list embedded task.json files: %w", err)
	}
	defs := make([]*Definition, 0, len(paths))
	for _, p := range paths {
		d, err := load(p)
		if err != nil {
			return nil, err
		}
		defs = append(defs, d)
	}
	sort.Slice(defs, func(i, j int) bool { return defs[i].Name < defs[j].Name })
	return defs, nil
}

// load reads and parses one embedded task.json.
func load(p string) (*Definition, error) {
	data, err := files.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("read embedded %s: %w", p, err)
	}
	d, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("tasks/%s: %w", p, err)
	}
	if folder := path.Dir(p); d.Name != folder {
		return nil, fmt.Errorf("tasks/%s: name %q differs from its folder %q", p, d.Name, folder)
	}
	return d, nil
}

// Input returns the input with the given name, compared case-insensitively like the agent
// does when it builds INPUT_<NAME> variables.
func (d *Definition) Input(name string) (Input, bool) {
	for _, in := range d.Inputs {
		if strings.EqualFold(in.Name, name) {
			return in, true
		}
	}
	return Input{}, false
}

// DefaultInputVars is what an agent exports for a step that sets none of the task's inputs:
// INPUT_<NAME> for every input, its default with the given $(Variable) macros expanded.
func (d *Definition) DefaultInputVars(macros map[string]string) map[string]string {
	m := make(map[string]string, len(d.Inputs))
	for _, in := range d.Inputs {
		v := in.DefaultValue
		for k, val := range macros {
			v = strings.ReplaceAll(v, "$("+k+")", val)
		}
		m["INPUT_"+task.EnvName(in.Name)] = v
	}
	return m
}

// taskJSON mirrors the task.json fields Definition carries. defaultValue may be a string or
// a boolean in task.json (the official schema allows both).
type taskJSON struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	FriendlyName string   `json:"friendlyName"`
	Description  string   `json:"description"`
	RunsOn       []string `json:"runsOn"`
	Inputs       []struct {
		Name         string            `json:"name"`
		Type         string            `json:"type"`
		Label        string            `json:"label"`
		DefaultValue json.RawMessage   `json:"defaultValue"`
		HelpMarkDown string            `json:"helpMarkDown"`
		GroupName    string            `json:"groupName"`
		Required     bool              `json:"required"`
		Options      map[string]string `json:"options"`
	} `json:"inputs"`
	OutputVariables []struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	} `json:"outputVariables"`
}

func parse(data []byte) (*Definition, error) {
	var raw taskJSON
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("parse task.json: %w", err)
	}
	if raw.Name == "" || raw.ID == "" {
		return nil, fmt.Errorf("task.json needs a name and an id")
	}
	d := &Definition{
		ID:           raw.ID,
		Name:         raw.Name,
		FriendlyName: raw.FriendlyName,
		Description:  raw.Description,
		RunsOn:       raw.RunsOn,
	}
	for i, in := range raw.Inputs {
		def, err := defaultString(in.DefaultValue)
		if err != nil {
			return nil, fmt.Errorf("input %d (%q) defaultValue: %w", i, in.Name, err)
		}
		d.Inputs = append(d.Inputs, Input{
			Name:         in.Name,
			Type:         in.Type,
			Label:        in.Label,
			DefaultValue: def,
			HelpMarkDown: in.HelpMarkDown,
			GroupName:    in.GroupName,
			Required:     in.Required,
			Options:      in.Options,
		})
	}
	for _, ov := range raw.OutputVariables {
		d.OutputVariables = append(d.OutputVariables, OutputVariable{Name: ov.Name, Description: ov.Description})
	}
	return d, nil
}

// defaultString renders a defaultValue the way the agent passes it in INPUT_<NAME>: booleans
// become "true"/"false", an absent value becomes "".
func defaultString(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err == nil {
		if b {
			return "true", nil
		}
		return "false", nil
	}
	return "", fmt.Errorf("want a string or a boolean, got %s", raw)
}
