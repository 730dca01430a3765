package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// apiError is the error body Key Vault and Resource Manager send:
// {"error": {"code": ..., "message": ..., "innererror": {"code": ...}}}.
type apiError struct {
	Code    string
	Inner   string
	Message string
}

// parseAPIError reads an error body; anything else yields the zero value.
func parseAPIError(body []byte) apiError {
	var b struct {
		Error struct {
			Code       string `json:"code"`
			Message    string `json:"message"`
			InnerError *struct {
				Code string `json:"code"`
			} `json:"innererror"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &b) != nil {
		return apiError{}
	}
	e := apiError{Code: clip(b.Error.Code, 80), Message: clip(b.Error.Message, 300)}
	if b.Error.InnerError != nil {
		e.Inner = clip(b.Error.InnerError.Code, 80)
	}
	return e
}

func responseDetail(re *azcore.ResponseError) apiError {
	var e apiError
	if re.RawResponse != nil {
		if body, err := runtime.Payload(re.RawResponse); err == nil {
			e = parseAPIError(body)
		}
	}
	if e.Code == "" {
		e.Code = re.ErrorCode
	}
	return e
}

func codes(e apiError) string {
	s := e.Code
	if e.Inner != "" && e.Inner != e.Code {
		s += "/" + e.Inner
	}
	if s != "" {
		s = " " + s
	}
	return s
}

// explainVault turns a failed Key Vault call into an error that says what failed, with the
// status code, and what to do about it. who names the identity; vault the vault's host.
func explainVault(err error, vault, who string) error {
	var re *azcore.ResponseError
	var af *azidentity.AuthenticationFailedError
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return fmt.Errorf("vault %s: the lookups did not finish before the task's deadline: %w", vault, err)
	case errors.As(err, &af):
		return wrap(err, fmt.Sprintf("vault %s: could not get a token for %s: %s", vault, who, clip(af.Error(), 400)))
	case errors.As(err, &re):
		d := responseDetail(re)
		c := codes(d)
		switch {
		case re.StatusCode == http.StatusUnauthorized:
			return wrap(err, fmt.Sprintf("vault %s: 401%s: the vault refused the token of %s; the vault may belong to another Microsoft Entra tenant than the service connection: use a connection in the vault's tenant %s", vault, c, who, paren(d.Message)))
		case re.StatusCode == http.StatusForbidden:
			return wrap(err, fmt.Sprintf("vault %s: 403%s: %s", vault, c, forbiddenAdvice(d, vault, who)))
		case re.StatusCode == http.StatusTooManyRequests:
			return wrap(err, fmt.Sprintf("vault %s: 429 throttled: Key Vault kept throttling the lookups after the retries, honouring Retry-After; run the gate again later, or reduce concurrent jobs that use the vault%s", vault, paren(d.Message)))
		case re.StatusCode >= 500:
			return wrap(err, fmt.Sprintf("vault %s: %d%s after retries: Key Vault is failing; the gate fails closed, run it again later%s", vault, re.StatusCode, c, paren(d.Message)))
		default:
			return wrap(err, fmt.Sprintf("vault %s: %d%s: unexpected answer listing secret versions%s", vault, re.StatusCode, c, paren(d.Message)))
		}
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return wrap(err, fmt.Sprintf("vault %s is unreachable: its name does not resolve (%s): check the vault name, and for a private endpoint that the agent resolves the vault's private DNS zone", vault, clip(err.Error(), 300)))
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return wrap(err, fmt.Sprintf("vault %s is unreachable (%s): check the agent's network path to the vault (firewall, proxy, private endpoint)", vault, clip(err.Error(), 300)))
	}
	return fmt.Errorf("vault %s: %w", vault, err)
}

func forbiddenAdvice(d apiError, vault, who string) string {
	name, _, _ := strings.Cut(vault, ".")
	switch {
	case strings.Contains(d.Inner, "Firewall") || strings.Contains(d.Inner, "Connection") || strings.Contains(d.Message, "Client address is not authorized"):
		return fmt.Sprintf("the vault's network rules refuse this agent%s: allow the agent's address in the vault's firewall, or run the job on an agent in the vault's network", paren(d.Message))
	case d.Inner == "ForbiddenByRbac":
		return fmt.Sprintf("%s may not list the secrets of vault %s: assign it the \"Key Vault Reader\" role on the vault (it reads secret properties, never values)", who, name)
	default:
		return fmt.Sprintf("%s may not list the secrets of vault %s: grant it the secret permission List in the vault's access policies (not Get), or, if the vault uses Azure RBAC, the \"Key Vault Reader\" role%s", who, name, paren(d.Message))
	}
}

// explainARM turns a failed Resource Manager read of a vault into an error.
func explainARM(err error, id, who string) error {
	var re *azcore.ResponseError
	var af *azidentity.AuthenticationFailedError
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return fmt.Errorf("read vault %s from Resource Manager: the call did not finish before the task's deadline: %w", id, err)
	case errors.As(err, &af):
		return wrap(err, fmt.Sprintf("read vault %s from Resource Manager: could not get a token for %s: %s", id, who, clip(af.Error(), 400)))
	case errors.As(err, &re):
		d := responseDetail(re)
		c := codes(d)
		switch {
		case re.StatusCode == http.StatusUnauthorized:
			return wrap(err, fmt.Sprintf("read vault %s from Resource Manager: 401%s: the token of %s was refused%s", id, c, who, paren(d.Message)))
		case re.StatusCode == http.StatusForbidden:
			return wrap(err, fmt.Sprintf("read vault %s from Resource Manager: 403%s: %s may not read the vault resource, which KV014 needs to check enabledForTemplateDeployment: assign it the \"Reader\" or \"Key Vault Reader\" role on the vault (Microsoft.KeyVault/vaults/read)", id, c, who))
		case re.StatusCode == http.StatusTooManyRequests:
			return wrap(err, fmt.Sprintf("read vault %s from Resource Manager: 429 throttled after the retries, honouring Retry-After: run the gate again later", id))
		case re.StatusCode >= 500:
			return wrap(err, fmt.Sprintf("read vault %s from Resource Manager: %d%s after retries: the gate fails closed, run it again later", id, re.StatusCode, c))
		default:
			return wrap(err, fmt.Sprintf("read vault %s from Resource Manager: %d%s%s", id, re.StatusCode, c, paren(d.Message)))
		}
	}
	return fmt.Errorf("read vault %s from Resource Manager: %w", id, err)
}

// lookupError carries an explained message and keeps the cause for errors.Is/As, without
// printing the SDK's multi-line response dump.
type lookupError struct {
	msg string
	err error
}

func (e *lookupError) Error() string { return e.msg }
func (e *lookupError) Unwrap() error { return e.err }

func wrap(err error, msg string) error { return &lookupError{msg: msg, err: err} }

func paren(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}
