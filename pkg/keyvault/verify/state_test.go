package verify

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var now = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) *time.Time { t := now.Add(d); return &t }
func yes() *bool                    { b := true; return &b }
func no() *bool                     { b := false; return &b }

const day = 24 * time.Hour

func TestAssess(t *testing.T) {
	const v1, v2, v3 = "00000000000000000000000000000001", "00000000000000000000000000000002", "00000000000000000000000000000003"
	pol := Policy{Now: now, ExpiryWarningDays: 30, RequireExpiry: true}
	cases := []struct {
		name     string
		pinned   string
		versions []VersionInfo
		policy   *Policy
		checked  string
		unusable []string // codes
		warnings []string
		msg      string // substring of the first problem's message
	}{
		{name: "healthy current", versions: []VersionInfo{{ID: v1, Enabled: yes(), Created: at(-2 * day), Expires: at(90 * day)}}, checked: v1},
		{name: "no versions", versions: nil, unusable: []string{codeMissing}, msg: "does not exist"},
		{name: "current is the newest created, not the first listed", versions: []VersionInfo{
			{ID: v1, Enabled: yes(), Created: at(-9 * day), Expires: at(200 * day)},
			{ID: v3, Enabled: yes(), Created: at(-1 * day), Expires: at(5 * day)},
			{ID: v2, Enabled: yes(), Created: at(-5 * day), Expires: at(100 * day)},
		}, checked: v3, warnings: []string{codeExpiring}, msg: "in 5 days"},
		{name: "disabled current with an older enabled version", versions: []VersionInfo{
			{ID: v1, Enabled: yes(), Created: at(-9 * day), Expires: at(200 * day)},
			{ID: v2, Enabled: no(), Created: at(-1 * day), Expires: at(200 * day)},
		}, checked: v2, unusable: []string{codeDisabled}, msg: "current version " + v2 + ") is disabled; version " + v1 + " is enabled"},
		{name: "disabled current and nothing else", versions: []VersionInfo{{ID: v2, Enabled: no(), Created: at(-1 * day)}}, checked: v2, unusable: []string{codeDisabled}},
		{name: "creation tie broken by update time", versions: []VersionInfo{
			{ID: v2, Enabled: no(), Created: at(-day), Updated: at(-day)},
			{ID: v1, Enabled: yes(), Created: at(-day), Updated: at(-day / 2), Expires: at(60 * day)},
		}, checked: v1},
		{name: "full tie broken by id", versions: []VersionInfo{
			{ID: v1, Enabled: no(), Created: at(-day)},
			{ID: v2, Enabled: yes(), Created: at(-day), Expires: at(60 * day)},
		}, checked: v2},
		{name: "not yet valid", versions: []VersionInfo{{ID: v1, Enabled: yes(), Created: at(-day), NotBefore: at(2 * day), Expires: at(90 * day)}}, checked: v1, unusable: []string{codeNotYetValid}, msg: "not valid before 2026-12-01 12:00 UTC"},
		{name: "expired", versions: []VersionInfo{{ID: v1, Enabled: yes(), Created: at(-90 * day), Expires: at(-time.Hour)}}, checked: v1, unusable: []string{codeExpired}, msg: "expired on 2026-11-29 11:00 UTC"},
		{name: "expires exactly now counts as expired", versions: []VersionInfo{{ID: v1, Enabled: yes(), Expires: at(0)}}, checked: v1, unusable: []string{codeExpired}},
		{name: "disabled and expired report both", versions: []VersionInfo{{ID: v1, Enabled: no(), Expires: at(-day)}}, checked: v1, unusable: []string{codeDisabled, codeExpired}},
		{name: "expiring inside the window", versions: []VersionInfo{{ID: v1, Enabled: yes(), Expires: at(29 * day)}}, checked: v1, warnings: []string{codeExpiring}, msg: "in 29 days (expiryWarningDays is 30)"},
		{name: "expiring within a day", versions: []VersionInfo{{ID: v1, Enabled: yes(), Expires: at(3 * time.Hour)}}, checked: v1, warnings: []string{codeExpiring}, msg: "within a day"},
		{name: "expiring outside the window", versions: []VersionInfo{{ID: v1, Enabled: yes(), Expires: at(31 * day)}}, checked: v1},
		{name: "window zero never warns", versions: []VersionInfo{{ID: v1, Enabled: yes(), Expires: at(2 * day)}}, policy: &Policy{Now: now, RequireExpiry: true}, checked: v1},
		{name: "no expiry with requireExpiry", versions: []VersionInfo{{ID: v1, Enabled: yes()}}, checked: v1, warnings: []string{codeNoExpiry}, msg: "has no expiry date (requireExpiry is true)"},
		{name: "no expiry without requireExpiry", versions: []VersionInfo{{ID: v1, Enabled: yes()}}, policy: &Policy{Now: now, ExpiryWarningDays: 30}, checked: v1},
		{name: "missing enabled flag counts as enabled", versions: []VersionInfo{{ID: v1, Expires: at(90 * day)}}, checked: v1},
		{name: "pinned version found", pinned: v1, versions: []VersionInfo{
			{ID: v1, Enabled: yes(), Created: at(-9 * day), Expires: at(90 * day)},
			{ID: v2, Enabled: no(), Created: at(-1 * day)},
		}, checked: v1},
		{name: "pinned version compared case-insensitively", pinned: "ABCDEF00000000000000000000000001", versions: []VersionInfo{{ID: "abcdef00000000000000000000000001", Enabled: yes(), Expires: at(90 * day)}}, checked: "abcdef00000000000000000000000001"},
		{name: "pinned version missing", pinned: v3, versions: []VersionInfo{{ID: v1, Enabled: yes()}, {ID: v2, Enabled: yes()}}, checked: v3, unusable: []string{codeVersionMissing}, msg: "has no version " + v3 + " (it has 2 other versions)"},
		{name: "pinned version disabled", pinned: v1, versions: []VersionInfo{{ID: v1, Enabled: no()}, {ID: v2, Enabled: yes(), Created: at(-day)}}, checked: v1, unusable: []string{codeDisabled}, msg: "(version " + v1 + ") is disabled"},
		{name: "pinned version expired while the current one is fine", pinned: v1, versions: []VersionInfo{{ID: v1, Enabled: yes(), Expires: at(-day)}, {ID: v2, Enabled: yes(), Created: at(-day), Expires: at(300 * day)}}, checked: v1, unusable: []string{codeExpired}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := pol
			if c.policy != nil {
				p = *c.policy
			}
			a := Assess("db-password", c.pinned, c.versions, p)
			assert.Equal(t, c.checked, a.Version)
			assert.Equal(t, c.unusable, problemCodes(a.Unusable))
			assert.Equal(t, c.warnings, problemCodes(a.Warnings))
			if len(a.Unusable) > 0 {
				assert.Empty(t, a.Warnings, "an unusable secret is not also warned about")
			}
			if c.msg != "" {
				all := append(append([]Problem(nil), a.Unusable...), a.Warnings...)
				require.NotEmpty(t, all)
				assert.Contains(t, all[0].Message, c.msg)
				assert.Contains(t, all[0].Message, "secret 'db-password'")
			}
		})
	}
}

func problemCodes(ps []Problem) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Code)
	}
	return out
}
