package server

import (
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/stagegate/stagegate/pkg/azdo"
	"github.com/stagegate/stagegate/pkg/azdo/entra"
)

// NewIdentity builds the server's own Azure DevOps credential from the configuration: nil for
// type none (callback mode then uses each check's AuthToken, and synchronous requests must
// carry an AuthToken header), a PAT, or a Microsoft Entra token (managed identity on App
// Service or a VM, workload identity on Kubernetes, or azidentity's default chain). No token is
// requested here: the first evaluation that needs one asks, and entra caches and renews it.
func NewIdentity(c IdentityConfig) (azdo.Credential, error) {
	switch c.Type {
	case "", IdentityNone:
		return nil, nil
	case IdentityPAT:
		return azdo.PAT(c.pat), nil
	case IdentityManagedIdentity:
		opts := &azidentity.ManagedIdentityCredentialOptions{}
		source := "the server's system-assigned managed identity"
		if c.ClientID != "" {
			opts.ID = azidentity.ClientID(c.ClientID)
			source = "the server's user-assigned managed identity " + c.ClientID
		}
		tc, err := azidentity.NewManagedIdentityCredential(opts)
		if err != nil {
			return nil, fmt.Errorf("identity: managed identity: %w", err)
		}
		return entra.New(tc, entra.Options{Source: source})
	case IdentityWorkloadIdentity:
		// Client id, tenant id and token file come from AZURE_CLIENT_ID, AZURE_TENANT_ID and
		// AZURE_FEDERATED_TOKEN_FILE (set by the AKS workload identity webhook) unless given.
		tc, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{ClientID: c.ClientID, TenantID: c.TenantID})
		if err != nil {
			return nil, fmt.Errorf("identity: workload identity: %w", err)
		}
		return entra.New(tc, entra.Options{Source: "the server's workload identity"})
	case IdentityAzureDefault:
		return entra.NewDefault(nil)
	}
	return nil, fmt.Errorf("identity: unknown type %q", c.Type)
}
