package task

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEnvName(t *testing.T) {
	assert.Equal(t, "SYSTEM_TEAMPROJECT", EnvName("System.TeamProject"))
	assert.Equal(t, "MY_INPUT_NAME", EnvName("my input.name"))
}

func TestAgentInputs(t *testing.T) {
	env := MapEnv(map[string]string{
		"INPUT_MAXHIGH":       "two",
		"INPUT_MAXCRITICAL":   " 3 ",
		"INPUT_TAGS":          "Security, Compliance ,,\nPrivacy",
		"INPUT_CHECKPOLICY":   "False",
		"INPUT_BADBOOL":       "yes",
		"INPUT_MODE":          "AUDIT",
		"SYSTEM_TEAMPROJECT":  "Fabrikam",
		"INPUT_ROOTDIRECTORY": "infra",
	})
	in := AgentInputs(env, map[string]string{"project": "$(System.TeamProject)", "scope": "project", "repository": "$(Build.Repository.ID)"})

	_, err := in.Int("maxHigh", -1, 1000000)
	require.Error(t, err)
	assert.Equal(t, `input "maxHigh": got "two", expected an integer from -1 to 1000000`, err.Error())
	n, err := in.Int("maxCritical", -1, 100)
	require.NoError(t, err)
	assert.Equal(t, 3, n)

	assert.Equal(t, []string{"Security", "Compliance", "Privacy"}, in.List("tags"))
	b, err := in.Bool("checkPolicy")
	require.NoError(t, err)
	assert.False(t, b)
	_, err = in.Bool("badBool")
	assert.EqualError(t, err, `input "badBool": got "yes", expected true or false`)

	m, err := in.Pick("mode", "enforce", "audit")
	require.NoError(t, err)
	assert.Equal(t, "audit", m)
	_, err = in.Pick("tags", "enforce", "audit")
	assert.ErrorContains(t, err, "one of enforce, audit")

	assert.Equal(t, "Fabrikam", in.String("project"), "default macro expands from variables")
	assert.Equal(t, "project", in.String("scope"))
	_, err = in.Required("repository")
	assert.ErrorContains(t, err, "$(Build.Repository.ID)")
	assert.Equal(t, "/src/infra", in.Path("rootDirectory", "/src"))
}

func TestValueInputsCaseInsensitive(t *testing.T) {
	in := ValueInputs(map[string]string{"MaxHigh": "4"}, nil, map[string]string{"maxLow": "-1"})
	n, err := in.Int("maxhigh", -1, 10)
	require.NoError(t, err)
	assert.Equal(t, 4, n)
	n, err = in.Int("maxLow", -1, 10)
	require.NoError(t, err)
	assert.Equal(t, -1, n)
}

func TestGetEndpoint(t *testing.T) {
	env := MapEnv(map[string]string{
		"ENDPOINT_URL_ABC":                                        "https://management.azure.com/",
		"ENDPOINT_AUTH_ABC":                                       `{"parameters":{"serviceprincipalid":"sp","tenantid":"t"},"scheme":"ServicePrincipal"}`,
		"ENDPOINT_AUTH_PARAMETER_ABC_TENANTID":                    "t",
		"ENDPOINT_AUTH_PARAMETER_ABC_EXTRA":                       "x",
		"ENDPOINT_DATA_ABC_ENVIRONMENT":                           "AzureCloud",
		"ENDPOINT_AUTH_BROKEN":                                    `{"parameters":{"serviceprincipalkey":"CANARY-SECRET"`,
		"ENDPOINT_AUTH_PARAMETER_SYSTEMVSSCONNECTION_ACCESSTOKEN": "tok",
	})
	ep, err := GetEndpoint(env, "abc")
	require.NoError(t, err)
	assert.Equal(t, "ServicePrincipal", ep.Scheme)
	v, ok := ep.AuthParam("ServicePrincipalId")
	assert.True(t, ok)
	assert.Equal(t, "sp", v)
	v, _ = ep.AuthParam("extra")
	assert.Equal(t, "x", v)
	v, _ = ep.Data("environment")
	assert.Equal(t, "AzureCloud", v)

	_, err = GetEndpoint(env, "broken")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "CANARY")
	_, err = GetEndpoint(env, "missing")
	assert.ErrorContains(t, err, "service connection missing")

	tok, ok := JobToken(env)
	assert.True(t, ok)
	assert.Equal(t, "tok", tok)
}
