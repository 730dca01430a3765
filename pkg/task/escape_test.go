package task

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEscapeRoundTrip(t *testing.T) {
	cases := []string{
		"plain", "100%", "%AZP25 literal", "a;b]c", "line1\nline2\r\nline3", "%0A is not a newline",
		"##vso[task.complete result=Succeeded]done", "]", ";", "",
	}
	for _, c := range cases {
		t.Run(c, func(t *testing.T) {
			line := FormatCommand("task.logissue", map[string]string{"type": "error", "sourcepath": c}, c)
			require.NotContains(t, line, "\n")
			pc, ok := ParseCommand(line)
			require.True(t, ok)
			assert.Equal(t, "task.logissue", pc.Name)
			assert.Equal(t, Neutralize(c), pc.Data)
			if c != "" {
				assert.Equal(t, Neutralize(c), pc.Props["sourcepath"])
			}
			assert.Equal(t, "error", pc.Props["type"])
		})
	}
}

func TestNeutralize(t *testing.T) {
	cases := map[string]string{
		"##vso[task.complete result=Succeeded]": "##vso%5Btask.complete result=Succeeded]",
		"##VSO[task.setvariable variable=x]":    "##VSO%5Btask.setvariable variable=x]",
		"###vso[x]":                             "###vso%5Bx]",
		"##[error]fake":                         "##%5Berror]fake",
		"# ## #vso[":                            "# ## #vso[",
		"no hashes":                             "no hashes",
	}
	for in, want := range cases {
		assert.Equal(t, want, Neutralize(in), in)
	}
}

func TestInjectedTitleCannotCompleteTask(t *testing.T) {
	var buf bytes.Buffer
	l := NewLog(&buf, true)
	evil := "x\n##vso[task.complete result=Succeeded]pwned\r\n##[section]y"
	l.LogIssue(Issue{Type: IssueError, Message: evil, SourcePath: evil, Code: "WI001"})
	l.Info(evil)
	l.Warning(evil)
	l.Error(evil)
	l.Group(evil)
	l.Debug(evil)
	l.SetVariable("v", evil, true, false)
	l.Complete(Failed, evil)
	completes := 0
	for _, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		pc, ok := ParseCommand(line)
		if !ok {
			assert.False(t, strings.HasPrefix(line, "##[section]"), line)
			continue
		}
		require.True(t, strings.HasPrefix(line, "##vso["), "a command may only start a line: %q", line)
		if pc.Name == "task.complete" {
			completes++
			assert.Equal(t, "Failed", pc.Props["result"])
		}
	}
	assert.Equal(t, 1, completes)
}

func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "%", "##vso[task.complete result=Succeeded]", "a;b]c\nd", "##[group]x", "#", "##vso", "%AZP25"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		line := FormatCommand("task.logissue", map[string]string{"type": "warning", "sourcepath": s, "code": s}, s)
		if strings.ContainsAny(line, "\r\n") {
			t.Fatalf("command spans lines: %q", line)
		}
		if strings.Count(line, "##vso[") != 1 || !strings.HasPrefix(line, "##vso[") {
			t.Fatalf("live command inside data: %q", line)
		}
		pc, ok := ParseCommand(line)
		if !ok || pc.Name != "task.logissue" || pc.Props["type"] != "warning" {
			t.Fatalf("command not parsed as written: %q", line)
		}
		if pc.Data != Neutralize(s) {
			t.Fatalf("data changed: %q -> %q", s, pc.Data)
		}
		if s != "" && (pc.Props["sourcepath"] != Neutralize(s) || pc.Props["code"] != Neutralize(s)) {
			t.Fatalf("property changed: %q -> %q", s, pc.Props["sourcepath"])
		}
		plain := OneLine(s)
		if strings.ContainsAny(plain, "\r\n") || strings.Contains(plain, "##vso[") || strings.Contains(plain, "##[") {
			t.Fatalf("plain line is live: %q", plain)
		}
	})
}
