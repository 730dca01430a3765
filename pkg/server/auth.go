package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strings"
)

// authenticate finds the caller whose credentials the request carries: Basic (the Generic
// service connection's user name and password) or Bearer. Secrets are compared as SHA-256
// digests in constant time, and every caller is compared, so neither the length of a secret nor
// which caller matched shows in the timing.
func authenticate(r *http.Request, callers []Caller) (*Caller, bool) {
	h := r.Header.Get("Authorization")
	scheme, cred, ok := strings.Cut(h, " ")
	if !ok {
		return nil, false
	}
	cred = strings.TrimSpace(cred)
	var user, secret string
	bearer := false
	switch strings.ToLower(scheme) {
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(cred)
		if err != nil {
			return nil, false
		}
		u, p, ok := strings.Cut(string(raw), ":")
		if !ok {
			return nil, false
		}
		user, secret = u, p
	case "bearer":
		secret, bearer = cred, true
	default:
		return nil, false
	}
	sd := sha256.Sum256([]byte(secret))
	ud := sha256.Sum256([]byte(user))
	var found *Caller
	for i := range callers {
		c := &callers[i]
		match := subtle.ConstantTimeCompare(sd[:], c.secret[:])
		if bearer {
			match &= boolInt(c.bearer)
		} else {
			match &= boolInt(!c.bearer) & subtle.ConstantTimeCompare(ud[:], c.user[:])
		}
		if match == 1 && found == nil {
			found = c
		}
	}
	return found, found != nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// mayUse reports whether the caller may name the environment (lower-case).
func (c *Caller) mayUse(environment string) bool {
	if len(c.Environments) == 0 {
		return true
	}
	for _, e := range c.Environments {
		if e == environment {
			return true
		}
	}
	return false
}
