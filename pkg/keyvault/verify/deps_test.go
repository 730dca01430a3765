package verify

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Only the binaries that verify references may link the Azure identity and Key Vault SDKs
// (binary size, and the .vsix's 25 MiB budget): the work item and review gates must not.
func TestOnlyKeyVaultBinariesLinkTheAzureSDK(t *testing.T) {
	goBin, err := exec.LookPath("go")
	require.NoError(t, err, "the go command is needed to list dependencies")
	deps := func(pkgs ...string) []string {
		cmd := exec.Command(goBin, append([]string{"list", "-deps"}, pkgs...)...)
		cmd.Dir = "../../.."
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, string(out))
		return strings.Fields(string(out))
	}
	forbidden := []string{
		"github.com/Azure/azure-sdk-for-go/sdk/azidentity",
		"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets",
		"github.com/AzureAD/microsoft-authentication-library-for-go",
		"github.com/stagegate/stagegate/pkg/keyvault/verify",
		"github.com/stagegate/stagegate/pkg/keyvault/azcred",
	}
	for _, d := range deps("./cmd/workitem-gate", "./cmd/review-gate") {
		for _, f := range forbidden {
			assert.False(t, strings.HasPrefix(d, f), "workitem-gate or review-gate depends on %s", d)
		}
	}
	// The check can fail: the keyvault gate does link them.
	kv := deps("./cmd/keyvault-gate")
	assert.Contains(t, kv, "github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets")
	assert.Contains(t, kv, "github.com/Azure/azure-sdk-for-go/sdk/azidentity")
}
