package rules

import (
	"fmt"
	"strings"

	"github.com/stagegate/stagegate/pkg/finding"
	"github.com/stagegate/stagegate/pkg/gates/keyvault/secrets"
	"github.com/stagegate/stagegate/pkg/keyvault"
)

// checkReference applies KV008 to one reference: its shape, then allowedVaults. fieldPos gives
// the line and column of a field ("vault id", "vault name", "secret name", "secret version").
func checkReference(r *FileResult, cfg *Config, ref keyvault.Reference, prefix string, fieldPos func(field string) (int, int)) {
	if checkShape(r, ref, prefix, fieldPos) {
		checkAllowed(r, cfg, ref, prefix, fieldPos)
	}
}

// checkShape reports malformed parts of a reference and returns whether it is well formed.
func checkShape(r *FileResult, ref keyvault.Reference, prefix string, fieldPos func(field string) (int, int)) bool {
	probs := ref.Check()
	for _, p := range probs {
		line, col := fieldPos(p.Field)
		r.add(Issue{Rule: KV008, Line: line, Column: col, Logical: ref.Source.Logical + "#" + p.Field,
			Message: fmt.Sprintf("%s is malformed: %s %s", prefix, p.Field, p.Message)})
	}
	return len(probs) == 0
}

// checkAllowed reports a reference to a vault outside allowedVaults (error) or to a vault
// computed at deployment time while allowedVaults is set (warning).
func checkAllowed(r *FileResult, cfg *Config, ref keyvault.Reference, prefix string, fieldPos func(field string) (int, int)) {
	logical := ref.Source.Logical
	switch cfg.Allow.Check(ref.Vault) {
	case keyvault.Denied:
		line, col := fieldPos("vault id")
		r.add(Issue{Rule: KV008, Line: line, Column: col, Logical: logical + "#vault",
			Message: fmt.Sprintf("%s points to vault '%s', which is not in allowedVaults (%s)", prefix, ref.Vault.Name, strings.Join(cfg.Allow.Items(), ", "))})
	case keyvault.Unknown:
		line, col := fieldPos("vault id")
		r.add(Issue{Rule: KV008, Severity: finding.Warning, Line: line, Column: col, Logical: logical + "#vault",
			Message: fmt.Sprintf("%s names its vault at deployment time (%s), so allowedVaults cannot be checked", prefix, ref.Vault.String())})
	}
}

// literalStringRef recognises a literal string that is an App Service Key Vault reference
// (@Microsoft.KeyVault(...)) or contains Key Vault secret URIs, records them and checks them.
func literalStringRef(r *FileResult, cfg *Config, s string, line, col int, logical string) {
	at := func(string) (int, int) { return line, col }
	trimmed := strings.TrimSpace(s)
	if len(trimmed) > len(keyvault.AppServicePrefix) && strings.EqualFold(trimmed[:len(keyvault.AppServicePrefix)], keyvault.AppServicePrefix) {
		prefix := "App Service Key Vault reference"
		if secrets.IsTemplated(trimmed) {
			ref := keyvault.Reference{Kind: keyvault.AppServiceSetting, Vault: keyvault.Vault{Dynamic: true, Expression: trimmed}, SecretDynamic: true,
				Source: keyvault.Source{Path: r.Path, Line: line, Column: col, Logical: logical}}
			r.Refs = append(r.Refs, ref)
			checkReference(r, cfg, ref, prefix, at)
			return
		}
		as, _, err := keyvault.ParseAppServiceRef(trimmed)
		if err != nil {
			r.add(Issue{Rule: KV008, Line: line, Column: col, Logical: logical, Message: prefix + " is malformed: " + err.Error()})
			return
		}
		ref := keyvault.Reference{Kind: keyvault.AppServiceSetting, Source: keyvault.Source{Path: r.Path, Line: line, Column: col, Logical: logical}}
		if as.HasURI {
			ref.Vault = keyvault.Vault{Name: as.SecretURI.Vault, Host: as.SecretURI.Host}
			ref.Secret, ref.Version = as.SecretURI.Secret, as.SecretURI.Version
		} else {
			ref.Vault = keyvault.Vault{Name: as.Vault}
			ref.Secret, ref.Version = as.Secret, as.Version
		}
		r.Refs = append(r.Refs, ref)
		checkReference(r, cfg, ref, prefix, at)
		return
	}
	if !containsFold(s, ".vault.") || !containsFold(s, "/secrets/") {
		return
	}
	for off := 0; off < len(s); {
		i := indexFold(s[off:], "https://")
		if i < 0 {
			return
		}
		i += off
		end := i
		for end < len(s) && !strings.ContainsRune(" \t\r\n\"'`;,)<>", rune(s[end])) {
			end++
		}
		off = end
		uri := s[i:end]
		parts, ok, err := keyvault.ParseSecretURI(uri)
		if !ok {
			continue
		}
		prefix := "Key Vault secret URI"
		if err != nil {
			r.add(Issue{Rule: KV008, Line: line, Column: col, Logical: logical, Message: prefix + " is malformed: " + err.Error()})
			continue
		}
		ref := keyvault.Reference{Kind: keyvault.SecretURI, Vault: keyvault.Vault{Name: parts.Vault, Host: parts.Host},
			Secret: parts.Secret, Version: parts.Version, Source: keyvault.Source{Path: r.Path, Line: line, Column: col, Logical: logical}}
		if secrets.IsTemplated(parts.Secret) {
			ref.Secret, ref.SecretDynamic = "", true
		}
		r.Refs = append(r.Refs, ref)
		checkReference(r, cfg, ref, prefix, at)
	}
}

func containsFold(s, lower string) bool { return indexFold(s, lower) >= 0 }

func indexFold(s, lower string) int {
	n := len(lower)
	for i := 0; i+n <= len(s); i++ {
		if equalFold(s[i:i+n], lower) {
			return i
		}
	}
	return -1
}
