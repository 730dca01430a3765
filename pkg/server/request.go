package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// CheckRequest is the body of POST /v1/gates/{gate}: the run context and the gate's inputs (the
// task's input names). Values that are still unexpanded pipeline macros ("$(Build.BuildId)",
// which Azure DevOps leaves as written when the variable does not exist in the check's
// context) count as absent.
type CheckRequest struct {
	// Environment names the policy to apply (an environment, or a classic release stage).
	Environment string `json:"environment"`
	// Organization is the organization URL ($(System.CollectionUri)) or its name.
	Organization string `json:"organization"`
	// Project is the project name or id ($(System.TeamProject)).
	Project string `json:"project"`
	// Repository is the repository id or name ($(Build.Repository.ID)).
	Repository string `json:"repository"`
	// RepositoryProvider is $(Build.Repository.Provider) (TfsGit for Azure Repos).
	RepositoryProvider string `json:"repositoryProvider"`
	// Branch is the full ref ($(Build.SourceBranch)).
	Branch string `json:"branch"`
	// Commit is the full commit id ($(Build.SourceVersion)).
	Commit string `json:"commit"`
	// BuildID is the run id ($(Build.BuildId)); a JSON number or string.
	BuildID string `json:"buildId"`
	// Inputs are the gate's inputs by task input name; values may be strings, numbers or booleans.
	Inputs map[string]string `json:"inputs"`
}

// Request size limits beyond the body limit: generous for real values, small enough that a
// request cannot grow the work of a gate without bound.
const (
	maxFieldLen  = 1024
	maxInputLen  = 8 << 10
	maxInputKeys = 64
)

var macroRe = regexp.MustCompile(`^\$\([A-Za-z0-9_.]+\)$`)

// ParseCheckRequest decodes a request body strictly: unknown fields, nested values in inputs,
// trailing data and oversized values are errors that name the field.
func ParseCheckRequest(data []byte) (*CheckRequest, error) {
	var raw struct {
		Environment        *string                    `json:"environment"`
		Organization       *string                    `json:"organization"`
		Project            *string                    `json:"project"`
		Repository         *string                    `json:"repository"`
		RepositoryProvider *string                    `json:"repositoryProvider"`
		Branch             *string                    `json:"branch"`
		Commit             *string                    `json:"commit"`
		BuildID            json.RawMessage            `json:"buildId"`
		Inputs             map[string]json.RawMessage `json:"inputs"`
	}
	req := &CheckRequest{Inputs: map[string]string{}}
	if len(bytes.TrimSpace(data)) == 0 {
		return req, nil
	}
	// Repeated names first: a body that repeats one is refused for that, whatever else is wrong.
	if err := noDuplicateKeys(data); err != nil {
		return nil, fmt.Errorf("request body: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("request body: %w", jsonError(data, err))
	}
	if dec.More() {
		return nil, errors.New("request body: unexpected data after the JSON object")
	}
	fields := []struct {
		name string
		src  *string
		dst  *string
	}{
		{"environment", raw.Environment, &req.Environment},
		{"organization", raw.Organization, &req.Organization},
		{"project", raw.Project, &req.Project},
		{"repository", raw.Repository, &req.Repository},
		{"repositoryProvider", raw.RepositoryProvider, &req.RepositoryProvider},
		{"branch", raw.Branch, &req.Branch},
		{"commit", raw.Commit, &req.Commit},
	}
	for _, f := range fields {
		if f.src == nil {
			continue
		}
		v, err := field(f.name, *f.src, maxFieldLen)
		if err != nil {
			return nil, err
		}
		*f.dst = v
	}
	if len(raw.BuildID) > 0 && string(raw.BuildID) != "null" {
		v, err := scalar("buildId", raw.BuildID)
		if err != nil {
			return nil, err
		}
		if v, err = field("buildId", v, maxFieldLen); err != nil {
			return nil, err
		}
		if v != "" {
			if n, err := strconv.Atoi(v); err != nil || n <= 0 {
				return nil, fmt.Errorf("request body: \"buildId\": got %q, expected a positive run id", printable(v))
			}
		}
		req.BuildID = v
	}
	if len(raw.Inputs) > maxInputKeys {
		return nil, fmt.Errorf("request body: \"inputs\" has %d entries, more than %d", len(raw.Inputs), maxInputKeys)
	}
	for k, rv := range raw.Inputs {
		name := "inputs." + k
		if strings.TrimSpace(k) == "" {
			return nil, errors.New("request body: \"inputs\" has an empty input name")
		}
		v, err := scalar(name, rv)
		if err != nil {
			return nil, err
		}
		if v, err = field(name, v, maxInputLen); err != nil {
			return nil, err
		}
		req.Inputs[k] = v
	}
	return req, nil
}

// scalar renders a JSON string, number or boolean as the string an agent would see.
func scalar(name string, raw json.RawMessage) (string, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", fmt.Errorf("request body: %q: %w", name, err)
	}
	switch t := v.(type) {
	case nil:
		return "", nil
	case string:
		return t, nil
	case bool:
		return strconv.FormatBool(t), nil
	case float64:
		// Keep the number as written (2, not 2.000000).
		return strings.TrimSpace(string(raw)), nil
	}
	return "", fmt.Errorf("request body: %q: expected a string, number or boolean, not an object or a list", name)
}

