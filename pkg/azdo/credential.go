package azdo

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
)

// Credential supplies the Authorization header for each request.
// Authorization returns the full header value ("Bearer ...", "Basic ...");
// it is called per attempt, so an implementation may refresh its token.
// Source names where the token comes from, for error messages; it must not
// contain the token.
type Credential interface {
	Authorization(ctx context.Context) (string, error)
	Source() string
}

// Token sources, as named in error messages.
const (
	SourceJobToken = "the job token (System.AccessToken / SystemVssConnection)"
	SourcePAT      = "the personal access token in AZURE_DEVOPS_EXT_PAT"
)

// ErrNoCredential is returned when a credential has no token to send.
var ErrNoCredential = errors.New("no Azure DevOps credential")

type jobToken struct{ token string }

// JobToken is the pipeline's job access token (System.AccessToken), sent as
// a Bearer token. Azure DevOps authorizes it as the project's (or the
// collection's) Build Service identity.
func JobToken(token string) Credential { return jobToken{token: strings.TrimSpace(token)} }

func (j jobToken) Authorization(context.Context) (string, error) {
	if j.token == "" {
		return "", errors.Join(ErrNoCredential, errors.New("the job token is empty"))
	}
	return "Bearer " + j.token, nil
}

func (jobToken) Source() string { return SourceJobToken }

// String and GoString keep the token out of %v and %#v.
func (jobToken) String() string   { return "azdo.JobToken(redacted)" }
func (jobToken) GoString() string { return "azdo.JobToken(redacted)" }

type pat struct{ pat string }

// PAT is a personal access token, sent as Basic authentication with an empty
// user name.
func PAT(token string) Credential { return pat{pat: strings.TrimSpace(token)} }

func (p pat) Authorization(context.Context) (string, error) {
	if p.pat == "" {
		return "", errors.Join(ErrNoCredential, errors.New("the personal access token is empty"))
	}
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(":"+p.pat)), nil
}

func (pat) Source() string   { return SourcePAT }
func (pat) String() string   { return "azdo.PAT(redacted)" }
func (pat) GoString() string { return "azdo.PAT(redacted)" }

// Agent environment variables read by FromAgentEnv.
const (
	EnvCollectionURI = "SYSTEM_COLLECTIONURI"
	EnvJobToken      = "ENDPOINT_AUTH_PARAMETER_SYSTEMVSSCONNECTION_ACCESSTOKEN"
	EnvAccessToken   = "SYSTEM_ACCESSTOKEN" // when a pipeline maps $(System.AccessToken) into env
	EnvPAT           = "AZURE_DEVOPS_EXT_PAT"
)

// FromAgentEnv reads the organization URL and a credential from the agent's
// environment: the job token (ENDPOINT_AUTH_PARAMETER_SYSTEMVSSCONNECTION_ACCESSTOKEN,
// or SYSTEM_ACCESSTOKEN when mapped explicitly), falling back to
// AZURE_DEVOPS_EXT_PAT. lookup is os.LookupEnv in production.
func FromAgentEnv(lookup func(string) (string, bool)) (string, Credential, error) {
	get := func(k string) string {
		v, ok := lookup(k)
		if !ok {
			return ""
		}
		return strings.TrimSpace(v)
	}
	orgURL := get(EnvCollectionURI)
	if orgURL == "" {
		return "", nil, errors.New(EnvCollectionURI + " is not set: run on an Azure Pipelines agent, or set it to the organization URL (https://dev.azure.com/<organization>/)")
	}
	if t := get(EnvJobToken); t != "" {
		return orgURL, JobToken(t), nil
	}
	if t := get(EnvAccessToken); t != "" {
		return orgURL, JobToken(t), nil
	}
	if t := get(EnvPAT); t != "" {
		return orgURL, PAT(t), nil
	}
	return "", nil, errors.Join(ErrNoCredential, errors.New("neither the job token ("+EnvJobToken+
		") nor "+EnvPAT+" is set: on an agent, the task gets the job token automatically (check that the task's "+
		"execution has access to it); locally, set "+EnvPAT+" to a personal access token"))
}

// isJobToken reports whether c authenticates as a Build Service identity.
func isJobToken(c Credential) bool {
	_, ok := c.(jobToken)
	return ok
}
