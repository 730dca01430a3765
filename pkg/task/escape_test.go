package task

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// parsedCommand mimics the agent's parser: the first "##vso[" in a line starts the command, the
// first "]" after it ends the command part, properties split on ";" then the first "=".
type parsedCommand struct {
	name  string
	props map[string]string
	data  string
}

func agentParse(line string) (parsedCommand, bool) {
	i := strings.Index(line, "##vso[")
	if i < 0 {
		return parsedCommand{}, false
	}
	rest := line[i+len("##vso["):]
	rb := strings.IndexByte(rest, ']')
	if rb < 0 {
		return parsedCommand{}, false
	}
	cmd, data := rest[:rb], rest[rb+1:]
	pc := parsedCommand{props: map[string]string{}, data: UnescapeData(data)}
	name, props, _ := strings.Cut(cmd, " ")
	pc.name = name
	for _, p := range strings.Split(props, ";") {
		if p == "" {
			continue
		}
		k, v, _ := strings.Cut(p, "=")
		pc.props[k] = UnescapeProperty(v)
	}
	return pc, true
}

func TestEscapeRoundTrip(t *testing.T) {
	cases := []string{
		"plain", "100%", "%AZP25 literal", "a;b]c", "line1\nline2\r\nline3", "%0A is not a newline",
		"##vso[task.complete result=Succeeded]done", "]", ";", "",
	}
	for _, c := range cases {
		t.Run(c, func(t *testing.T) {
			line := FormatCommand("task.logissue", map[string]string{"type": "error", "sourcepath": c}, c)
			require.NotContains(t, line, "\n")
			pc, ok := agentParse(line)
			require.True(t, ok)
			assert.Equal(t, "task.logissue", pc.name)
			assert.Equal(t, Neutralize(c), pc.data)
			if c != "" {
				assert.Equal(t, Neutralize(c), pc.props["sourcepath"])
			}
			assert.Equal(t, "error", pc.props["type"])
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
		pc, ok := agentParse(line)
		if !ok {
			assert.False(t, strings.HasPrefix(line, "##[section]"), line)
			continue
		}
		require.True(t, strings.HasPrefix(line, "##vso["), "a command may only start a line: %q", line)
		if pc.name == "task.complete" {
			completes++
			assert.Equal(t, "Failed", pc.props["result"])
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
		pc, ok := agentParse(line)
		if !ok || pc.name != "task.logissue" || pc.props["type"] != "warning" {
			t.Fatalf("command not parsed as written: %q", line)
		}
		if pc.data != Neutralize(s) {
			t.Fatalf("data changed: %q -> %q", s, pc.data)
		}
		if s != "" && (pc.props["sourcepath"] != Neutralize(s) || pc.props["code"] != Neutralize(s)) {
			t.Fatalf("property changed: %q -> %q", s, pc.props["sourcepath"])
		}
		plain := OneLine(s)
		if strings.ContainsAny(plain, "\r\n") || strings.Contains(plain, "##vso[") || strings.Contains(plain, "##[") {
			t.Fatalf("plain line is live: %q", plain)
		}
	})
}
