package cli

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/stagegate/stagegate/pkg/task"
)

func run(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, task.MapEnv(nil), &out, &errb)
	return code, out.String(), errb.String()
}

func TestDispatch(t *testing.T) {
	code, out, _ := run("version")
	assert.Equal(t, 0, code)
	assert.Regexp(t, `^stagegate \S+\n$`, out)

	code, out, _ = run("help")
	assert.Equal(t, 0, code)
	for _, cmd := range []string{"workitems", "reviews", "keyvault", "demo", "serve", "version"} {
		assert.Contains(t, out, "  "+cmd)
	}

	code, _, errOut := run()
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "usage: stagegate <command>")

	code, _, errOut = run("deploy")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `unknown command "deploy"`)
}

func TestGateSubcommandsTakeTaskInputs(t *testing.T) {
	code, _, errOut := run("workitems", "--maxHigh", "two", "--project", "P")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `input "maxHigh": got "two", expected an integer`)

	code, _, errOut = run("reviews", "--help")
	assert.Equal(t, 0, code)
	assert.Contains(t, errOut, "-minimumApprovers")
	assert.Contains(t, errOut, `(default "2")`)

	code, out, _ := run("keyvault", t.TempDir())
	assert.Equal(t, 0, code, "an empty tree has nothing to flag")
	assert.Contains(t, out, "Key Vault reference gate passed")
}
