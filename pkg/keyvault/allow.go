package keyvault

import (
	"fmt"
	"strings"
)

// AllowList is the set of vaults references may point to, given as vault names or vault resource
// ids and compared case-insensitively. The zero AllowList (or nil) allows every vault.
type AllowList struct {
	names map[string]bool // lower-cased vault names, from names and ids
	ids   map[string]bool // lower-cased canonical ids
	items []string
}

// ParseAllowList builds an allow list from names and resource ids; an item that is neither a
// valid vault name nor a vault resource id is an error naming it.
func ParseAllowList(items []string) (*AllowList, error) {
	a := &AllowList{names: map[string]bool{}, ids: map[string]bool{}}
	for _, it := range items {
		it = strings.TrimSpace(it)
		if it == "" {
			continue
		}
		if strings.HasPrefix(it, "/") {
			id, err := ParseVaultID(strings.TrimSuffix(it, "/"))
			if err != nil {
				return nil, fmt.Errorf("allowed vault %w", err)
			}
			a.ids[strings.ToLower(id.String())] = true
		} else {
			if err := ValidateVaultName(it); err != nil {
				return nil, fmt.Errorf("allowed vault %w; expected a vault name or a vault resource id", err)
			}
			a.names[strings.ToLower(it)] = true
		}
		a.items = append(a.items, it)
	}
	return a, nil
}

// Empty reports whether the list allows every vault.
func (a *AllowList) Empty() bool { return a == nil || len(a.items) == 0 }

// Items returns the entries as given.
func (a *AllowList) Items() []string {
	if a == nil {
		return nil
	}
	return append([]string(nil), a.items...)
}

// Decision is the outcome of matching a vault against the allow list.
type Decision int

// Decisions.
const (
	Allowed Decision = iota
	Denied
	// Unknown means the vault is computed at deployment time, so the list cannot be applied.
	Unknown
)

// Check decides whether v is allowed. A name entry allows the vault of that name. An id entry
// allows a reference with the same id and, when the reference names the vault without its id
// (Bicep, Terraform, URIs), a vault of the same name: vault names are globally unique per cloud,
// because they are DNS names.
func (a *AllowList) Check(v Vault) Decision {
	if a.Empty() {
		return Allowed
	}
	if v.Dynamic || v.Name == "" {
		return Unknown
	}
	name := strings.ToLower(v.Name)
	if a.names[name] {
		return Allowed
	}
	if v.ID != "" {
		if id, err := ParseVaultID(strings.TrimSuffix(v.ID, "/")); err == nil && a.ids[strings.ToLower(id.String())] {
			return Allowed
		}
		return Denied
	}
	for id := range a.ids {
		if strings.HasSuffix(id, "/vaults/"+name) {
			return Allowed
		}
	}
	return Denied
}