func field(name, v string, max int) (string, error) {
	if len(v) > max {
		return "", fmt.Errorf("request body: %q is longer than %d bytes", name, max)
	}
	if strings.ContainsRune(v, 0) {
		return "", fmt.Errorf("request body: %q contains a NUL character", name)
	}
	v = strings.TrimSpace(v)
	if macroRe.MatchString(v) {
		return "", nil
	}
	return v, nil
}

// jsonError names the line and column of a decoding error.
// noDuplicateKeys refuses an object that names a member twice. encoding/json keeps the last
// and matches names case-insensitively, so {"environment":"dev","Environment":"prod"} could
// mean one thing to a proxy or log reader and another to the gate.
func noDuplicateKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	type object struct {
		seen      map[string]bool
		expectKey bool
	}
	var stack []*object // nil entries are arrays
	for {
		offset := dec.InputOffset()
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return jsonError(data, err)
		}
		var top *object
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{':
				stack = append(stack, &object{seen: map[string]bool{}, expectKey: true})
				continue
			case '[':
				stack = append(stack, nil)
				continue
			default:
				stack = stack[:len(stack)-1]
			}
		} else if top != nil && top.expectKey {
			key := strings.ToLower(tok.(string))
			if top.seen[key] {
				for offset < int64(len(data)) && strings.IndexByte(" \t\r\n,", data[offset]) >= 0 {
					offset++ // InputOffset is where the previous token ended
				}
				line := 1 + bytes.Count(data[:offset], []byte("\n"))
				col := int(offset) - bytes.LastIndexByte(data[:offset], '\n')
				return fmt.Errorf("line %d, column %d: member %q appears twice in one object (names match case-insensitively)", line, col, printable(tok.(string)))
			}
			top.seen[key] = true
			top.expectKey = false
			continue
		}
		// A value ended (a scalar, or a closed object or array): the enclosing object wants a key.
		if len(stack) > 0 && stack[len(stack)-1] != nil {
			stack[len(stack)-1].expectKey = true
		}
	}
}

func jsonError(data []byte, err error) error {
	var offset int64 = -1
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		offset = syn.Offset
	case errors.As(err, &typ):
		offset = typ.Offset
	}
	if offset < 0 || offset > int64(len(data)) {
		return err
	}
	line := 1 + bytes.Count(data[:offset], []byte("\n"))
	col := int(offset) - bytes.LastIndexByte(data[:offset], '\n')
	return fmt.Errorf("line %d, column %d: %w", line, col, err)
}

// Callback is the plan a callback evaluation completes: the headers Azure DevOps sends with an
// "Invoke REST API" check or agentless task.
type Callback struct {
	// PlanURL is the allow-listed organization URL the PlanUrl header matched (no trailing slash).
	PlanURL        string
	ProjectID      string
	HubName        string
	PlanID         string
	JobID          string
	TimelineID     string
	TaskInstanceID string
	AuthToken      string
}

