package classify

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stagegate/stagegate/pkg/templates/pos"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

func TestClassifyTestdata(t *testing.T) {
	tests := map[string]Kind{
		"vm.json":             ARMTemplate,
		"vm.parameters.json":  ARMParameters,
		"appsettings.json":    OtherJSON,
		"main.bicep":          Bicep,
		"main.bicepparam":     BicepParam,
		"main.tf":             Terraform,
		"prod.tfvars":         TerraformVars,
		"azure-pipelines.yml": Pipeline,
		"github-workflow.yml": OtherYAML,
		"gitlab-ci.yml":       OtherYAML,
		"k8s.yml":             OtherYAML,
	}
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			src := readTestdata(t, name)
			assert.Equal(t, want, Classify(name, src))
			r := Analyze(name, src)
			assert.Equal(t, want, r.Kind)
			require.NoError(t, r.Err)
			switch want {
			case ARMTemplate:
				require.NotNil(t, r.Template)
				assert.NotEmpty(t, r.Template.Parameters)
			case ARMParameters:
				require.NotNil(t, r.Parameters)
				assert.NotEmpty(t, r.Parameters.Parameters)
			case OtherJSON:
				assert.NotNil(t, r.JSON)
			case Bicep:
				require.NotNil(t, r.Bicep)
				assert.NotEmpty(t, r.Bicep.Params)
			case BicepParam:
				require.NotNil(t, r.BicepParam)
				assert.Equal(t, "./main.bicep", r.BicepParam.Using)
			case Terraform:
				require.NotNil(t, r.Terraform)
				assert.NotEmpty(t, r.Terraform.Resources)
			case TerraformVars:
				require.NotNil(t, r.Terraform)
				assert.NotEmpty(t, r.Terraform.Assignments)
			case Pipeline:
				require.NotNil(t, r.Pipeline)
				assert.NotEmpty(t, r.Pipeline.AllSteps)
			case OtherYAML:
				assert.Nil(t, r.Pipeline)
			}
		})
	}
}

func TestClassifyByContent(t *testing.T) {
	armTemplate := `{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#", "resources": []}`
	tests := []struct {
		name, path, src string
		want            Kind
		wantErr         bool
	}{
		{"template with any extension", "infra/azuredeploy.txt", armTemplate, ARMTemplate, false},
		{"template in .yml", "deploy.yml", armTemplate, ARMTemplate, false},
		{"template without schema", "t.json", `{"parameters": {}, "resources": [{"type": "x"}]}`, ARMTemplate, false},
		{"template with leading comment", "t.jsonc", "// header\n/* more */ " + armTemplate, ARMTemplate, false},
		{"broken template is still a template", "t.json", `{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#", "resources": [}`, ARMTemplate, true},
		{"broken parameters file", "p.json", `{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#", "parameters": {`, ARMParameters, true},
		{"broken other json", "package.json", `{"name": `, OtherJSON, true},
		{"scalar json", "x.json", `"just a string"`, OtherJSON, false},
		{"terraform json", "main.tf.json", `{"resource": {"azurerm_x": {}}}`, OtherJSON, false},
		{"yaml flow mapping in .yml", "x.yml", `{a: b}`, OtherYAML, false},
		{"pipeline without extension", "ci", "trigger: none\nsteps:\n  - script: echo\n", Pipeline, false},
		{"pipeline .yaml", "ci.YAML", "jobs:\n  - job: a\n    steps: []\n", Pipeline, false},
		{"variables template", "vars.yml", "variables:\n  a: b\n", Pipeline, false},
		{"broken pipeline", "azure-pipelines.yml", "steps:\n  - script: \"unterminated\n", Pipeline, true},
		{"pipeline after comments and doc start", "p.yml", "# comment\n---\nstages:\n  - stage: A\n", Pipeline, false},
		{"conditional top-level key", "p.yml", "${{ if true }}:\n  x: 1\nsteps:\n  - bash: ls\n", Pipeline, false},
		{"yaml with other extension", "config.conf", "server:\n  port: 80\n", OtherYAML, false},
		{"yaml list", "list.txt", "- a\n- b\n", OtherYAML, false},
		{"plain text", "notes.txt", "just some words\nand more\n", Other, false},
		{"dotenv", ".env", "PASSWORD=hunter2\n", Other, false},
		{"empty", "x.json", "", Other, false},
		{"empty bicep", "x.bicep", "", Bicep, false},
		{"broken bicep", "x.bicep", "param p string = 'x", Bicep, true},
		{"broken tf", "x.tf", "resource \"a\" \"b\" {", Terraform, true},
		{"latin-1 text", "legacy.txt", "caf\xe9 cr\xe8me password=secret\n", Other, false},
		{"binary nul", "x.bin", "abc\x00def", Binary, false},
		{"binary png", "img.json", "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", Binary, false},
		{"binary noise", "x.dat", strings.Repeat("\x80\xff\xfe\x81\x01\x02", 100), Binary, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Analyze(tc.path, []byte(tc.src))
			assert.Equal(t, tc.want, r.Kind, r.Kind.String())
			assert.Equal(t, tc.want, Classify(tc.path, []byte(tc.src)))
			if tc.wantErr {
				require.Error(t, r.Err)
				var pe *pos.Error
				assert.True(t, errors.As(r.Err, &pe), "%T", r.Err)
				assert.Equal(t, tc.path, pe.Path)
			} else {
				assert.NoError(t, r.Err)
			}
		})
	}
}

