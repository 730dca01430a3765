package verify

import (
	"fmt"
	"sort"
	"strings"

	"github.com/stagegate/stagegate/pkg/keyvault"
)

// Target is one distinct secret to look up: references to the same vault, secret and version
// (compared case-insensitively, as Key Vault compares them) share a lookup.
type Target struct {
	// Host is the vault's DNS name (myvault.vault.azure.net); Vault its name.
	Host    string
	Vault   string
	Secret  string
	Version string
	Refs    []keyvault.Reference
}

func (t *Target) key() string {
	return strings.ToLower(t.Host + "/" + t.Secret + "/" + t.Version)
}

// Unresolved is a reference that cannot be looked up, and why. It is reported as not verified,
// never as verified.
type Unresolved struct {
	Ref    keyvault.Reference
	Reason string
}

// VaultResource is a vault whose Resource Manager properties are read for KV014.
type VaultResource struct {
	ID   string // canonical resource id
	Host string
	Refs []keyvault.Reference
}

// Plan is the set of lookups a list of references needs.
type Plan struct {
	Targets    []*Target
	Unresolved []Unresolved
	// Vaults are the vaults KV014 applies to (deployment-time references with a known
	// resource id), in id order.
	Vaults []*VaultResource
	// NoResourceID counts deployment-time references whose vault resource id is not written
	// out, so KV014 cannot be checked for them.
	NoResourceID int
}

// deploymentKinds are the references Resource Manager resolves while deploying, which need the
// vault's enabledForTemplateDeployment: ARM parameters files and nested deployments, and Bicep
// getSecret (compiled to the same parameter reference), .bicepparam az.getSecret included.
func deploymentKind(k keyvault.Kind) bool {
	return k == keyvault.ARMParameter || k == keyvault.BicepGetSecret
}

// Resolve turns references into lookups in the cloud whose Key Vault DNS suffix is suffix
// (vault.azure.net). References whose vault or secret is computed at deployment time, that are
// malformed, that name every secret of a vault, or that point into another cloud are returned
// as Unresolved with the reason.
func Resolve(refs []keyvault.Reference, suffix string) *Plan {
	p := &Plan{}
	byKey := map[string]*Target{}
	vaults := map[string]*VaultResource{}
	for _, ref := range refs {
		host, vault, reason := vaultHost(ref, suffix)
		if reason == "" {
			reason = secretReason(ref)
		}
		if reason != "" {
			p.Unresolved = append(p.Unresolved, Unresolved{Ref: ref, Reason: reason})
			continue
		}
		t := &Target{Host: host, Vault: vault, Secret: ref.Secret, Version: strings.ToLower(ref.Version)}
		if have := byKey[t.key()]; have != nil {
			t = have
		} else {
			byKey[t.key()] = t
			p.Targets = append(p.Targets, t)
		}
		t.Refs = append(t.Refs, ref)
		if !deploymentKind(ref.Kind) {
			continue
		}
		id, ok := resourceID(ref.Vault)
		if !ok {
			p.NoResourceID++
			continue
		}
		k := strings.ToLower(id)
		vr := vaults[k]
		if vr == nil {
			vr = &VaultResource{ID: id, Host: host}
			vaults[k] = vr
			p.Vaults = append(p.Vaults, vr)
		}
		vr.Refs = append(vr.Refs, ref)
	}
	sort.SliceStable(p.Targets, func(i, j int) bool { return p.Targets[i].key() < p.Targets[j].key() })
	sort.SliceStable(p.Vaults, func(i, j int) bool { return strings.ToLower(p.Vaults[i].ID) < strings.ToLower(p.Vaults[j].ID) })
	return p
}

// vaultHost finds the vault's DNS name, or says why it cannot.
func vaultHost(ref keyvault.Reference, suffix string) (host, name, reason string) {
	v := ref.Vault
	if v.Dynamic || (v.Name == "" && v.Host == "") {
		expr := v.Expression
		if expr == "" {
			expr = "no literal vault name"
		}
		return "", "", fmt.Sprintf("the vault is computed at deployment time (%s)", oneLine(expr))
	}
	for _, p := range ref.Check() {
		if p.Field == "vault id" || p.Field == "vault name" {
			return "", "", "malformed reference (KV008): " + p.Error()
		}
	}
	if v.Host != "" {
		n, ok := keyvault.IsVaultHost(v.Host)
		if !ok {
			return "", "", fmt.Sprintf("%q is not a Key Vault host name", v.Host)
		}
		h := strings.ToLower(strings.TrimSuffix(v.Host, "/"))
		if i := strings.IndexByte(h, ':'); i >= 0 {
			h = h[:i]
		}
		if !strings.HasSuffix(h, "."+strings.ToLower(suffix)) {
			return "", "", fmt.Sprintf("vault %s is not in the service connection's cloud (its vaults end in .%s)", h, suffix)
		}
		if err := keyvault.ValidateVaultName(n); err != nil {
			return "", "", "malformed reference (KV008): vault name " + err.Error()
		}
		return h, n, ""
	}
	n := strings.ToLower(v.Name)
	return n + "." + strings.ToLower(suffix), n, ""
}

func secretReason(ref keyvault.Reference) string {
	switch {
	case ref.Kind == keyvault.PipelineTask && ref.Secret == "*":
		return "the AzureKeyVault task downloads every secret of the vault (SecretsFilter '*'): there is no single secret to verify"
	case ref.SecretDynamic || ref.Secret == "":
		return "the secret name is computed at deployment time"
	}
	for _, p := range ref.Check() {
		return "malformed reference (KV008): " + p.Error()
	}
	return ""
}

// resourceID returns the vault's resource id when the template writes it out: a literal id,
// or a subscription, resource group and name (az.getSecret, Bicep existing with a scope).
func resourceID(v keyvault.Vault) (string, bool) {
	if v.ID != "" {
		id, err := keyvault.ParseVaultID(strings.TrimSuffix(v.ID, "/"))
		if err != nil {
			return "", false
		}
		return id.String(), true
	}
	if v.SubscriptionID == "" || v.ResourceGroup == "" || v.Name == "" {
		return "", false
	}
	s := keyvault.VaultID{SubscriptionID: v.SubscriptionID, ResourceGroup: v.ResourceGroup, Name: v.Name}.String()
	if _, err := keyvault.ParseVaultID(s); err != nil {
		return "", false
	}
	return s, true
}

// oneLine collapses whitespace and clips s for a one-line message.
func oneLine(s string) string { return clip(s, 160) }

func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		s = string(r[:n-1]) + "…"
	}
	return s
}