// Callback header names.
const (
	HeaderPlanURL        = "PlanUrl"
	HeaderProjectID      = "ProjectId"
	HeaderHubName        = "HubName"
	HeaderPlanID         = "PlanId"
	HeaderJobID          = "JobId"
	HeaderTimelineID     = "TimelineId"
	HeaderTaskInstanceID = "TaskInstanceId"
	HeaderAuthToken      = "AuthToken"
)

// errForbiddenOrg marks a request naming an organization off the allow-list (403).
var errForbiddenOrg = errors.New("organization not allowed")

// parseCallback reads and checks the callback headers. The ids become URL path segments of the
// posts, so they must be GUIDs; the hub must be one Azure DevOps has; PlanUrl must be on the
// allow-list, so a token is never posted anywhere else.
func parseCallback(h http.Header, allowed []string) (*Callback, error) {
	var missing []string
	get := func(name string) string {
		v := strings.TrimSpace(h.Get(name))
		if v == "" {
			missing = append(missing, name)
		}
		return v
	}
	cb := &Callback{
		ProjectID: get(HeaderProjectID), HubName: get(HeaderHubName), PlanID: get(HeaderPlanID), JobID: get(HeaderJobID),
		TimelineID: get(HeaderTimelineID), TaskInstanceID: get(HeaderTaskInstanceID), AuthToken: get(HeaderAuthToken),
	}
	planURL := get(HeaderPlanURL)
	if len(missing) > 0 {
		return nil, fmt.Errorf("callback mode needs the headers %s (the check's default headers carry them)", strings.Join(missing, ", "))
	}
	for _, id := range []struct{ name, v string }{
		{HeaderProjectID, cb.ProjectID}, {HeaderPlanID, cb.PlanID}, {HeaderJobID, cb.JobID},
		{HeaderTimelineID, cb.TimelineID}, {HeaderTaskInstanceID, cb.TaskInstanceID},
	} {
		if _, err := uuid.Parse(id.v); err != nil || len(id.v) != 36 {
			return nil, fmt.Errorf("header %s: got %q, expected a GUID", id.name, printable(id.v))
		}
	}
	switch strings.ToLower(cb.HubName) {
	case "build", "release", "gates", "checks":
	default:
		return nil, fmt.Errorf("header %s: got %q, expected Build, Release, Gates or Checks", HeaderHubName, printable(cb.HubName))
	}
	org, ok := matchOrganization(planURL, allowed)
	if !ok {
		return nil, fmt.Errorf("header %s: %q is not an allowed organization: %w", HeaderPlanURL, printable(planURL), errForbiddenOrg)
	}
	cb.PlanURL = org
	return cb, nil
}

// matchOrganization finds raw (a URL, or an organization name) on the allow-list and returns
// the allow-listed form. URLs must match exactly (ignoring case and a trailing slash): a prefix
// match would let https://dev.azure.com/contoso-evil pass for contoso.
func matchOrganization(raw string, allowed []string) (string, bool) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", false
	}
	if !strings.Contains(raw, "://") {
		var found string
		for _, a := range allowed {
			if strings.EqualFold(orgName(a), raw) {
				if found != "" {
					return "", false // ambiguous
				}
				found = a
			}
		}
		return found, found != ""
	}
	n, err := normalizeOrgURL(raw)
	if err != nil {
		return "", false
	}
	for _, a := range allowed {
		if strings.EqualFold(a, n) {
			return a, true
		}
	}
	return "", false
}

// orgName is the organization's name in its URL: the last path segment, or the first label of
// a *.visualstudio.com host.
func orgName(u string) string {
	rest := u[strings.Index(u, "://")+3:]
	host, p, _ := strings.Cut(rest, "/")
	if p != "" {
		return p[strings.LastIndexByte(p, '/')+1:]
	}
	name, _, _ := strings.Cut(host, ".")
	return name
}

func printable(s string) string {
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}
