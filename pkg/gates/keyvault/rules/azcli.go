package rules

import "strings"

// azDeployment is one "az deployment ... create" (or validate, what-if; az group deployment,
// az stack) command of a script.
type azDeployment struct {
	Index          int
	Offset         int // of "az" in the script
	TemplateFile   string
	ParameterFiles []string
	Inline         []azParam
}

// azParam is an inline "--parameters name=value".
type azParam struct {
	Name, Value string
	Quoted      bool
	Offset      int
}

type shellWord struct {
	text   string
	quoted bool
	offset int
}

// ParseAzDeployments finds Azure CLI deployment commands in a bash, PowerShell or cmd script and
// returns their template file, parameter files and inline parameters. Line continuations (\, `,
// ^), quotes and comments are handled; command substitutions are kept as text (they are
// placeholders to the rules).
func ParseAzDeployments(script string) []azDeployment {
	var out []azDeployment
	for _, cmd := range shellCommands(script) {
		for i := 0; i+1 < len(cmd); i++ {
			if cmd[i].text != "az" || cmd[i].quoted {
				continue
			}
			rest := cmd[i+1:]
			if !isAzDeployment(rest) {
				continue
			}
			d := azDeployment{Index: len(out), Offset: cmd[i].offset}
			parseAzFlags(&d, rest)
			out = append(out, d)
			break
		}
	}
	return out
}

var azVerbs = map[string]bool{"create": true, "validate": true, "what-if": true}

func isAzDeployment(w []shellWord) bool {
	word := func(i int) string {
		if i < len(w) {
			return w[i].text
		}
		return ""
	}
	switch word(0) {
	case "deployment":
		switch word(1) {
		case "group", "sub", "mg", "tenant":
			return azVerbs[word(2)]
		}
		return azVerbs[word(1)]
	case "group":
		return word(1) == "deployment" && azVerbs[word(2)]
	case "stack":
		switch word(1) {
		case "group", "sub", "mg":
			return word(2) == "create" || word(2) == "validate"
		}
	}
	return false
}

func parseAzFlags(d *azDeployment, w []shellWord) {
	for i := 0; i < len(w); i++ {
		flag, inline, hasInline := strings.Cut(w[i].text, "=")
		if !strings.HasPrefix(flag, "-") || w[i].quoted && !hasInline {
			continue
		}
		values := func() []shellWord {
			if hasInline && strings.HasPrefix(flag, "--") {
				return []shellWord{{text: inline, quoted: w[i].quoted, offset: w[i].offset + len(flag) + 1}}
			}
			var vs []shellWord
			for j := i + 1; j < len(w) && !(strings.HasPrefix(w[j].text, "-") && !w[j].quoted && len(w[j].text) > 1 && !isDigit(w[j].text[1])); j++ {
				vs = append(vs, w[j])
				i = j
			}
			return vs
		}
		switch flag {
		case "--template-file", "-f":
			if vs := values(); len(vs) > 0 {
				d.TemplateFile = vs[0].text
			}
		case "--parameters", "-p":
			for _, v := range values() {
				addAzParam(d, v)
			}
		}
	}
}

func addAzParam(d *azDeployment, v shellWord) {
	t := v.text
	switch {
	case t == "":
	case strings.HasPrefix(t, "@"):
		d.ParameterFiles = append(d.ParameterFiles, t[1:])
	case strings.HasPrefix(t, "{") || strings.HasPrefix(t, "["):
		// Inline JSON parameters are not modelled.
	default:
		name, value, ok := strings.Cut(t, "=")
		if ok && isParamName(name) {
			d.Inline = append(d.Inline, azParam{Name: name, Value: value, Quoted: v.quoted, Offset: v.offset})
			return
		}
		if !ok {
			d.ParameterFiles = append(d.ParameterFiles, t)
		}
	}
}

func isParamName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c == '-' || c == '.' || isDigit(c) || c|0x20 >= 'a' && c|0x20 <= 'z') {
			return false
		}
	}
	return true
}

// shellCommands splits a script into commands of words.
func shellCommands(s string) [][]shellWord {
	var cmds [][]shellWord
	var cur []shellWord
	var b strings.Builder
	inWord, quoted := false, false
	start := 0
	endWord := func() {
		if inWord {
			cur = append(cur, shellWord{text: b.String(), quoted: quoted, offset: start})
			b.Reset()
			inWord, quoted = false, false
		}
	}
	endCmd := func() {
		endWord()
		if len(cur) > 0 {
			cmds = append(cmds, cur)
			cur = nil
		}
	}
	begin := func(i int) {
		if !inWord {
			inWord, start = true, i
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case (c == '\\' || c == '`' || c == '^') && i+1 < len(s) && (s[i+1] == '\n' || s[i+1] == '\r'):
			endWord()
			i++
			if s[i] == '\r' && i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
		case c == '\n' || c == ';':
			endCmd()
		case c == '&' && i+1 < len(s) && s[i+1] == '&', c == '|':
			endCmd()
			if c == '&' || i+1 < len(s) && s[i+1] == '|' {
				i++
			}
		case c == ' ' || c == '\t' || c == '\r':
			endWord()
		case c == '#' && !inWord:
			for i+1 < len(s) && s[i+1] != '\n' {
				i++
			}
		case c == '\'':
			begin(i)
			quoted = true
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				b.WriteString(s[i+1:])
				i = len(s)
			} else {
				b.WriteString(s[i+1 : i+1+j])
				i += j + 1
			}
		case c == '"':
			begin(i)
			quoted = true
			j := i + 1
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' && j+1 < len(s) && (s[j+1] == '"' || s[j+1] == '\\') {
					j++
				}
				b.WriteByte(s[j])
				j++
			}
			i = j
		default:
			begin(i)
			b.WriteByte(c)
		}
	}
	endCmd()
	return cmds
}
