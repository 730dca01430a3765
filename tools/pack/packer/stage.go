package packer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
)

// Version is the product version from the VERSION file: one number stamped into the
// extension manifest, every task.json and every binary.
type Version struct {
	Major, Minor, Patch int
}

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

var versionPattern = regexp.MustCompile(`^(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})$`)

// ParseVersion reads "MAJOR.MINOR.PATCH": plain numbers only, because task.json stores
// each part as a number and the Marketplace accepts nothing else.
func ParseVersion(s string) (Version, error) {
	m := versionPattern.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return Version{}, fmt.Errorf("version %q: want MAJOR.MINOR.PATCH with plain numbers, such as 1.2.3", strings.TrimSpace(s))
	}
	var v Version
	for i, dst := range []*int{&v.Major, &v.Minor, &v.Patch} {
		n, err := strconv.Atoi(m[i+1])
		if err != nil {
			return Version{}, fmt.Errorf("version %q: %w", s, err)
		}
		*dst = n
	}
	return v, nil
}

// ReadVersion reads root/VERSION.
func ReadVersion(root string) (Version, error) {
	data, err := os.ReadFile(filepath.Join(root, "VERSION"))
	if err != nil {
		return Version{}, fmt.Errorf("read the version: %w", err)
	}
	v, err := ParseVersion(string(data))
	if err != nil {
		return Version{}, fmt.Errorf("%s: %w", filepath.Join(root, "VERSION"), err)
	}
	return v, nil
}

// Task is one task folder under tasks/.
//
// An agent task (runsOn Agent, DeploymentGroup; Node handlers) has a launcher.json naming the
// gate binary the launcher runs. An agentless task (runsOn Server, ServerGate; the
// HttpRequest handler) runs on the Azure DevOps server, which calls stagegate serve: it ships
// its task.json and icon only, with no launcher and no binaries.
type Task struct {
	Name      string // folder name, equal to task.json's name
	Binary    string // cmd/<Binary> is built into bin/<os>-<arch>/<Binary>; empty when Agentless
	Major     int    // task.json version.Major as committed
	Agentless bool
}

var identifier = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)

// DiscoverTasks lists the task folders under root/tasks (those holding a task.json), sorted.
func DiscoverTasks(root string) ([]Task, error) {
	matches, err := filepath.Glob(filepath.Join(root, "tasks", "*", "task.json"))
	if err != nil {
		return nil, fmt.Errorf("list task folders: %w", err)
	}
	if len(matches) == 0 {
		return nil, fmt.Errorf("no task folders (tasks/*/task.json) under %s", root)
	}
	var tasks []Task
	for _, m := range matches {
		dir := filepath.Dir(m)
		name := filepath.Base(dir)
		var def struct {
			Name      string
			Version   struct{ Major *int }
			RunsOn    []string                   `json:"runsOn"`
			Execution map[string]json.RawMessage `json:"execution"`
		}
		if err := readJSON(m, &def); err != nil {
			return nil, err
		}
		if def.Name != name {
			return nil, fmt.Errorf("%s: name %q differs from its folder %q", m, def.Name, name)
		}
		if def.Version.Major == nil {
			return nil, fmt.Errorf("%s: version.Major is missing", m)
		}
		task := Task{Name: name, Major: *def.Version.Major}
		lpath := filepath.Join(dir, "launcher.json")
		agentless, err := isAgentless(def.RunsOn, def.Execution)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m, err)
		}
		if agentless {
			// A launcher here would mean someone expects binaries that never ship.
			if fileExists(lpath) {
				return nil, fmt.Errorf("%s: an agentless task (runsOn Server/ServerGate) runs no launcher: remove launcher.json", lpath)
			}
			task.Agentless = true
			tasks = append(tasks, task)
			continue
		}
		var launcher struct{ Binary string }
		if err := readJSON(lpath, &launcher); err != nil {
			return nil, err
		}
		if !identifier.MatchString(launcher.Binary) {
			return nil, fmt.Errorf("%s: \"binary\" %q must be a plain file name", lpath, launcher.Binary)
		}
		if st, err := os.Stat(filepath.Join(root, "cmd", launcher.Binary)); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("%s: binary %q has no package cmd/%s", lpath, launcher.Binary, launcher.Binary)
		}
		task.Binary = launcher.Binary
		tasks = append(tasks, task)
	}
	sort.Slice(tasks, func(i, j int) bool { return tasks[i].Name < tasks[j].Name })
	return tasks, nil
}

// isAgentless tells an agentless task from an agent task and refuses a mix: the service runs a
// task either on the server or on an agent, never both, and each needs its own handler.
func isAgentless(runsOn []string, execution map[string]json.RawMessage) (bool, error) {
	server, agent := 0, 0
	for _, r := range runsOn {
		switch r {
		case "Server", "ServerGate":
			server++
		default:
			agent++
		}
	}
	_, httpRequest := execution["HttpRequest"]
	switch {
	case server > 0 && agent > 0:
		return false, fmt.Errorf("runsOn %q mixes the server (Server, ServerGate) and agents: a task runs on one or the other", runsOn)
	case server > 0:
		if !httpRequest || len(execution) != 1 {
			return false, errors.New("an agentless task (runsOn Server/ServerGate) needs execution.HttpRequest as its only handler")
		}
		return true, nil
	case httpRequest:
		return false, errors.New("execution.HttpRequest runs on the server only: set runsOn to [\"Server\", \"ServerGate\"]")
	}
	return false, nil
}

