package azdo_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The task binaries link pkg/azdo but must not link azidentity (binary size):
// Microsoft Entra support lives in pkg/azdo/entra.
func TestNoAzidentityDependency(t *testing.T) {
	goBin, err := exec.LookPath("go")
	require.NoError(t, err, "the go command is needed to list dependencies")
	deps := func(pkg string) []string {
		out, err := exec.Command(goBin, "list", "-deps", pkg).CombinedOutput()
		require.NoError(t, err, string(out))
		return strings.Fields(string(out))
	}
	const azidentity = "github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	for _, pkg := range []string{"github.com/stagegate/stagegate/pkg/azdo", "github.com/stagegate/stagegate/pkg/azdo/azdosim"} {
		for _, d := range deps(pkg) {
			assert.False(t, strings.HasPrefix(d, azidentity), "%s depends on %s", pkg, d)
			assert.NotContains(t, d, "microsoft-authentication-library-for-go", "%s depends on %s", pkg, d)
		}
	}
	// The check can fail: the entra package does depend on it.
	assert.Contains(t, deps("github.com/stagegate/stagegate/pkg/azdo/entra"), azidentity)
}
