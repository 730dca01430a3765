package demo

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDefaultDemoBehavesAsDesigned(t *testing.T) {
	var out bytes.Buffer
	code := RunDefault(context.Background(), &out)
	require.Equal(t, 0, code, out.String())
	s := out.String()
	assert.Contains(t, s, "demo: all 5 steps behaved as designed")
	assert.Equal(t, 5, strings.Count(s, "(as designed)"))
	assert.Contains(t, s, "past the 7-day SLA", "the overdue critical item is shown")
	assert.Contains(t, s, "Production incident INC-4711", "the bypass reason is quoted")
	assert.Contains(t, s, "KV001", "the Key Vault gate reports literal secure parameters")
	assert.NotContains(t, s, "##vso[", "local runs print text, not logging commands")
}

func TestStepWithUnexpectedOutcomeFailsTheDemo(t *testing.T) {
	var out bytes.Buffer
	code := Run(context.Background(), &out, Options{
		Scenarios: map[string][]byte{},
		Steps: func(env Env) []Step {
			s := DefaultSteps(env)[4]
			s.Args = []string{t.TempDir()} // an empty tree passes, but the step expects a failure
			return []Step{s}
		},
	})
	assert.Equal(t, 1, code)
	assert.Contains(t, out.String(), "UNEXPECTED: exit code 0, the demo expects 1")
}
