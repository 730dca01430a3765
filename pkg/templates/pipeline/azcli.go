package pipeline

import (
	"strings"
)

// AzDeployment is an "az deployment <scope> <create|validate|what-if>" (or
// legacy "az group deployment create") command found in a script.
type AzDeployment struct {
	Line         int    // 0-based line of the script where the command starts
	Scope        string // group, sub, mg or tenant
	Action       string // create, validate, what-if
	TemplateFile string
	TemplateURI  string
	Parameters   []AzParam
	Name         string // --name
	Group        string // --resource-group
}

// AzParam is one value given to --parameters/-p.
type AzParam struct {
	Line int    // 0-based script line of the value
	Text string // the value as the shell passes it (quotes removed)
	// File is set for parameter files: "@file", or a bare path/URL.
	File string
	// Name and Value are set for inline "name=value" pairs.
	Name  string
	Value string
	// JSON is set for inline JSON objects ('{"a": {"value": 1}}').
	JSON bool
}

type shellWord struct {
	text string
	line int
	sep  bool // command separator
}

// shellWords splits a bash/pwsh/cmd script into words and separators,
// honouring quotes, comments and line continuations (\, `, ^ at line end).
func shellWords(script string) []shellWord {
	var out []shellWord
	var cur strings.Builder
	inWord := false
	start := 0
	line := 0
	flush := func() {
		if inWord {
			out = append(out, shellWord{text: cur.String(), line: start})
			cur.Reset()
			inWord = false
		}
	}
	sep := func() {
		flush()
		if len(out) > 0 && !out[len(out)-1].sep {
			out = append(out, shellWord{sep: true, line: line})
		}
	}
	begin := func() {
		if !inWord {
			inWord = true
			start = line
		}
	}
	s := script
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case (c == '\\' || c == '`' || c == '^') && continuation(s, i):
			// Line continuation: skip to the next line.
			for i < len(s) && s[i] != '\n' {
				i++
			}
			line++
			flush()
		case c == '\n':
			sep()
			line++
		case c == ' ' || c == '\t' || c == '\r':
			flush()
		case c == ';' || c == '|' || c == '&':
			sep()
		case c == '#' && !inWord:
			for i+1 < len(s) && s[i+1] != '\n' {
				i++
			}
		case c == '\'' || c == '"':
			begin()
			q := c
			i++
			for i < len(s) && s[i] != q {
				if s[i] == '\\' && q == '"' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
					i++
				}
				if s[i] == '\n' {
					line++
				}
				cur.WriteByte(s[i])
				i++
			}
		default:
			begin()
			cur.WriteByte(c)
		}
	}
	flush()
	return out
}

// continuation reports whether the byte at i is a line-continuation
// character: the last non-blank character before a line break.
func continuation(s string, i int) bool {
	j := i + 1
	for j < len(s) && (s[j] == ' ' || s[j] == '\t' || s[j] == '\r') {
		j++
	}
	return j < len(s) && s[j] == '\n'
}

// ParseAzDeployments finds Azure CLI template deployments in a script
// (AzureCLI@2 inlineScript, script/bash/pwsh steps).
func ParseAzDeployments(script string) []AzDeployment {
	words := shellWords(script)
	var out []AzDeployment
	for i := 0; i < len(words); i++ {
		if words[i].sep || (i > 0 && !words[i-1].sep) || !strings.EqualFold(words[i].text, "az") {
			continue
		}
		d := AzDeployment{Line: words[i].line}
		j := i + 1
		w := func(k int) string {
			if k < len(words) && !words[k].sep {
				return strings.ToLower(words[k].text)
			}
			return ""
		}
		switch {
		case w(j) == "deployment" && isDeployScope(w(j+1)) && isDeployAction(w(j+2)):
			d.Scope, d.Action = w(j+1), w(j+2)
			j += 3
		case w(j) == "group" && w(j+1) == "deployment" && isDeployAction(w(j+2)):
			d.Scope, d.Action = "group", w(j+2)
			j += 3
		default:
			continue
		}
		for j < len(words) && !words[j].sep {
			flag, val, hasVal := strings.Cut(words[j].text, "=")
			if !strings.HasPrefix(flag, "-") {
				j++
				continue
			}
			// --flag=value or --flag value
			next := func() (string, int) {
				if hasVal {
					return val, words[j].line
				}
				if j+1 < len(words) && !words[j+1].sep {
					j++
					return words[j].text, words[j].line
				}
				return "", words[j].line
			}
			switch strings.ToLower(flag) {
			case "--template-file", "-f":
				d.TemplateFile, _ = next()
			case "--template-uri", "-u":
				d.TemplateURI, _ = next()
			case "--name", "-n":
				d.Name, _ = next()
			case "--resource-group", "-g":
				d.Group, _ = next()
			case "--parameters", "-p":
				if hasVal {
					d.Parameters = append(d.Parameters, azParam(val, words[j].line))
				}
				for j+1 < len(words) && !words[j+1].sep && !isFlag(words[j+1].text) {
					j++
					d.Parameters = append(d.Parameters, azParam(words[j].text, words[j].line))
				}
			}
			j++
		}
		out = append(out, d)
		i = j - 1
	}
	return out
}

