package azcred

import (
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
)

// Cloud is one Azure cloud as an AzureRM service connection names it (its "environment" data
// parameter): where identities authenticate, which DNS suffix its vaults use, and where its
// Resource Manager is.
type Cloud struct {
	// Name is the service connection's environment: AzureCloud, AzureUSGovernment, AzureChinaCloud.
	Name string
	// Configuration is azcore's cloud: the Microsoft Entra authority host.
	Configuration cloud.Configuration
	// VaultSuffix is the Key Vault DNS suffix: vault.azure.net, vault.usgovcloudapi.net, vault.azure.cn.
	VaultSuffix string
	// ManagementEndpoint is Resource Manager's base URL, without a trailing slash.
	ManagementEndpoint string
}

// ManagementScope is the token scope for Resource Manager calls.
func (c Cloud) ManagementScope() string { return c.ManagementEndpoint + "/.default" }

// VaultURL is the data-plane URL of the vault named name in this cloud.
func (c Cloud) VaultURL(name string) string {
	return "https://" + strings.ToLower(name) + "." + c.VaultSuffix + "/"
}

// Clouds lists the clouds verification supports.
func Clouds() []Cloud {
	return []Cloud{
		{Name: "AzureCloud", Configuration: cloud.AzurePublic, VaultSuffix: "vault.azure.net", ManagementEndpoint: "https://management.azure.com"},
		{Name: "AzureUSGovernment", Configuration: cloud.AzureGovernment, VaultSuffix: "vault.usgovcloudapi.net", ManagementEndpoint: "https://management.usgovcloudapi.net"},
		{Name: "AzureChinaCloud", Configuration: cloud.AzureChina, VaultSuffix: "vault.azure.cn", ManagementEndpoint: "https://management.chinacloudapi.cn"},
	}
}

// CloudByName returns the cloud a service connection's environment names (case-insensitive;
// "" is AzureCloud, as the Azure tasks assume).
func CloudByName(name string) (Cloud, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return Clouds()[0], nil
	}
	var names []string
	for _, c := range Clouds() {
		if strings.EqualFold(c.Name, name) {
			return c, nil
		}
		names = append(names, c.Name)
	}
	return Cloud{}, fmt.Errorf("environment %q is not supported; expected one of %s", name, strings.Join(names, ", "))
}

// cloudByAuthority returns the cloud whose Microsoft Entra authority is host (a URL or a bare
// host), for AZURE_AUTHORITY_HOST in local runs.
func cloudByAuthority(host string) (Cloud, bool) {
	h := strings.ToLower(strings.TrimSpace(host))
	h = strings.TrimPrefix(h, "https://")
	h = strings.TrimSuffix(h, "/")
	for _, c := range Clouds() {
		want := strings.TrimSuffix(strings.TrimPrefix(strings.ToLower(c.Configuration.ActiveDirectoryAuthorityHost), "https://"), "/")
		if h == want {
			return c, true
		}
	}
	return Cloud{}, false
}