func readJSON(file string, v any) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("read %s: %w", file, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("parse %s: %w", file, err)
	}
	return nil
}

// StampTask returns task.json with version set to v. The major version is part of every
// pipeline's task reference (Name@1), so it is never changed here: VERSION and task.json
// must agree, and a major bump is a deliberate edit of both.
func StampTask(taskJSON []byte, v Version) ([]byte, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(taskJSON, &doc); err != nil {
		return nil, fmt.Errorf("parse task.json: %w", err)
	}
	var name string
	_ = json.Unmarshal(doc["name"], &name)
	var current struct{ Major *int }
	if err := json.Unmarshal(doc["version"], &current); err != nil || current.Major == nil {
		return nil, fmt.Errorf("task %s: version.Major is missing", name)
	}
	if *current.Major != v.Major {
		return nil, fmt.Errorf("task %s: task.json has version.Major %d but VERSION is %s; the major version is part of the task reference (%s@%d), so change it in task.json and VERSION together, on purpose",
			name, *current.Major, v, name, *current.Major)
	}
	version, err := json.Marshal(map[string]int{"Major": v.Major, "Minor": v.Minor, "Patch": v.Patch})
	if err != nil {
		return nil, fmt.Errorf("task %s: %w", name, err)
	}
	doc["version"] = version
	return marshalIndent(doc)
}

// Manifest is the part of vss-extension.json the packer checks.
type Manifest struct {
	ID            string `json:"id"`
	Publisher     string `json:"publisher"`
	Version       string `json:"version"`
	Description   string `json:"description"`
	Public        *bool  `json:"public"`
	Files         []struct{ Path string }
	Contributions []struct {
		ID         string
		Type       string
		Properties struct{ Name string }
	}
}

const taskContribution = "ms.vss-distributed-task.task"

// maxDescription is tfx-cli's limit on the extension description, in UTF-16 code units.
const maxDescription = 200

// CheckManifest verifies that the manifest stays private and declares exactly one task
// contribution, and one file entry, per task folder (agent and agentless alike): a task
// folder missing from the manifest would silently not ship, and an entry without a folder
// would fail at upload. It also applies tfx-cli's description limit, which tfx would only
// report after every binary is built and compressed.
func CheckManifest(m Manifest, tasks []Task) error {
	if m.Public == nil || *m.Public {
		return errors.New(`vss-extension.json: "public" must be false: this extension is installed privately`)
	}
	if n := len(utf16.Encode([]rune(m.Description))); n > maxDescription {
		return fmt.Errorf("vss-extension.json: \"description\" is %d characters; tfx-cli and the Marketplace accept at most %d", n, maxDescription)
	}
	want := map[string]bool{}
	for _, t := range tasks {
		want["tasks/"+t.Name] = true
	}
	var problems []string
	contributed := map[string]bool{}
	for _, c := range m.Contributions {
		if c.Type != taskContribution {
			continue
		}
		p := path.Clean(c.Properties.Name)
		if contributed[p] {
			problems = append(problems, fmt.Sprintf("contribution %q repeats task folder %s", c.ID, p))
		}
		contributed[p] = true
		if !want[p] {
			problems = append(problems, fmt.Sprintf("contribution %q names %s, which is no task folder", c.ID, p))
		}
	}
	listed := map[string]bool{}
	for _, f := range m.Files {
		listed[path.Clean(f.Path)] = true
	}
	for _, t := range tasks {
		p := "tasks/" + t.Name
		if !contributed[p] {
			problems = append(problems, fmt.Sprintf("task folder %s has no %s contribution", p, taskContribution))
		}
		if !listed[p] {
			problems = append(problems, fmt.Sprintf("task folder %s is missing from \"files\"", p))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("vss-extension.json: %s", strings.Join(problems, "; "))
	}
	return nil
}

// StampManifest returns the manifest with the version set and, when given, the publisher and
// extension id replaced.
func StampManifest(manifest []byte, v Version, publisher, extensionID string) ([]byte, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(manifest, &doc); err != nil {
		return nil, fmt.Errorf("parse vss-extension.json: %w", err)
	}
	set := func(key, value string) error {
		raw, err := json.Marshal(value)
		if err != nil {
			return fmt.Errorf("vss-extension.json %s: %w", key, err)
		}
		doc[key] = raw
		return nil
	}
	if err := set("version", v.String()); err != nil {
		return nil, err
	}
	for _, kv := range []struct{ key, value, flag string }{{"publisher", publisher, "PUBLISHER"}, {"id", extensionID, "EXTENSION_ID"}} {
		if kv.value == "" {
			continue
		}
		if !identifier.MatchString(kv.value) {
			return nil, fmt.Errorf("%s %q: use letters, digits, '-' and '_', starting with a letter or digit", kv.flag, kv.value)
		}
		if err := set(kv.key, kv.value); err != nil {
			return nil, err
		}
	}
	return marshalIndent(doc)
}

func marshalIndent(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode json: %w", err)
	}
	return buf.Bytes(), nil
}

func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("stage %s: %w", src, err)
	}
	return writeFile(dst, data)
}

func writeFile(dst string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("stage: %w", err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		return fmt.Errorf("stage: %w", err)
	}
	return nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return !errors.Is(err, fs.ErrNotExist)
}