func utf16LE(s string, bom bool) []byte {
	var b bytes.Buffer
	if bom {
		b.Write([]byte{0xff, 0xfe})
	}
	for _, u := range utf16.Encode([]rune(s)) {
		b.WriteByte(byte(u))
		b.WriteByte(byte(u >> 8))
	}
	return b.Bytes()
}

func utf16BE(s string) []byte {
	b := []byte{0xfe, 0xff}
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u>>8), byte(u))
	}
	return b
}

func TestUTF16(t *testing.T) {
	src := string(readTestdata(t, "vm.json"))
	for _, tc := range []struct {
		name string
		in   []byte
		enc  Encoding
	}{
		{"le bom", utf16LE(src, true), UTF16LE},
		{"le no bom", utf16LE(src, false), UTF16LE},
		{"be bom", utf16BE(src), UTF16BE},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Analyze("vm.json", tc.in)
			assert.Equal(t, ARMTemplate, r.Kind)
			assert.Equal(t, tc.enc, r.Encoding)
			assert.Equal(t, src, string(r.Text))
			require.NotNil(t, r.Template)
			pw := r.Template.Param("adminPassword")
			require.NotNil(t, pw)
			assert.Equal(t, 7, pw.NamePos.Line, "positions survive transcoding")
		})
	}
	assert.Equal(t, "utf-8", UTF8.String())
	assert.Equal(t, "utf-16be", UTF16BE.String())
}

func TestKindNames(t *testing.T) {
	all := []Kind{Other, Binary, ARMTemplate, ARMParameters, Bicep, BicepParam, Terraform, TerraformVars, Pipeline, OtherJSON, OtherYAML}
	seen := map[string]bool{}
	var templates int
	for _, k := range all {
		assert.NotEqual(t, "unknown", k.String())
		assert.False(t, seen[k.String()], "duplicate name %s", k)
		seen[k.String()] = true
		if k.IsTemplate() {
			templates++
		}
	}
	assert.Equal(t, 7, templates)
	assert.Equal(t, "unknown", Kind(200).String())
}

func TestBinaryBoundary(t *testing.T) {
	// A multi-byte character split by the 8 KiB sniff window is not invalid.
	src := strings.Repeat("a", sniffLen-1) + "é" + strings.Repeat("b", 100)
	assert.Equal(t, Other, Classify("x.txt", []byte(src)))
}
