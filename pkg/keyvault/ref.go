// Package keyvault is the model of Key Vault references found in infrastructure templates: which
// vault, which secret, which version, and where the template says so. It validates the shape of
// references (vault resource ids, vault and secret names, versions, secret URIs, App Service
// "@Microsoft.KeyVault(...)" settings) and matches vaults against an allow list. It has no Azure
// SDK dependency: looking the secrets up in Key Vault is a separate step built on this model.
package keyvault

import (
	"fmt"
	"slices"
	"strings"
)

// Kind says which template construct a reference comes from.
type Kind string

// Reference kinds.
const (
	// ARMParameter is {"reference": {"keyVault": {"id": ...}, "secretName": ...}} in an ARM
	// parameters file or a nested deployment's parameters.
	ARMParameter Kind = "arm-parameter"
	// BicepGetSecret is kv.getSecret('name') in Bicep or az.getSecret(...) in a .bicepparam file.
	BicepGetSecret Kind = "bicep-getsecret"
	// TerraformData is a data "azurerm_key_vault_secret" block.
	TerraformData Kind = "terraform-data"
	// SecretURI is a literal https://<vault>.vault.azure.net/secrets/<name>[/<version>] URI.
	SecretURI Kind = "secret-uri"
	// AppServiceSetting is an "@Microsoft.KeyVault(...)" application setting value.
	AppServiceSetting Kind = "app-service-setting"
	// PipelineTask is an AzureKeyVault pipeline task downloading secrets.
	PipelineTask Kind = "pipeline-task"
)

