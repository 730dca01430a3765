package main

import (
	"bytes"
	"testing"

	"github.com/stagegate/stagegate/tools/pack/packer"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunRejectsBadArguments(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{name: "unknown flag", args: []string{"-nope"}, wantCode: 2, wantErr: "flag provided but not defined"},
		{name: "unknown platform", args: []string{"-platforms", "plan9-386"}, wantCode: 2, wantErr: `platform "plan9-386"`},
		{name: "not a repository", args: []string{"-root", t.TempDir(), "-cache", ""}, wantCode: 1, wantErr: "npm ci"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tt.args, &stdout, &stderr)
			assert.Equal(t, tt.wantCode, code)
			assert.Contains(t, stderr.String(), tt.wantErr)
			assert.Empty(t, stdout.String())
		})
	}
}

func TestReport(t *testing.T) {
	var out bytes.Buffer
	report(&out, &packer.Result{
		VSIX:        "dist/p.x-1.2.3.vsix",
		Size:        13107200,
		MaxBytes:    packer.DefaultMaxBytes,
		Version:     packer.Version{Major: 1, Minor: 2, Patch: 3},
		Publisher:   "p",
		ExtensionID: "x",
		Tasks:       []packer.Task{{Name: "A", Binary: "a-gate"}, {Name: "C", Agentless: true}, {Name: "D", Agentless: true}},
		Binaries: []packer.Binary{
			{Task: "A", Platform: packer.Platform{OS: "linux", Arch: "amd64"}, Raw: 1000, Compressed: 300},
			{Task: "A", Platform: packer.Platform{OS: "windows", Arch: "amd64"}, Raw: 1000, Compressed: 500},
		},
	})
	s := out.String()
	assert.Contains(t, s, "agentless tasks (task.json and icon, no binaries): C, D\n")
	require.Contains(t, s, "linux-amd64")
	assert.Regexp(t, `A\s+linux-amd64\s+1000\s+300\s+30\.0%`, s)
	assert.Regexp(t, `all binaries\s+2000\s+800\s+40\.0%`, s)
	assert.Contains(t, s, "package dist/p.x-1.2.3.vsix: 13107200 bytes, 50.0% of the 26214400-byte limit (version 1.2.3, publisher p, id x)")
}

func TestReportOverBudget(t *testing.T) {
	var out bytes.Buffer
	report(&out, &packer.Result{Size: 30000000, MaxBytes: packer.DefaultMaxBytes, Version: packer.Version{Major: 1}, Publisher: "p", ExtensionID: "x"})
	assert.Contains(t, out.String(), "package (removed: over budget): 30000000 bytes, 114.4% of the 26214400-byte limit")
	assert.NotContains(t, out.String(), "agentless", "no agentless line without agentless tasks")
}
