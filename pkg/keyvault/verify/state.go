package verify

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// VersionInfo is what Key Vault lists about one secret version (never its value).
type VersionInfo struct {
	ID        string
	Enabled   *bool
	Created   *time.Time
	Updated   *time.Time
	NotBefore *time.Time
	Expires   *time.Time
}

// enabled treats a missing flag as enabled: Key Vault always sends it, and a new secret is
// enabled by default.
func (v VersionInfo) enabled() bool { return v.Enabled == nil || *v.Enabled }

// Problem codes: stable, part of finding fingerprints.
const (
	codeMissing        = "missing"
	codeVersionMissing = "version-missing"
	codeDisabled       = "disabled"
	codeNotYetValid    = "not-yet-valid"
	codeExpired        = "expired"
	codeExpiring       = "expiring"
	codeNoExpiry       = "no-expiry"
	codeTemplateDeploy = "template-deployment-disabled"
	codeVaultNotFound  = "vault-not-found"
)

// Assessment is the verdict on one secret (vault, name, version).
type Assessment struct {
	// Version is the version checked: the pinned one, or the current one when unpinned.
	Version string
	// Found is true when that version exists.
	Found   bool
	Expires *time.Time
	// Unusable (KV012) and Warnings (KV013) hold problem codes with their messages.
	Unusable []Problem
	Warnings []Problem
}

// Problem is one reason a secret fails or warns.
type Problem struct {
	Code    string
	Message string
}

// Policy is what KV013 warns about.
type Policy struct {
	Now               time.Time
	ExpiryWarningDays int
	RequireExpiry     bool
}

// Assess decides KV012 and KV013 for a secret from its listed versions.
//
// Unpinned references use the secret's current version, which is what Key Vault returns for a
// reference without a version (and what ARM, App Service and the Terraform provider read): the
// most recently created version, whether or not it is enabled. A disabled current version is
// therefore unusable even when an older version is enabled; the message names that older
// version so the author can pin it. Ties on creation time fall back to the update time, then
// to the version id, so the choice is deterministic.
func Assess(secret string, pinned string, versions []VersionInfo, p Policy) Assessment {
	var a Assessment
	if len(versions) == 0 {
		a.Unusable = append(a.Unusable, Problem{codeMissing, fmt.Sprintf("secret '%s' does not exist (no versions)", secret)})
		return a
	}
	var cur *VersionInfo
	hint := ""
	if pinned != "" {
		for i := range versions {
			if strings.EqualFold(versions[i].ID, pinned) {
				cur = &versions[i]
				break
			}
		}
		if cur == nil {
			a.Version = pinned
			a.Unusable = append(a.Unusable, Problem{codeVersionMissing, fmt.Sprintf("secret '%s' has no version %s (it has %d other %s)", secret, pinned, len(versions), plural(len(versions), "version", "versions"))})
			return a
		}
	} else {
		sorted := append([]VersionInfo(nil), versions...)
		sort.SliceStable(sorted, func(i, j int) bool { return newer(sorted[i], sorted[j]) })
		cur = &sorted[0]
		if !cur.enabled() {
			for _, v := range sorted[1:] {
				if v.enabled() {
					hint = fmt.Sprintf("; version %s is enabled: re-enable the current version or pin that one", v.ID)
					break
				}
			}
		}
	}
	a.Version, a.Found, a.Expires = cur.ID, true, cur.Expires
	which := "version " + cur.ID
	if pinned == "" {
		which = "current version " + cur.ID
	}
	if !cur.enabled() {
		a.Unusable = append(a.Unusable, Problem{codeDisabled, fmt.Sprintf("secret '%s' (%s) is disabled%s", secret, which, hint)})
	}
	if cur.NotBefore != nil && cur.NotBefore.After(p.Now) {
		a.Unusable = append(a.Unusable, Problem{codeNotYetValid, fmt.Sprintf("secret '%s' (%s) is not valid before %s", secret, which, stamp(*cur.NotBefore))})
	}
	if cur.Expires != nil && !cur.Expires.After(p.Now) {
		a.Unusable = append(a.Unusable, Problem{codeExpired, fmt.Sprintf("secret '%s' (%s) expired on %s", secret, which, stamp(*cur.Expires))})
	}
	if len(a.Unusable) > 0 {
		return a
	}
	switch {
	case cur.Expires == nil:
		if p.RequireExpiry {
			a.Warnings = append(a.Warnings, Problem{codeNoExpiry, fmt.Sprintf("secret '%s' (%s) has no expiry date (requireExpiry is true)", secret, which)})
		}
	case p.ExpiryWarningDays > 0 && cur.Expires.Before(p.Now.Add(time.Duration(p.ExpiryWarningDays)*24*time.Hour)):
		left := "within a day"
		if days := int(cur.Expires.Sub(p.Now).Hours() / 24); days > 0 {
			left = fmt.Sprintf("in %d %s", days, plural(days, "day", "days"))
		}
		a.Warnings = append(a.Warnings, Problem{codeExpiring, fmt.Sprintf("secret '%s' (%s) expires on %s, %s (expiryWarningDays is %d)", secret, which, stamp(*cur.Expires), left, p.ExpiryWarningDays)})
	}
	return a
}

// newer orders versions newest first: created, then updated, then id.
func newer(a, b VersionInfo) bool {
	if c := cmpTime(a.Created, b.Created); c != 0 {
		return c > 0
	}
	if c := cmpTime(a.Updated, b.Updated); c != 0 {
		return c > 0
	}
	return a.ID > b.ID
}

func cmpTime(a, b *time.Time) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	return a.Compare(*b)
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