func isDeployScope(s string) bool {
	return s == "group" || s == "sub" || s == "mg" || s == "tenant"
}

func isDeployAction(s string) bool {
	return s == "create" || s == "validate" || s == "what-if"
}

func isFlag(s string) bool {
	return len(s) > 1 && s[0] == '-' && (s[1] == '-' || (s[1]|0x20 >= 'a' && s[1]|0x20 <= 'z'))
}

func azParam(text string, line int) AzParam {
	p := AzParam{Text: text, Line: line}
	t := strings.TrimSpace(text)
	switch {
	case strings.HasPrefix(t, "@"):
		p.File = t[1:]
	case strings.HasPrefix(t, "{"):
		p.JSON = true
	case strings.Contains(t, "=") && !strings.Contains(t[:strings.IndexByte(t, '=')], "/"):
		p.Name, p.Value, _ = strings.Cut(t, "=")
	default:
		p.File = t
	}
	return p
}

// Override is one "-name value" pair of an ARM deployment task's
// overrideParameters input.
type Override struct {
	Name        string
	Value       string // quotes removed
	Offset      int    // byte offset of the '-' in the input string
	ValueOffset int    // byte offset of the value (its opening quote, if quoted)
	Quoted      bool   // the value was quoted
	JSON        bool   // the value is an inline object or array
}

// ParseOverrideParameters splits an overrideParameters string such as
// `-adminPassword "x y" -count 3 -tags {"a":"b"} -pwd $(secret)`.
func ParseOverrideParameters(s string) []Override {
	var out []Override
	i := 0
	skip := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
			i++
		}
	}
	for {
		skip()
		if i >= len(s) {
			return out
		}
		if s[i] != '-' {
			// Not a parameter name: skip the stray word.
			for i < len(s) && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' {
				i++
			}
			continue
		}
		o := Override{Offset: i}
		i++
		ns := i
		for i < len(s) && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r' {
			i++
		}
		o.Name = s[ns:i]
		skip()
		o.ValueOffset = i
		switch {
		case i >= len(s):
		case s[i] == '-' && i+1 < len(s) && (s[i+1]|0x20 >= 'a' && s[i+1]|0x20 <= 'z'):
			// The next parameter: this one has no value.
		case s[i] == '"' || s[i] == '\'':
			q := s[i]
			j := i + 1
			var b strings.Builder
			for j < len(s) && s[j] != q {
				if s[j] == '\\' && j+1 < len(s) && s[j+1] == q {
					j++
				}
				b.WriteByte(s[j])
				j++
			}
			o.Value, o.Quoted = b.String(), true
			i = min(j+1, len(s))
		case s[i] == '{' || s[i] == '[':
			j := matchJSON(s, i)
			o.Value, o.JSON = s[i:j], true
			i = j
		default:
			j := i
			for j < len(s) && s[j] != ' ' && s[j] != '\t' && s[j] != '\n' && s[j] != '\r' {
				j++
			}
			o.Value = s[i:j]
			i = j
		}
		out = append(out, o)
	}
}

// matchJSON returns the offset just past the object or array starting at
// i, or len(s) when it is not closed.
func matchJSON(s string, i int) int {
	depth := 0
	for j := i; j < len(s); j++ {
		switch s[j] {
		case '"':
			for j++; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' {
					j++
				}
			}
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return j + 1
			}
		}
	}
	return len(s)
}
