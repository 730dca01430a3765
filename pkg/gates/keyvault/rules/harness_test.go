package rules

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/gates/keyvault/kvtest"
	"github.com/stagegate/stagegate/pkg/keyvault"
)

// A case is a small tree of files. Lines that must produce a finding end with a marker comment
// naming the rules, e.g. `// <-KV001` (JSON with comments, Bicep), `# <-KV010` (HCL, YAML);
// every other line must produce none, for every rule. {{name}} placeholders are replaced with
// canary credentials.
type ruleCase struct {
	name  string
	files map[string]string
	allow []string // allowedVaults
}

// markerRE matches "<-KV001" or "<-KV006,KV004"; a rule followed by ":warning" expects a warning.
var markerRE = regexp.MustCompile(`<-((?:KV\d{3}(?::warning)?,?)+)`)

func canaryVars(c kvtest.Canaries) map[string]string {
	return map[string]string{
		"storageKey": c.StorageKey, "clientSecret": c.ClientSecret, "sasURL": c.SASURL,
		"connString": c.ConnString, "urlWithPass": c.URLWithPass, "password": c.PlainPassword,
		"privateKeyOneLine": strings.ReplaceAll(c.PrivateKeyPEM, "\n", `\n`),
	}
}

func expand(s string, vars map[string]string) string {
	for k, v := range vars {
		s = strings.ReplaceAll(s, "{{"+k+"}}", v)
	}
	return s
}

// scanTree runs both phases over a tree and returns every issue by path.
func scanTree(t *testing.T, files map[string]string, cfg *Config) (map[string][]Issue, []keyvault.Reference, *Cross) {
	t.Helper()
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var results []*FileResult
	var sums []Summarized
	for _, p := range paths {
		r := Analyze(p, []byte(files[p]), cfg)
		results = append(results, r)
		if r.Summary != nil {
			sums = append(sums, Summarized{Path: r.Path, Format: r.Format, Summary: r.Summary})
		}
	}
	cross := Pair(sums)
	out := map[string][]Issue{}
	var refs []keyvault.Reference
	for _, r := range results {
		out[r.Path] = Merge(r.Issues, cross.Issues[r.Path])
		refs = append(refs, r.Refs...)
	}
	return out, refs, cross
}

func runCases(t *testing.T, cases []ruleCase) {
	t.Helper()
	canaries := kvtest.NewCanaries(42)
	vars := canaryVars(canaries)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{}
			var want []string
			severity := map[string]string{}
			for p, content := range tc.files {
				content = expand(content, vars)
				files[p] = content
				for i, line := range strings.Split(content, "\n") {
					for _, m := range markerRE.FindAllStringSubmatch(line, -1) {
						for _, rule := range strings.Split(strings.TrimSuffix(m[1], ","), ",") {
							rule, sev, _ := strings.Cut(rule, ":")
							want = append(want, fmt.Sprintf("%s:%d %s", p, i+1, rule))
							if sev != "" {
								severity[fmt.Sprintf("%s:%d %s", p, i+1, rule)] = sev
							}
						}
					}
				}
			}
			allow, err := keyvault.ParseAllowList(tc.allow)
			require.NoError(t, err)
			issues, _, _ := scanTree(t, files, &Config{Allow: allow})
			var got []string
			for p, list := range issues {
				for _, is := range list {
					got = append(got, fmt.Sprintf("%s:%d %s", p, is.Line, is.Rule))
					assert.NotEmpty(t, is.Message)
					assert.NotEmpty(t, is.Logical, "%s:%d %s has no logical location", p, is.Line, is.Rule)
					if want, ok := severity[fmt.Sprintf("%s:%d %s", p, is.Line, is.Rule)]; ok {
						assert.Equal(t, want, string(is.Severity), "%s:%d %s", p, is.Line, is.Rule)
					} else {
						assert.Equal(t, Severity(is.Rule), is.Severity, "%s:%d %s", p, is.Line, is.Rule)
					}
					assert.Empty(t, canaries.Leaks(is.Message), "message leaks a canary: %s", is.Message)
				}
			}
			sort.Strings(want)
			sort.Strings(got)
			if !assert.Equal(t, want, got) {
				for p, list := range issues {
					for _, is := range list {
						t.Logf("%s:%d:%d %s %s", p, is.Line, is.Column, is.Rule, is.Message)
					}
				}
			}
		})
	}
}

const armHead = `{
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
  "contentVersion": "1.0.0.0",
`

const paramsHead = `{
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#",
  "contentVersion": "1.0.0.0",
`