// Source is where a reference is written. Path is slash-separated, relative to the scanned root.
type Source struct {
	Path    string `json:"path"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Logical string `json:"logical,omitempty"`
}

// Vault identifies a vault as far as the template says it. Fields that the template computes at
// deployment time (parameters, variables, pipeline variables) are empty and Dynamic is set.
type Vault struct {
	Name           string `json:"name,omitempty"`
	ID             string `json:"id,omitempty"`
	SubscriptionID string `json:"subscriptionId,omitempty"`
	ResourceGroup  string `json:"resourceGroup,omitempty"`
	// Host is the vault's DNS name when the reference is a URI (myvault.vault.azure.net).
	Host string `json:"host,omitempty"`
	// Dynamic is true when the vault is only known at deployment time.
	Dynamic bool `json:"dynamic,omitempty"`
	// Expression is the template text naming the vault when it is dynamic.
	Expression string `json:"expression,omitempty"`
}

// Known reports whether the vault name is known statically.
func (v Vault) Known() bool { return v.Name != "" && !v.Dynamic }

// String names the vault for messages.
func (v Vault) String() string {
	switch {
	case v.Known():
		return v.Name
	case v.Expression != "":
		return v.Expression
	default:
		return "(computed at deployment)"
	}
}

// Reference is one Key Vault secret a template, parameters file or pipeline reads.
type Reference struct {
	Kind  Kind  `json:"kind"`
	Vault Vault `json:"vault"`
	// Secret is the secret name; "" with SecretDynamic when computed at deployment time, "*" for
	// a pipeline task that downloads every secret.
	Secret        string `json:"secret,omitempty"`
	SecretDynamic bool   `json:"secretDynamic,omitempty"`
	// Version pins a secret version; "" means the latest.
	Version string `json:"version,omitempty"`
	Source  Source `json:"source"`
	// Parameter is the template parameter the reference fills, when there is one.
	Parameter string `json:"parameter,omitempty"`
}

// String renders vault/secret[/version] for messages and tables.
func (r Reference) String() string {
	s := r.Vault.String() + "/"
	if r.SecretDynamic {
		s += "(computed)"
	} else {
		s += r.Secret
	}
	if r.Version != "" {
		s += "/" + r.Version
	}
	return s
}

// Problem is one way a reference is malformed. Field names the part (vault id, vault name,
// secret name, secret version, secret uri).
type Problem struct {
	Field   string
	Message string
}

func (p Problem) Error() string { return p.Field + ": " + p.Message }

// Check validates the statically known parts of r and returns every problem found.
func (r Reference) Check() []Problem {
	var out []Problem
	if !r.Vault.Dynamic {
		idOK := true
		if r.Vault.ID != "" {
			id, err := ParseVaultID(r.Vault.ID)
			idOK = err == nil
			switch {
			case err != nil:
				out = append(out, Problem{"vault id", err.Error()})
			case r.Vault.Name != "" && !strings.EqualFold(r.Vault.Name, id.Name):
				out = append(out, Problem{"vault name", fmt.Sprintf("%q does not match the vault id's name %q", r.Vault.Name, id.Name)})
				idOK = false
			}
		}
		// A name beside a broken id is not judged again: the id problem already says it.
		if idOK && r.Vault.Name != "" {
			if err := ValidateVaultName(r.Vault.Name); err != nil {
				out = append(out, Problem{"vault name", err.Error()})
			}
		}
	}
	// "*" is the AzureKeyVault task's "every secret"; in any other reference it is a name.
	if !r.SecretDynamic && (r.Kind != PipelineTask || r.Secret != "*") {
		if err := ValidateSecretName(r.Secret); err != nil {
			out = append(out, Problem{"secret name", err.Error()})
		}
	}
	if r.Version != "" {
		if err := ValidateVersion(r.Version); err != nil {
			out = append(out, Problem{"secret version", err.Error()})
		}
	}
	return out
}

// ValidateSecretName checks a secret name against Key Vault's rule: 1 to 127 characters, ASCII
// letters, digits and hyphens.
func ValidateSecretName(name string) error {
	if name == "" {
		return fmt.Errorf("is empty; expected 1 to 127 letters, digits or hyphens")
	}
	if len(name) > 127 {
		return fmt.Errorf("is %d characters long; expected at most 127", len(name))
	}
	for i := 0; i < len(name); i++ {
		if !isAlnum(name[i]) && name[i] != '-' {
			return fmt.Errorf("%q contains %s; expected only letters, digits and hyphens", name, describeByte(name, i))
		}
	}
	return nil
}

// ValidateVaultName checks a vault name: 3 to 24 characters, letters, digits and hyphens,
// starting with a letter, ending with a letter or digit, no two hyphens in a row.
func ValidateVaultName(name string) error {
	if len(name) < 3 || len(name) > 24 {
		return fmt.Errorf("%q is %d characters long; expected 3 to 24", name, len(name))
	}
	if !isLetter(name[0]) {
		return fmt.Errorf("%q does not start with a letter", name)
	}
	if name[len(name)-1] == '-' {
		return fmt.Errorf("%q ends with a hyphen", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !isAlnum(c) && c != '-' {
			return fmt.Errorf("%q contains %s; expected only letters, digits and hyphens", name, describeByte(name, i))
		}
		if c == '-' && i > 0 && name[i-1] == '-' {
			return fmt.Errorf("%q contains two hyphens in a row", name)
		}
	}
	return nil
}

// ValidateVersion checks a secret version: 32 hexadecimal characters.
func ValidateVersion(v string) error {
	if len(v) != 32 {
		return fmt.Errorf("%q is %d characters long; expected 32 hexadecimal characters", v, len(v))
	}
	for i := 0; i < len(v); i++ {
		if !isHex(v[i]) {
			return fmt.Errorf("%q contains %s; expected 32 hexadecimal characters", v, describeByte(v, i))
		}
	}
	return nil
}

// VaultID is a parsed vault resource id.
type VaultID struct {
	SubscriptionID string
	ResourceGroup  string
	Name           string
}

// String renders the canonical resource id.
func (id VaultID) String() string {
	return "/subscriptions/" + id.SubscriptionID + "/resourceGroups/" + id.ResourceGroup +
		"/providers/Microsoft.KeyVault/vaults/" + id.Name
}

// ParseVaultID parses /subscriptions/<guid>/resourceGroups/<rg>/providers/Microsoft.KeyVault/vaults/<name>
// (segment names case-insensitive, as Azure Resource Manager compares them).
func ParseVaultID(s string) (VaultID, error) {
	const want = "/subscriptions/<subscription id>/resourceGroups/<group>/providers/Microsoft.KeyVault/vaults/<name>"
	segs := strings.Split(s, "/")
	if len(segs) != 9 || segs[0] != "" {
		return VaultID{}, fmt.Errorf("%q is not a vault resource id; expected %s", s, want)
	}
	fixed := []struct {
		i    int
		name string
	}{{1, "subscriptions"}, {3, "resourceGroups"}, {5, "providers"}, {6, "Microsoft.KeyVault"}, {7, "vaults"}}
	for _, f := range fixed {
		if !strings.EqualFold(segs[f.i], f.name) {
			return VaultID{}, fmt.Errorf("%q is not a vault resource id: segment %d is %q, expected %q (%s)", s, f.i, segs[f.i], f.name, want)
		}
	}
	id := VaultID{SubscriptionID: segs[2], ResourceGroup: segs[4], Name: segs[8]}
	if !IsGUID(id.SubscriptionID) {
		return VaultID{}, fmt.Errorf("%q: subscription id %q is not a GUID", s, id.SubscriptionID)
	}
	if err := validateGroup(id.ResourceGroup); err != nil {
		return VaultID{}, fmt.Errorf("%q: resource group %w", s, err)
	}
	if err := ValidateVaultName(id.Name); err != nil {
		return VaultID{}, fmt.Errorf("%q: vault name %w", s, err)
	}
	return id, nil
}

func validateGroup(g string) error {
	if g == "" || len(g) > 90 {
		return fmt.Errorf("%q must be 1 to 90 characters", g)
	}
	if g[len(g)-1] == '.' {
		return fmt.Errorf("%q must not end with a period", g)
	}
	for _, r := range g {
		if r < 0x80 && !isAlnum(byte(r)) && !strings.ContainsRune("-_.()", r) {
			return fmt.Errorf("%q contains %q", g, r)
		}
	}
	return nil
}

// IsGUID reports whether s is a GUID in the 8-4-4-4-12 hexadecimal form.
func IsGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			if !isHex(s[i]) {
				return false
			}
		}
	}
	return true
}

// SecretURIParts is a parsed Key Vault secret identifier.
type SecretURIParts struct {
	Host    string // myvault.vault.azure.net
	Vault   string // myvault
	Secret  string
	Version string
}

// vaultSuffixes are the Key Vault DNS suffixes of the public and sovereign clouds.
var vaultSuffixes = [...]string{".vault.azure.net", ".vault.usgovcloudapi.net", ".vault.azure.cn", ".vault.microsoftazure.de"}

// IsVaultHost reports whether host is a Key Vault DNS name, and returns the vault name.
func IsVaultHost(host string) (string, bool) {
	h := strings.ToLower(strings.TrimSuffix(host, "/"))
	if i := strings.IndexByte(h, ':'); i >= 0 {
		h = h[:i]
	}
	for _, suf := range vaultSuffixes {
		if strings.HasSuffix(h, suf) && len(h) > len(suf) {
			name := h[:len(h)-len(suf)]
			if strings.IndexByte(name, '.') >= 0 {
				return "", false
			}
			return name, true
		}
	}
	return "", false
}

// ParseSecretURI parses https://<vault>.<suffix>/secrets/<name>[/<version>][/] and reports
// whether s is a secret URI at all (ok) and, if so, what is wrong with it (err).
func ParseSecretURI(s string) (parts SecretURIParts, ok bool, err error) {
	rest, found := cutPrefixFold(s, "https://")
	if !found {
		return SecretURIParts{}, false, nil
	}
	slash := strings.IndexByte(rest, '/')
	if slash < 0 {
		return SecretURIParts{}, false, nil
	}
	host := rest[:slash]
	vault, isVault := IsVaultHost(host)
	if !isVault {
		return SecretURIParts{}, false, nil
	}
	path := rest[slash+1:]
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	segs := strings.Split(strings.TrimSuffix(path, "/"), "/")
	if !strings.EqualFold(segs[0], "secrets") {
		return SecretURIParts{}, false, nil
	}
	parts = SecretURIParts{Host: strings.ToLower(host), Vault: vault}
	if len(segs) < 2 || len(segs) > 3 {
		return parts, true, fmt.Errorf("%q: expected https://%s/secrets/<name>[/<version>]", s, parts.Host)
	}
	if slices.Contains(segs[1:], "") {
		return parts, true, fmt.Errorf("%q: empty path segment; expected https://%s/secrets/<name>[/<version>]", s, parts.Host)
	}
	parts.Secret = segs[1]
	if len(segs) == 3 {
		parts.Version = segs[2]
	}
	return parts, true, nil
}

// AppServiceRef is a parsed "@Microsoft.KeyVault(...)" application setting.
type AppServiceRef struct {
	SecretURI SecretURIParts // set for SecretUri=...
	HasURI    bool
	Vault     string // VaultName=...
	Secret    string // SecretName=...
	Version   string // SecretVersion=...
}

// AppServicePrefix starts an App Service / Functions Key Vault reference.
const AppServicePrefix = "@Microsoft.KeyVault("

// ParseAppServiceRef parses "@Microsoft.KeyVault(SecretUri=...)" or
// "@Microsoft.KeyVault(VaultName=...;SecretName=...[;SecretVersion=...])" and reports whether s
// is such a reference at all (ok) and what is wrong with it (err).
func ParseAppServiceRef(s string) (ref AppServiceRef, ok bool, err error) {
	s = strings.TrimSpace(s)
	body, found := cutPrefixFold(s, AppServicePrefix)
	if !found {
		return AppServiceRef{}, false, nil
	}
	if !strings.HasSuffix(body, ")") {
		return AppServiceRef{}, true, fmt.Errorf("%q: expected a closing parenthesis", s)
	}
	body = body[:len(body)-1]
	for _, kv := range strings.Split(body, ";") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, hasEq := strings.Cut(kv, "=")
		if !hasEq {
			return ref, true, fmt.Errorf("%q: %q is not key=value", s, kv)
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "secreturi":
			p, isURI, perr := ParseSecretURI(strings.TrimSpace(v))
			if !isURI {
				return ref, true, fmt.Errorf("%q: SecretUri is not a Key Vault secret URI", s)
			}
			if perr != nil {
				return ref, true, perr
			}
			ref.SecretURI, ref.HasURI = p, true
		case "vaultname":
			ref.Vault = strings.TrimSpace(v)
		case "secretname":
			ref.Secret = strings.TrimSpace(v)
		case "secretversion":
			ref.Version = strings.TrimSpace(v)
		default:
			return ref, true, fmt.Errorf("%q: unknown key %q; expected SecretUri, or VaultName and SecretName", s, strings.TrimSpace(k))
		}
	}
	if !ref.HasURI && (ref.Vault == "" || ref.Secret == "") {
		return ref, true, fmt.Errorf("%q: expected SecretUri=<uri>, or VaultName=<vault>;SecretName=<name>", s)
	}
	return ref, true, nil
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isAlnum(c byte) bool  { return isLetter(c) || (c >= '0' && c <= '9') }
func isHex(c byte) bool    { return (c >= '0' && c <= '9') || (c|0x20 >= 'a' && c|0x20 <= 'f') }

func describeByte(s string, i int) string {
	c := s[i]
	if c < 0x20 || c >= 0x7f {
		return fmt.Sprintf("byte 0x%02x at position %d", c, i+1)
	}
	return fmt.Sprintf("%q at position %d", c, i+1)
}
