package task

import (
	"encoding/json"
	"fmt"
	"strings"
)

// LookupFunc reads one environment variable; os.LookupEnv in production, a map in tests.
type LookupFunc func(string) (string, bool)

// MapEnv adapts a map for tests and for the server, which builds an agent-like environment.
func MapEnv(m map[string]string) LookupFunc {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// EnvName converts a variable or input name to the agent's environment form:
// upper-cased, with '.' and ' ' turned into '_'.
func EnvName(name string) string {
	return strings.NewReplacer(".", "_", " ", "_").Replace(strings.ToUpper(name))
}

// Variable reads a pipeline variable by its dotted name (System.TeamProject).
func Variable(env LookupFunc, name string) string {
	v, _ := env(EnvName(name))
	return strings.TrimSpace(v)
}

// OnAgent reports whether the process runs inside an Azure Pipelines job.
func OnAgent(env LookupFunc) bool {
	v, ok := env("TF_BUILD")
	return ok && strings.EqualFold(strings.TrimSpace(v), "true")
}

// DebugEnabled reports System.Debug.
func DebugEnabled(env LookupFunc) bool {
	return strings.EqualFold(Variable(env, "System.Debug"), "true")
}

// JobTokenVar is where the agent exports the job access token (SystemVssConnection).
const JobTokenVar = "ENDPOINT_AUTH_PARAMETER_SYSTEMVSSCONNECTION_ACCESSTOKEN"

// JobToken returns the job access token, if the agent exported it.
func JobToken(env LookupFunc) (string, bool) {
	v, ok := env(JobTokenVar)
	v = strings.TrimSpace(v)
	return v, ok && v != ""
}

// Endpoint is a service connection as the agent exports it.
type Endpoint struct {
	ID         string
	URL        string
	Scheme     string
	Auth       map[string]string // authorization parameters, keys as given by the agent (case preserved when from JSON)
	lookupAuth func(string) (string, bool)
	lookupData func(string) (string, bool)
}

// AuthParam reads an authorization parameter, case-insensitively.
func (e *Endpoint) AuthParam(key string) (string, bool) {
	for k, v := range e.Auth {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return e.lookupAuth(key)
}

// Data reads a data parameter (ENDPOINT_DATA_<ID>_<KEY>).
func (e *Endpoint) Data(key string) (string, bool) {
	return e.lookupData(key)
}

// GetEndpoint reads the service connection id from the environment. It returns an error naming
// the connection when the agent exported nothing for it (wrong id, or not authorized for the
// pipeline).
func GetEndpoint(env LookupFunc, id string) (*Endpoint, error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return nil, fmt.Errorf("service connection: no id given")
	}
	key := EnvName(id)
	ep := &Endpoint{ID: id, Auth: map[string]string{}}
	ep.URL, _ = env("ENDPOINT_URL_" + key)
	ep.Scheme, _ = env("ENDPOINT_AUTH_SCHEME_" + key)
	raw, hasJSON := env("ENDPOINT_AUTH_" + key)
	if hasJSON && raw != "" {
		var a struct {
			Parameters map[string]string `json:"parameters"`
			Scheme     string            `json:"scheme"`
		}
		// The JSON may hold secrets: never quote it in an error.
		if err := json.Unmarshal([]byte(raw), &a); err != nil {
			return nil, fmt.Errorf("service connection %s: ENDPOINT_AUTH_%s is not valid JSON", id, key)
		}
		for k, v := range a.Parameters {
			ep.Auth[k] = v
		}
		if ep.Scheme == "" {
			ep.Scheme = a.Scheme
		}
	}
	ep.lookupAuth = func(k string) (string, bool) { return env("ENDPOINT_AUTH_PARAMETER_" + key + "_" + EnvName(k)) }
	ep.lookupData = func(k string) (string, bool) { return env("ENDPOINT_DATA_" + key + "_" + EnvName(k)) }
	if ep.URL == "" && ep.Scheme == "" && len(ep.Auth) == 0 {
		return nil, fmt.Errorf("service connection %s: the agent exported no ENDPOINT_* variables for it; check the connection id and that the pipeline is authorized to use it", id)
	}
	return ep, nil
}
